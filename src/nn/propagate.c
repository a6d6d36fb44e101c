/* Forward and backward passes over a plan. */
#include <string.h>

#include "core/rng.h"
#include "core/timer.h"
#include "kernels/elementwise.h"
#include "nn/plan.h"

typedef struct pass {
    lmn_network *net;
    lmn_plan *plan;
    const float *input;
} pass;

static const float *activation(const pass *p, int layer)
{
    return layer == LMN_INPUT ? p->input : p->plan->nodes[layer].y;
}

static const lmn_act_desc *activation_desc(const pass *p, int layer)
{
    return layer == LMN_INPUT ? &p->plan->input_desc : &p->plan->nodes[layer].out_desc;
}

static float *weights(const pass *p, int i) { return p->net->params + p->net->param_offset[i]; }
static float *weight_grads(const pass *p, int i) { return p->net->grads + p->net->param_offset[i]; }

/* Size of the kernel tensor that precedes the bias in the layer's params. */
static size_t kernel_count(const pass *p, int i)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    const lmn_layer_shape in = layer->input == LMN_INPUT ? p->net->input_shape
                                                         : p->net->shapes[layer->input];
    size_t receptive = lmn_shape_values(in); /* linear */
    if (layer->kind == LMN_LAYER_CONV)
        receptive = (size_t)in.c * layer->kernel_h * layer->kernel_w;
    else if (layer->kind == LMN_LAYER_CONV3D)
        receptive = (size_t)in.c * layer->kernel_d * layer->kernel_h * layer->kernel_w;
    return (size_t)layer->out * receptive;
}

static void update_running_stats(const pass *p, int i, const lmn_plan_node *node)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    const int channels = node->in_desc.c;
    const double count = (double)node->in_desc.n * node->in_desc.h * node->in_desc.w;
    const double unbias = count > 1.0 ? count / (count - 1.0) : 1.0;
    float *mean = p->net->state + p->net->state_offset[i], *var = mean + channels;
    const float m = layer->momentum;
    for (int c = 0; c < channels; c++) {
        mean[c] = (1.0f - m) * mean[c] + m * node->batch_mean[c];
        var[c] = (1.0f - m) * var[c] + m * (float)(node->batch_var[c] * unbias);
    }
}

static lmn_status forward_layer(const pass *p, int i, bool training, uint64_t noise_key)
{
    lmn_backend *be = p->net->backend;
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    lmn_plan_node *node = &p->plan->nodes[i];
    const float *x = activation(p, layer->input);
    const lmn_act_desc *x_desc = activation_desc(p, layer->input);
    float *w = weights(p, i);
    float *bias = layer->bias ? w + kernel_count(p, i) : NULL;
    switch (layer->kind) {
    case LMN_LAYER_CONV:
        return be->conv2d_forward(node->op, x, w, bias, node->y);
    case LMN_LAYER_MAXPOOL:
    case LMN_LAYER_AVGPOOL:
    case LMN_LAYER_GLOBAL_AVGPOOL:
        return be->pool2d_forward(node->op, x, node->y, node->workspace);
    case LMN_LAYER_CONV3D:
        return be->conv3d_forward(node->op, x, w, bias, node->y);
    case LMN_LAYER_MAXPOOL3D:
    case LMN_LAYER_AVGPOOL3D:
        return be->pool3d_forward(node->op, x, node->y, node->workspace);
    case LMN_LAYER_UPSAMPLE:
        return be->upsample_forward(node->op, x, node->y);
    case LMN_LAYER_LEAKY_RELU:
        lmn_leaky_relu_forward(x, node->y, node->out_desc.floats, layer->slope);
        return LMN_OK;
    case LMN_LAYER_SCALE:
        lmn_scale_forward(x, node->y, node->out_desc.floats, layer->scale);
        return LMN_OK;
    case LMN_LAYER_BATCHNORM: {
        const float *gamma = w, *beta = w + node->in_desc.c;
        if (!training) {
            const float *mean = p->net->state + p->net->state_offset[i];
            return be->batchnorm_forward_infer(node->op, x, gamma, beta, mean,
                                               mean + node->in_desc.c, node->y);
        }
        LMN_TRY(be->batchnorm_forward_train(node->op, x, gamma, beta, node->y, node->batch_mean,
                                            node->batch_var));
        update_running_stats(p, i, node);
        return LMN_OK;
    }
    case LMN_LAYER_LINEAR:
        if (node->converted) {
            LMN_TRY(be->reorder(be, x_desc, x, &node->in_desc, node->converted));
            x = node->converted;
        }
        return be->linear_forward(node->op, x, w, bias, node->y);
    case LMN_LAYER_FLATTEN:
        return be->reorder(be, x_desc, x, &node->in_desc, node->y);
    case LMN_LAYER_RELU:
        if (!node->written_by_add) lmn_relu_forward(x, node->y, node->out_desc.floats);
        return LMN_OK;
    case LMN_LAYER_DROPOUT:
        if (training && layer->rate > 0.0f)
            lmn_dropout_forward(x, node->y, node->mask, node->out_desc.floats, layer->rate,
                                p->net->seed, lmn_rng_stream_id(noise_key, (uint64_t)i));
        else
            memcpy(node->y, x, node->out_desc.floats * sizeof(float));
        return LMN_OK;
    case LMN_LAYER_ADD: {
        const float *skip = activation(p, layer->skip);
        if (node->converted) {
            LMN_TRY(be->reorder(be, activation_desc(p, layer->skip), skip, x_desc, node->converted));
            skip = node->converted;
        }
        if (node->add_writes_relu)
            lmn_add_relu_forward(x, skip, p->plan->nodes[i + 1].y, node->out_desc.floats);
        else
            lmn_add_forward(x, skip, node->y, node->out_desc.floats);
        return LMN_OK;
    }
    case LMN_LAYER_KIND_COUNT:
        break;
    }
    return lmn_fail(LMN_ERR_INTERNAL, "layer '%s' has no forward", layer->name);
}

