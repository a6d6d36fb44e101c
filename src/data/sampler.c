#include "data/sampler.h"

#include "core/rng.h"

/* Separates the order stream from other streams under the same seed. */
static const uint64_t ORDER_STREAM_TAG = 0x6f72646572ull; /* "order" */

void lmn_epoch_order(int64_t count, uint64_t seed, uint64_t epoch, bool shuffle,
                     uint32_t *order)
{
    if (count <= 0) return;
    if (!shuffle) {
        for (int64_t i = 0; i < count; i++) order[i] = (uint32_t)i;
        return;
    }
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(ORDER_STREAM_TAG, epoch));
    lmn_rng_permutation(&rng, order, (size_t)count);
}

void lmn_rank_share(int batch_samples, int rank, int ranks, int *offset, int *count)
{
    const int base = batch_samples / ranks, extra = batch_samples % ranks;
    *count = base + (rank < extra ? 1 : 0);
    *offset = rank * base + (rank < extra ? rank : extra);
}

lmn_status lmn_epoch_plan_make(int64_t count, int global_batch, bool drop_last,
                               lmn_epoch_plan *out)
{
    if (count < 0 || count > (int64_t)UINT32_MAX)
        return lmn_fail(LMN_ERR_ARG, "epoch of %lld samples: need 0..%u samples",
                        (long long)count, UINT32_MAX);
    if (global_batch < 1)
        return lmn_fail(LMN_ERR_ARG, "global batch size %d: must be at least 1", global_batch);
    out->count = count;
    out->global_batch = global_batch;
    out->drop_last = drop_last;
    out->steps = drop_last ? count / global_batch : (count + global_batch - 1) / global_batch;
    return LMN_OK;
}

int lmn_epoch_plan_batch(const lmn_epoch_plan *plan, int64_t step, int64_t *first)
{
    *first = step * plan->global_batch;
    const int64_t left = plan->count - *first;
    return (int)(left < plan->global_batch ? left : plan->global_batch);
}

void lmn_epoch_plan_rank_slice(const lmn_epoch_plan *plan, int64_t step, int rank, int ranks,
                               int64_t *first, int *count)
{
    int64_t batch_first;
    const int batch = lmn_epoch_plan_batch(plan, step, &batch_first);
    int offset;
    lmn_rank_share(batch, rank, ranks, &offset, count);
    *first = batch_first + offset;
}
