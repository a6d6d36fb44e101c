/* Partial model aggregation (FedPMA): every active client takes local
 * step s in lockstep, then part s of the model (tensors, or with
 * fl.partial_split: elements, cut into fl.local_steps near-equal pieces)
 * is averaged and handed back, so each round moves the whole model once
 * in pieces. */
#include <string.h>

#include "comm/exact_sum.h"
#include "core/memory.h"
#include "train/federated_internal.h"

/* Part p of tau: tensors (or, with split_elements, elements) of the flat
 * buffer cut into near-equal contiguous pieces. */
static tensor_run partial_part(const fl_run *run, int part, int parts)
{
    const size_t total = run->t->net->param_count;
    if (run->fl->split_elements)
        return (tensor_run){total * (size_t)part / parts, total * (size_t)(part + 1) / parts};
    /* Layer-aligned: tensor k belongs to the part its midpoint falls in. */
    tensor_run range = {total, total};
    for (int k = 0; k < run->tensor_count; k++) {
        const lmn_tensor_view *v = view(run, k);
        const size_t mid = v->offset + v->count / 2;
        if ((int)(mid * (size_t)parts / total) != part) continue;
        if (range.begin == total) range.begin = v->offset;
        range.end = v->offset + v->count;
    }
    if (range.begin == total) range.begin = range.end = 0;
    return range;
}

/* Each owned client's model (parameters, then batch-norm statistics) and
 * optimizer start from the server's. */
static lmn_status start_client_models(fl_run *run)
{
    const lmn_network *net = run->t->net;
    for (int j = 0; j < run->active_count; j++) {
        if (!owns(run, run->active[j])) continue;
        if (!run->models[j])
            LMN_TRY(lmn_alloc_floats(&run->models[j], net->param_count + net->state_count, "client model"));
        memcpy(run->models[j], run->global, net->param_count * sizeof(float));
        memcpy(run->models[j] + net->param_count, run->global_state, net->state_count * sizeof(float));
        lmn_fl_load_optimizer(run, NULL);
        LMN_TRY(lmn_fl_save_optimizer(run, &run->model_velocity[j]));
    }
    return LMN_OK;
}

/* Local step s of every owned client, each on its own model. */
static lmn_status step_clients(fl_run *run, int round, int s, int steps, double lr)
{
    lmn_network *net = run->t->net;
    for (int j = 0; j < run->active_count; j++) {
        const int client = run->active[j];
        if (!owns(run, client)) continue;
        memcpy(net->params, run->models[j], net->param_count * sizeof(float));
        memcpy(net->state, run->models[j] + net->param_count, net->state_count * sizeof(float));
        lmn_fl_load_optimizer(run, run->model_velocity[j]);
        double loss = 0.0;
        LMN_TRY(lmn_fl_local_step(run, client, round, s, lr, &loss));
        run->client_losses[j] += loss / steps;
        memcpy(run->models[j], net->params, net->param_count * sizeof(float));
        memcpy(run->models[j] + net->param_count, net->state, net->state_count * sizeof(float));
        LMN_TRY(lmn_fl_save_optimizer(run, &run->model_velocity[j]));
    }
    return LMN_OK;
}

/* Averages one part over all clients into the server model and hands it
 * back to the owned clients. */
static lmn_status average_part(fl_run *run, tensor_run part)
{
    const size_t n = part.end - part.begin;
    memset(run->sums + part.begin, 0, n * sizeof(int64_t));
    for (int j = 0; j < run->active_count; j++)
        if (owns(run, run->active[j]) &&
            !lmn_fixed_accumulate(run->sums + part.begin, run->models[j] + part.begin, n,
                                  run->weights[j], LMN_FIXED_MODEL_BITS))
            return lmn_fail(LMN_ERR_NUMERIC, "client %d's model is not finite; lower "
                            "optimizer.lr", run->active[j]);
    LMN_TRY(lmn_comm_allreduce_int64(run->t->comm, run->sums + part.begin, n));
    lmn_fixed_to_float(run->sums + part.begin, run->global + part.begin, n, LMN_FIXED_MODEL_BITS);
    for (int j = 0; j < run->active_count; j++)
        if (owns(run, run->active[j]))
            memcpy(run->models[j] + part.begin, run->global + part.begin, n * sizeof(float));
    run->round_bytes += (double)n * sizeof(float) * run->active_count;
    return LMN_OK;
}

/* Batch-norm statistics travel once per round, like FedAvg's. */
static lmn_status average_statistics(fl_run *run)
{
    const lmn_network *net = run->t->net;
    memset(run->state_sums, 0, net->state_count * sizeof(int64_t));
    for (int j = 0; j < run->active_count; j++)
        if (owns(run, run->active[j]))
            lmn_fixed_accumulate(run->state_sums, run->models[j] + net->param_count,
                                 net->state_count, run->weights[j], LMN_FIXED_MODEL_BITS);
    LMN_TRY(lmn_comm_allreduce_int64(run->t->comm, run->state_sums, net->state_count));
    lmn_fixed_to_float(run->state_sums, run->global_state, net->state_count, LMN_FIXED_MODEL_BITS);
    LMN_TRY(lmn_comm_sum_doubles(run->t->comm, run->client_losses, run->active_count));
    run->round_bytes += (double)net->state_count * sizeof(float) * run->active_count;
    return LMN_OK;
}

static lmn_status partial_round(fl_run *run, int round, double lr)
{
    const int steps = run->fl->local_steps > 0 ? run->fl->local_steps : 1;
    LMN_TRY(start_client_models(run));
    for (int s = 0; s < steps; s++) {
        LMN_TRY(step_clients(run, round, s, steps, lr));
        const tensor_run part = partial_part(run, s % steps, steps);
        if (part.end > part.begin) LMN_TRY(average_part(run, part));
    }
    return average_statistics(run);
}

const fl_aggregator lmn_fl_partial = {
    .kind = LMN_AGG_PARTIAL,
    .client_models = true,
    .round = partial_round,
};
