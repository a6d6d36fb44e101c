/* linear: fully connected, weights [out][in] (PyTorch's Linear) over the
 * input's values in NCHW (NCDHW) order, optional bias and fused ReLU. */
#include <string.h>

#include "core/memory.h"
#include "nn/layers/layer.h"

static lmn_status linear_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    if (layer->out < 1) return lmn_layer_error(layer, i, "'out' (output features) must be >= 1");
    *shape = (lmn_layer_shape){.c = layer->out, .h = 1, .w = 1, .d = 0};
    return LMN_OK;
}

static lmn_status linear_layout(lmn_network *net, int i)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const int dims[] = {layer->out,
                        (int)lmn_shape_values(lmn_layer_input_shape(net, layer->input))};
    return lmn_layer_layout_weight_bias(net, i, 2, dims);
}

static double linear_flops(const lmn_network *net, int i)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    return 2.0 * (double)lmn_shape_values(net->shapes[i]) *
           (double)lmn_shape_values(lmn_layer_input_shape(net, layer->input));
}

/* Linear layers read a dense input. A volume is handed to the op as the
 * [N, c*d*h*w] matrix it is in memory. */
static lmn_status linear_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_backend *be = net->backend;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_act_desc in = node->in_desc;
    const lmn_linear_params p = {layer->out, layer->bias, layer->relu};
    node->in_desc = lmn_plan_dense_like(&in);
    if (!lmn_plan_is_dense(be, &in))
        LMN_TRY(lmn_alloc_floats(&node->converted, node->in_desc.floats, "layout conversion"));
    if (in.d == 0) return be->linear_create(be, &p, &node->in_desc, &node->op, &node->out_desc);
    const lmn_act_desc matrix = lmn_act_dense(in.n, (int)(lmn_act_elements(&in) / (size_t)in.n), 1, 1);
    return be->linear_create(be, &p, &matrix, &node->op, &node->out_desc);
}

static lmn_status linear_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    lmn_backend *be = p->net->backend;
    const int input = p->net->spec.layers[i].input;
    lmn_plan_node *node = &p->plan->nodes[i];
    const float *x = lmn_pass_activation(p, input);
    if (node->converted) {
        LMN_TRY(be->reorder(be, lmn_pass_activation_desc(p, input), x, &node->in_desc,
                            node->converted));
        x = node->converted;
    }
    float *w = lmn_pass_weights(p, i);
    return be->linear_forward(node->op, x, w, lmn_pass_bias(p, i, w), node->y);
}

/* A converted input gets its gradient in the dense layout, then converted
 * back by delivery. */
static lmn_status linear_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    lmn_backend *be = p->net->backend;
    const int input = p->net->spec.layers[i].input;
    const lmn_plan_node *node = &p->plan->nodes[i];
    float *dw = lmn_pass_weight_grads(p, i), *w = lmn_pass_weights(p, i);
    const float *x = node->converted ? node->converted : lmn_pass_activation(p, input);
    LMN_TRY(be->linear_backward_weights(node->op, x, node->dy, dw, lmn_pass_bias(p, i, dw)));
    if (input == LMN_INPUT) return LMN_OK;
    if (!node->converted) return be->linear_backward_data(node->op, node->dy, w, dx);
    *dx_written = false;
    LMN_TRY(be->linear_backward_data(node->op, node->dy, w, p->plan->scratch2));
    return lmn_pass_deliver(p, input, &node->in_desc, p->plan->scratch2);
}

const lmn_layer_type lmn_layer_type_linear = {
    .name = "linear",
    .help = "fully connected, weights [out][in] (PyTorch's Linear)",
    .flags = LMN_LAYER_FUSES_RELU | LMN_LAYER_READS_BF16,
    .keys = {&lmn_layer_key_out, &lmn_layer_key_bias, &lmn_layer_key_init,
             &lmn_layer_key_activation},
    .infer_shape = linear_shape,
    .layout = linear_layout,
    .forward_flops = linear_flops,
    .create_op = linear_create,
    .forward = linear_forward,
    .backward = linear_backward,
};
