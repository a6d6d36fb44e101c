/* Epoch ordering and the split of global batches across ranks.
 *
 * Every rank computes the same global visiting order of an epoch from
 * (seed, epoch) alone, cuts it into global batches, and takes its own
 * slice of each batch. No communication is needed to agree on who reads
 * what, and the union of the ranks' slices is exactly the global batch:
 *
 *   steps per epoch = ceil(count / B)   (last partial batch kept)
 *                   = floor(count / B)  (drop_last)
 *   samples of step s = order[s*B .. min((s+1)*B, count))
 *   of those n samples, rank r of P takes n/P of them, the first n%P
 *   ranks one more, in rank order (see lmn_rank_share). */
#ifndef LMN_DATA_SAMPLER_H
#define LMN_DATA_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

/* The visiting order of an epoch: order[i] for i < count (caller-owned,
 * count <= UINT32_MAX entries). With shuffle it is a permutation drawn from
 * (seed, epoch), identical on every rank; without shuffle it is 0..count-1. */
void lmn_epoch_order(int64_t count, uint64_t seed, uint64_t epoch, bool shuffle,
                     uint32_t *order);

/* Splits a batch of batch_samples across ranks as evenly as possible:
 * every rank gets batch_samples / ranks, and the first batch_samples % ranks
 * ranks get one more. Rank r's samples are [offset, offset + count) of the
 * batch. A rank may get 0 samples when the batch is smaller than ranks. */
void lmn_rank_share(int batch_samples, int rank, int ranks, int *offset, int *count);

typedef struct lmn_epoch_plan {
    int64_t count;      /* samples in the epoch */
    int global_batch;   /* samples per step, summed over ranks */
    bool drop_last;     /* drop a final batch smaller than global_batch */
    int64_t steps;      /* steps in the epoch */
} lmn_epoch_plan;

/* Plans an epoch of count samples in global batches of global_batch.
 * Errors: LMN_ERR_ARG for count < 0, count > UINT32_MAX or global_batch < 1. */
lmn_status lmn_epoch_plan_make(int64_t count, int global_batch, bool drop_last,
                               lmn_epoch_plan *out);

/* The global batch of step (0 <= step < plan->steps): its samples are
 * order[*first .. *first + return value). */
int lmn_epoch_plan_batch(const lmn_epoch_plan *plan, int64_t step, int64_t *first);

/* Rank's slice of step's global batch: order[*first .. *first + *count). */
void lmn_epoch_plan_rank_slice(const lmn_epoch_plan *plan, int64_t step, int rank, int ranks,
                               int64_t *first, int *count);

#endif
