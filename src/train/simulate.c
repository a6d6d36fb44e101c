#include "train/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "core/timer.h"
#include "train/step.h"
#include "train/sync.h"

static const char *const strategy_names[LMN_SIM_STRATEGY_COUNT] = {
    "allreduce", "overlap", "multistep", "lazy", "localsgd"};

const char *lmn_sim_strategy_name(lmn_sim_strategy strategy)
{
    return strategy >= 0 && strategy < LMN_SIM_STRATEGY_COUNT ? strategy_names[strategy] : "?";
}

bool lmn_sim_strategy_from_name(const char *name, lmn_sim_strategy *out)
{
    for (int i = 0; i < LMN_SIM_STRATEGY_COUNT; i++) {
        if (strcmp(name, strategy_names[i]) == 0) {
            *out = (lmn_sim_strategy)i;
            return true;
        }
    }
    return false;
}

lmn_sim_options lmn_sim_options_default(void)
{
    return (lmn_sim_options){.link = lmn_link_from_gbits(10.0, 5.0),
                             .algorithm = LMN_ALGORITHM_RING,
                             .global_batch = 64,
                             .wire_bytes = 4,
                             .bucket_mb = 0.0,
                             .fc_exchange = -1,
                             .lazy_layers = 8,
                             .lazy_k = 4,
                             .groups = 0,
                             .tau = 8};
}

double lmn_sim_scaled_seconds(double measured, double fixed, int measured_batch, int batch)
{
    if (measured_batch <= 0) return measured;
    return fixed + (measured - fixed) * (double)batch / (double)measured_batch;
}

static double layer_compute(const lmn_step_profile *p, int l, int batch)
{
    const lmn_layer_profile *layer = &p->layers[l];
    return lmn_sim_scaled_seconds(layer->forward_seconds, layer->forward_fixed_seconds,
                                  p->measured_batch, batch) +
           lmn_sim_scaled_seconds(layer->backward_seconds, layer->backward_fixed_seconds,
                                  p->measured_batch, batch);
}

static size_t total_params(const lmn_step_profile *p)
{
    size_t total = 0;
    for (int l = 0; l < p->count; l++) total += p->layers[l].param_count;
    return total;
}

double lmn_sim_single_rank_seconds(const lmn_step_profile *profile, int global_batch)
{
    double seconds = profile->update_seconds;
    for (int l = 0; l < profile->count; l++) seconds += layer_compute(profile, l, global_batch);
    return seconds;
}

/* ---- the timeline: one compute thread, one FIFO communication thread ---- */

typedef struct timeline {
    double now;       /* the compute thread's clock */
    double comm_free; /* when the communication thread is next idle */
    double computed;  /* seconds the compute thread computed */
    double comm_busy; /* seconds collectives ran */
    double bytes;     /* sent by this rank */
} timeline;

typedef struct sim {
    const lmn_step_profile *profile;
    const lmn_sim_options *options;
    lmn_sim_strategy strategy;
    int ranks, batch, count;
    double *forward, *backward, *update; /* per layer, at the local batch */
    double *params;                      /* per layer, as doubles */
    lmn_sim_path *path;
    int *bucket_of;    /* overlap: layer -> bucket; -1 without parameters */
    int *bucket_low;   /* overlap: bucket -> its lowest layer (completes it) */
    double *bucket_params;
    int bucket_count;
    double *ready;     /* overlap: bucket -> end of its reduction; multistep: layer -> end
                        * of its parameter allgather (both from the previous step) */
    double *first;     /* multistep: layer -> end of its reduce-scatter or exchange */
    double total_params;
    int lazy_end;      /* lazy: layers [0, lazy_end) hold the lazy parameters */
    int top_lazy;      /* lazy: the top-most lazy layer, or -1 */
} sim;

static void compute(timeline *tl, double seconds)
{
    tl->now += seconds;
    tl->computed += seconds;
}

static void wait_until(timeline *tl, double when)
{
    if (when > tl->now) tl->now = when;
}

/* Queues a collective of `bytes` over `ranks` on the communication thread;
 * returns when it ends (now, for a no-op). */
