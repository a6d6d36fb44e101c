/* Network construction: input resolution, shape inference, parameter
 * layout and initialization. Execution lives in nn/propagate.c. */
#include "nn/network.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "nn/plan.h"

static lmn_status layer_error(const lmn_layer_spec *layer, int index, const char *what)
{
    return lmn_fail(LMN_ERR_SHAPE, "layer %d '%s' (%s): %s", index, layer->name,
                    lmn_layer_kind_name(layer->kind), what);
}

/* Replaces "previous layer" markers by indices and checks references. */
static lmn_status resolve_inputs(lmn_model_spec *spec)
{
    if (spec->count == 0) return lmn_fail(LMN_ERR_CONFIG, "the model has no layers");
    for (int i = 0; i < spec->count; i++) {
        lmn_layer_spec *layer = &spec->layers[i];
        if (layer->input == -2) layer->input = i - 1;
        if (layer->input < LMN_INPUT || layer->input >= i)
            return layer_error(layer, i, "its input must be an earlier layer");
        if (layer->kind != LMN_LAYER_ADD) continue;
        if (layer->skip == -2) return layer_error(layer, i, "an add layer needs a 'skip' input");
        if (layer->skip < LMN_INPUT || layer->skip >= i)
            return layer_error(layer, i, "its skip input must be an earlier layer");
    }
    return LMN_OK;
}

static lmn_status window_output(const lmn_layer_spec *layer, int index, int size, int kernel,
                                int *out)
{
    if (layer->stride < 1) return layer_error(layer, index, "stride must be >= 1");
    if (kernel < 1 || layer->pad < 0) return layer_error(layer, index, "kernel must be >= 1, pad >= 0");
    *out = (size + 2 * layer->pad - kernel) / layer->stride + 1;
    if (size + 2 * layer->pad < kernel || *out < 1) {
        char what[160];
        snprintf(what, sizeof what,
                 "a kernel of %d with padding %d does not fit an input of size %d", kernel,
                 layer->pad, size);
        return layer_error(layer, index, what);
    }
    return LMN_OK;
}

static lmn_status infer_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_shape in = layer->input == LMN_INPUT ? net->input_shape
                                                         : net->shapes[layer->input];
    *shape = in;
    if (layer->relu && layer->kind != LMN_LAYER_CONV && layer->kind != LMN_LAYER_LINEAR &&
        layer->kind != LMN_LAYER_BATCHNORM)
        return layer_error(layer, i, "a fused ReLU exists only on conv, linear and batchnorm; "
                                     "add a relu layer after it instead");
    switch (layer->kind) {
    case LMN_LAYER_CONV:
        if (layer->out < 1) return layer_error(layer, i, "'out' (output channels) must be >= 1");
        shape->c = layer->out;
        LMN_TRY(window_output(layer, i, in.h, layer->kernel_h, &shape->h));
        return window_output(layer, i, in.w, layer->kernel_w, &shape->w);
    case LMN_LAYER_MAXPOOL:
    case LMN_LAYER_AVGPOOL:
        if (layer->pad * 2 > layer->kernel_h || layer->pad * 2 > layer->kernel_w)
            return layer_error(layer, i, "padding must be at most half the pooling kernel");
        LMN_TRY(window_output(layer, i, in.h, layer->kernel_h, &shape->h));
        return window_output(layer, i, in.w, layer->kernel_w, &shape->w);
    case LMN_LAYER_GLOBAL_AVGPOOL:
        shape->h = shape->w = 1;
        return LMN_OK;
    case LMN_LAYER_LINEAR:
        if (layer->out < 1) return layer_error(layer, i, "'out' (output features) must be >= 1");
        shape->c = layer->out;
        shape->h = shape->w = 1;
        return LMN_OK;
    case LMN_LAYER_FLATTEN:
        shape->c = in.c * in.h * in.w;
        shape->h = shape->w = 1;
        return LMN_OK;
    case LMN_LAYER_ADD: {
        const lmn_layer_shape other = layer->skip == LMN_INPUT ? net->input_shape
                                                               : net->shapes[layer->skip];
        if (other.c != in.c || other.h != in.h || other.w != in.w) {
            char what[160];
            snprintf(what, sizeof what, "cannot add a %dx%dx%d input to a %dx%dx%d skip input",
                     in.c, in.h, in.w, other.c, other.h, other.w);
            return layer_error(layer, i, what);
        }
        return LMN_OK;
    }
    case LMN_LAYER_DROPOUT:
        if (!(layer->rate >= 0.0f && layer->rate < 1.0f))
            return layer_error(layer, i, "dropout rate must be in [0, 1)");
        return LMN_OK;
    case LMN_LAYER_BATCHNORM:
        if (!(layer->epsilon > 0.0f)) return layer_error(layer, i, "epsilon must be > 0");
        return LMN_OK;
    case LMN_LAYER_RELU:
    case LMN_LAYER_KIND_COUNT:
        return LMN_OK;
    }
    return LMN_OK;
}

