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
#include "nn/plan.h"

/* "3x8x8" for an image, "4x16x16x16" (c x d x h x w) for a volume. */
static void format_shape(char *out, size_t size, lmn_layer_shape shape)
{
    if (shape.d > 0)
        snprintf(out, size, "%dx%dx%dx%d", shape.c, shape.d, shape.h, shape.w);
    else
        snprintf(out, size, "%dx%dx%d", shape.c, shape.h, shape.w);
}

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

static lmn_layer_shape input_shape_of(const lmn_network *net, int input)
{
    return input == LMN_INPUT ? net->input_shape : net->shapes[input];
}

static bool takes_images_only(lmn_layer_kind kind)
{
    return kind == LMN_LAYER_CONV || kind == LMN_LAYER_MAXPOOL || kind == LMN_LAYER_AVGPOOL ||
           kind == LMN_LAYER_GLOBAL_AVGPOOL || kind == LMN_LAYER_BATCHNORM ||
           kind == LMN_LAYER_UPSAMPLE;
}

static bool takes_volumes_only(lmn_layer_kind kind)
{
    return kind == LMN_LAYER_CONV3D || kind == LMN_LAYER_MAXPOOL3D || kind == LMN_LAYER_AVGPOOL3D;
}

/* A 2-D layer fed a volume or a 3-D layer fed an image. */
static lmn_status check_dimensionality(const lmn_layer_spec *layer, int index, lmn_layer_shape in)
{
    char shape[64], what[256];
    format_shape(shape, sizeof shape, in);
    if (in.d > 0 && takes_images_only(layer->kind)) {
        const bool has_3d = layer->kind == LMN_LAYER_CONV || layer->kind == LMN_LAYER_MAXPOOL ||
                            layer->kind == LMN_LAYER_AVGPOOL;
        snprintf(what, sizeof what,
                 "it takes images (c x h x w) but its input is a %s volume (c x d x h x w); %s",
                 shape, has_3d ? "use conv3d / maxpool3d / avgpool3d for volumes"
                               : "this layer kind has no 3-D version");
        return layer_error(layer, index, what);
    }
    if (in.d == 0 && takes_volumes_only(layer->kind)) {
        snprintf(what, sizeof what,
                 "it takes volumes (c x d x h x w) but its input is a %s image (c x h x w); use "
                 "conv / maxpool / avgpool for images, or give the data a depth",
                 shape);
        return layer_error(layer, index, what);
    }
    return LMN_OK;
}

static lmn_status upsample_shape(const lmn_layer_spec *layer, int i, lmn_layer_shape *shape)
{
    const int r = layer->factor;
    if (r < 1 || r > 64) return layer_error(layer, i, "the upsampling factor must be in 1..64");
    if (layer->mode == LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE) {
        if (shape->c % (r * r) != 0) {
            char what[200], in[64];
            format_shape(in, sizeof in, *shape);
            snprintf(what, sizeof what,
                     "pixel_shuffle by %d needs input channels divisible by %d (factor^2), but "
                     "its input is %s",
                     r, r * r, in);
            return layer_error(layer, i, what);
        }
        shape->c /= r * r;
    }
    shape->h *= r;
    shape->w *= r;
    return LMN_OK;
}

static lmn_status add_shape(const lmn_network *net, const lmn_layer_spec *layer, int i,
                            lmn_layer_shape in)
{
    const lmn_layer_shape other = input_shape_of(net, layer->skip);
    if (other.c == in.c && other.d == in.d && other.h == in.h && other.w == in.w) return LMN_OK;
    char what[200], a[64], b[64];
    format_shape(a, sizeof a, in);
    format_shape(b, sizeof b, other);
    snprintf(what, sizeof what, "cannot add a %s input to a %s skip input", a, b);
    return layer_error(layer, i, what);
}