static double post(const sim *s, timeline *tl, lmn_collective kind, double bytes, int ranks)
{
    if (ranks <= 1 || bytes <= 0.0) return tl->now;
    const double seconds = lmn_cost_seconds_with(s->options->link, kind, s->options->algorithm,
                                                 bytes, ranks);
    tl->comm_free = fmax(tl->now, tl->comm_free) + seconds;
    tl->comm_busy += seconds;
    tl->bytes += lmn_cost_bytes(kind, bytes, ranks);
    return tl->comm_free;
}

/* A collective on the compute thread: it waits for the queue, then for it. */
static void blocking(const sim *s, timeline *tl, lmn_collective kind, double bytes, int ranks)
{
    wait_until(tl, post(s, tl, kind, bytes, ranks));
}

/* lmn_allgather_pieces: an allgather of the piece sizes (latency only, not
 * counted as model traffic), then of the data. */
static double post_pieces(const sim *s, timeline *tl, double bytes, int ranks)
{
    if (ranks <= 1) return tl->now;
    const lmn_link latency_only = {INFINITY, s->options->link.latency_seconds};
    const double sizes = lmn_cost_seconds_with(latency_only, LMN_COLLECTIVE_ALLGATHER,
                                               s->options->algorithm, 4.0 * ranks, ranks);
    tl->comm_free = fmax(tl->now, tl->comm_free) + sizes;
    tl->comm_busy += sizes;
    return post(s, tl, LMN_COLLECTIVE_ALLGATHER, bytes, ranks);
}

static bool has_params(const sim *s, int l) { return s->params[l] > 0.0; }
static double gradient_bytes(const sim *s, double values) { return values * s->options->wire_bytes; }

static void forward_pass(const sim *s, timeline *tl)
{
    for (int l = 0; l < s->count; l++) compute(tl, s->forward[l]);
}

static void backward_pass(const sim *s, timeline *tl)
{
    for (int l = s->count - 1; l >= 0; l--) compute(tl, s->backward[l]);
}

static double update_of(const sim *s, int from, int to)
{
    double seconds = 0.0;
    for (int l = from; l < to; l++) seconds += s->update[l];
    return seconds;
}

static void allreduce_step(const sim *s, timeline *tl)
{
    forward_pass(s, tl);
    backward_pass(s, tl);
    blocking(s, tl, LMN_COLLECTIVE_ALLREDUCE, gradient_bytes(s, s->total_params), s->ranks);
    compute(tl, update_of(s, 0, s->count));
}

static void overlap_step(const sim *s, timeline *tl)
{
    for (int l = 0; l < s->count; l++) {
        if (s->bucket_of[l] >= 0) {
            wait_until(tl, s->ready[s->bucket_of[l]]);
            compute(tl, s->update[l]);
        }
        compute(tl, s->forward[l]);
    }
    for (int l = s->count - 1; l >= 0; l--) {
        compute(tl, s->backward[l]);
        const int bucket = s->bucket_of[l];
        if (bucket >= 0 && s->bucket_low[bucket] == l)
            s->ready[bucket] = post(s, tl, LMN_COLLECTIVE_ALLREDUCE,
                                    gradient_bytes(s, s->bucket_params[bucket]), s->ranks);
    }
}

/* A linear layer's bias values: its parameters beyond in x out. */
static double bias_values(const sim *s, int l)
{
    const lmn_layer_profile *layer = &s->profile->layers[l];
    return fmax(0.0, s->params[l] - layer->input_floats * layer->output_floats);
}

/* The path sync_multistep.c's rule picks for each layer (both paths then
 * allgather the same fp32 weights). */
static void choose_paths(sim *s)
{
    const lmn_sim_options *o = s->options;
    for (int l = 0; l < s->count; l++) {
        const lmn_layer_profile *layer = &s->profile->layers[l];
        const double in = layer->input_floats, out = layer->output_floats;
        if (!has_params(s, l)) s->path[l] = LMN_SIM_PATH_NONE;
        else if (layer->kind == LMN_LAYER_LINEAR &&
                 lmn_multistep_exchanges(o->fc_exchange, o->global_batch, in, out,
                                         s->params[l] > in * out, o->wire_bytes))
            s->path[l] = LMN_SIM_PATH_ACTIVATIONS;
        else s->path[l] = LMN_SIM_PATH_GRADIENT;
    }
}

