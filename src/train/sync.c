#include "train/sync.h"

#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "train/sync_internal.h"

static const lmn_sync_policy *const policies[LMN_STRATEGY_COUNT] = {
    [LMN_STRATEGY_ALLREDUCE] = &lmn_sync_allreduce_policy,
    [LMN_STRATEGY_OVERLAP] = &lmn_sync_overlap_policy,
    [LMN_STRATEGY_MULTISTEP] = &lmn_sync_multistep_policy,
    [LMN_STRATEGY_LAZY] = &lmn_sync_lazy_policy,
    [LMN_STRATEGY_LOCALSGD] = &lmn_sync_localsgd_policy,
};

static lmn_status hook_before_forward(void *ctx, int layer)
{
    lmn_sync *s = ctx;
    return s->policy->before_forward ? s->policy->before_forward(s, layer) : LMN_OK;
}

static lmn_status hook_after_backward(void *ctx, int layer)
{
    lmn_sync *s = ctx;
    return s->policy->after_backward ? s->policy->after_backward(s, layer) : LMN_OK;
}

static lmn_status layer_ranges(lmn_sync *s)
{
    const lmn_network *net = s->net;
    s->layers = net->spec.count;
    s->begin = calloc(2 * (size_t)s->layers, sizeof *s->begin);
    if (!s->begin) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the sync plan");
    s->end = s->begin + s->layers;
    for (int i = 0; i < s->layers; i++) {
        s->begin[i] = net->param_offset[i];
        s->end[i] = i + 1 < s->layers ? net->param_offset[i + 1] : net->param_count;
    }
    return LMN_OK;
}

lmn_status lmn_sync_create(const lmn_parallel_settings *settings, lmn_network *net,
                           lmn_optimizer *optimizer, lmn_comm *comm, int global_batch,
                           lmn_sync **out)
{
    *out = NULL;
    lmn_sync *s = calloc(1, sizeof *s);
    if (!s) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the sync policy");
    s->settings = *settings;
    s->net = net;
    s->optimizer = optimizer;
    s->comm = comm;
    s->global_batch = global_batch;
    s->policy = policies[settings->strategy];
    lmn_status status = layer_ranges(s);
    if (status == LMN_OK)
        status = lmn_reducer_init(&s->reducer, comm, settings->wire, (float)settings->predivide);
    if (status == LMN_OK) status = s->policy->init(s);
    status = lmn_comm_agree(comm, status);
    if (status != LMN_OK) {
        lmn_sync_free(s);
        return status;
    }
    net->hooks = (lmn_layer_hooks){s, hook_before_forward, hook_after_backward};
    *out = s;
    return LMN_OK;
}

void lmn_sync_free(lmn_sync *s)
{
    if (!s) return;
    if (s->net && s->net->hooks.ctx == s) s->net->hooks = (lmn_layer_hooks){0};
    lmn_comm_thread_free(s->thread);
    if (s->policy && s->policy->release) s->policy->release(s);
    lmn_reducer_free(&s->thread_reducer);
    lmn_comm_free(s->thread_comm);
    lmn_reducer_free(&s->reducer);
    free(s->begin);
    free(s);
}

lmn_status lmn_sync_step(lmn_sync *s, double lr) { return s->policy->step(s, lr); }

lmn_comm *lmn_sync_thread_comm(const lmn_sync *s) { return s ? s->thread_comm : NULL; }

lmn_status lmn_sync_settle(lmn_sync *s)
{
    return s->policy->settle ? s->policy->settle(s) : LMN_OK;
}

lmn_status lmn_sync_start_thread(lmn_sync *s)
{
    if (s->thread) return LMN_OK;
    int provided = MPI_THREAD_SINGLE;
    MPI_Query_thread(&provided);
    if (provided < MPI_THREAD_MULTIPLE && s->comm->size > 1)
        return lmn_fail(LMN_ERR_MPI, "parallel.strategy %s needs an MPI library with "
                        "MPI_THREAD_MULTIPLE (this one provides level %d)",
                        lmn_strategy_name(s->settings.strategy), provided);
    LMN_TRY(lmn_comm_create(s->comm->comm, &s->thread_comm));
    LMN_TRY(lmn_reducer_init(&s->thread_reducer, s->thread_comm, s->settings.wire,
                             (float)s->settings.predivide));
    s->thread_reducer.polite = true;
    return lmn_comm_thread_create(&s->thread);
}

lmn_status lmn_sync_wait(lmn_sync *s, uint64_t ticket)
{
    double waited = 0.0;
    const lmn_status status = lmn_comm_thread_wait(s->thread, ticket, &waited);
    s->exposed_seconds += waited;
    return status;
}

void lmn_sync_charge_exposed(lmn_sync *s, double start) { s->exposed_seconds += lmn_now() - start; }

double lmn_sync_allreduce_bytes(const lmn_sync *s, double count, int ranks)
{
    return 2.0 * (ranks - 1) / ranks * count * (double)lmn_wire_bytes(s->settings.wire);
}

void lmn_sync_totals_get(const lmn_sync *s, lmn_sync_totals *totals)
{
    const lmn_comm *comms[] = {s->comm, s->thread_comm, s->extra_comms[0], s->extra_comms[1]};
    totals->bytes = totals->seconds = 0.0;
    for (size_t i = 0; i < sizeof comms / sizeof comms[0]; i++) {
        if (!comms[i]) continue;
        totals->bytes += comms[i]->bytes_sent;
        totals->seconds += comms[i]->seconds;
    }
    totals->exposed_seconds = s->exposed_seconds;
}

const char *lmn_sync_state_name(const lmn_sync *s, double *value)
{
    *value = s->state_value;
    return s->state_name;
}

size_t lmn_sync_state_count(const lmn_sync *s)
{
    return s->policy->state_count ? s->policy->state_count(s) : 0;
}

void lmn_sync_state_save(const lmn_sync *s, double *state)
{
    if (lmn_sync_state_count(s) > 0) s->policy->state_save(s, state);
}

void lmn_sync_state_restore(lmn_sync *s, const double *state)
{
    if (lmn_sync_state_count(s) > 0) s->policy->state_restore(s, state);
}

void lmn_sync_describe(const lmn_sync *s, int global_batch, FILE *out)
{
    const lmn_network *net = s->net;
    fprintf(out, "sync plan: parallel.strategy %s, %d ranks, wire %s, global batch %d\n",
            lmn_strategy_name(s->settings.strategy), s->comm->size, lmn_wire_name(s->settings.wire),
            global_batch);
    fprintf(out, "  %-20s %-12s %12s  %-34s %14s\n", "layer", "type", "parameters", "synchronised",
            "bytes/step");
    double total = 0.0;
    for (int i = 0; i < s->layers; i++) {
        if (lmn_sync_layer_size(s, i) == 0) continue;
        const lmn_layer_traffic traffic = s->policy->traffic(s, i, global_batch);
        fprintf(out, "  %-20s %-12s %12zu  %-34s %14.0f\n", net->spec.layers[i].name,
                lmn_layer_kind_name(net->spec.layers[i].kind), lmn_sync_layer_size(s, i),
                traffic.what, traffic.bytes_per_step);
        total += traffic.bytes_per_step;
    }
    fprintf(out, "  %-20s %-12s %12zu  %-34s %14.0f\n", "total", "", net->param_count, "", total);
}

void lmn_sync_describe_layer(const void *ctx, int layer, lmn_layer_kind *kind, size_t *params)
{
    const lmn_sync *s = ctx;
    *kind = s->net->spec.layers[layer].kind;
    *params = lmn_sync_layer_size(s, layer);
}
