/* The `chunks` epoch order (ALGORITHMS.md section 10, the paper's scheme).
 *
 * The rows are cut into chunks of chunk_rows consecutive rows (the last
 * one may be short) and chunk c belongs to rank c % ranks, for the whole
 * run. Per epoch, each rank r builds its stream of samples from (seed,
 * epoch, r) alone:
 *   1. its chunks in a shuffled order;
 *   2. grouped into buffers of chunks_per_buffer chunks, in that order;
 *   3. the rows of each buffer shuffled within the buffer.
 * Without shuffle the chunks and rows keep their file order.
 *
 * The trainer's step structure stays as for any order (data/sampler.h):
 * global batches cut from one array of count indices, rank r taking its
 * lmn_rank_share slice of each. lmn_chunk_epoch_order() builds that array,
 * the same on every rank, so that rank r's slice of every step is the next
 * rows of rank r's own stream. End of the epoch: when rank r's stream runs
 * out before its share of a step is filled (the ranks' shares of rows
 * differ by up to a chunk), it takes the LAST row of the stream with the
 * most rows left (the lowest rank on a tie), so the lender keeps reading its
 * own buffers front to back. With drop_last the rows of the dropped final
 * batch fill the array's tail (rank order), so the array is always a
 * permutation: every row exactly once per epoch across ranks (or, for
 * dropped rows, not at all).
 *
 * Memory: the result (4 bytes per row) plus, while it is built, the
 * streams (another 4 bytes per row) — the only O(rows) arrays. */
#ifndef LMN_DATA_CHUNK_ORDER_H
#define LMN_DATA_CHUNK_ORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "data/sampler.h"

typedef struct lmn_chunk_layout {
    int64_t count;          /* rows */
    int chunk_rows;         /* rows per chunk, >= 1 */
    int chunks_per_buffer;  /* chunks shuffled together, >= 1 */
    int ranks;              /* chunk c belongs to rank c % ranks */
} lmn_chunk_layout;

/* Chunks in the layout: ceil(count / chunk_rows). */
int64_t lmn_chunk_count(const lmn_chunk_layout *layout);

/* Writes the epoch's order (plan->count == layout->count entries) into order.
 * Errors: LMN_ERR_ARG for a bad layout or a plan of another count;
 * LMN_ERR_NOMEM. */
lmn_status lmn_chunk_epoch_order(const lmn_chunk_layout *layout, const lmn_epoch_plan *plan,
                                 uint64_t seed, uint64_t epoch, bool shuffle, uint32_t *order);

#endif
