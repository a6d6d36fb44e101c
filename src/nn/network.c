/* Network construction: input resolution, shape inference, parameter
 * layout and initialization. Execution lives in nn/propagate.c. */
#include "nn/network.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "nn/layers/layer.h"

/* Replaces "previous layer" markers by indices and checks references. */
static lmn_status resolve_inputs(lmn_model_spec *spec)
{
    if (spec->count == 0) return lmn_fail(LMN_ERR_CONFIG, "the model has no layers");
    for (int i = 0; i < spec->count; i++) {
        lmn_layer_spec *layer = &spec->layers[i];
        if (!lmn_layer_type_of(layer->kind))
            return lmn_fail(LMN_ERR_CONFIG, "layer %d '%s' has no registered kind (%d)", i,
                            layer->name, (int)layer->kind);
        if (layer->input == -2) layer->input = i - 1;
        if (layer->input < LMN_INPUT || layer->input >= i)
            return lmn_layer_error(layer, i, "its input must be an earlier layer");
        if (!(lmn_layer_type_of(layer->kind)->flags & LMN_LAYER_READS_SKIP)) continue;
        if (layer->skip == -2) return lmn_layer_error(layer, i, "it needs a 'skip' input");
        if (layer->skip < LMN_INPUT || layer->skip >= i)
            return lmn_layer_error(layer, i, "its skip input must be an earlier layer");
    }
    return LMN_OK;
}

/* The kinds whose flags have `flag`, as "conv, linear and batchnorm". */
static void list_kinds(char *out, size_t size, unsigned flag)
{
    int count = 0, at = 0;
    out[0] = '\0';
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++)
        count += (lmn_layer_type_of((lmn_layer_kind)k)->flags & flag) != 0;
    for (int k = 0, listed = 0; k < LMN_LAYER_KIND_COUNT && at < (int)size; k++) {
        const lmn_layer_type *type = lmn_layer_type_of((lmn_layer_kind)k);
        if (!(type->flags & flag)) continue;
        const char *separator = listed == 0 ? "" : listed + 1 == count ? " and " : ", ";
        at += snprintf(out + at, size - (size_t)at, "%s%s", separator, type->name);
        listed++;
    }
}

/* A 2-D layer fed a volume or a 3-D layer fed an image. */
static lmn_status check_dimensionality(const lmn_layer_spec *layer, int index, lmn_layer_shape in)
{
    const lmn_layer_type *type = lmn_layer_type_of(layer->kind);
    char shape[64], what[256], other[64] = "this layer kind has no 3-D version";
    lmn_layer_format_shape(shape, sizeof shape, in);
    if (in.d > 0 && (type->flags & LMN_LAYER_IMAGES_ONLY)) {
        if (type->other_dimensionality)
            snprintf(other, sizeof other, "use %s for volumes", type->other_dimensionality);
        snprintf(what, sizeof what,
                 "it takes images (c x h x w) but its input is a %s volume (c x d x h x w); %s",
                 shape, other);
        return lmn_layer_error(layer, index, what);
    }
    if (in.d == 0 && (type->flags & LMN_LAYER_VOLUMES_ONLY)) {
        snprintf(what, sizeof what,
                 "it takes volumes (c x d x h x w) but its input is a %s image (c x h x w); use "
                 "%s for images, or give the data a depth",
                 shape, type->other_dimensionality ? type->other_dimensionality : "2-D layers");
        return lmn_layer_error(layer, index, what);
    }
    return LMN_OK;
}

static lmn_status infer_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_type *type = lmn_layer_type_of(layer->kind);
    *shape = lmn_layer_input_shape(net, layer->input);
    if (layer->relu && !(type->flags & LMN_LAYER_FUSES_RELU)) {
        char kinds[256], what[400];
        list_kinds(kinds, sizeof kinds, LMN_LAYER_FUSES_RELU);
        snprintf(what, sizeof what, "a fused ReLU exists only on %s; add a relu layer after it "
                 "instead", kinds);
        return lmn_layer_error(layer, i, what);
    }
    LMN_TRY(check_dimensionality(layer, i, *shape));
    return type->infer_shape ? type->infer_shape(net, i, shape) : LMN_OK;
}

/* Lays out the layer's tensors in params / state and lists their views. */
static lmn_status layout_parameters(lmn_network *net, int i)
{
    net->param_offset[i] = net->param_count;
    net->state_offset[i] = net->state_count;
    const lmn_layer_type *type = lmn_layer_type_of(net->spec.layers[i].kind);
    return type->layout ? type->layout(net, i) : LMN_OK;
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
    /* Classifiers end in a vector; image-to-image models (super-resolution)
     * end in an image, whose values are num_outputs in NCHW order. */
    const size_t outputs = lmn_shape_values(net->shapes[count - 1]);
    if (outputs > INT_MAX)
        return lmn_fail(LMN_ERR_SHAPE, "the last layer '%s' outputs %zu values per sample, too many",
                        net->spec.layers[count - 1].name, outputs);
    net->num_outputs = (int)outputs;
    /* The gradient buffer has four spare slots past the parameters so the
     * trainer can reduce the step's loss sum, hit count and stop flag with it. */
    LMN_TRY(lmn_alloc_floats(&net->params, net->param_count + 1, "parameters"));
    LMN_TRY(lmn_alloc_floats(&net->grads, net->param_count + 4, "gradients"));
    LMN_TRY(lmn_alloc_floats(&net->state, net->state_count + 1, "batch-norm statistics"));
    return LMN_OK;
}

lmn_status lmn_network_create_shape(lmn_backend *backend, const lmn_model_spec *spec,
                                    lmn_layer_shape input, lmn_network **out)
{
    *out = NULL;
    if (input.c < 1 || input.h < 1 || input.w < 1 || input.d < 0) {
        char shape[64];
        lmn_layer_format_shape(shape, sizeof shape, input);
        return lmn_fail(LMN_ERR_SHAPE, "network input %s is empty", shape);
    }
    lmn_network *net = calloc(1, sizeof *net);
    if (!net) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a network");
    net->backend = backend;
    net->input_shape = input;
    const lmn_status status = build(net, spec);
    if (status != LMN_OK) {
        lmn_network_free(net);
        return status;
    }
    *out = net;
    return LMN_OK;
}

lmn_status lmn_network_create(lmn_backend *backend, const lmn_model_spec *spec, int channels,
                              int height, int width, lmn_network **out)
{
    const lmn_layer_shape input = {.c = channels, .h = height, .w = width, .d = 0};
    return lmn_network_create_shape(backend, spec, input, out);
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
    /* Fans count every kernel position (depth too for OIDHW). */
    double receptive = 1.0;
    for (int d = 2; d < view->ndim; d++) receptive *= view->dims[d];
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
        const lmn_layer_type *type = lmn_layer_type_of(net->spec.layers[i].kind);
        if (type->forward_flops) total += type->forward_flops(net, i);
    }
    return total;
}

lmn_layer_shape lmn_network_output_shape(const lmn_network *net)
{
    return net->shapes[net->spec.count - 1];
}
