#include "train/federated.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "comm/exact_sum.h"
#include "comm/watchdog.h"
#include "core/memory.h"
#include "core/rng.h"
#include "core/timer.h"
#include "kernels/loss.h"
#include "train/federated_internal.h"
#include "train/run_directory.h"
#include "train/step.h"
#include "train/stop.h"

static int local_steps(const fl_run *run, int client)
{
    if (run->fl->local_steps > 0) return run->fl->local_steps;
    const int64_t n = lmn_partition_size(run->partition, client);
    return (int)((n + run->fl->batch_size - 1) / run->fl->batch_size) * run->fl->local_epochs;
}

/* ---- set-up --------------------------------------------------------- */

static lmn_status alloc_zero(void **out, size_t count, size_t size, const char *what)
{
    return lmn_alloc_bytes(out, (count ? count : 1) * size, what);
}

static lmn_status make_partition(fl_run *run)
{
    const lmn_trainer *t = run->t;
    const lmn_fl_settings *fl = run->fl;
    if (t->comm->size > fl->clients)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.clients': %d clients cannot occupy %d ranks; "
                        "run fewer ranks or more clients", fl->clients, t->comm->size);
    return lmn_partition_make(t->train_set->labels, t->train_set->count, t->train_set->num_classes,
                              &fl->partition, t->settings.seed, &run->partition);
}

static lmn_status allocate(fl_run *run)
{
    const lmn_network *net = run->t->net;
    const int clients = run->fl->clients;
    run->active_count = (int)lround(run->fl->active_ratio * clients);
    if (run->active_count < 1) run->active_count = 1;
    run->tensor_count = 0;
    while (run->tensor_count < net->tensor_count && view(run, run->tensor_count)->role < LMN_ROLE_BN_MEAN)
        run->tensor_count++;
    const int m = run->active_count, tensors = run->tensor_count;
    LMN_TRY(alloc_zero((void **)&run->active, (size_t)m, sizeof(int), "active clients"));
    LMN_TRY(alloc_zero((void **)&run->weights, (size_t)m, sizeof(double), "client weights"));
    LMN_TRY(alloc_zero((void **)&run->positions, (size_t)clients, sizeof(int64_t), "client streams"));
    LMN_TRY(lmn_alloc_floats(&run->global, net->param_count, "server model"));
    LMN_TRY(lmn_alloc_floats(&run->global_state, net->state_count + 1, "server statistics"));
    LMN_TRY(lmn_alloc_floats(&run->average, net->param_count, "aggregate"));
    LMN_TRY(alloc_zero((void **)&run->sums, net->param_count, sizeof(int64_t), "model sums"));
    LMN_TRY(alloc_zero((void **)&run->state_sums, net->state_count, sizeof(int64_t), "statistics sums"));
    LMN_TRY(alloc_zero((void **)&run->interval, (size_t)tensors, sizeof(int), "intervals"));
    LMN_TRY(alloc_zero((void **)&run->d, (size_t)tensors, sizeof(double), "discrepancies"));
    LMN_TRY(alloc_zero((void **)&run->dt, (size_t)tensors, sizeof(double), "discrepancies"));
    LMN_TRY(alloc_zero((void **)&run->aggregate, (size_t)tensors, sizeof(bool), "schedule"));
    LMN_TRY(alloc_zero((void **)&run->square_norms, (size_t)m * tensors, sizeof(double), "norms"));
    LMN_TRY(alloc_zero((void **)&run->client_losses, (size_t)m, sizeof(double), "client losses"));
    LMN_TRY(alloc_zero((void **)&run->store, (size_t)clients, sizeof(float *), "client stores"));
    LMN_TRY(alloc_zero((void **)&run->velocity, (size_t)clients, sizeof(float *), "client optimizers"));
    for (int k = 0; k < tensors; k++) run->interval[k] = 1;
    const fl_aggregator *agg = run->agg;
    if (agg->layer_intervals && run->fl->weight_by_samples)
        LMN_TRY(alloc_zero((void **)&run->plain_sums, net->param_count, sizeof(int64_t), "model sums"));
    if (agg->server_moments >= 1)
        LMN_TRY(lmn_alloc_floats(&run->server_m, net->param_count, "server optimizer"));
    if (agg->server_moments >= 2)
        LMN_TRY(lmn_alloc_floats(&run->server_v, net->param_count, "server optimizer"));
    if (agg->client_models) {
        LMN_TRY(alloc_zero((void **)&run->models, (size_t)m, sizeof(float *), "client models"));
        LMN_TRY(alloc_zero((void **)&run->model_velocity, (size_t)m, sizeof(float *), "client optimizers"));
    }
    memcpy(run->global, net->params, net->param_count * sizeof(float));
    memcpy(run->global_state, net->state, net->state_count * sizeof(float));
    return LMN_OK;
}

