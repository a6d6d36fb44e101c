/* What several layer kinds share: their common configuration keys, error
 * messages, sliding windows and the weight + bias parameter layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "nn/layers/layer.h"

static const char *const init_names[] = {"he", "glorot", NULL};
static const char *const activation_names[] = {"none", "relu", NULL};

const lmn_layer_key lmn_layer_key_out = {
    "out", LMN_LAYER_KEY_INT, LMN_LAYER_FIELD(out), 1, 1 << 20, .required = true,
    .help = "output channels or features"};
const lmn_layer_key lmn_layer_key_bias = {"bias", LMN_LAYER_KEY_BOOL, LMN_LAYER_FIELD(bias),
                                          .help = "learn a bias"};
const lmn_layer_key lmn_layer_key_init = {"init", LMN_LAYER_KEY_CHOICE, LMN_LAYER_FIELD(init),
                                          .choices = init_names,
                                          .help = "weight initialization"};
const lmn_layer_key lmn_layer_key_kernel_2d = {"kernel", LMN_LAYER_KEY_KERNEL_2D, 0,
                                               .help = "n or [h, w]"};
const lmn_layer_key lmn_layer_key_kernel_3d = {"kernel", LMN_LAYER_KEY_KERNEL_3D, 0,
                                               .help = "n or [d, h, w]"};
const lmn_layer_key lmn_layer_key_stride = {"stride", LMN_LAYER_KEY_INT, LMN_LAYER_FIELD(stride),
                                            1, 1 << 16, .help = "every dimension"};
const lmn_layer_key lmn_layer_key_pad = {"pad", LMN_LAYER_KEY_INT, LMN_LAYER_FIELD(pad), 0,
                                         1 << 16, .help = "every dimension"};
const lmn_layer_key lmn_layer_key_activation = {
    "activation", LMN_LAYER_KEY_SWITCH, LMN_LAYER_FIELD(relu), .choices = activation_names,
    .help = "fused activation"};

void lmn_layer_format_shape(char *out, size_t size, lmn_layer_shape shape)
{
    if (shape.d > 0)
        snprintf(out, size, "%dx%dx%dx%d", shape.c, shape.d, shape.h, shape.w);
    else
        snprintf(out, size, "%dx%dx%d", shape.c, shape.h, shape.w);
}

lmn_status lmn_layer_error(const lmn_layer_spec *layer, int index, const char *what)
{
    return lmn_fail(LMN_ERR_SHAPE, "layer %d '%s' (%s): %s", index, layer->name,
                    lmn_layer_kind_name(layer->kind), what);
}

lmn_layer_shape lmn_layer_input_shape(const lmn_network *net, int input)
{
    return input == LMN_INPUT ? net->input_shape : net->shapes[input];
}

lmn_status lmn_layer_window_output(const lmn_layer_spec *layer, int index, int size, int kernel,
                                   int *out)
{
    if (layer->stride < 1) return lmn_layer_error(layer, index, "stride must be >= 1");
    if (kernel < 1 || layer->pad < 0)
        return lmn_layer_error(layer, index, "kernel must be >= 1, pad >= 0");
    *out = (size + 2 * layer->pad - kernel) / layer->stride + 1;
    if (size + 2 * layer->pad < kernel || *out < 1) {
        char what[160];
        snprintf(what, sizeof what,
                 "a kernel of %d with padding %d does not fit an input of size %d", kernel,
                 layer->pad, size);
        return lmn_layer_error(layer, index, what);
    }
    return LMN_OK;
}

lmn_status lmn_layer_add_tensor(lmn_network *net, int i, lmn_tensor_role role, const char *suffix,
                                size_t offset, int ndim, const int *dims)
{
    lmn_tensor_view *grown = realloc(net->tensors, sizeof *grown * (size_t)(net->tensor_count + 1));
    if (!grown) return lmn_fail(LMN_ERR_NOMEM, "cannot list the network's tensors");
    net->tensors = grown;
    lmn_tensor_view *view = &grown[net->tensor_count++];
    memset(view, 0, sizeof *view);
    snprintf(view->name, sizeof view->name, "%s.%s", net->spec.layers[i].name, suffix);
    view->layer = i;
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

lmn_status lmn_layer_layout_weight_bias(lmn_network *net, int i, int ndim, const int *dims)
{
    LMN_TRY(lmn_layer_add_tensor(net, i, LMN_ROLE_WEIGHT, "weight", net->param_count, ndim, dims));
    net->param_count += net->tensors[net->tensor_count - 1].count;
    if (net->spec.layers[i].bias) {
        LMN_TRY(lmn_layer_add_tensor(net, i, LMN_ROLE_BIAS, "bias", net->param_count, 1, dims));
        net->param_count += (size_t)dims[0];
    }
    return LMN_OK;
}

/* The weight is all of the layer's parameters but the bias after it. */
size_t lmn_layer_weight_count(const lmn_network *net, int i)
{
    const size_t end = i + 1 < net->spec.count ? net->param_offset[i + 1] : net->param_count;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    return end - net->param_offset[i] - (layer->bias ? (size_t)layer->out : 0);
}

lmn_status lmn_layer_alloc_workspace(lmn_plan_node *node, size_t bytes, const char *what)
{
    return bytes ? lmn_alloc_bytes(&node->workspace, bytes, what) : LMN_OK;
}