static void multistep_step(const sim *s, timeline *tl)
{
    const int p = s->ranks;
    const double b = s->options->global_batch;
    for (int l = 0; l < s->count; l++) {
        wait_until(tl, s->ready[l]);
        compute(tl, s->forward[l]);
    }
    for (int l = s->count - 1; l >= 0; l--) {
        compute(tl, s->backward[l]);
        const lmn_layer_profile *layer = &s->profile->layers[l];
        if (s->path[l] == LMN_SIM_PATH_GRADIENT)
            s->first[l] = post(s, tl, LMN_COLLECTIVE_REDUCE_SCATTER, gradient_bytes(s, s->params[l]), p);
        if (s->path[l] == LMN_SIM_PATH_ACTIVATIONS) {
            post_pieces(s, tl, b * layer->input_floats * 4.0, p);
            s->first[l] = post_pieces(s, tl, b * layer->output_floats * 4.0, p);
        }
    }
    /* As sync_multistep.c's step: bottom layer first, each slice's
     * allgather queued as soon as it is updated. */
    for (int l = 0; l < s->count; l++) {
        if (s->path[l] == LMN_SIM_PATH_NONE) continue;
        wait_until(tl, s->first[l]);
        if (s->path[l] == LMN_SIM_PATH_GRADIENT) {
            compute(tl, s->update[l] / p);
            s->ready[l] = post(s, tl, LMN_COLLECTIVE_ALLGATHER, 4.0 * s->params[l], p);
            continue;
        }
        /* The weight rows' gradient over the global batch: the multiply-adds
         * of the local weight gradient, half of the layer's backward. */
        compute(tl, 0.5 * s->backward[l] + s->update[l] / p);
        const double bias = bias_values(s, l);
        s->ready[l] = post_pieces(s, tl, 4.0 * (s->params[l] - bias), p);
        if (bias > 0.0) s->ready[l] = post_pieces(s, tl, 4.0 * bias, p);
    }
}

static void lazy_step(const sim *s, timeline *tl, bool sync)
{
    const double lazy_params = s->lazy_end > 0 ? s->first[s->lazy_end - 1] : 0.0;
    forward_pass(s, tl);
    backward_pass(s, tl);
    blocking(s, tl, LMN_COLLECTIVE_ALLREDUCE, gradient_bytes(s, s->total_params - lazy_params),
             s->ranks);
    compute(tl, update_of(s, s->lazy_end, s->count));
    if (!sync || s->top_lazy < 0) return;
    /* The accumulators, and the top-most lazy layer's latest gradient. */
    blocking(s, tl, LMN_COLLECTIVE_ALLREDUCE,
             gradient_bytes(s, lazy_params + s->params[s->top_lazy]), s->ranks);
    compute(tl, update_of(s, 0, s->lazy_end));
}

static int localsgd_groups(const sim *s)
{
    return lmn_localsgd_groups(s->options->groups, s->ranks);
}

static void localsgd_step(const sim *s, timeline *tl, bool sync)
{
    const int groups = localsgd_groups(s), p = s->ranks / groups;
    forward_pass(s, tl);
    backward_pass(s, tl);
    blocking(s, tl, LMN_COLLECTIVE_REDUCE_SCATTER, gradient_bytes(s, s->total_params), p);
    compute(tl, update_of(s, 0, s->count) / p);
    if (sync && groups > 1)
        blocking(s, tl, LMN_COLLECTIVE_ALLREDUCE, 4.0 * s->total_params / p, groups);
    blocking(s, tl, LMN_COLLECTIVE_ALLGATHER, 4.0 * s->total_params, p);
}

static void run_step(const sim *s, timeline *tl, int step)
{
    const lmn_sim_options *o = s->options;
    switch (s->strategy) {
    case LMN_SIM_ALLREDUCE: allreduce_step(s, tl); return;
    case LMN_SIM_OVERLAP: overlap_step(s, tl); return;
    case LMN_SIM_MULTISTEP: multistep_step(s, tl); return;
    case LMN_SIM_LAZY: lazy_step(s, tl, (step + 1) % o->lazy_k == 0); return;
    case LMN_SIM_LOCALSGD: localsgd_step(s, tl, (step + 1) % o->tau == 0); return;
    case LMN_SIM_STRATEGY_COUNT: break;
    }
}