static void release(fl_run *run)
{
    for (int c = 0; c < run->fl->clients; c++) {
        if (run->store) lmn_free(run->store[c]);
        if (run->velocity) lmn_free(run->velocity[c]);
    }
    for (int j = 0; run->models && j < run->active_count; j++) {
        lmn_free(run->models[j]);
        lmn_free(run->model_velocity[j]);
    }
    lmn_partition_free(run->partition);
    void *buffers[] = {run->active, run->weights, run->positions, run->global, run->global_state,
                       run->average, run->sums, run->plain_sums, run->state_sums, run->server_m,
                       run->server_v, run->interval, run->d, run->dt, run->aggregate,
                       run->square_norms, run->client_losses, run->store, run->velocity,
                       run->models, run->model_velocity};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) lmn_free(buffers[i]);
}

/* ---- one client ------------------------------------------------------- */

/* Loads the server model, then the client's own copies of relaxed tensors. */
static void load_client_model(fl_run *run, int client)
{
    lmn_network *net = run->t->net;
    memcpy(net->params, run->global, net->param_count * sizeof(float));
    memcpy(net->state, run->global_state, net->state_count * sizeof(float));
    const float *own = run->store[client];
    if (!own) return;
    for (int k = 0; k < run->tensor_count; k++) {
        if (run->interval[k] == 1) continue;
        memcpy(net->params + view(run, k)->offset, own, view(run, k)->count * sizeof(float));
        own += view(run, k)->count;
    }
}

void lmn_fl_load_optimizer(fl_run *run, const float *velocity)
{
    lmn_optimizer *opt = run->t->optimizer;
    const size_t bytes = opt->total * sizeof(float);
    if (velocity) {
        memcpy(opt->velocity, velocity, bytes);
        if (opt->second) memcpy(opt->second, velocity + opt->total, bytes);
    } else {
        memset(opt->velocity, 0, bytes);
        if (opt->second) memset(opt->second, 0, bytes);
    }
    opt->steps = 0;
}

lmn_status lmn_fl_save_optimizer(fl_run *run, float **slot)
{
    lmn_optimizer *opt = run->t->optimizer;
    const size_t floats = opt->total * (opt->second ? 2 : 1);
    if (!*slot) LMN_TRY(lmn_alloc_floats(slot, floats, "client optimizer state"));
    memcpy(*slot, opt->velocity, opt->total * sizeof(float));
    if (opt->second) memcpy(*slot + opt->total, opt->second, opt->total * sizeof(float));
    return LMN_OK;
}

