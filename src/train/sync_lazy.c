/* lazy (ALGORITHMS.md 3): the first parallel.lazy_layers convolution
 * layers (input side) add their local gradient into an accumulator
 * and communicate nothing until k steps have accumulated; then the
 * accumulator G is reduced, the layers are updated once with it and k is
 * adapted with the angle / magnitude test on the top-most lazy layer. The
 * other layers sync every step. Only the top-most lazy layer's latest
 * gradient g travels with G (the rule needs no other), in the same
 * reduction. lmn_sync_settle flushes the accumulators (an update with what
 * has accumulated, k unchanged), so evaluations and checkpoints see one
 * model on every rank. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/timer.h"
#include "train/adapt_interval.h"
#include "train/sync_internal.h"

typedef struct lazy {
    size_t lazy_end;           /* the lazy layers are params[0, lazy_end) */
    size_t top_begin, top_end; /* the top-most lazy layer */
    int k, accumulated;
    double lr;                 /* of the latest step: a flush updates with it */
    float *packed;             /* G for the lazy layers, then the top layer's g */
} lazy;

bool lmn_lazy_candidate(lmn_layer_kind kind, size_t params)
{
    return params > 0 && (kind == LMN_LAYER_CONV || kind == LMN_LAYER_CONV3D);
}

int lmn_lazy_layers_fit(int lazy_layers, bool given, int candidates)
{
    /* The default (8) adapts to models with fewer convolutions. */
    return !given && lazy_layers > candidates ? candidates : lazy_layers;
}

int lmn_lazy_top_layer(lmn_layer_describe_fn *describe, const void *ctx, int layers,
                       int lazy_layers)
{
    int found = 0, top = -1;
    for (int i = 0; i < layers && found < lazy_layers; i++) {
        lmn_layer_kind kind;
        size_t params = 0;
        describe(ctx, i, &kind, &params);
        if (!lmn_lazy_candidate(kind, params)) continue;
        found++;
        top = i;
    }
    return top;
}

static bool is_conv(const lmn_sync *s, int layer)
{
    return lmn_lazy_candidate(s->net->spec.layers[layer].kind, lmn_sync_layer_size(s, layer));
}

/* The lazy layers are the first lazy_layers convolutions and the layers
 * with parameters between them (batch norm); the rule watches the last
 * of those convolutions. */
static lmn_status find_lazy_layers(lmn_sync *s, lazy *z)
{
    int convs = 0;
    for (int i = 0; i < s->layers; i++) convs += is_conv(s, i) && lmn_sync_layer_size(s, i) > 0;
    s->settings.lazy_layers = lmn_lazy_layers_fit(s->settings.lazy_layers,
                                                  s->settings.lazy_layers_given, convs);
    if (s->settings.lazy_layers > convs)
        return lmn_fail(LMN_ERR_CONFIG, "key 'parallel.lazy_layers': %d is more than the %d "
                        "convolution layers of this model", s->settings.lazy_layers, convs);
    const int top = lmn_lazy_top_layer(lmn_sync_describe_layer, s, s->layers,
                                       s->settings.lazy_layers);
    if (top >= 0) {
        z->top_begin = s->begin[top];
        z->top_end = z->lazy_end = s->end[top];
    }
    return LMN_OK;
}

static lmn_status init(lmn_sync *s)
{
    lazy *z = calloc(1, sizeof *z);
    if (!z) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the lazy-update state");
    s->impl = z;
    z->k = 1;
    s->state_name = "lazy_k";
    s->state_value = 1;
    LMN_TRY(find_lazy_layers(s, z));
    if (z->lazy_end == 0) return LMN_OK;
    LMN_TRY(lmn_alloc_floats(&z->packed, z->lazy_end + (z->top_end - z->top_begin), "lazy accumulators"));
    memset(z->packed, 0, z->lazy_end * sizeof(float));
    return LMN_OK;
}

static void release(lmn_sync *s)
{
    lazy *z = s->impl;
    if (!z) return;
    lmn_free(z->packed);
    free(z);
}

