/* localsgd (ALGORITHMS.md 4): P ranks form G = parallel.groups groups of
 * p = P / G. Inside a group every step is multistep's gradient path
 * (reduce-scatter, sharded update, allgather); every tau steps each rank
 * first averages its 1/p parameter slice across the groups (an allreduce
 * over the ranks holding the same slice, scaled by 1/G) and the group's
 * allgather then spreads the averaged model. G = 1 is synchronous SGD,
 * p = 1 classic local SGD.
 *
 * tau: adaptive is lamina's rule: the interval test of lazy update applied
 * to the model change, with g = this rank's last step and G = its change
 * since the last average (sums over all ranks decide, so every rank
 * agrees). lmn_sync_settle averages, so evaluation and checkpoints see one
 * model. */
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/timer.h"
#include "train/adapt_interval.h"
#include "train/sync_internal.h"

typedef struct localsgd {
    int groups, group_size;
    lmn_comm *group, *across;       /* same group; same slice in every group */
    lmn_reducer group_reducer, across_reducer;
    size_t first, length;           /* this rank's slice of the parameters */
    int tau, since_average;
    double lr;
    float *previous, *at_average;   /* adaptive: the slice before the step / at the last average */
} localsgd;

static lmn_status split(lmn_comm *parent, int color, lmn_comm **out)
{
    MPI_Comm part;
    if (MPI_Comm_split(parent->comm, color, parent->rank, &part) != MPI_SUCCESS)
        return lmn_fail(LMN_ERR_MPI, "MPI_Comm_split for local SGD groups failed");
    const lmn_status status = lmn_comm_create(part, out);
    MPI_Comm_free(&part);
    /* Same thread as the parent's collectives: one record for the watchdog. */
    if (status == LMN_OK) lmn_comm_share_record(*out, parent);
    return status;
}

int lmn_localsgd_groups(int groups, int ranks) { return groups > 0 ? groups : ranks; }

static lmn_status init(lmn_sync *s)
{
    localsgd *l = calloc(1, sizeof *l);
    if (!l) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the local SGD state");
    s->impl = l;
    const int ranks = s->comm->size;
    l->groups = lmn_localsgd_groups(s->settings.groups, ranks);
    if (ranks % l->groups != 0)
        return lmn_fail(LMN_ERR_CONFIG, "key 'parallel.groups': %d groups do not divide the %d ranks",
                        l->groups, ranks);
    l->group_size = ranks / l->groups;
    l->tau = s->settings.tau > 0 ? s->settings.tau : s->settings.tau_start;
    s->state_name = "tau";
    s->state_value = l->tau;
    LMN_TRY(split(s->comm, s->comm->rank / l->group_size, &l->group));
    LMN_TRY(split(s->comm, s->comm->rank % l->group_size, &l->across));
    s->extra_comms[0] = l->group;
    s->extra_comms[1] = l->across;
    LMN_TRY(lmn_reducer_init(&l->group_reducer, l->group, s->settings.wire, (float)s->settings.predivide));
    LMN_TRY(lmn_reducer_init(&l->across_reducer, l->across, LMN_WIRE_FP32, 1.0f));
    lmn_slice(s->net->param_count, l->group_size, l->group->rank, &l->first, &l->length);
    if (s->settings.tau > 0) return LMN_OK;
    LMN_TRY(lmn_alloc_floats(&l->previous, l->length + 1, "local SGD previous slice"));
    LMN_TRY(lmn_alloc_floats(&l->at_average, l->length + 1, "local SGD averaged slice"));
    memcpy(l->at_average, s->net->params + l->first, l->length * sizeof(float));
    return LMN_OK;
}

static void release(lmn_sync *s)
{
    localsgd *l = s->impl;
    if (!l) return;
    lmn_reducer_free(&l->group_reducer);
    lmn_reducer_free(&l->across_reducer);
    lmn_comm_free(l->group);
    lmn_comm_free(l->across);
    lmn_free(l->previous);
    lmn_free(l->at_average);
    free(l);
}

static lmn_status adapt_tau(lmn_sync *s, localsgd *l)
{
    const float *now = s->net->params + l->first;
    double sums[3] = {0.0, 0.0, 0.0}; /* g.g, g.G, G.G */
    for (size_t j = 0; j < l->length; j++) {
        const double g = (double)now[j] - l->previous[j], change = (double)now[j] - l->at_average[j];
        sums[0] += g * g;
        sums[1] += g * change;
        sums[2] += change * change;
    }
    LMN_TRY(lmn_comm_sum_doubles(s->comm, sums, 3));
    l->tau = lmn_adapt_interval(l->tau, sums[0], sums[1], sums[2], s->settings.tau_max);
    s->state_value = l->tau;
    return LMN_OK;
}