lmn_status lmn_fl_local_step(fl_run *run, int client, int round, int step, double lr, double *loss)
{
    lmn_trainer *t = run->t;
    lmn_network *net = t->net;
    const int batch = run->fl->batch_size;
    uint32_t *indices = (uint32_t *)t->order;
    lmn_client_batch(run->partition, client, t->settings.seed,
                     run->positions[client] + (int64_t)step * batch, batch, indices);
    LMN_TRY(lmn_dataset_gather(t->train_set, indices, batch, t->settings.seed, (uint64_t)round,
                               t->inputs, t->labels));
    const uint64_t noise = lmn_rng_stream_id(lmn_rng_stream_id((uint64_t)client, (uint64_t)round),
                                             (uint64_t)step);
    const lmn_step_batch gathered = {indices, t->inputs, t->labels, batch};
    double loss_sum = 0.0, hits = 0.0;
    const lmn_step_model model = lmn_step_model_of(t);
    LMN_TRY(lmn_step_gradient(&model, &gathered, 1.0f / (float)batch, noise, &loss_sum, &hits));
    *loss = loss_sum / batch;
    if (!isfinite(*loss))
        return lmn_fail(LMN_ERR_NUMERIC, "training diverged: client %d's loss is %g at round %d, "
                        "local step %d (learning rate %g); lower optimizer.lr", client, *loss,
                        round + 1, step + 1, lr);
    if (run->agg->adjust_gradient) run->agg->adjust_gradient(run);
    lmn_optimizer_update(t->optimizer, net->params, net->grads, lr, 0, net->param_count);
    lmn_optimizer_finish_step(t->optimizer);
    return LMN_OK;
}

/* A client whose model left the representable range has diverged: name
 * the tensor and the value so the user can tell how. */
static lmn_status diverged_client(const fl_run *run, int client)
{
    const lmn_network *net = run->t->net;
    int worst = 0;
    double largest = 0.0;
    /* The first NaN or infinity wins: no later element may replace it. */
    for (int k = 0; k < run->tensor_count && isfinite(largest); k++) {
        const lmn_tensor_view *v = view(run, k);
        for (size_t i = 0; i < v->count && isfinite(largest); i++) {
            const double x = fabs((double)net->params[v->offset + i]);
            if (!isfinite(x) || x > largest) {
                largest = x;
                worst = k;
            }
        }
    }
    return lmn_fail(LMN_ERR_NUMERIC, "training diverged: client %d's local model reached %g in "
                    "'%s' (lamina aggregates values up to %g exactly); lower optimizer.lr or "
                    "fl.local_steps", client, largest, view(run, worst)->name,
                    ldexp(1.0, 62 - LMN_FIXED_MODEL_BITS));
}

/* Adds the client's model (now in the network) into the round's sums and
 * keeps what is not aggregated this round in the client's store. */
static lmn_status contribute(fl_run *run, int slot, int client)
{
    lmn_network *net = run->t->net;
    const int bits = LMN_FIXED_MODEL_BITS;
    const double plain = 1.0 / run->active_count;
    bool ok = true;
    size_t kept = 0;
    for (int k = 0; k < run->tensor_count; k++) {
        const lmn_tensor_view *v = view(run, k);
        const float *x = net->params + v->offset;
        if (!run->aggregate[k]) {
            if (!run->store[client])
                LMN_TRY(lmn_alloc_floats(&run->store[client], run->store_floats, "client store"));
            memcpy(run->store[client] + kept, x, v->count * sizeof(float));
            kept += v->count;
            continue;
        }
        ok = ok && lmn_fixed_accumulate(run->sums + v->offset, x, v->count, run->weights[slot], bits);
        if (run->plain_sums)
            ok = ok && lmn_fixed_accumulate(run->plain_sums + v->offset, x, v->count, plain, bits);
        double norm = 0.0;
        for (size_t i = 0; i < v->count; i++) norm += (double)x[i] * x[i];
        run->square_norms[(size_t)slot * run->tensor_count + k] = norm;
    }
    ok = ok && lmn_fixed_accumulate(run->state_sums, net->state, net->state_count, run->weights[slot], bits);
    if (!ok) return diverged_client(run, client);
    return LMN_OK;
}

static lmn_status train_client(fl_run *run, int slot, int client, int round, double lr)
{
    load_client_model(run, client);
    lmn_fl_load_optimizer(run, run->fl->keep_client_optimizer ? run->velocity[client] : NULL);
    const int steps = local_steps(run, client);
    double total = 0.0;
    for (int s = 0; s < steps; s++) {
        double loss = 0.0;
        LMN_TRY(lmn_fl_local_step(run, client, round, s, lr, &loss));
        total += loss;
    }
    run->client_losses[slot] = steps > 0 ? total / steps : 0.0;
    if (run->fl->keep_client_optimizer) LMN_TRY(lmn_fl_save_optimizer(run, &run->velocity[client]));
    return contribute(run, slot, client);
}

