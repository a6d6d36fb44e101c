/* relu (y = max(x, 0)) and leaky_relu (y = x > 0 ? x : slope * x). */
#include <math.h>

#include "kernels/elementwise.h"
#include "nn/layers/layer.h"

/* An add fused with this relu has written y already (nn/plan.h). */
static lmn_status relu_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    lmn_plan_node *node = &p->plan->nodes[i];
    if (!node->written_by_add)
        lmn_act_relu_forward(node->out_desc.elem, lmn_pass_input(p, i), node->y,
                             node->out_desc.floats);
    return LMN_OK;
}

static lmn_status relu_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    const lmn_plan_node *node = &p->plan->nodes[i];
    lmn_act_relu_backward(node->out_desc.elem, node->y, node->dy, dx, node->out_desc.floats);
    return LMN_OK;
}

static lmn_status leaky_relu_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    if (!isfinite(layer->slope)) return lmn_layer_error(layer, i, "slope must be a finite number");
    return LMN_OK;
}

static lmn_status leaky_relu_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    lmn_plan_node *node = &p->plan->nodes[i];
    lmn_act_leaky_relu_forward(node->out_desc.elem, lmn_pass_input(p, i), node->y,
                               node->out_desc.floats, layer->slope);
    return LMN_OK;
}

/* The mask comes from the forward input: x <= 0 maps to slope * x. */
static lmn_status leaky_relu_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    const lmn_plan_node *node = &p->plan->nodes[i];
    lmn_act_leaky_relu_backward(node->out_desc.elem, lmn_pass_input(p, i), node->dy, dx,
                                node->out_desc.floats, layer->slope);
    return LMN_OK;
}

static const lmn_layer_key key_slope = {"slope", LMN_LAYER_KEY_FLOAT, LMN_LAYER_FIELD(slope),
                                        .help = "negative slope, PyTorch's default"};

const lmn_layer_type lmn_layer_type_relu = {
    .name = "relu", .help = "max(x, 0); images and volumes",
    .flags = LMN_LAYER_READS_BF16,
    .forward = relu_forward, .backward = relu_backward,
};

const lmn_layer_type lmn_layer_type_leaky_relu = {
    .name = "leaky_relu", .help = "x > 0 ? x : slope * x; images and volumes",
    .flags = LMN_LAYER_READS_BF16,
    .keys = {&key_slope},
    .infer_shape = leaky_relu_shape,
    .forward = leaky_relu_forward, .backward = leaky_relu_backward,
};
