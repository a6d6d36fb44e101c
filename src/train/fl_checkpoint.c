/* Checkpoints of `lamina fl` runs. They use the training checkpoint's
 * format and writer (io/checkpoint.h: temporary file and rename, rotation
 * by train.keep_checkpoints): /model holds the server model, /progress
 * counts rounds as epochs and global steps (the file of round r is
 * ckpt-<r>.h5), there is no /optimizer (client optimizers restart every
 * round; what a method keeps is below), and /policy_state holds, as
 * float64 (float32 values and integers below 2^53 convert exactly):
 *
 *   [0]  FL_STATE_VERSION        [6]  learnable tensors T
 *   [1]  rounds completed        [7]  parameters P
 *   [2]  cumulative comm bytes   [8]  1: FedAvgM/FedAdam first moment follows
 *   [3]  rank 0's MPI bytes      [9]  1: FedAdam second moment follows
 *   [4]  clients K               [10] floats of one client's store S
 *   [5]  active clients M        [11] floats of one client's optimizer V
 *   then: K stream positions, the M active client ids (kept between
 *   resamplings), T FedLAMA intervals, T discrepancies d, T discrepancies
 *   dt, the server moments (P each, as flagged), K store flags, K
 *   optimizer flags (1: the client holds one), then S floats for each
 *   flagged store and V for each flagged optimizer, by client id.
 *
 * Client sampling, batches and dropout noise are functions of the seed,
 * the round, the client and the step, so no random-generator state is
 * needed. A checkpoint is written between rounds only: a stop signal
 * that arrives during a round lets the round finish first, which is what
 * makes the resumed run equal the uninterrupted one bit for bit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/exact_sum.h"
#include "comm/watchdog.h"
#include "core/memory.h"
#include "io/checkpoint.h"
#include "nn/finite.h"
#include "train/federated_internal.h"

enum {
    FL_STATE_VERSION = 1,
    H_VERSION = 0, H_ROUNDS, H_CUM_BYTES, H_MPI_BYTES, H_CLIENTS, H_ACTIVE, H_TENSORS, H_PARAMS,
    H_SERVER_M, H_SERVER_V, H_STORE_FLOATS, H_VELOCITY_FLOATS, HEADER_VALUES
};

size_t lmn_fl_velocity_floats(const fl_run *run)
{
    const lmn_optimizer *opt = run->t->optimizer;
    return opt->total * (opt->second ? 2 : 1);
}

size_t lmn_fl_store_floats(const fl_run *run)
{
    size_t floats = 0;
    for (int k = 0; k < run->tensor_count; k++)
        if (run->interval[k] > 1) floats += view(run, k)->count;
    return floats;
}

/* The state vector being written or read, and where its next value is. */
typedef struct fl_state {
    double *values;
    size_t count, at;
} fl_state;

static void put_doubles(fl_state *s, const double *x, size_t n)
{
    if (s->values) memcpy(s->values + s->at, x, n * sizeof(double));
    s->at += n;
}

static void put_floats(fl_state *s, const float *x, size_t n)
{
    for (size_t i = 0; s->values && i < n; i++) s->values[s->at + i] = x[i];
    s->at += n;
}

static void put_ints(fl_state *s, const void *x, size_t n, bool wide)
{
    for (size_t i = 0; s->values && i < n; i++)
        s->values[s->at + i] = wide ? (double)((const int64_t *)x)[i] : ((const int *)x)[i];
    s->at += n;
}

static void get_floats(fl_state *s, float *x, size_t n)
{
    for (size_t i = 0; x && i < n; i++) x[i] = (float)s->values[s->at + i];
    s->at += n;
}

static void get_doubles(fl_state *s, double *x, size_t n)
{
    memcpy(x, s->values + s->at, n * sizeof(double));
    s->at += n;
}

