/* conv (2-D, weights OIHW) and conv3d (3-D, weights OIDHW): the same
 * stride and pad in every dimension, optional bias and fused ReLU. */
#include <string.h>

#include "nn/layers/layer.h"

static void conv_defaults(lmn_layer_spec *layer)
{
    layer->kernel_d = layer->kernel_h = layer->kernel_w = 3;
    layer->stride = 1;
}

static lmn_status conv_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_shape in = *shape;
    if (layer->out < 1) return lmn_layer_error(layer, i, "'out' (output channels) must be >= 1");
    shape->c = layer->out;
    if (layer->kind == LMN_LAYER_CONV3D)
        LMN_TRY(lmn_layer_window_output(layer, i, in.d, layer->kernel_d, &shape->d));
    LMN_TRY(lmn_layer_window_output(layer, i, in.h, layer->kernel_h, &shape->h));
    return lmn_layer_window_output(layer, i, in.w, layer->kernel_w, &shape->w);
}

/* PyTorch order: OIHW, OIDHW. */
static lmn_status conv_layout(lmn_network *net, int i)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_shape in = lmn_layer_input_shape(net, layer->input);
    if (layer->kind == LMN_LAYER_CONV3D) {
        const int dims[] = {layer->out, in.c, layer->kernel_d, layer->kernel_h, layer->kernel_w};
        return lmn_layer_layout_weight_bias(net, i, 5, dims);
    }
    const int dims[] = {layer->out, in.c, layer->kernel_h, layer->kernel_w};
    return lmn_layer_layout_weight_bias(net, i, 4, dims);
}

static double conv_flops(const lmn_network *net, int i)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_shape in = lmn_layer_input_shape(net, layer->input);
    const double out = (double)lmn_shape_values(net->shapes[i]);
    const double depth = layer->kind == LMN_LAYER_CONV3D ? layer->kernel_d : 1;
    return 2.0 * out * in.c * depth * layer->kernel_h * layer->kernel_w;
}

static lmn_status conv2d_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_backend *be = net->backend;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_conv2d_params p = {layer->out, layer->kernel_h, layer->kernel_w, layer->stride,
                                 layer->stride, layer->pad, layer->pad, layer->bias, layer->relu};
    return be->conv2d_create(be, &p, &node->in_desc, &node->op, &node->out_desc);
}

static lmn_status conv3d_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_backend *be = net->backend;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_conv3d_params p = {
        .out_channels = layer->out,
        .kernel_d = layer->kernel_d, .kernel_h = layer->kernel_h, .kernel_w = layer->kernel_w,
        .stride_d = layer->stride, .stride_h = layer->stride, .stride_w = layer->stride,
        .pad_d = layer->pad, .pad_h = layer->pad, .pad_w = layer->pad,
        .bias = layer->bias, .fuse_relu = layer->relu};
    return be->conv3d_create(be, &p, &node->in_desc, &node->op, &node->out_desc);
}

/* The backend's 2-D and 3-D convolutions share their signatures. */
typedef struct conv_ops {
    lmn_status (*forward)(lmn_op *, const float *, const float *, const float *, float *);
    lmn_status (*backward_data)(lmn_op *, const float *, const float *, float *);
    lmn_status (*backward_weights)(lmn_op *, const float *, const float *, float *, float *);
} conv_ops;

static conv_ops ops_of(const lmn_pass *p, int i)
{
    const lmn_backend *be = p->net->backend;
    if (p->net->spec.layers[i].kind == LMN_LAYER_CONV3D)
        return (conv_ops){be->conv3d_forward, be->conv3d_backward_data, be->conv3d_backward_weights};
    return (conv_ops){be->conv2d_forward, be->conv2d_backward_data, be->conv2d_backward_weights};
}

static lmn_status conv_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    float *w = lmn_pass_weights(p, i);
    return ops_of(p, i).forward(p->plan->nodes[i].op, lmn_pass_input(p, i), w,
                                lmn_pass_bias(p, i, w), p->plan->nodes[i].y);
}

/* Weight gradients always; the input's gradient unless the input is the
 * network's. */
static lmn_status conv_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    const conv_ops ops = ops_of(p, i);
    const int input = p->net->spec.layers[i].input;
    const lmn_plan_node *node = &p->plan->nodes[i];
    float *dw = lmn_pass_weight_grads(p, i);
    LMN_TRY(ops.backward_weights(node->op, lmn_pass_input(p, i), node->dy, dw,
                                 lmn_pass_bias(p, i, dw)));
    if (input == LMN_INPUT) return LMN_OK;
    return ops.backward_data(node->op, node->dy, lmn_pass_weights(p, i), dx);
}

const lmn_layer_type lmn_layer_type_conv = {
    .name = "conv",
    .help = "2-D convolution, weights OIHW (PyTorch's Conv2d)",
    .flags = LMN_LAYER_IMAGES_ONLY | LMN_LAYER_FUSES_RELU | LMN_LAYER_READS_BF16,
    .other_dimensionality = "conv3d",
    .keys = {&lmn_layer_key_out, &lmn_layer_key_bias, &lmn_layer_key_init,
             &lmn_layer_key_kernel_2d, &lmn_layer_key_stride, &lmn_layer_key_pad,
             &lmn_layer_key_activation},
    .set_defaults = conv_defaults,
    .infer_shape = conv_shape,
    .layout = conv_layout,
    .forward_flops = conv_flops,
    .create_op = conv2d_create,
    .forward = conv_forward,
    .backward = conv_backward,
};

const lmn_layer_type lmn_layer_type_conv3d = {
    .name = "conv3d",
    .help = "3-D convolution of volumes, weights OIDHW (PyTorch's Conv3d)",
    .flags = LMN_LAYER_VOLUMES_ONLY | LMN_LAYER_FUSES_RELU | LMN_LAYER_READS_BF16,
    .other_dimensionality = "conv",
    .keys = {&lmn_layer_key_out, &lmn_layer_key_bias, &lmn_layer_key_init,
             &lmn_layer_key_kernel_3d, &lmn_layer_key_stride, &lmn_layer_key_pad,
             &lmn_layer_key_activation},
    .set_defaults = conv_defaults,
    .infer_shape = conv_shape,
    .layout = conv_layout,
    .forward_flops = conv_flops,
    .create_op = conv3d_create,
    .forward = conv_forward,
    .backward = conv_backward,
};