/* ---- a round ------------------------------------------------------------- */

static void choose_clients(fl_run *run, int round)
{
    if (round % run->fl->resample_every == 0)
        lmn_sample_clients(run->fl->clients, run->active_count, run->t->settings.seed,
                           (uint64_t)round, run->active);
    double total = 0.0;
    for (int j = 0; j < run->active_count; j++) {
        run->weights[j] = run->fl->weight_by_samples
                              ? (double)lmn_partition_size(run->partition, run->active[j])
                              : 1.0;
        total += run->weights[j];
    }
    for (int j = 0; j < run->active_count; j++) run->weights[j] /= total;
}

static void schedule_tensors(fl_run *run, int round)
{
    run->store_floats = 0;
    for (int k = 0; k < run->tensor_count; k++) {
        run->aggregate[k] = (round + 1) % run->interval[k] == 0;
        if (run->interval[k] > 1) run->store_floats += view(run, k)->count;
    }
}

static void reset_sums(fl_run *run)
{
    const lmn_network *net = run->t->net;
    memset(run->sums, 0, net->param_count * sizeof(int64_t));
    if (run->plain_sums) memset(run->plain_sums, 0, net->param_count * sizeof(int64_t));
    memset(run->state_sums, 0, net->state_count * sizeof(int64_t));
    memset(run->square_norms, 0, sizeof(double) * (size_t)run->active_count * run->tensor_count);
    memset(run->client_losses, 0, sizeof(double) * (size_t)run->active_count);
}

/* Sums the scheduled tensors over all ranks: one reduction per run of
 * consecutive scheduled tensors, nothing for the others. */
static lmn_status reduce_scheduled(fl_run *run, int64_t *sums)
{
    int k = 0;
    while (k < run->tensor_count) {
        if (!run->aggregate[k]) {
            k++;
            continue;
        }
        const size_t begin = view(run, k)->offset;
        while (k < run->tensor_count && run->aggregate[k]) k++;
        const size_t end = view(run, k - 1)->offset + view(run, k - 1)->count;
        LMN_TRY(lmn_comm_allreduce_int64(run->t->comm, sums + begin, end - begin));
    }
    return LMN_OK;
}

static lmn_status aggregate_clients(fl_run *run)
{
    lmn_trainer *t = run->t;
    lmn_network *net = t->net;
    LMN_TRY(reduce_scheduled(run, run->sums));
    if (run->plain_sums) LMN_TRY(reduce_scheduled(run, run->plain_sums));
    LMN_TRY(lmn_comm_allreduce_int64(t->comm, run->state_sums, net->state_count));
    /* Each client's norms and loss sit in its own slot, zero elsewhere: the
     * sum over ranks is exact. */
    const size_t norms = (size_t)run->active_count * run->tensor_count;
    LMN_TRY(lmn_comm_sum_doubles(t->comm, run->square_norms, (int)norms));
    LMN_TRY(lmn_comm_sum_doubles(t->comm, run->client_losses, run->active_count));
    lmn_fixed_to_float(run->state_sums, run->global_state, net->state_count, LMN_FIXED_MODEL_BITS);
    run->round_bytes = (double)net->state_count * sizeof(float) * run->active_count;
    for (int k = 0; k < run->tensor_count; k++) {
        if (!run->aggregate[k]) continue;
        const lmn_tensor_view *v = view(run, k);
        lmn_fixed_to_float(run->sums + v->offset, run->average + v->offset, v->count,
                           LMN_FIXED_MODEL_BITS);
        if (run->agg->after_average) run->agg->after_average(run, k);
        run->agg->server_update(run, v->offset, v->offset + v->count);
        run->round_bytes += (double)v->count * sizeof(float) * run->active_count;
    }
    /* A client's copies are dropped when their tensors are aggregated; all
     * relaxed tensors share one interval, so they go together. */
    bool relaxed_aggregated = false;
    for (int k = 0; k < run->tensor_count; k++)
        relaxed_aggregated = relaxed_aggregated || (run->interval[k] > 1 && run->aggregate[k]);
    for (int c = 0; relaxed_aggregated && c < run->fl->clients; c++) {
        lmn_free(run->store[c]);
        run->store[c] = NULL;
    }
    return LMN_OK;
}