/* Everything but the per-client floats; values NULL only counts. */
static void put_server_state(fl_run *run, fl_state *s, const double *flags)
{
    const size_t params = run->t->net->param_count;
    const double header[HEADER_VALUES] = {
        FL_STATE_VERSION, run->rounds_done, run->cum_bytes, run->t->comm->bytes_sent,
        run->fl->clients, run->active_count, run->tensor_count, (double)params,
        run->server_m != NULL, run->server_v != NULL, (double)lmn_fl_store_floats(run),
        (double)lmn_fl_velocity_floats(run)};
    put_doubles(s, header, HEADER_VALUES);
    put_ints(s, run->positions, (size_t)run->fl->clients, true);
    put_ints(s, run->active, (size_t)run->active_count, false);
    put_ints(s, run->interval, (size_t)run->tensor_count, false);
    put_doubles(s, run->d, (size_t)run->tensor_count);
    put_doubles(s, run->dt, (size_t)run->tensor_count);
    if (run->server_m) put_floats(s, run->server_m, params);
    if (run->server_v) put_floats(s, run->server_v, params);
    put_doubles(s, flags, 2 * (size_t)run->fl->clients);
}

/* Copies a client's floats from the rank that owns it to rank 0's vector,
 * bit for bit (the float's bits travel as an integer, summed with zeros). */
static lmn_status gather_client_floats(fl_run *run, fl_state *s, int client, const float *x,
                                       size_t n, int64_t *scratch)
{
    memset(scratch, 0, n * sizeof(int64_t));
    for (size_t i = 0; x && owns(run, client) && i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        scratch[i] = bits;
    }
    LMN_TRY(lmn_comm_allreduce_int64(run->t->comm, scratch, n));
    for (size_t i = 0; s->values && i < n; i++) {
        const uint32_t bits = (uint32_t)scratch[i];
        float value;
        memcpy(&value, &bits, sizeof value);
        s->values[s->at + i] = value;
    }
    s->at += n;
    return LMN_OK;
}

static lmn_status gather_clients(fl_run *run, fl_state *s, const double *flags)
{
    const int clients = run->fl->clients;
    const size_t store = lmn_fl_store_floats(run), velocity = lmn_fl_velocity_floats(run);
    int64_t *scratch = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&scratch, (store > velocity ? store : velocity) * 8 + 8,
                            "checkpoint transfer"));
    lmn_status status = LMN_OK;
    for (int c = 0; c < clients && status == LMN_OK; c++)
        if (flags[c] > 0.0) status = gather_client_floats(run, s, c, run->store[c], store, scratch);
    for (int c = 0; c < clients && status == LMN_OK; c++)
        if (flags[clients + c] > 0.0)
            status = gather_client_floats(run, s, c, run->velocity[c], velocity, scratch);
    lmn_free(scratch);
    return status;
}

/* The state vector, complete on rank 0 (other ranks only take part). */
static lmn_status collect_state(fl_run *run, fl_state *s)
{
    const int clients = run->fl->clients;
    double *flags = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&flags, 2 * (size_t)clients * sizeof(double), "client flags"));
    for (int c = 0; c < clients; c++) {
        flags[c] = run->store[c] != NULL;
        flags[clients + c] = run->velocity[c] != NULL;
    }
    lmn_status status = lmn_comm_sum_doubles(run->t->comm, flags, 2 * clients);
    *s = (fl_state){0};
    put_server_state(run, s, flags);
    for (int c = 0; c < clients; c++)
        s->at += (size_t)flags[c] * lmn_fl_store_floats(run) +
                 (size_t)flags[clients + c] * lmn_fl_velocity_floats(run);
    s->count = s->at;
    s->at = 0;
    if (status == LMN_OK && run->t->comm->rank == 0)
        status = lmn_alloc_bytes((void **)&s->values, s->count * sizeof(double), "checkpoint state");
    status = lmn_comm_agree(run->t->comm, status);
    if (status == LMN_OK) put_server_state(run, s, flags);
    if (status == LMN_OK) status = gather_clients(run, s, flags);
    lmn_free(flags);
    return status;
}