static void describe_profile_layer(const void *ctx, int layer, lmn_layer_kind *kind,
                                   size_t *params)
{
    const lmn_layer_profile *profiled = &((const lmn_step_profile *)ctx)->layers[layer];
    *kind = profiled->kind;
    *params = profiled->param_count;
}

/* The buckets sync_overlap.c makes; each bucket's lowest layer (which
 * completes it in backward) and parameter count. */
static void make_buckets(sim *s)
{
    s->bucket_count = lmn_overlap_buckets(describe_profile_layer, s->profile, s->count,
                                          s->options->bucket_mb, s->bucket_of);
    for (int b = 0; b < s->bucket_count; b++) s->bucket_params[b] = 0.0;
    for (int l = s->count - 1; l >= 0; l--) {
        const int bucket = s->bucket_of[l];
        if (bucket < 0) continue;
        s->bucket_low[bucket] = l;
        s->bucket_params[bucket] += s->params[l];
    }
}

/* The lazy layers sync_lazy.c chooses. first[] is reused for the running
 * parameter count. */
static void find_lazy_layers(sim *s)
{
    double running = 0.0;
    for (int l = 0; l < s->count; l++) {
        running += s->params[l];
        s->first[l] = running;
    }
    s->top_lazy = lmn_lazy_top_layer(describe_profile_layer, s->profile, s->count,
                                     s->options->lazy_layers);
    s->lazy_end = s->top_lazy + 1;
}

static lmn_status check_options(const lmn_step_profile *p, lmn_sim_strategy strategy, int ranks,
                                const lmn_sim_options *o)
{
    if (strategy < 0 || strategy >= LMN_SIM_STRATEGY_COUNT)
        return lmn_fail(LMN_ERR_ARG, "unknown strategy %d", (int)strategy);
    if (ranks < 1) return lmn_fail(LMN_ERR_ARG, "ranks must be >= 1, got %d", ranks);
    if (p->count < 1 || p->measured_batch < 1)
        return lmn_fail(LMN_ERR_ARG, "the profile is empty (%d layers, measured batch %d)",
                        p->count, p->measured_batch);
    if (o->global_batch < 1)
        return lmn_fail(LMN_ERR_ARG, "the global batch must be >= 1, got %d", o->global_batch);
    if (o->wire_bytes < 1) return lmn_fail(LMN_ERR_ARG, "wire bytes must be >= 1, got %d", o->wire_bytes);
    if (!(o->link.bytes_per_second > 0.0) || !isfinite(o->link.bytes_per_second) ||
        !(o->link.latency_seconds >= 0.0) || !isfinite(o->link.latency_seconds))
        return lmn_fail(LMN_ERR_ARG, "the link needs a bandwidth > 0 and a latency >= 0 "
                        "(got %g bytes/s, %g s)", o->link.bytes_per_second, o->link.latency_seconds);
    if (!(o->bucket_mb >= 0.0))
        return lmn_fail(LMN_ERR_ARG, "bucket_mb must be >= 0, got %g", o->bucket_mb);
    if (strategy == LMN_SIM_LAZY) {
        const int convs = lmn_step_profile_conv_layers(p);
        if (o->lazy_k < 1) return lmn_fail(LMN_ERR_ARG, "lazy k must be >= 1, got %d", o->lazy_k);
        if (o->lazy_layers < 0 || o->lazy_layers > convs)
            return lmn_fail(LMN_ERR_ARG, "lazy_layers %d: the model has %d convolution layers",
                            o->lazy_layers, convs);
    }
    if (strategy == LMN_SIM_LOCALSGD) {
        if (o->tau < 1) return lmn_fail(LMN_ERR_ARG, "tau must be >= 1, got %d", o->tau);
        if (o->groups < 0 || (o->groups > 0 && ranks % o->groups != 0))
            return lmn_fail(LMN_ERR_ARG, "groups %d do not divide %d ranks", o->groups, ranks);
    }
    return LMN_OK;
}

int lmn_step_profile_conv_layers(const lmn_step_profile *p)
{
    int count = 0;
    for (int l = 0; l < p->count; l++)
        count += lmn_lazy_candidate(p->layers[l].kind, p->layers[l].param_count);
    return count;
}

int lmn_step_profile_param_layers(const lmn_step_profile *p)
{
    int count = 0;
    for (int l = 0; l < p->count; l++) count += p->layers[l].param_count > 0;
    return count;
}

