/* multistep (ALGORITHMS.md 2): per layer, a reduce-scatter of the gradient
 * (on the communication thread, during backward), an update of this rank's
 * slice only, and an allgather of the updated slices that overlaps the next
 * forward pass (the layer's forward waits for it).
 *
 * A fully connected layer may instead exchange activations and errors:
 * its dense input and output gradient are allgathered across the global
 * batch, each rank computes the gradient of its own rows of the weight
 * matrix over the whole batch, updates them and the rows are allgathered.
 * The rows' gradient is formed as the reduction would form it: one term
 * per rank's share of the batch, by the layer's own kernel, summed in rank
 * order. Any other order (one product over the global batch) differs in
 * the last bit, and training turns that into drift: a max-pool or ReLU
 * that flips on a near tie moves a whole sample's gradient, so a one-ulp
 * difference reaches 1e-3 within a few steps on LeNet.
 * parallel.fc_exchange: auto picks it when B (in + out) values are fewer
 * than the weight gradient's values on the wire. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/timer.h"
#include "nn/layer_io.h"
#include "optim/slimqn.h"
#include "train/sync_internal.h"

typedef enum layer_mode { MODE_NONE, MODE_GRADIENT, MODE_EXCHANGE } layer_mode;

typedef struct layer_state {
    layer_mode mode;
    int in, out;             /* exchange: weight matrix [out][in], then bias[out] */
    bool bias;
    uint64_t first_ticket;   /* reduce-scatter or activation exchange */
    uint64_t gather_ticket;
    bool gather_pending;
    float *inputs, *errors;  /* exchange: [global batch][in], [global batch][out] */
    size_t input_capacity, error_capacity;
    int *batches;            /* exchange: each rank's share of the last batch */
    lmn_op *op;              /* exchange: the kernel for this rank's rows, */
    int op_batch;            /* created for a share of this size */
} layer_state;

typedef struct multistep {
    layer_state *layers;
    float *rows;             /* exchange: this rank's updated rows, sent from here */
    size_t rows_capacity;
    /* exchange, compute thread: one share's errors of this rank's rows,
     * and that share's gradient before it is added in */
    float *share_errors, *share_gradient;
    size_t share_errors_capacity, share_gradient_capacity;
} multistep;

static double wire_bytes(const lmn_sync *s) { return (double)lmn_wire_bytes(s->settings.wire); }

/* Exchange moves B (in + out) fp32 values where the gradient path moves
 * the weight gradient on the wire; both then allgather the weights. */
bool lmn_multistep_exchanges(int fc_exchange, int global_batch, double in, double out, bool bias,
                             int wire_bytes)
{
    if (fc_exchange >= 0) return fc_exchange == 1;
    const double activations = (double)global_batch * (in + out) * sizeof(float);
    const double gradient = (in + (bias ? 1 : 0)) * out * wire_bytes;
    return activations < gradient;
}

static void choose_mode(const lmn_sync *s, int i, layer_state *l)
{
    const lmn_layer_spec *spec = &s->net->spec.layers[i];
    const size_t size = lmn_sync_layer_size(s, i);
    l->mode = size == 0 ? MODE_NONE : MODE_GRADIENT;
    if (spec->kind != LMN_LAYER_LINEAR || s->settings.fc_exchange == 0) return;
    l->out = spec->out;
    l->bias = spec->bias;
    l->in = (int)((size - (spec->bias ? (size_t)spec->out : 0)) / (size_t)spec->out);
    if (lmn_multistep_exchanges(s->settings.fc_exchange, s->global_batch, l->in, l->out, l->bias,
                                (int)wire_bytes(s)))
        l->mode = MODE_EXCHANGE;
}

static lmn_status plan_layer(lmn_sync *s, int i, layer_state *l)
{
    choose_mode(s, i, l);
    if (l->mode != MODE_EXCHANGE) return LMN_OK;
    l->batches = calloc((size_t)s->comm->size, sizeof *l->batches);
    return l->batches ? LMN_OK : lmn_fail(LMN_ERR_NOMEM, "cannot allocate the multistep plan");
}

static lmn_status init(lmn_sync *s)
{
    multistep *m = calloc(1, sizeof *m);
    if (!m) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the multistep plan");
    s->impl = m;
    m->layers = calloc((size_t)s->layers + 1, sizeof *m->layers);
    if (!m->layers) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the multistep plan");
    for (int i = 0; i < s->layers; i++) LMN_TRY(plan_layer(s, i, &m->layers[i]));
    return lmn_sync_start_thread(s);
}

