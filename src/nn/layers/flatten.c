/* flatten: c x h x w (or c x d x h x w) -> (c*h*w) x 1 x 1 in NCHW order. */
#include <limits.h>

#include "nn/layers/layer.h"

static lmn_status flatten_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_shape in = *shape;
    if (lmn_shape_values(in) > INT_MAX)
        return lmn_layer_error(&net->spec.layers[i], i, "its input is too large");
    *shape = (lmn_layer_shape){.c = (int)lmn_shape_values(in), .h = 1, .w = 1, .d = 0};
    return LMN_OK;
}

static lmn_status flatten_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_act_desc in = node->in_desc;
    node->in_desc = lmn_plan_dense_like(&in);
    node->out_desc = lmn_act_dense(in.n, (int)(lmn_act_elements(&in) / (size_t)in.n), 1, 1);
    return LMN_OK;
}

static lmn_status flatten_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    lmn_backend *be = p->net->backend;
    const int input = p->net->spec.layers[i].input;
    lmn_plan_node *node = &p->plan->nodes[i];
    return be->reorder(be, lmn_pass_activation_desc(p, input), lmn_pass_activation(p, input),
                       &node->in_desc, node->y);
}

static lmn_status flatten_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    *dx_written = false;
    const lmn_plan_node *node = &p->plan->nodes[i];
    return lmn_pass_deliver(p, p->net->spec.layers[i].input, &node->in_desc, node->dy);
}

const lmn_layer_type lmn_layer_type_flatten = {
    .name = "flatten", .help = "c x h x w (or c x d x h x w) -> a vector, NCHW order",
    .flags = LMN_LAYER_READS_BF16,
    .infer_shape = flatten_shape, .create_op = flatten_create,
    .forward = flatten_forward, .backward = flatten_backward,
};