static lmn_status infer_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_shape in = input_shape_of(net, layer->input);
    *shape = in;
    if (layer->relu && layer->kind != LMN_LAYER_CONV && layer->kind != LMN_LAYER_CONV3D &&
        layer->kind != LMN_LAYER_LINEAR && layer->kind != LMN_LAYER_BATCHNORM)
        return layer_error(layer, i, "a fused ReLU exists only on conv, conv3d, linear and "
                                     "batchnorm; add a relu layer after it instead");
    LMN_TRY(check_dimensionality(layer, i, in));
    switch (layer->kind) {
    case LMN_LAYER_CONV:
    case LMN_LAYER_CONV3D:
        if (layer->out < 1) return layer_error(layer, i, "'out' (output channels) must be >= 1");
        shape->c = layer->out;
        if (layer->kind == LMN_LAYER_CONV3D)
            LMN_TRY(window_output(layer, i, in.d, layer->kernel_d, &shape->d));
        LMN_TRY(window_output(layer, i, in.h, layer->kernel_h, &shape->h));
        return window_output(layer, i, in.w, layer->kernel_w, &shape->w);
    case LMN_LAYER_MAXPOOL:
    case LMN_LAYER_AVGPOOL:
    case LMN_LAYER_MAXPOOL3D:
    case LMN_LAYER_AVGPOOL3D: {
        const bool volume = layer->kind == LMN_LAYER_MAXPOOL3D || layer->kind == LMN_LAYER_AVGPOOL3D;
        if (layer->pad * 2 > layer->kernel_h || layer->pad * 2 > layer->kernel_w ||
            (volume && layer->pad * 2 > layer->kernel_d))
            return layer_error(layer, i, "padding must be at most half the pooling kernel");
        if (volume) LMN_TRY(window_output(layer, i, in.d, layer->kernel_d, &shape->d));
        LMN_TRY(window_output(layer, i, in.h, layer->kernel_h, &shape->h));
        return window_output(layer, i, in.w, layer->kernel_w, &shape->w);
    }
    case LMN_LAYER_GLOBAL_AVGPOOL:
        shape->h = shape->w = 1;
        return LMN_OK;
    case LMN_LAYER_LINEAR:
        if (layer->out < 1) return layer_error(layer, i, "'out' (output features) must be >= 1");
        *shape = (lmn_layer_shape){.c = layer->out, .h = 1, .w = 1, .d = 0};
        return LMN_OK;
    case LMN_LAYER_FLATTEN:
        if (lmn_shape_values(in) > INT_MAX) return layer_error(layer, i, "its input is too large");
        *shape = (lmn_layer_shape){.c = (int)lmn_shape_values(in), .h = 1, .w = 1, .d = 0};
        return LMN_OK;
    case LMN_LAYER_ADD:
        return add_shape(net, layer, i, in);
    case LMN_LAYER_UPSAMPLE:
        return upsample_shape(layer, i, shape);
    case LMN_LAYER_DROPOUT:
        if (!(layer->rate >= 0.0f && layer->rate < 1.0f))
            return layer_error(layer, i, "dropout rate must be in [0, 1)");
        return LMN_OK;
    case LMN_LAYER_BATCHNORM:
        if (!(layer->epsilon > 0.0f)) return layer_error(layer, i, "epsilon must be > 0");
        return LMN_OK;
    case LMN_LAYER_LEAKY_RELU:
        if (!isfinite(layer->slope)) return layer_error(layer, i, "slope must be a finite number");
        return LMN_OK;
    case LMN_LAYER_SCALE:
        if (!isfinite(layer->scale)) return layer_error(layer, i, "factor must be a finite number");
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
    const lmn_layer_shape in = input_shape_of(net, layer->input);
    net->param_offset[i] = net->param_count;
    net->state_offset[i] = net->state_count;
    if (layer->kind == LMN_LAYER_CONV || layer->kind == LMN_LAYER_CONV3D ||
        layer->kind == LMN_LAYER_LINEAR) {
        /* PyTorch order: OIHW, OIDHW, [out][in] */
        int dims[LMN_TENSOR_MAX_DIMS] = {layer->out, in.c, layer->kernel_h, layer->kernel_w};
        int ndim = 4;
        if (layer->kind == LMN_LAYER_CONV3D) {
            const int volume_dims[LMN_TENSOR_MAX_DIMS] = {layer->out, in.c, layer->kernel_d,
                                                          layer->kernel_h, layer->kernel_w};
            memcpy(dims, volume_dims, sizeof dims);
            ndim = 5;
        } else if (layer->kind == LMN_LAYER_LINEAR) {
            dims[1] = (int)lmn_shape_values(in);
            ndim = 2;
        }
        LMN_TRY(add_view(net, i, LMN_ROLE_WEIGHT, "weight", net->param_count, ndim, dims));
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
        format_shape(shape, sizeof shape, input);
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
        const lmn_layer_spec *layer = &net->spec.layers[i];
        const lmn_layer_shape in = input_shape_of(net, layer->input);
        const double out = (double)lmn_shape_values(net->shapes[i]);
        /* Element-wise layers, pools and upsampling are memory-bound and
         * not counted (as for relu / add). */
        if (layer->kind == LMN_LAYER_CONV)
            total += 2.0 * out * in.c * layer->kernel_h * layer->kernel_w;
        else if (layer->kind == LMN_LAYER_CONV3D)
            total += 2.0 * out * in.c * layer->kernel_d * layer->kernel_h * layer->kernel_w;
        else if (layer->kind == LMN_LAYER_LINEAR)
            total += 2.0 * out * (double)lmn_shape_values(in);
    }
    return total;
}

lmn_layer_shape lmn_network_output_shape(const lmn_network *net)
{
    return net->shapes[net->spec.count - 1];
}