static void release(lmn_sync *s)
{
    multistep *m = s->impl;
    if (!m) return;
    for (int i = 0; m->layers && i < s->layers; i++) {
        lmn_free(m->layers[i].inputs);
        lmn_free(m->layers[i].errors);
        free(m->layers[i].batches);
        if (m->layers[i].op) s->net->backend->op_destroy(m->layers[i].op);
    }
    free(m->layers);
    lmn_free(m->rows);
    lmn_free(m->share_errors);
    lmn_free(m->share_gradient);
    free(m);
}

static lmn_status reserve(float **buffer, size_t *capacity, size_t floats)
{
    if (floats <= *capacity) return LMN_OK;
    lmn_free(*buffer);
    *buffer = NULL;
    *capacity = 0;
    LMN_TRY(lmn_alloc_floats(buffer, floats, "exchanged activations"));
    *capacity = floats;
    return LMN_OK;
}

/* Runs on the communication thread: gathers the layer's inputs and output
 * gradients from every rank (the backward pass does not touch them again). */
static lmn_status exchange(lmn_sync *s, int layer)
{
    layer_state *l = &((multistep *)s->impl)->layers[layer];
    const float *x = NULL, *dy = NULL;
    int batch = 0;
    LMN_TRY(lmn_network_linear_io(s->net, layer, &x, &dy, &batch));
    const size_t most = (size_t)s->global_batch > (size_t)batch * s->comm->size
                            ? (size_t)s->global_batch : (size_t)batch * s->comm->size;
    LMN_TRY(reserve(&l->inputs, &l->input_capacity, most * (size_t)l->in));
    LMN_TRY(reserve(&l->errors, &l->error_capacity, most * (size_t)l->out));
    size_t inputs = 0, errors = 0;
    LMN_TRY(lmn_allgather_pieces(&s->thread_reducer, x, (size_t)batch * l->in, l->inputs, &inputs));
    for (int k = 0; k < s->comm->size; k++) l->batches[k] = s->thread_reducer.counts[k] / l->in;
    return lmn_allgather_pieces(&s->thread_reducer, dy, (size_t)batch * l->out, l->errors, &errors);
}

static lmn_status first_phase(void *ctx, int layer)
{
    lmn_sync *s = ctx;
    const layer_state *l = &((multistep *)s->impl)->layers[layer];
    if (l->mode == MODE_EXCHANGE) return exchange(s, layer);
    return lmn_reduce_scatter(&s->thread_reducer, s->net->grads + s->begin[layer],
                              lmn_sync_layer_size(s, layer));
}

static lmn_status after_backward(lmn_sync *s, int layer)
{
    layer_state *l = &((multistep *)s->impl)->layers[layer];
    if (l->mode == MODE_NONE) return LMN_OK;
    return lmn_comm_thread_submit(s->thread, first_phase, s, layer, &l->first_ticket);
}

/* The layer's kernel, made for rows [first, first + count) and a share of
 * `batch` samples, so that each gradient value is the same sum as in the
 * backward pass of the rank that owns the share. */
static lmn_status share_kernel(lmn_sync *s, layer_state *l, int batch, size_t count)
{
    if (l->op && l->op_batch == batch) return LMN_OK;
    lmn_backend *be = s->net->backend;
    if (l->op) be->op_destroy(l->op);
    l->op = NULL;
    const lmn_linear_params params = {.out_features = (int)count, .bias = l->bias};
    const lmn_act_desc in = lmn_act_dense(batch, l->in, 1, 1);
    lmn_act_desc out;
    LMN_TRY(be->linear_create(be, &params, &in, &l->op, &out));
    l->op_batch = batch;
    return LMN_OK;
}

/* dw[count][in] (and db[count]) of rows [first, first + count) over one
 * share: x[batch][in], dy[batch][out]. */
static lmn_status share_gradient(lmn_sync *s, layer_state *l, int batch, const float *x,
                                 const float *dy, size_t first, size_t count, float *dw, float *db)
{
    multistep *m = s->impl;
    LMN_TRY(share_kernel(s, l, batch, count));
    LMN_TRY(reserve(&m->share_errors, &m->share_errors_capacity, (size_t)batch * count));
    for (size_t b = 0; b < (size_t)batch; b++)
        memcpy(m->share_errors + b * count, dy + b * (size_t)l->out + first, count * sizeof(float));
    return s->net->backend->linear_backward_weights(l->op, x, m->share_errors, dw, db);
}

static void add_to(float *sum, const float *term, size_t count)
{
    for (size_t j = 0; j < count; j++) sum[j] += term[j];
}

/* Gradient of rows [first, first + count) over the whole global batch,
 * share by share in rank order, as the reduce-scatter sums it. */