lmn_status lmn_fl_train_then_aggregate(fl_run *run, int round, double lr)
{
    lmn_status status = LMN_OK;
    for (int j = 0; j < run->active_count && status == LMN_OK; j++)
        if (owns(run, run->active[j])) status = train_client(run, j, run->active[j], round, lr);
    LMN_TRY(lmn_comm_agree(run->t->comm, status));
    return aggregate_clients(run);
}

/* ---- the loop ------------------------------------------------------------- */

static lmn_status evaluate_global(fl_run *run, double *loss, double *accuracy)
{
    lmn_network *net = run->t->net;
    memcpy(net->params, run->global, net->param_count * sizeof(float));
    memcpy(net->state, run->global_state, net->state_count * sizeof(float));
    return lmn_trainer_evaluate(run->t, loss, accuracy);
}

static size_t client_state_bytes(const fl_run *run)
{
    size_t bytes = 0;
    for (int c = 0; c < run->fl->clients; c++) {
        if (run->store[c]) bytes += run->store_floats * sizeof(float);
        if (run->velocity[c]) bytes += run->t->optimizer->total * sizeof(float) *
                                       (run->t->optimizer->second ? 2 : 1);
    }
    return bytes;
}

/* FNV-1a over the server model's bits: equal checksums mean equal models. */
static uint64_t model_checksum(const fl_run *run)
{
    const lmn_network *net = run->t->net;
    uint64_t hash = 0xcbf29ce484222325ull;
    const float *parts[2] = {run->global, run->global_state};
    const size_t counts[2] = {net->param_count, net->state_count};
    for (int p = 0; p < 2; p++) {
        const unsigned char *bytes = (const unsigned char *)parts[p];
        for (size_t i = 0; i < counts[p] * sizeof(float); i++) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    }
    return hash;
}

typedef struct round_record {
    int round;
    double train_loss, test_loss, test_acc, seconds, elapsed, lr;
    int64_t client_state_bytes; /* summed over ranks */
    double peak_rss_bytes;      /* largest resident set of any rank so far */
    bool evaluated;
} round_record;

static lmn_status write_round(fl_run *run, const round_record *r)
{
    lmn_metrics *m = run->t->metrics;
    if (!m) return LMN_OK;
    const char *names[256];
    int relaxed = 0;
    for (int k = 0; k < run->tensor_count && relaxed < 256; k++)
        if (run->interval[k] > 1) names[relaxed++] = view(run, k)->name;
    lmn_metrics_begin(m);
    LMN_TRY(lmn_metrics_int(m, "round", r->round));
    if (run->t->settings.task.kind == LMN_TASK_REGRESSION) {
        lmn_task_scores scores = run->t->task_scores;
        if (!r->evaluated) scores.evaluated = lmn_task_scores_none().evaluated;
        LMN_TRY(lmn_task_write_metrics(&scores, m));
    } else {
        LMN_TRY(lmn_metrics_double(m, "test_acc", r->evaluated ? r->test_acc : NAN));
    }
    LMN_TRY(lmn_metrics_double(m, "test_loss", r->evaluated ? r->test_loss : NAN));
    LMN_TRY(lmn_metrics_double(m, "train_loss", r->train_loss));
    LMN_TRY(lmn_metrics_double(m, "lr", r->lr));
    LMN_TRY(lmn_metrics_double(m, "comm_bytes", run->round_bytes));
    LMN_TRY(lmn_metrics_double(m, "cum_comm_bytes", run->cum_bytes));
    LMN_TRY(lmn_metrics_string_list(m, "relaxed_layers", names, relaxed));
    LMN_TRY(lmn_metrics_int(m, "active_clients", run->active_count));
    LMN_TRY(lmn_metrics_int(m, "client_state_bytes", r->client_state_bytes));
    LMN_TRY(lmn_metrics_double(m, "peak_rss_bytes", r->peak_rss_bytes));
    LMN_TRY(lmn_metrics_double(m, "mpi_bytes", run->t->comm->bytes_sent));
    char checksum[24];
    snprintf(checksum, sizeof checksum, "%016llx", (unsigned long long)model_checksum(run));
    LMN_TRY(lmn_metrics_string(m, "model_checksum", checksum));
    LMN_TRY(lmn_metrics_double(m, "seconds", r->seconds));
    LMN_TRY(lmn_metrics_double(m, "elapsed_seconds", r->elapsed));
    return lmn_metrics_end(m);
}