static void adapt_k(lmn_sync *s, lazy *z)
{
    const size_t count = z->top_end - z->top_begin;
    const float *sum = z->packed + z->top_begin, *latest = z->packed + z->lazy_end;
    double gg = 0.0, gG = 0.0, GG = 0.0;
    for (size_t j = 0; j < count; j++) {
        gg += (double)latest[j] * latest[j];
        gG += (double)latest[j] * sum[j];
        GG += (double)sum[j] * sum[j];
    }
    z->k = lmn_adapt_interval(z->k, gg, gG, GG, s->settings.lazy_max_k);
    s->state_value = z->k;
}

/* Reduces the accumulators (and g when the rule runs) and updates the lazy layers. */
static lmn_status sync_lazy_layers(lmn_sync *s, lazy *z, double lr, bool adapt)
{
    lmn_network *net = s->net;
    const size_t count = z->lazy_end + (adapt ? z->top_end - z->top_begin : 0);
    if (adapt) memcpy(z->packed + z->lazy_end, net->grads + z->top_begin,
                      (z->top_end - z->top_begin) * sizeof(float));
    const double start = lmn_now();
    const lmn_status status = lmn_allreduce(&s->reducer, z->packed, count);
    lmn_sync_charge_exposed(s, start);
    LMN_TRY(status);
    lmn_optimizer_update(s->optimizer, net->params, z->packed, lr, 0, z->lazy_end);
    if (adapt) adapt_k(s, z);
    memset(z->packed, 0, z->lazy_end * sizeof(float));
    z->accumulated = 0;
    return LMN_OK;
}

static lmn_status step(lmn_sync *s, double lr)
{
    lazy *z = s->impl;
    lmn_network *net = s->net;
    const double start = lmn_now();
    const lmn_status status = lmn_allreduce(&s->reducer, net->grads + z->lazy_end,
                                            net->param_count - z->lazy_end);
    lmn_sync_charge_exposed(s, start);
    LMN_TRY(status);
    lmn_optimizer_update(s->optimizer, net->params, net->grads, lr, z->lazy_end, net->param_count);
    if (z->lazy_end > 0) {
        for (size_t j = 0; j < z->lazy_end; j++) z->packed[j] += net->grads[j];
        if (++z->accumulated >= z->k) LMN_TRY(sync_lazy_layers(s, z, lr, true));
    }
    z->lr = lr;
    lmn_optimizer_finish_step(s->optimizer);
    return LMN_OK;
}

static lmn_status settle(lmn_sync *s)
{
    lazy *z = s->impl;
    return z->accumulated > 0 ? sync_lazy_layers(s, z, z->lr, false) : LMN_OK;
}

/* Checkpoints are written after a settle: the accumulators are empty and
 * only k (and the interval's progress, 0) remain. */
static size_t state_count(const lmn_sync *s)
{
    (void)s;
    return 1;
}

static void save(const lmn_sync *s, double *state) { state[0] = ((const lazy *)s->impl)->k; }

static void restore(lmn_sync *s, const double *state)
{
    lazy *z = s->impl;
    z->k = state[0] >= 1.0 ? (int)state[0] : 1;
    s->state_value = z->k;
}

static lmn_layer_traffic traffic(const lmn_sync *s, int layer, int global_batch)
{
    (void)global_batch;
    const lazy *z = s->impl;
    const double size = (double)lmn_sync_layer_size(s, layer);
    lmn_layer_traffic traffic = {"gradient allreduce, every step",
                                 lmn_sync_allreduce_bytes(s, size, s->comm->size)};
    if (s->begin[layer] >= z->lazy_end) return traffic;
    const double extra = s->begin[layer] == z->top_begin ? 2.0 : 1.0;
    traffic.bytes_per_step = extra * traffic.bytes_per_step / z->k;
    snprintf(traffic.what, sizeof traffic.what, "lazy, every k steps (k = %d now)", z->k);
    return traffic;
}

const lmn_sync_policy lmn_sync_lazy_policy = {
    .init = init, .step = step, .settle = settle, .release = release, .state_count = state_count,
    .state_save = save, .state_restore = restore, .traffic = traffic};