lmn_status lmn_network_forward(lmn_network *net, int batch, const float *x, bool training,
                               uint64_t noise_key, const float **out)
{
    lmn_plan *plan;
    LMN_TRY(lmn_plan_for_batch(net, batch, &plan));
    const pass p = {net, plan, x};
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
static float *gradient_slot(const pass *p, int layer)
{
    if (layer == LMN_INPUT || p->plan->nodes[layer].has_grad) return p->plan->scratch;
    return p->plan->nodes[layer].dy;
}

static void gradient_written(const pass *p, int layer, const float *slot)
{
    if (layer == LMN_INPUT) return;
    lmn_plan_node *node = &p->plan->nodes[layer];
    if (slot == p->plan->scratch) lmn_accumulate(node->dy, slot, node->out_desc.floats);
    node->has_grad = true;
}

/* Delivers a gradient computed in `from` layout to the producer `layer`. */
static lmn_status deliver(const pass *p, int layer, const lmn_act_desc *from, const float *grad)
{
    if (layer == LMN_INPUT) return LMN_OK;
    lmn_backend *be = p->net->backend;
    lmn_plan_node *node = &p->plan->nodes[layer];
    const lmn_act_desc *to = activation_desc(p, layer);
    if (be->same_layout(from, to)) {
        if (node->has_grad)
            lmn_accumulate(node->dy, grad, to->floats);
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

/* The gradient of a sum reaches both operands unchanged. The first operand
 * takes the add's gradient buffer by swapping pointers (same layout, same
 * size) when it has none yet; the skip operand gets a copy. */
static lmn_status backward_add(const pass *p, int i)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    lmn_plan_node *node = &p->plan->nodes[i];
    const int input = layer->input;
    if (input != LMN_INPUT && !p->plan->nodes[input].has_grad) {
        lmn_plan_node *target = &p->plan->nodes[input];
        float *taken = node->dy;
        node->dy = target->dy;
        target->dy = taken;
        target->has_grad = true;
        return deliver(p, layer->skip, &node->out_desc, taken);
    }
    LMN_TRY(deliver(p, input, &node->out_desc, node->dy));
    return deliver(p, layer->skip, &node->out_desc, node->dy);
}

static lmn_status backward_layer(const pass *p, int i)
{
    lmn_backend *be = p->net->backend;
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    lmn_plan_node *node = &p->plan->nodes[i];
    const int input = layer->input;
    const float *x = activation(p, input);
    float *dy = node->dy, *w = weights(p, i), *dw = weight_grads(p, i);
    float *slot = gradient_slot(p, input);
    /* A batch norm's fused ReLU is masked inside its backward (kernels.h). */
    if ((layer->relu && layer->kind != LMN_LAYER_BATCHNORM) || layer->kind == LMN_LAYER_RELU)
        lmn_relu_backward(node->y, dy, layer->kind == LMN_LAYER_RELU ? slot : dy,
                          node->out_desc.floats);
    switch (layer->kind) {
    case LMN_LAYER_CONV:
        LMN_TRY(be->conv2d_backward_weights(node->op, x, dy, dw,
                                            layer->bias ? dw + kernel_count(p, i) : NULL));
        if (input == LMN_INPUT) return LMN_OK;
        LMN_TRY(be->conv2d_backward_data(node->op, dy, w, slot));
        break;
    case LMN_LAYER_MAXPOOL:
    case LMN_LAYER_AVGPOOL:
    case LMN_LAYER_GLOBAL_AVGPOOL:
        LMN_TRY(be->pool2d_backward(node->op, dy, node->workspace, slot));
        break;
    case LMN_LAYER_CONV3D:
        LMN_TRY(be->conv3d_backward_weights(node->op, x, dy, dw,
                                            layer->bias ? dw + kernel_count(p, i) : NULL));
        if (input == LMN_INPUT) return LMN_OK;
        LMN_TRY(be->conv3d_backward_data(node->op, dy, w, slot));
        break;
    case LMN_LAYER_MAXPOOL3D:
    case LMN_LAYER_AVGPOOL3D:
        LMN_TRY(be->pool3d_backward(node->op, dy, node->workspace, slot));
        break;
    case LMN_LAYER_UPSAMPLE:
        LMN_TRY(be->upsample_backward(node->op, dy, slot));
        break;
    case LMN_LAYER_LEAKY_RELU:
        /* The mask comes from the forward input: x <= 0 maps to slope * x. */
        lmn_leaky_relu_backward(x, dy, slot, node->out_desc.floats, layer->slope);
        break;
    case LMN_LAYER_SCALE:
        lmn_scale_backward(dy, slot, node->out_desc.floats, layer->scale);
        break;
    case LMN_LAYER_BATCHNORM:
        LMN_TRY(be->batchnorm_backward(node->op, x, dy, w, node->batch_mean, node->batch_var, slot,
                                       dw, dw + node->in_desc.c));
        break;
    case LMN_LAYER_LINEAR:
        LMN_TRY(be->linear_backward_weights(node->op, node->converted ? node->converted : x, dy,
                                            dw, layer->bias ? dw + kernel_count(p, i) : NULL));
        if (input == LMN_INPUT) return LMN_OK;
        if (node->converted) {
            LMN_TRY(be->linear_backward_data(node->op, dy, w, p->plan->scratch2));
            return deliver(p, input, &node->in_desc, p->plan->scratch2);
        }
        LMN_TRY(be->linear_backward_data(node->op, dy, w, slot));
        break;
    case LMN_LAYER_FLATTEN:
        return deliver(p, input, &node->in_desc, dy);
    case LMN_LAYER_RELU:
        break;
    case LMN_LAYER_DROPOUT:
        if (layer->rate > 0.0f)
            lmn_dropout_backward(dy, node->mask, slot, node->out_desc.floats, layer->rate);
        else
            memcpy(slot, dy, node->out_desc.floats * sizeof(float));
        break;
    case LMN_LAYER_ADD:
        return backward_add(p, i);
    case LMN_LAYER_KIND_COUNT:
        return lmn_fail(LMN_ERR_INTERNAL, "layer '%s' has no backward", layer->name);
    }
    gradient_written(p, input, slot);
    return LMN_OK;
}

lmn_status lmn_network_backward(lmn_network *net, const float *dout)
{
    lmn_plan *plan = net->last_forward;
    if (!plan) return lmn_fail(LMN_ERR_INTERNAL, "backward without a training forward");
    const pass p = {net, plan, plan->last_input};
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