static lmn_status rows_gradient(lmn_sync *s, int layer, size_t first, size_t count)
{
    multistep *m = s->impl;
    layer_state *l = &m->layers[layer];
    if (count == 0) return LMN_OK;
    float *dw = s->net->grads + s->begin[layer] + first * (size_t)l->in;
    float *db = l->bias ? s->net->grads + s->begin[layer] + (size_t)l->out * l->in + first : NULL;
    const size_t weights = count * (size_t)l->in;
    LMN_TRY(reserve(&m->share_gradient, &m->share_gradient_capacity, weights + count));
    float *term_dw = m->share_gradient, *term_db = db ? m->share_gradient + weights : NULL;
    memset(dw, 0, weights * sizeof(float));
    if (db) memset(db, 0, count * sizeof(float));
    bool started = false;
    for (size_t k = 0, sample = 0; k < (size_t)s->comm->size; sample += (size_t)l->batches[k++]) {
        if (l->batches[k] == 0) continue;
        const float *x = l->inputs + sample * l->in, *dy = l->errors + sample * l->out;
        /* The first share is written in place: a copy, as the reduction's. */
        LMN_TRY(share_gradient(s, l, l->batches[k], x, dy, first, count, started ? term_dw : dw,
                               started ? term_db : db));
        if (started) add_to(dw, term_dw, weights);
        if (started && db) add_to(db, term_db, count);
        started = true;
    }
    return LMN_OK;
}

static lmn_status gather_rows(lmn_sync *s, lmn_reducer *reducer, float *values, size_t first,
                              size_t count, size_t width)
{
    multistep *m = s->impl;
    LMN_TRY(reserve(&m->rows, &m->rows_capacity, count * width + 1));
    memcpy(m->rows, values + first * width, count * width * sizeof(float));
    size_t total = 0;
    return lmn_allgather_pieces(reducer, m->rows, count * width, values, &total);
}

/* Every rank's updated slice of layer's values in buffer (the parameters,
 * or the optimizer state laid out like them) reaches every rank. */
static lmn_status gather_layer(lmn_sync *s, lmn_reducer *reducer, int layer, float *buffer)
{
    const layer_state *l = &((multistep *)s->impl)->layers[layer];
    float *values = buffer + s->begin[layer];
    if (l->mode == MODE_GRADIENT)
        return lmn_allgather_slices(reducer, values, lmn_sync_layer_size(s, layer));
    size_t first, count;
    lmn_slice((size_t)l->out, s->comm->size, s->comm->rank, &first, &count);
    LMN_TRY(gather_rows(s, reducer, values, first, count, (size_t)l->in));
    return l->bias ? gather_rows(s, reducer, values + (size_t)l->out * l->in, first, count, 1) : LMN_OK;
}

static lmn_status second_phase(void *ctx, int layer)
{
    lmn_sync *s = ctx;
    return gather_layer(s, &s->thread_reducer, layer, s->net->params);
}

static lmn_status update_slice(lmn_sync *s, int layer, double lr)
{
    const layer_state *l = &((multistep *)s->impl)->layers[layer];
    const size_t begin = s->begin[layer];
    size_t first, count;
    if (l->mode == MODE_GRADIENT) {
        lmn_slice(lmn_sync_layer_size(s, layer), s->comm->size, s->comm->rank, &first, &count);
        lmn_optimizer_update(s->optimizer, s->net->params, s->net->grads, lr, begin + first,
                             begin + first + count);
        return LMN_OK;
    }
    lmn_slice((size_t)l->out, s->comm->size, s->comm->rank, &first, &count);
    LMN_TRY(rows_gradient(s, layer, first, count));
    const size_t rows = begin + first * (size_t)l->in;
    lmn_optimizer_update(s->optimizer, s->net->params, s->net->grads, lr, rows,
                         rows + count * (size_t)l->in);
    const size_t bias = begin + (size_t)l->out * l->in + first;
    if (l->bias) lmn_optimizer_update(s->optimizer, s->net->params, s->net->grads, lr, bias, bias + count);
    return LMN_OK;
}

/* SLIM-QN's slices are the ones updated here: per layer, the gradient
 * path's lmn_slice, or the exchanged layer's rows and their biases. */
static lmn_status set_slimqn_spans(lmn_sync *s)
{
    const multistep *m = s->impl;
    lmn_slimqn_span *spans = calloc(2 * (size_t)s->layers + 1, sizeof *spans);
    if (!spans) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the SLIM-QN slices");
    int count = 0;
    for (int i = 0; i < s->layers; i++) {
        const layer_state *l = &m->layers[i];
        const size_t begin = s->begin[i];
        size_t first, length;
        if (l->mode == MODE_NONE) continue;
        const bool rows = l->mode == MODE_EXCHANGE;
        lmn_slice(rows ? (size_t)l->out : lmn_sync_layer_size(s, i), s->comm->size, s->comm->rank,
                  &first, &length);
        const size_t width = rows ? (size_t)l->in : 1;
        if (length > 0) spans[count++] = (lmn_slimqn_span){begin + first * width, begin + (first + length) * width};
        const size_t bias = begin + (size_t)l->out * l->in + first;
        if (rows && l->bias && length > 0) spans[count++] = (lmn_slimqn_span){bias, bias + length};
    }
    const lmn_status status = lmn_slimqn_set_spans(s->optimizer, spans, count);
    free(spans);
    return status;
}