/* One round; *stop is set on every rank when any rank received a stop
 * signal by its end. */
static lmn_status run_round(fl_run *run, int round, double run_start, bool *stop)
{
    lmn_trainer *t = run->t;
    const double start = lmn_now();
    const double lr = lmn_lr_at(&t->settings.schedule, round, 1);
    choose_clients(run, round);
    schedule_tensors(run, round);
    reset_sums(run);
    run->round_bytes = 0.0;
    LMN_TRY(lmn_comm_agree(t->comm, run->agg->round(run, round, lr)));
    for (int j = 0; j < run->active_count; j++)
        run->positions[run->active[j]] += (int64_t)local_steps(run, run->active[j]) * run->fl->batch_size;
    run->cum_bytes += run->round_bytes;
    round_record r = {.round = round + 1, .lr = lr};
    for (int j = 0; j < run->active_count; j++) r.train_loss += run->client_losses[j];
    r.train_loss /= run->active_count;
    const bool last = round + 1 == run->fl->rounds;
    if ((round + 1) % run->fl->eval_every == 0 || last) {
        LMN_TRY(evaluate_global(run, &r.test_loss, &r.test_acc));
        r.evaluated = true;
    }
    /* The stop requests travel with the state sizes: one reduction. */
    double sums[2] = {(double)client_state_bytes(run), lmn_stop_requested() ? 1.0 : 0.0};
    LMN_TRY(lmn_comm_sum_doubles(t->comm, sums, 2));
    r.client_state_bytes = (int64_t)sums[0];
    *stop = sums[1] > 0.0;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    r.peak_rss_bytes = (double)usage.ru_maxrss * 1024.0;
    LMN_TRY(lmn_comm_max_doubles(t->comm, &r.peak_rss_bytes, 1));
    if (run->agg->end_round) run->agg->end_round(run, round);
    r.seconds = lmn_now() - start;
    r.elapsed = lmn_now() - run_start;
    if (t->log) {
        fprintf(t->log, "round %d/%d  train_loss %.4f", r.round, run->fl->rounds, r.train_loss);
        if (r.evaluated && t->settings.task.kind == LMN_TASK_REGRESSION)
            fprintf(t->log, "  test_loss %.4g  test_mse %.4g", r.test_loss, t->task_scores.evaluated.mse);
        else if (r.evaluated)
            fprintf(t->log, "  test_loss %.4f  test_acc %.4f", r.test_loss, r.test_acc);
        fprintf(t->log, "  comm %.3g MB (total %.4g MB)  %.2f s\n", run->round_bytes / 1e6,
                run->cum_bytes / 1e6, r.seconds);
        fflush(t->log);
    }
    return lmn_comm_agree(t->comm, write_round(run, &r));
}

/* --resume: restores the run from a checkpoint (or starts fresh when
 * `auto` finds none); *finished when it had already done fl.rounds. */
