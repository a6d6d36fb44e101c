/* Forward and backward passes over a plan. */
#include <string.h>

#include "core/timer.h"
#include "kernels/elementwise.h"
#include "nn/layers/layer.h"

const float *lmn_pass_activation(const lmn_pass *p, int layer)
{
    return layer == LMN_INPUT ? p->input : p->plan->nodes[layer].y;
}

const lmn_act_desc *lmn_pass_activation_desc(const lmn_pass *p, int layer)
{
    return lmn_plan_producer_desc(p->plan, layer);
}

const float *lmn_pass_input(const lmn_pass *p, int i)
{
    const float *copy = p->plan->nodes[i].input_copy;
    return copy ? copy : lmn_pass_activation(p, p->net->spec.layers[i].input);
}

float *lmn_pass_weights(const lmn_pass *p, int i) { return p->net->params + p->net->param_offset[i]; }
float *lmn_pass_weight_grads(const lmn_pass *p, int i) { return p->net->grads + p->net->param_offset[i]; }

float *lmn_pass_bias(const lmn_pass *p, int i, float *weights)
{
    return p->net->spec.layers[i].bias ? weights + lmn_layer_weight_count(p->net, i) : NULL;
}

static lmn_status forward_layer(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    const lmn_layer_type *type = lmn_layer_type_of(p->net->spec.layers[i].kind);
    if (!type || !type->forward)
        return lmn_fail(LMN_ERR_INTERNAL, "layer '%s' has no forward", p->net->spec.layers[i].name);
    const lmn_plan_node *node = &p->plan->nodes[i];
    if (node->input_copy) {
        const int input = p->net->spec.layers[i].input;
        lmn_backend *be = p->net->backend;
        LMN_TRY(be->reorder(be, lmn_pass_activation_desc(p, input), lmn_pass_activation(p, input),
                            &node->in_desc, node->input_copy));
    }
    return type->forward(p, i, training, noise_key);
}

lmn_status lmn_network_forward(lmn_network *net, int batch, const float *x, bool training,
                               uint64_t noise_key, const float **out)
{
    lmn_plan *plan;
    LMN_TRY(lmn_plan_for_batch(net, batch, &plan));
    const lmn_pass p = {net, plan, x};
    for (int i = 0; i < net->spec.count; i++) {
        if (net->hooks.before_forward) LMN_TRY(net->hooks.before_forward(net->hooks.ctx, i));
        const double start = net->forward_seconds ? lmn_now() : 0.0;
        const lmn_status status = forward_layer(&p, i, training, noise_key);
        if (net->forward_seconds) net->forward_seconds[i] += lmn_now() - start;
        if (status != LMN_OK)
            return lmn_fail_context(status, "forward of layer '%s'", net->spec.layers[i].name);
    }
    const lmn_plan_node *last = &plan->nodes[net->spec.count - 1];
    if (plan->output) {
        const lmn_act_desc dense = lmn_plan_dense_like(&last->out_desc);
        LMN_TRY(net->backend->reorder(net->backend, &last->out_desc, last->y, &dense, plan->output));
        *out = plan->output;
    } else {
        *out = last->y;
    }
    if (training) {
        net->last_forward = plan;
        plan->last_input = x;
    }
    return LMN_OK;
}

/* Gradients flowing into a layer's output are written straight into its dy
 * the first time and accumulated afterwards (a layer read by several
 * others, as in residual blocks). The network input needs no gradient. */
static float *gradient_slot(const lmn_pass *p, int layer)
{
    if (layer == LMN_INPUT || p->plan->nodes[layer].has_grad) return p->plan->scratch;
    return p->plan->nodes[layer].dy;
}

static void gradient_written(const lmn_pass *p, int layer, const float *slot)
{
    if (layer == LMN_INPUT) return;
    lmn_plan_node *node = &p->plan->nodes[layer];
    if (slot == p->plan->scratch)
        lmn_act_accumulate(node->out_desc.elem, node->dy, slot, node->out_desc.floats);
    node->has_grad = true;
}

/* Delivers a gradient computed in `from` layout to the producer `layer`. */
lmn_status lmn_pass_deliver(const lmn_pass *p, int layer, const lmn_act_desc *from, const float *grad)
{
    if (layer == LMN_INPUT) return LMN_OK;
    lmn_backend *be = p->net->backend;
    lmn_plan_node *node = &p->plan->nodes[layer];
    const lmn_act_desc *to = lmn_pass_activation_desc(p, layer);
    if (be->same_layout(from, to)) {
        if (node->has_grad)
            lmn_act_accumulate(to->elem, node->dy, grad, to->floats);
        else
            memcpy(node->dy, grad, to->floats * sizeof(float));
        node->has_grad = true;
        return LMN_OK;
    }
    float *slot = gradient_slot(p, layer);
    LMN_TRY(be->reorder(be, from, grad, to, slot));
    gradient_written(p, layer, slot);
    return LMN_OK;
}

/* A fused ReLU is masked out of dy first (in place), unless the kind's
 * backward masks it itself. A layer reading an fp32 copy of its input
 * writes dx in fp32, delivered (rounded) to the producer after. */
static lmn_status backward_layer(const lmn_pass *p, int i)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    const lmn_layer_type *type = lmn_layer_type_of(layer->kind);
    if (!type || !type->backward)
        return lmn_fail(LMN_ERR_INTERNAL, "layer '%s' has no backward", layer->name);
    lmn_plan_node *node = &p->plan->nodes[i];
    float *dx = node->input_copy ? p->plan->scratch2 : gradient_slot(p, layer->input);
    if (layer->relu && !(type->flags & LMN_LAYER_MASKS_OWN_RELU))
        lmn_act_relu_backward(node->out_desc.elem, node->y, node->dy, node->dy,
                              node->out_desc.floats);
    bool dx_written = true;
    LMN_TRY(type->backward(p, i, dx, &dx_written));
    if (!dx_written) return LMN_OK;
    if (node->input_copy) return lmn_pass_deliver(p, layer->input, &node->in_desc, dx);
    gradient_written(p, layer->input, dx);
    return LMN_OK;
}

lmn_status lmn_network_backward(lmn_network *net, const float *dout)
{
    lmn_plan *plan = net->last_forward;
    if (!plan) return lmn_fail(LMN_ERR_INTERNAL, "backward without a training forward");
    const lmn_pass p = {net, plan, plan->last_input};
    const int last = net->spec.count - 1;
    for (int i = 0; i <= last; i++) plan->nodes[i].has_grad = false;
    const lmn_act_desc dense = lmn_plan_dense_like(&plan->nodes[last].out_desc);
    LMN_TRY(net->backend->reorder(net->backend, &dense, dout, &plan->nodes[last].out_desc,
                                  plan->nodes[last].dy));
    plan->nodes[last].has_grad = true;
    for (int i = last; i >= 0; i--) {
        if (!plan->nodes[i].has_grad) {
            /* No gradient reaches this layer: its parameters get zero. */
            const size_t end = i == last ? net->param_count : net->param_offset[i + 1];
            memset(net->grads + net->param_offset[i], 0, (end - net->param_offset[i]) * sizeof(float));
        } else {
            const double start = net->backward_seconds ? lmn_now() : 0.0;
            const lmn_status status = backward_layer(&p, i);
            if (net->backward_seconds) net->backward_seconds[i] += lmn_now() - start;
            if (status != LMN_OK)
                return lmn_fail_context(status, "backward of layer '%s'", net->spec.layers[i].name);
        }
        if (net->hooks.after_backward) LMN_TRY(net->hooks.after_backward(net->hooks.ctx, i));
    }
    return LMN_OK;
}