static lmn_status add_view(lmn_network *net, int layer, lmn_tensor_role role, const char *suffix,
                           size_t offset, int ndim, const int *dims)
{
    lmn_tensor_view *grown = realloc(net->tensors, sizeof *grown * (size_t)(net->tensor_count + 1));
    if (!grown) return lmn_fail(LMN_ERR_NOMEM, "cannot list the network's tensors");
    net->tensors = grown;
    lmn_tensor_view *view = &grown[net->tensor_count++];
    memset(view, 0, sizeof *view);
    snprintf(view->name, sizeof view->name, "%s.%s", net->spec.layers[layer].name, suffix);
    view->layer = layer;
    view->role = role;
    view->offset = offset;
    view->ndim = ndim;
    view->count = 1;
    for (int d = 0; d < ndim; d++) {
        view->dims[d] = dims[d];
        view->count *= (size_t)dims[d];
    }
    return LMN_OK;
}

/* Lays out the layer's tensors in params / state and lists their views. */
static lmn_status layout_parameters(lmn_network *net, int i)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_shape in = layer->input == LMN_INPUT ? net->input_shape
                                                         : net->shapes[layer->input];
    net->param_offset[i] = net->param_count;
    net->state_offset[i] = net->state_count;
    if (layer->kind == LMN_LAYER_CONV || layer->kind == LMN_LAYER_LINEAR) {
        const bool conv = layer->kind == LMN_LAYER_CONV;
        const int dims[4] = {layer->out, conv ? in.c : in.c * in.h * in.w, layer->kernel_h,
                             layer->kernel_w};
        LMN_TRY(add_view(net, i, LMN_ROLE_WEIGHT, "weight", net->param_count, conv ? 4 : 2, dims));
        net->param_count += net->tensors[net->tensor_count - 1].count;
        if (layer->bias) {
            LMN_TRY(add_view(net, i, LMN_ROLE_BIAS, "bias", net->param_count, 1, dims));
            net->param_count += (size_t)layer->out;
        }
    } else if (layer->kind == LMN_LAYER_BATCHNORM) {
        const int dims[1] = {in.c};
        LMN_TRY(add_view(net, i, LMN_ROLE_BN_SCALE, "weight", net->param_count, 1, dims));
        LMN_TRY(add_view(net, i, LMN_ROLE_BN_SHIFT, "bias", net->param_count + (size_t)in.c, 1, dims));
        net->param_count += 2 * (size_t)in.c;
        LMN_TRY(add_view(net, i, LMN_ROLE_BN_MEAN, "running_mean", net->state_count, 1, dims));
        LMN_TRY(add_view(net, i, LMN_ROLE_BN_VAR, "running_var", net->state_count + (size_t)in.c, 1, dims));
        net->state_count += 2 * (size_t)in.c;
    }
    return LMN_OK;
}

static lmn_status copy_spec(lmn_model_spec *dst, const lmn_model_spec *src)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->count; i++) LMN_TRY(lmn_model_spec_append(dst, &src->layers[i], NULL));
    return LMN_OK;
}

static lmn_status build(lmn_network *net, const lmn_model_spec *spec)
{
    LMN_TRY(copy_spec(&net->spec, spec));
    LMN_TRY(resolve_inputs(&net->spec));
    const int count = net->spec.count;
    if (count < 1) return lmn_fail(LMN_ERR_CONFIG, "the model has no layers");
    net->shapes = calloc((size_t)count, sizeof *net->shapes);
    net->param_offset = calloc((size_t)count, sizeof *net->param_offset);
    net->state_offset = calloc((size_t)count, sizeof *net->state_offset);
    if (!net->shapes || !net->param_offset || !net->state_offset)
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the network description");
    for (int i = 0; i < count; i++) {
        LMN_TRY(infer_shape(net, i, &net->shapes[i]));
        LMN_TRY(layout_parameters(net, i));
    }
    const lmn_layer_shape last = net->shapes[count - 1];
    if (last.h != 1 || last.w != 1)
        return lmn_fail(LMN_ERR_SHAPE,
                        "the last layer '%s' outputs %dx%dx%d per sample; a classifier must "
                        "end in a vector (add flatten / linear)",
                        net->spec.layers[count - 1].name, last.c, last.h, last.w);
    net->num_outputs = last.c;
    /* The gradient buffer has four spare slots past the parameters so the
     * trainer can reduce the step's loss sum, hit count and stop flag with it. */
    LMN_TRY(lmn_alloc_floats(&net->params, net->param_count + 1, "parameters"));
    LMN_TRY(lmn_alloc_floats(&net->grads, net->param_count + 4, "gradients"));
    LMN_TRY(lmn_alloc_floats(&net->state, net->state_count + 1, "batch-norm statistics"));
    return LMN_OK;
}