/* SLIM-QN takes one step over all layers' slices: every reduction (and
 * exchanged rows' gradient) first, then the step, then the gathers. */
static lmn_status slimqn_step(lmn_sync *s, double lr)
{
    multistep *m = s->impl;
    if (!lmn_slimqn_has_spans(s->optimizer->qn)) LMN_TRY(set_slimqn_spans(s));
    for (int i = 0; i < s->layers; i++) {
        layer_state *l = &m->layers[i];
        if (l->mode == MODE_NONE) continue;
        LMN_TRY(lmn_sync_wait(s, l->first_ticket));
        if (l->mode != MODE_EXCHANGE) continue;
        size_t first, count;
        lmn_slice((size_t)l->out, s->comm->size, s->comm->rank, &first, &count);
        LMN_TRY(rows_gradient(s, i, first, count));
    }
    LMN_TRY(lmn_slimqn_step(s->optimizer, s->net->params, s->net->grads, lr, s->comm));
    for (int i = 0; i < s->layers; i++) {
        layer_state *l = &m->layers[i];
        if (l->mode == MODE_NONE) continue;
        LMN_TRY(lmn_comm_thread_submit(s->thread, second_phase, s, i, &l->gather_ticket));
        l->gather_pending = true;
    }
    lmn_optimizer_finish_step(s->optimizer);
    return LMN_OK;
}

static lmn_status step(lmn_sync *s, double lr)
{
    multistep *m = s->impl;
    if (s->optimizer->qn) return slimqn_step(s, lr);
    /* Bottom layer first: its gather is first in the queue, so the next
     * forward starts as soon as it arrives and the rest overlap it. */
    for (int i = 0; i < s->layers; i++) {
        layer_state *l = &m->layers[i];
        if (l->mode == MODE_NONE) continue;
        LMN_TRY(lmn_sync_wait(s, l->first_ticket));
        LMN_TRY(update_slice(s, i, lr));
        LMN_TRY(lmn_comm_thread_submit(s->thread, second_phase, s, i, &l->gather_ticket));
        l->gather_pending = true;
    }
    lmn_optimizer_finish_step(s->optimizer);
    return LMN_OK;
}

static lmn_status before_forward(lmn_sync *s, int layer)
{
    layer_state *l = &((multistep *)s->impl)->layers[layer];
    if (!l->gather_pending) return LMN_OK;
    l->gather_pending = false;
    return lmn_sync_wait(s, l->gather_ticket);
}

/* Besides the pending gathers, the optimizer state: each rank updated only
 * its slices, and a checkpoint (written by rank 0) must hold all of them. */
static lmn_status settle(lmn_sync *s)
{
    for (int i = 0; i < s->layers; i++) LMN_TRY(before_forward(s, i));
    float *state[2] = {s->optimizer->velocity, s->optimizer->second};
    const double start = lmn_now();
    lmn_status status = LMN_OK;
    for (int k = 0; k < 2 && status == LMN_OK; k++)
        for (int i = 0; state[k] && i < s->layers && status == LMN_OK; i++)
            if (((multistep *)s->impl)->layers[i].mode != MODE_NONE)
                status = gather_layer(s, &s->reducer, i, state[k]);
    lmn_sync_charge_exposed(s, start);
    return status;
}

static lmn_layer_traffic traffic(const lmn_sync *s, int layer, int global_batch)
{
    const layer_state *l = &((multistep *)s->impl)->layers[layer];
    const int ranks = s->comm->size;
    const double share = (double)(ranks - 1) / ranks, size = (double)lmn_sync_layer_size(s, layer);
    lmn_layer_traffic traffic = {.bytes_per_step = share * size * (wire_bytes(s) + sizeof(float))};
    snprintf(traffic.what, sizeof traffic.what, "reduce-scatter + allgather");
    if (l->mode == MODE_EXCHANGE) {
        traffic.bytes_per_step = share * ((double)global_batch * (l->in + l->out) + size) * sizeof(float);
        snprintf(traffic.what, sizeof traffic.what, "activations + errors, allgather");
    }
    return traffic;
}

const lmn_sync_policy lmn_sync_multistep_policy = {
    .init = init, .before_forward = before_forward, .after_backward = after_backward,
    .step = step, .settle = settle, .release = release, .traffic = traffic};