/* Rank 0 writes the file; the server model goes through the network. */
static lmn_status write_checkpoint(fl_run *run, const fl_state *s, double elapsed_seconds)
{
    lmn_trainer *t = run->t;
    lmn_network *net = t->net;
    memcpy(net->params, run->global, net->param_count * sizeof(float));
    memcpy(net->state, run->global_state, net->state_count * sizeof(float));
    char path[4096], refusal[4400];
    lmn_checkpoint_name(path, sizeof path, t->out_dir, run->rounds_done);
    snprintf(refusal, sizeof refusal, "refusing to write %s (the earlier checkpoints are kept; "
             "lower optimizer.lr)", path);
    LMN_TRY(lmn_network_check_finite(net, refusal));
    if (t->comm->rank != 0) return LMN_OK;
    const lmn_checkpoint_progress progress = {
        .epoch = run->rounds_done, .global_step = run->rounds_done, .ranks = t->comm->size,
        .elapsed_seconds = elapsed_seconds};
    LMN_TRY(lmn_checkpoint_save(path, net, NULL, &progress, t->config_yaml, s->values, (int)s->count));
    LMN_TRY(lmn_checkpoint_prune(t->out_dir, t->settings.keep_checkpoints));
    if (t->log) fprintf(t->log, "lamina: checkpoint %s\n", path);
    return LMN_OK;
}

lmn_status lmn_fl_checkpoint(fl_run *run, double elapsed_seconds)
{
    lmn_trainer *t = run->t;
    if (!t->out_dir) return LMN_OK;
    lmn_watchdog_progress(t->watchdog, LMN_WATCH_CHECKPOINT, run->rounds_done);
    /* Checkpoint traffic is not the method's: the metrics do not count it,
     * so a run that checkpoints more often reports the same bytes. */
    const double bytes_sent = t->comm->bytes_sent, seconds = t->comm->seconds;
    fl_state s;
    lmn_status status = collect_state(run, &s);
    if (status == LMN_OK) status = write_checkpoint(run, &s, elapsed_seconds);
    lmn_free(s.values);
    t->comm->bytes_sent = bytes_sent;
    t->comm->seconds = seconds;
    lmn_watchdog_progress(t->watchdog, LMN_WATCH_ROUND, run->rounds_done);
    return lmn_comm_agree(t->comm, status);
}

/* ---- restoring --------------------------------------------------------- */

static lmn_status check_header(const fl_run *run, const double *h, size_t count, const char *path)
{
    const double expected[HEADER_VALUES] = {
        [H_VERSION] = FL_STATE_VERSION, [H_CLIENTS] = run->fl->clients,
        [H_ACTIVE] = run->active_count, [H_TENSORS] = run->tensor_count,
        [H_PARAMS] = (double)run->t->net->param_count, [H_SERVER_M] = run->server_m != NULL,
        [H_SERVER_V] = run->server_v != NULL,
        [H_VELOCITY_FLOATS] = (double)lmn_fl_velocity_floats(run)};
    static const char *const names[HEADER_VALUES] = {
        [H_VERSION] = "the fl state version", [H_CLIENTS] = "fl.clients",
        [H_ACTIVE] = "the active clients (fl.active_ratio)", [H_TENSORS] = "the learnable tensors",
        [H_PARAMS] = "the parameters", [H_SERVER_M] = "the server momentum (fl.aggregator)",
        [H_SERVER_V] = "the server second moment (fl.aggregator)",
        [H_VELOCITY_FLOATS] = "the client optimizer state (optimizer)"};
    if (count < HEADER_VALUES)
        return lmn_fail(LMN_ERR_FORMAT, "%s holds no lamina fl state in /policy_state (%zu values): "
                        "is it a 'lamina train' checkpoint?", path, count);
    for (int i = 0; i < HEADER_VALUES; i++)
        if (names[i] && h[i] != expected[i])
            return lmn_fail(LMN_ERR_FORMAT, "%s was written by another fl configuration: %s is "
                            "%g there and %g here", path, names[i], h[i], expected[i]);
    return LMN_OK;
}

static lmn_status restore_client(fl_run *run, fl_state *s, int client, float **slot, size_t n)
{
    if (!owns(run, client)) {
        s->at += n;
        return LMN_OK;
    }
    if (!*slot) LMN_TRY(lmn_alloc_floats(slot, n ? n : 1, "client state"));
    get_floats(s, *slot, n);
    return LMN_OK;
}