static lmn_status sim_alloc(sim *s)
{
    const size_t n = (size_t)s->count;
    double *doubles = calloc(8 * n, sizeof *doubles);
    int *ints = calloc(2 * n, sizeof *ints);
    s->path = calloc(n, sizeof *s->path);
    if (!doubles || !ints || !s->path) {
        free(doubles);
        free(ints);
        free(s->path);
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the simulation of %d layers", s->count);
    }
    s->forward = doubles;
    s->backward = doubles + n;
    s->update = doubles + 2 * n;
    s->params = doubles + 3 * n;
    s->bucket_params = doubles + 4 * n;
    s->ready = doubles + 5 * n;
    s->first = doubles + 6 * n;
    s->bucket_of = ints;
    s->bucket_low = ints + n;
    return LMN_OK;
}

static void sim_free(sim *s)
{
    free(s->forward);
    free(s->bucket_of);
    free(s->path);
}

static void sim_prepare(sim *s)
{
    const lmn_step_profile *p = s->profile;
    s->total_params = (double)total_params(p);
    for (int l = 0; l < s->count; l++) {
        const lmn_layer_profile *layer = &p->layers[l];
        s->forward[l] = lmn_sim_scaled_seconds(layer->forward_seconds, layer->forward_fixed_seconds,
                                               p->measured_batch, s->batch);
        s->backward[l] = lmn_sim_scaled_seconds(layer->backward_seconds,
                                                layer->backward_fixed_seconds, p->measured_batch,
                                                s->batch);
        s->params[l] = (double)layer->param_count;
        s->update[l] = s->total_params > 0.0
                           ? p->update_seconds * s->params[l] / s->total_params : 0.0;
        s->path[l] = layer->param_count > 0 ? LMN_SIM_PATH_GRADIENT : LMN_SIM_PATH_NONE;
    }
    if (s->strategy == LMN_SIM_OVERLAP) make_buckets(s);
    if (s->strategy == LMN_SIM_MULTISTEP) choose_paths(s);
    if (s->strategy == LMN_SIM_LAZY) find_lazy_layers(s);
}

lmn_status lmn_simulate(const lmn_step_profile *profile, lmn_sim_strategy strategy, int ranks,
                        const lmn_sim_options *options, lmn_sim_result *result,
                        lmn_sim_path *paths)
{
    memset(result, 0, sizeof *result);
    LMN_TRY(check_options(profile, strategy, ranks, options));
    sim s = {.profile = profile, .options = options, .strategy = strategy, .ranks = ranks,
             .count = profile->count};
    s.batch = (options->global_batch + ranks - 1) / ranks;
    LMN_TRY(sim_alloc(&s));
    sim_prepare(&s);
    /* Two periods settle the queue (each step waits for all of the previous
     * step's collectives); the third is measured. */
    const int period = strategy == LMN_SIM_LAZY       ? options->lazy_k
                       : strategy == LMN_SIM_LOCALSGD ? options->tau
                                                      : 1;
    timeline tl = {0};
    for (int step = 0; step < 2 * period; step++) run_step(&s, &tl, step);
    const timeline start = tl;
    for (int step = 2 * period; step < 3 * period; step++) run_step(&s, &tl, step);
    *result = (lmn_sim_result){
        .ranks = ranks,
        .local_batch = s.batch,
        .step_seconds = (tl.now - start.now) / period,
        .compute_seconds = (tl.computed - start.computed) / period,
        .comm_seconds = (tl.comm_busy - start.comm_busy) / period,
        .bytes_per_rank = (tl.bytes - start.bytes) / period,
        .buckets = strategy == LMN_SIM_OVERLAP ? s.bucket_count : 0,
        .groups = strategy == LMN_SIM_LOCALSGD ? localsgd_groups(&s) : 0,
    };
    result->exposed_seconds = fmax(0.0, result->step_seconds - result->compute_seconds);
    result->speedup = lmn_sim_single_rank_seconds(profile, options->global_batch) /
                      result->step_seconds;
    result->efficiency = result->speedup / ranks;
    if (paths) memcpy(paths, s.path, (size_t)s.count * sizeof *paths);
    sim_free(&s);
    return LMN_OK;
}