static lmn_status resume(fl_run *run, const char *from, bool *finished)
{
    lmn_trainer *t = run->t;
    char path[4096] = {0};
    bool fresh = false;
    LMN_TRY(lmn_trainer_resume_path(t, from, path, sizeof path, &fresh));
    if (fresh) return LMN_OK;
    const lmn_status status = lmn_fl_restore(run, path);
    if (status != LMN_OK) return lmn_fail_context(status, "cannot resume from '%s'", path);
    t->checkpoint_loaded = true;
    /* metrics.jsonl continues after the checkpoint's rounds. */
    t->resumed.epoch = t->resumed.global_step = run->rounds_done;
    *finished = run->rounds_done >= run->fl->rounds;
    if (t->log)
        fprintf(t->log, *finished ? "lamina: %s is the end of the run (round %d of %d); nothing to "
                                    "do: raise fl.rounds to train further\n"
                                  : "lamina: resuming from %s (round %d of %d done)\n",
                path, run->rounds_done, run->fl->rounds);
    if (*finished || t->comm->rank != 0 || !t->out_dir) return lmn_comm_agree(t->comm, LMN_OK);
    return lmn_comm_agree(t->comm, lmn_run_directory_rewind_metrics(t->out_dir, "round",
                                                                    run->rounds_done));
}

static bool checkpoint_due(const fl_run *run, bool stop)
{
    const int every = run->fl->checkpoint_every;
    return stop || run->rounds_done == run->fl->rounds || (every > 0 && run->rounds_done % every == 0);
}

static lmn_status run_rounds(fl_run *run, const char *resume_from)
{
    lmn_trainer *t = run->t;
    LMN_TRY(lmn_comm_agree(t->comm, make_partition(run)));
    LMN_TRY(lmn_comm_agree(t->comm, allocate(run)));
    bool finished = false, stop = false;
    if (resume_from) LMN_TRY(resume(run, resume_from, &finished));
    if (finished) return LMN_OK;
    LMN_TRY(lmn_comm_agree(t->comm, lmn_trainer_open_metrics(t)));
    const double start = lmn_now() - run->elapsed_before;
    for (int round = run->rounds_done; round < run->fl->rounds && !stop; round++) {
        lmn_watchdog_progress(t->watchdog, LMN_WATCH_ROUND, round);
        LMN_TRY(run_round(run, round, start, &stop));
        run->rounds_done = round + 1;
        if (checkpoint_due(run, stop)) LMN_TRY(lmn_fl_checkpoint(run, lmn_now() - start));
    }
    if (stop && run->rounds_done < run->fl->rounds && t->log)
        fprintf(t->log, "lamina: stopped by signal after round %d; checkpoint written, resume with "
                "--resume auto\n", run->rounds_done);
    t->stopped = stop;
    return LMN_OK;
}

lmn_status lmn_federated_run(lmn_trainer *trainer) { return lmn_federated_run_from(trainer, NULL); }

lmn_status lmn_federated_run_from(lmn_trainer *trainer, const char *resume_from)
{
    fl_run run = {.t = trainer, .fl = &trainer->fl, .agg = lmn_fl_aggregator(trainer->fl.aggregator)};
    LMN_TRY(lmn_watchdog_start(trainer->comm, NULL, trainer->settings.timeout_seconds,
                               &trainer->watchdog));
    const lmn_status status = run_rounds(&run, resume_from);
    lmn_watchdog_stop(trainer->watchdog);
    trainer->watchdog = NULL;
    release(&run);
    return status;
}

enum { DESCRIBED_CLIENTS_MAX = 32, DESCRIBED_CLIENTS_SHOWN = 10 };

lmn_status lmn_federated_describe_partition(lmn_trainer *trainer, FILE *out)
{
    fl_run run = {.t = trainer, .fl = &trainer->fl};
    lmn_status status = make_partition(&run);
    if (status == LMN_OK && trainer->comm->rank == 0) {
        const lmn_dataset *ds = trainer->train_set;
        fprintf(out, "partition: %s over %d clients (%d draw%s)\n",
                lmn_partition_kind_names[trainer->fl.partition.kind], trainer->fl.clients,
                run.partition->draws, run.partition->draws == 1 ? "" : "s");
        /* Every client's row while the table stays readable; a summary beyond. */
        const int rows = trainer->fl.clients <= DESCRIBED_CLIENTS_MAX ? -1 : DESCRIBED_CLIENTS_SHOWN;
        status = lmn_partition_describe(run.partition, ds->labels, ds->num_classes, rows, out);
    }
    lmn_partition_free(run.partition);
    return lmn_comm_agree(trainer->comm, status);
}