static lmn_status restore_state(fl_run *run, fl_state *s)
{
    const int clients = run->fl->clients, tensors = run->tensor_count;
    const double *h = s->values;
    const size_t params = run->t->net->param_count;
    s->at = HEADER_VALUES;
    for (int c = 0; c < clients; c++) run->positions[c] = (int64_t)s->values[s->at++];
    for (int j = 0; j < run->active_count; j++) run->active[j] = (int)s->values[s->at++];
    for (int k = 0; k < tensors; k++) {
        const double interval = s->values[s->at++];
        if (interval != 1.0 && interval != run->fl->phi)
            return lmn_fail(LMN_ERR_FORMAT, "the checkpoint's interval of '%s' is %g; fl.phi is %d",
                            view(run, k)->name, interval, run->fl->phi);
        run->interval[k] = (int)interval;
    }
    if (h[H_STORE_FLOATS] != (double)lmn_fl_store_floats(run))
        return lmn_fail(LMN_ERR_FORMAT, "the checkpoint's client stores hold %g values, its relaxed "
                        "tensors %zu", h[H_STORE_FLOATS], lmn_fl_store_floats(run));
    get_doubles(s, run->d, (size_t)tensors);
    get_doubles(s, run->dt, (size_t)tensors);
    if (run->server_m) get_floats(s, run->server_m, params);
    if (run->server_v) get_floats(s, run->server_v, params);
    const double *flags = s->values + s->at;
    s->at += 2 * (size_t)clients;
    const size_t store = (size_t)h[H_STORE_FLOATS], velocity = (size_t)h[H_VELOCITY_FLOATS];
    for (int c = 0; c < clients; c++)
        if (flags[c] > 0.0) LMN_TRY(restore_client(run, s, c, &run->store[c], store));
    for (int c = 0; c < clients; c++)
        if (flags[clients + c] > 0.0) LMN_TRY(restore_client(run, s, c, &run->velocity[c], velocity));
    run->rounds_done = (int)h[H_ROUNDS];
    run->cum_bytes = h[H_CUM_BYTES];
    if (run->t->comm->rank == 0) run->t->comm->bytes_sent = h[H_MPI_BYTES];
    return LMN_OK;
}

/* The vector's length as its header and flags describe it. */
static size_t described_length(const fl_run *run, const double *v, size_t count)
{
    const int clients = run->fl->clients, tensors = run->tensor_count;
    const size_t params = run->t->net->param_count;
    size_t n = HEADER_VALUES + (size_t)clients + (size_t)run->active_count + 3 * (size_t)tensors +
               params * (size_t)(v[H_SERVER_M] + v[H_SERVER_V]);
    if (n + 2 * (size_t)clients > count) return SIZE_MAX; /* the flags are missing */
    const double *flags = v + n;
    n += 2 * (size_t)clients;
    for (int c = 0; c < clients; c++)
        n += (size_t)flags[c] * (size_t)v[H_STORE_FLOATS] +
             (size_t)flags[clients + c] * (size_t)v[H_VELOCITY_FLOATS];
    return n;
}

lmn_status lmn_fl_restore(fl_run *run, const char *path)
{
    lmn_network *net = run->t->net;
    fl_state s = {0};
    lmn_checkpoint_progress progress = {0};
    int count = 0;
    lmn_status status = lmn_checkpoint_policy_state_count(path, &count);
    s.count = (size_t)count;
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&s.values, (s.count + 1) * sizeof(double), "checkpoint state");
    if (status == LMN_OK) status = lmn_checkpoint_load(path, net, NULL, &progress, s.values, count);
    if (status == LMN_OK) status = check_header(run, s.values, s.count, path);
    const size_t described = status == LMN_OK ? described_length(run, s.values, s.count) : 0;
    if (status == LMN_OK && described != s.count)
        status = lmn_fail(LMN_ERR_FORMAT, "%s: /policy_state holds %zu values, but its header and "
                          "client flags describe %s", path, s.count,
                          described == SIZE_MAX ? "more" : "another number");
    if (status == LMN_OK) status = restore_state(run, &s);
    lmn_free(s.values);
    LMN_TRY(lmn_comm_agree(run->t->comm, status));
    memcpy(run->global, net->params, net->param_count * sizeof(float));
    memcpy(run->global_state, net->state, net->state_count * sizeof(float));
    run->elapsed_before = progress.elapsed_seconds;
    return LMN_OK;
}
