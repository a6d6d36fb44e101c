/* overlap (ALGORITHMS.md 1): as soon as backward completes a bucket (one
 * layer, or consecutive small layers fused up to parallel.bucket_mb), the
 * communication thread reduces it while back-propagation continues. The
 * update of a bucket is deferred to the next forward pass, right before
 * its lowest layer runs, so communication also overlaps the next forward. */
#include <stdbool.h>
#include <stdlib.h>

#include "train/sync_internal.h"

typedef struct bucket {
    int lowest, highest; /* layers with parameters it spans */
    size_t begin, end;
    uint64_t ticket;
    bool pending;        /* reduced (or being reduced) but not yet applied */
} bucket;

typedef struct overlap {
    bucket *buckets;     /* in issue order: top of the network first */
    int count;
    int *bucket_of;      /* per layer: the bucket whose lowest layer it is, or -1 */
    int pending;
    double lr;           /* of the step whose updates are pending */
} overlap;

int lmn_overlap_buckets(lmn_layer_describe_fn *describe, const void *ctx, int layers,
                        double bucket_mb, int *bucket_of_layer)
{
    const double limit = bucket_mb * 1048576.0;
    int count = 0;
    size_t held = 0; /* floats in the open bucket; 0: none is open */
    for (int i = layers - 1; i >= 0; i--) {
        lmn_layer_kind kind;
        size_t params = 0;
        describe(ctx, i, &kind, &params);
        bucket_of_layer[i] = -1;
        if (params == 0) continue;
        bucket_of_layer[i] = count;
        held += params;
        if ((double)held * sizeof(float) >= limit) {
            count++;
            held = 0;
        }
    }
    return held > 0 ? count + 1 : count;
}

/* The buckets' layer and parameter ranges; bucket_of keeps a bucket's
 * lowest layer only (its reduction starts once backward passes it). */
static void make_buckets(const lmn_sync *s, overlap *o)
{
    o->count = lmn_overlap_buckets(lmn_sync_describe_layer, s, s->layers, s->settings.bucket_mb,
                                   o->bucket_of);
    for (int b = 0; b < o->count; b++) o->buckets[b].highest = -1;
    for (int i = s->layers - 1; i >= 0; i--) {
        if (o->bucket_of[i] < 0) continue;
        bucket *b = &o->buckets[o->bucket_of[i]];
        if (b->highest < 0) *b = (bucket){.highest = i, .end = s->end[i]};
        b->lowest = i;
        b->begin = s->begin[i];
    }
    for (int i = 0; i < s->layers; i++)
        if (o->bucket_of[i] >= 0 && o->buckets[o->bucket_of[i]].lowest != i) o->bucket_of[i] = -1;
}

static lmn_status init(lmn_sync *s)
{
    overlap *o = calloc(1, sizeof *o);
    if (!o) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the overlap plan");
    s->impl = o;
    o->buckets = calloc((size_t)s->layers + 1, sizeof *o->buckets);
    o->bucket_of = calloc((size_t)s->layers + 1, sizeof *o->bucket_of);
    if (!o->buckets || !o->bucket_of) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate buckets");
    make_buckets(s, o);
    return lmn_sync_start_thread(s);
}

static void release(lmn_sync *s)
{
    overlap *o = s->impl;
    if (!o) return;
    free(o->buckets);
    free(o->bucket_of);
    free(o);
}

static lmn_status reduce_bucket(void *ctx, int index)
{
    lmn_sync *s = ctx;
    const bucket *b = &((overlap *)s->impl)->buckets[index];
    return lmn_allreduce(&s->thread_reducer, s->net->grads + b->begin, b->end - b->begin);
}

static lmn_status after_backward(lmn_sync *s, int layer)
{
    overlap *o = s->impl;
    const int index = o->bucket_of[layer];
    if (index < 0) return LMN_OK;
    return lmn_comm_thread_submit(s->thread, reduce_bucket, s, index, &o->buckets[index].ticket);
}

static lmn_status apply(lmn_sync *s, bucket *b)
{
    overlap *o = s->impl;
    LMN_TRY(lmn_sync_wait(s, b->ticket));
    lmn_optimizer_update(s->optimizer, s->net->params, s->net->grads, o->lr, b->begin, b->end);
    b->pending = false;
    if (--o->pending == 0) lmn_optimizer_finish_step(s->optimizer);
    return LMN_OK;
}

static lmn_status before_forward(lmn_sync *s, int layer)
{
    overlap *o = s->impl;
    const int index = o->bucket_of[layer];
    if (index < 0 || !o->buckets[index].pending) return LMN_OK;
    return apply(s, &o->buckets[index]);
}

static lmn_status step(lmn_sync *s, double lr)
{
    overlap *o = s->impl;
    if (s->optimizer->qn) {
        for (int b = 0; b < o->count; b++) LMN_TRY(lmn_sync_wait(s, o->buckets[b].ticket));
        return lmn_sync_slimqn_update(s, lr);
    }
    o->lr = lr;
    for (int b = 0; b < o->count; b++) o->buckets[b].pending = true;
    o->pending = o->count;
    if (o->count == 0) lmn_optimizer_finish_step(s->optimizer);
    return LMN_OK;
}

static lmn_status settle(lmn_sync *s)
{
    overlap *o = s->impl;
    if (s->optimizer->qn) return lmn_sync_slimqn_settle(s);
    for (int b = o->count - 1; b >= 0; b--)
        if (o->buckets[b].pending) LMN_TRY(apply(s, &o->buckets[b]));
    return LMN_OK;
}

static lmn_layer_traffic traffic(const lmn_sync *s, int layer, int global_batch)
{
    (void)global_batch;
    const overlap *o = s->impl;
    int index = 0;
    for (int b = 0; b < o->count; b++)
        if (layer >= o->buckets[b].lowest && layer <= o->buckets[b].highest) index = b;
    lmn_layer_traffic traffic = {.bytes_per_step = lmn_sync_allreduce_bytes(
                                     s, (double)lmn_sync_layer_size(s, layer), s->comm->size)};
    snprintf(traffic.what, sizeof traffic.what, "bucket %d allreduce, overlapped", index);
    return traffic;
}

const lmn_sync_policy lmn_sync_overlap_policy = {
    .init = init, .before_forward = before_forward, .after_backward = after_backward,
    .step = step, .settle = settle, .release = release, .traffic = traffic};