/* ---- measuring a profile ---- */

lmn_status lmn_step_profile_from_network(const lmn_network *net, lmn_step_profile *out)
{
    memset(out, 0, sizeof *out);
    const int count = net->spec.count;
    out->layers = calloc((size_t)count, sizeof *out->layers);
    if (!out->layers) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a profile of %d layers", count);
    out->count = count;
    for (int i = 0; i < count; i++) {
        const lmn_layer_spec *spec = &net->spec.layers[i];
        lmn_layer_profile *layer = &out->layers[i];
        snprintf(layer->name, sizeof layer->name, "%s", spec->name);
        layer->kind = spec->kind;
        const size_t end = i + 1 < count ? net->param_offset[i + 1] : net->param_count;
        layer->param_count = end - net->param_offset[i];
        const lmn_layer_shape in = spec->input == LMN_INPUT ? net->input_shape : net->shapes[spec->input];
        const lmn_layer_shape o = net->shapes[i];
        layer->input_floats = (double)lmn_shape_values(in);
        layer->output_floats = (double)lmn_shape_values(o);
    }
    return LMN_OK;
}

void lmn_step_profile_free(lmn_step_profile *profile)
{
    if (!profile) return;
    free(profile->layers);
    memset(profile, 0, sizeof *profile);
}

typedef struct measure_buffers {
    float *inputs, *dlogits;
    int32_t *labels;
    double *times;    /* forward, backward at both batches: 4 * count */
    double *per_step; /* 4 * steps * count */
    double *scratch;  /* steps */
} measure_buffers;

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of values[0], values[stride], ... (n of them); reorders a copy. */
static double median(const double *values, int n, int stride, double *scratch)
{
    for (int i = 0; i < n; i++) scratch[i] = values[(size_t)i * (size_t)stride];
    qsort(scratch, (size_t)n, sizeof *scratch, compare_doubles);
    return n % 2 ? scratch[n / 2] : 0.5 * (scratch[n / 2 - 1] + scratch[n / 2]);
}

/* The profile's loss: cross-entropy on random labels, whatever the run's
 * task (only the passes' times are kept). */
static const lmn_task profile_task = {.kind = LMN_TASK_CLASSIFICATION,
                                      .loss = LMN_LOSS_CROSS_ENTROPY};

/* One training step (the trainer's, step.h) of `count` samples; its
 * per-layer seconds into forward / backward. */
static lmn_status time_step(const lmn_step_model *model, int count, int step,
                            const measure_buffers *m, double *forward, double *backward)
{
    lmn_network *net = model->net;
    const size_t bytes = (size_t)net->spec.count * sizeof(double);
    memset(net->forward_seconds, 0, bytes);
    memset(net->backward_seconds, 0, bytes);
    const lmn_step_batch batch = {.images = m->inputs, .labels = m->labels, .count = count};
    double loss = 0.0, correct = 0.0;
    LMN_TRY(lmn_step_gradient(model, &batch, 1.0f / (float)count, (uint64_t)step, &loss,
                              &correct));
    memcpy(forward, net->forward_seconds, bytes);
    memcpy(backward, net->backward_seconds, bytes);
    return LMN_OK;
}

/* Per-layer seconds of one training step at `batch` and at `small` (0:
 * none), their steps interleaved so that a busy machine slows both alike:
 * the median over `steps` after `warmup`. times receives forward and
 * backward at batch, then at small (4 x count). */
static lmn_status time_steps(lmn_network *net, int batch, int small, int steps, int warmup,
                             uint64_t seed, const measure_buffers *m, double *times)
{
    const int count = net->spec.count, batches = small > 0 ? 2 : 1;
    const size_t sample = lmn_shape_values(net->input_shape), stride = 4 * (size_t)count;
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id((uint64_t)batch, 0x5157));
    for (size_t i = 0; i < sample * (size_t)batch; i++) m->inputs[i] = (float)lmn_rng_normal(&rng);
    for (int i = 0; i < batch; i++)
        m->labels[i] = (int32_t)lmn_rng_below(&rng, (uint64_t)net->num_outputs);
    const lmn_step_model model = {.net = net, .task = &profile_task, .dout = m->dlogits};
    for (int step = 0; step < warmup + steps; step++) {
        double *row = m->per_step + (size_t)(step < warmup ? 0 : step - warmup) * stride;
        for (int k = 0; k < batches; k++)
            LMN_TRY(time_step(&model, k ? small : batch, step, m, row + 2 * k * count,
                              row + (2 * k + 1) * count));
    }
    for (int j = 0; j < 2 * batches * count; j++)
        times[j] = median(m->per_step + j, steps, (int)stride, m->scratch);
    return LMN_OK;
}