/* Averages this rank's slice of buffer across the groups. */
static lmn_status average_across(localsgd *l, float *buffer)
{
    float *slice = buffer + l->first;
    LMN_TRY(lmn_allreduce(&l->across_reducer, slice, l->length));
    const float scale = 1.0f / (float)l->groups;
    for (size_t j = 0; j < l->length; j++) slice[j] *= scale;
    return LMN_OK;
}

static lmn_status average_slice(lmn_sync *s, localsgd *l)
{
    LMN_TRY(average_across(l, s->net->params));
    if (s->settings.tau == 0) memcpy(l->at_average, s->net->params + l->first, l->length * sizeof(float));
    l->since_average = 0;
    return LMN_OK;
}

static lmn_status synchronise(lmn_sync *s, localsgd *l, bool average)
{
    /* The interval rule is computation (and a 3-value control sum), not
     * model traffic: it runs before the exposed-time clock starts. */
    if (average && s->settings.tau == 0) LMN_TRY(adapt_tau(s, l));
    const double start = lmn_now();
    lmn_status status = average ? average_slice(s, l) : LMN_OK;
    if (status == LMN_OK) status = lmn_allgather_slices(&l->group_reducer, s->net->params, s->net->param_count);
    lmn_sync_charge_exposed(s, start);
    return status;
}

static lmn_status step(lmn_sync *s, double lr)
{
    localsgd *l = s->impl;
    lmn_network *net = s->net;
    l->lr = lr;
    /* Gradients are of the loss sum over the GLOBAL batch; a group's mean
     * gradient is G times its sum. */
    if (l->groups > 1)
        for (size_t j = 0; j < net->param_count; j++) net->grads[j] *= (float)l->groups;
    const double start = lmn_now();
    const lmn_status status = lmn_reduce_scatter(&l->group_reducer, net->grads, net->param_count);
    lmn_sync_charge_exposed(s, start);
    LMN_TRY(status);
    if (l->previous) memcpy(l->previous, net->params + l->first, l->length * sizeof(float));
    lmn_optimizer_update(s->optimizer, net->params, net->grads, lr, l->first, l->first + l->length);
    lmn_optimizer_finish_step(s->optimizer);
    l->since_average++;
    return synchronise(s, l, l->groups > 1 && l->since_average >= l->tau);
}

/* Averages the models if they drifted, and the optimizer state (each rank
 * updated its own slice, and with one rank per group its own momentum):
 * after a settle every rank holds the same model and optimizer state, so
 * evaluations agree and a checkpoint written by rank 0 is complete. */
static lmn_status settle(lmn_sync *s)
{
    localsgd *l = s->impl;
    if (l->groups > 1 && l->since_average > 0) {
        if (l->previous) memcpy(l->previous, s->net->params + l->first, l->length * sizeof(float));
        LMN_TRY(synchronise(s, l, true));
    }
    float *state[2] = {s->optimizer->velocity, s->optimizer->second};
    const double start = lmn_now();
    lmn_status status = LMN_OK;
    for (int k = 0; k < 2 && status == LMN_OK; k++) {
        if (!state[k]) continue;
        if (l->groups > 1) status = average_across(l, state[k]);
        if (status == LMN_OK)
            status = lmn_allgather_slices(&l->group_reducer, state[k], s->net->param_count);
    }
    lmn_sync_charge_exposed(s, start);
    return status;
}

static size_t state_count(const lmn_sync *s)
{
    (void)s;
    return 1;
}

static void save(const lmn_sync *s, double *state) { state[0] = ((const localsgd *)s->impl)->tau; }

/* A checkpoint follows a settle: the models are averaged, so the slice at
 * the last average is the current one. */
static void restore(lmn_sync *s, const double *state)
{
    localsgd *l = s->impl;
    l->tau = state[0] >= 1.0 ? (int)state[0] : 1;
    s->state_value = l->tau;
    l->since_average = 0;
    if (l->at_average) memcpy(l->at_average, s->net->params + l->first, l->length * sizeof(float));
}

static lmn_layer_traffic traffic(const lmn_sync *s, int layer, int global_batch)
{
    (void)global_batch;
    const localsgd *l = s->impl;
    const double size = (double)lmn_sync_layer_size(s, layer), p = l->group_size, g = l->groups;
    const double in_group = (p - 1) / p * size * ((double)lmn_wire_bytes(s->settings.wire) + sizeof(float));
    const double across = 2.0 * (g - 1) / g * size / p * sizeof(float) / l->tau;
    lmn_layer_traffic traffic = {.bytes_per_step = in_group + across};
    snprintf(traffic.what, sizeof traffic.what, "group of %d, average every %d", l->group_size, l->tau);
    return traffic;
}

const lmn_sync_policy lmn_sync_localsgd_policy = {
    .init = init, .step = step, .settle = settle, .release = release, .state_count = state_count,
    .state_save = save, .state_restore = restore, .traffic = traffic};