lmn_status lmn_network_create(lmn_backend *backend, const lmn_model_spec *spec, int channels,
                              int height, int width, lmn_network **out)
{
    *out = NULL;
    if (channels < 1 || height < 1 || width < 1)
        return lmn_fail(LMN_ERR_SHAPE, "network input %dx%dx%d is empty", channels, height, width);
    lmn_network *net = calloc(1, sizeof *net);
    if (!net) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a network");
    net->backend = backend;
    net->input_shape = (lmn_layer_shape){channels, height, width};
    const lmn_status status = build(net, spec);
    if (status != LMN_OK) {
        lmn_network_free(net);
        return status;
    }
    *out = net;
    return LMN_OK;
}

void lmn_network_free(lmn_network *net)
{
    if (!net) return;
    for (int i = 0; i < net->plan_count; i++) lmn_plan_free(net, net->plans[i]);
    free(net->plans);
    lmn_model_spec_free(&net->spec);
    free(net->shapes);
    free(net->param_offset);
    free(net->state_offset);
    free(net->tensors);
    free(net->forward_seconds);
    free(net->backward_seconds);
    lmn_free(net->params);
    lmn_free(net->grads);
    lmn_free(net->state);
    free(net);
}

static void init_tensor(lmn_network *net, const lmn_tensor_view *view, uint64_t seed)
{
    const lmn_layer_spec *layer = &net->spec.layers[view->layer];
    float *values = lmn_network_tensor_data(net, view);
    if (view->role != LMN_ROLE_WEIGHT) {
        const float fill = (view->role == LMN_ROLE_BN_SCALE || view->role == LMN_ROLE_BN_VAR) ? 1.0f : 0.0f;
        for (size_t k = 0; k < view->count; k++) values[k] = fill;
        return;
    }
    const double receptive = view->ndim == 4 ? (double)view->dims[2] * view->dims[3] : 1.0;
    const double fan_in = view->dims[1] * receptive, fan_out = view->dims[0] * receptive;
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(0x1417, (uint64_t)view->layer));
    if (layer->init == LMN_INIT_HE) {
        const double std = sqrt(2.0 / fan_in);
        for (size_t k = 0; k < view->count; k++) values[k] = (float)(std * lmn_rng_normal(&rng));
    } else {
        const double limit = sqrt(6.0 / (fan_in + fan_out));
        for (size_t k = 0; k < view->count; k++)
            values[k] = (float)(limit * (2.0 * lmn_rng_uniform_double(&rng) - 1.0));
    }
}

void lmn_network_init_params(lmn_network *net, uint64_t seed)
{
    net->seed = seed;
    for (int t = 0; t < net->tensor_count; t++) init_tensor(net, &net->tensors[t], seed);
}

lmn_status lmn_network_enable_profile(lmn_network *net)
{
    if (net->forward_seconds) return LMN_OK;
    net->forward_seconds = calloc((size_t)net->spec.count, sizeof(double));
    net->backward_seconds = calloc((size_t)net->spec.count, sizeof(double));
    if (!net->forward_seconds || !net->backward_seconds)
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the layer profile");
    return LMN_OK;
}

bool lmn_tensor_is_statistic(const lmn_tensor_view *view)
{
    return view->role == LMN_ROLE_BN_MEAN || view->role == LMN_ROLE_BN_VAR;
}

float *lmn_network_tensor_data(const lmn_network *net, const lmn_tensor_view *view)
{
    return (lmn_tensor_is_statistic(view) ? net->state : net->params) + view->offset;
}

const lmn_tensor_view *lmn_network_tensor(const lmn_network *net, const char *name)
{
    for (int t = 0; t < net->tensor_count; t++)
        if (strcmp(net->tensors[t].name, name) == 0) return &net->tensors[t];
    return NULL;
}

double lmn_network_forward_flops(const lmn_network *net)
{
    double total = 0.0;
    for (int i = 0; i < net->spec.count; i++) {
        const lmn_layer_spec *layer = &net->spec.layers[i];
        const lmn_layer_shape in = layer->input == LMN_INPUT ? net->input_shape
                                                             : net->shapes[layer->input];
        const lmn_layer_shape out = net->shapes[i];
        if (layer->kind == LMN_LAYER_CONV)
            total += 2.0 * out.c * out.h * out.w * in.c * layer->kernel_h * layer->kernel_w;
        else if (layer->kind == LMN_LAYER_LINEAR)
            total += 2.0 * out.c * in.c * in.h * in.w;
    }
    return total;
}