/* The part of t(b) = fixed + slope b that does not scale, from two points;
 * kept within [0, the smaller time] against noise. */
static double fixed_part(double large, int large_batch, double small, int small_batch)
{
    if (large_batch <= small_batch) return 0.0;
    const double slope = (large - small) / (double)(large_batch - small_batch);
    const double fixed = large - slope * large_batch;
    return fmax(0.0, fmin(fixed, fmin(small, large)));
}

static lmn_status measure(lmn_network *net, lmn_optimizer *optimizer, int batch, int steps,
                          int warmup, uint64_t seed, lmn_step_profile *out,
                          const measure_buffers *m)
{
    const int count = net->spec.count;
    const int small = batch / 8 > 1 ? batch / 8 : 1;
    out->measured_batch = batch;
    out->small_batch = small < batch ? small : 0;
    LMN_TRY(time_steps(net, batch, out->small_batch, steps, warmup, seed, m, m->times));
    const double *forward = m->times, *backward = m->times + count;
    const double *small_forward = m->times + 2 * count, *small_backward = m->times + 3 * count;
    for (int i = 0; i < count; i++) {
        lmn_layer_profile *layer = &out->layers[i];
        layer->forward_seconds = forward[i];
        layer->backward_seconds = backward[i];
        if (out->small_batch) {
            layer->forward_fixed_seconds = fixed_part(forward[i], batch, small_forward[i], small);
            layer->backward_fixed_seconds = fixed_part(backward[i], batch, small_backward[i], small);
        }
    }
    for (int step = 0; step < steps; step++) {
        const double start = lmn_now();
        lmn_optimizer_update(optimizer, net->params, net->grads, 0.0, 0, net->param_count);
        lmn_optimizer_finish_step(optimizer);
        m->per_step[step] = lmn_now() - start;
    }
    out->update_seconds = median(m->per_step, steps, 1, m->scratch);
    return LMN_OK;
}

lmn_status lmn_step_profile_measure(lmn_network *net, lmn_optimizer *optimizer, int batch,
                                    int steps, int warmup, uint64_t seed,
                                    lmn_step_profile *out)
{
    memset(out, 0, sizeof *out);
    if (batch < 1 || steps < 1 || warmup < 0)
        return lmn_fail(LMN_ERR_ARG, "profiling needs a batch >= 1 and steps >= 1 (got batch %d, "
                        "%d steps, %d warm-up)", batch, steps, warmup);
    LMN_TRY(lmn_network_enable_profile(net));
    LMN_TRY(lmn_step_profile_from_network(net, out));
    const size_t count = (size_t)net->spec.count, sample = lmn_shape_values(net->input_shape);
    measure_buffers m = {0};
    m.times = calloc(4 * count, sizeof *m.times);
    m.per_step = calloc(4 * (size_t)steps * count + (size_t)steps, sizeof *m.per_step);
    m.scratch = calloc((size_t)steps, sizeof *m.scratch);
    lmn_status status = m.times && m.per_step && m.scratch
                            ? LMN_OK
                            : lmn_fail(LMN_ERR_NOMEM, "cannot allocate the profile");
    if (status == LMN_OK) status = lmn_alloc_floats(&m.inputs, sample * (size_t)batch, "profile inputs");
    if (status == LMN_OK)
        status = lmn_alloc_floats(&m.dlogits, (size_t)net->num_outputs * (size_t)batch, "profile errors");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&m.labels, sizeof(int32_t) * (size_t)batch, "profile labels");
    if (status == LMN_OK) status = measure(net, optimizer, batch, steps, warmup, seed, out, &m);
    free(m.times);
    free(m.per_step);
    free(m.scratch);
    lmn_free(m.inputs);
    lmn_free(m.dlogits);
    lmn_free(m.labels);
    if (status != LMN_OK) lmn_step_profile_free(out);
    return status;
}
