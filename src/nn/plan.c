/* Building per-batch-size plans: one backend op per layer, buffers sized
 * by the layouts the backend chose. */
#include "nn/plan.h"

#include <stdlib.h>
#include <string.h>

#include "core/memory.h"

static bool is_dense(const lmn_backend *be, const lmn_act_desc *desc)
{
    if (!desc->layout) return true;
    const lmn_act_desc dense = lmn_act_dense(desc->n, desc->c, desc->h, desc->w);
    return be->same_layout(desc, &dense);
}

static const lmn_act_desc *producer_desc(const lmn_plan *plan, int input)
{
    return input == LMN_INPUT ? &plan->input_desc : &plan->nodes[input].out_desc;
}

static lmn_status create_op(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_backend *be = net->backend;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_act_desc *in = producer_desc(plan, layer->input);
    node->in_desc = *in;
    node->out_desc = *in;
    size_t workspace_bytes = 0;
    switch (layer->kind) {
    case LMN_LAYER_CONV: {
        const lmn_conv2d_params p = {layer->out, layer->kernel_h, layer->kernel_w, layer->stride,
                                     layer->stride, layer->pad, layer->pad, layer->bias, layer->relu};
        return be->conv2d_create(be, &p, in, &node->op, &node->out_desc);
    }
    case LMN_LAYER_MAXPOOL:
    case LMN_LAYER_AVGPOOL:
    case LMN_LAYER_GLOBAL_AVGPOOL: {
        const bool global = layer->kind == LMN_LAYER_GLOBAL_AVGPOOL;
        const lmn_pool2d_params p = {
            .kind = layer->kind == LMN_LAYER_MAXPOOL ? LMN_POOL_MAX : LMN_POOL_AVG,
            .kernel_h = global ? in->h : layer->kernel_h, .kernel_w = global ? in->w : layer->kernel_w,
            .stride_h = global ? 1 : layer->stride, .stride_w = global ? 1 : layer->stride,
            .pad_h = global ? 0 : layer->pad, .pad_w = global ? 0 : layer->pad};
        LMN_TRY(be->pool2d_create(be, &p, in, &node->op, &node->out_desc, &workspace_bytes));
        return workspace_bytes ? lmn_alloc_bytes(&node->workspace, workspace_bytes, "pooling workspace")
                               : LMN_OK;
    }
    case LMN_LAYER_BATCHNORM: {
        const lmn_batchnorm_params p = {layer->epsilon, layer->relu};
        LMN_TRY(be->batchnorm_create(be, &p, in, &node->op, &node->out_desc));
        LMN_TRY(lmn_alloc_floats(&node->batch_mean, (size_t)in->c, "batch-norm mean"));
        return lmn_alloc_floats(&node->batch_var, (size_t)in->c, "batch-norm variance");
    }
    case LMN_LAYER_LINEAR: {
        const lmn_linear_params p = {layer->out, layer->bias, layer->relu};
        node->in_desc = lmn_act_dense(in->n, in->c, in->h, in->w);
        if (!is_dense(be, in))
            LMN_TRY(lmn_alloc_floats(&node->converted, node->in_desc.floats, "layout conversion"));
        return be->linear_create(be, &p, &node->in_desc, &node->op, &node->out_desc);
    }
    case LMN_LAYER_FLATTEN:
        node->in_desc = lmn_act_dense(in->n, in->c, in->h, in->w);
        node->out_desc = lmn_act_dense(in->n, in->c * in->h * in->w, 1, 1);
        return LMN_OK;
    case LMN_LAYER_ADD: {
        const lmn_act_desc *skip = producer_desc(plan, layer->skip);
        if (!be->same_layout(skip, in))
            LMN_TRY(lmn_alloc_floats(&node->converted, in->floats, "layout conversion"));
        return LMN_OK;
    }
    case LMN_LAYER_DROPOUT:
        return lmn_alloc_bytes((void **)&node->mask, in->floats, "dropout mask");
    case LMN_LAYER_RELU:
    case LMN_LAYER_KIND_COUNT:
        return LMN_OK;
    }
    return LMN_OK;
}

static lmn_status allocate_buffers(lmn_network *net, lmn_plan *plan)
{
    size_t largest = plan->input_desc.floats;
    for (int i = 0; i < net->spec.count; i++) {
        lmn_plan_node *node = &plan->nodes[i];
        LMN_TRY(lmn_alloc_floats(&node->y, node->out_desc.floats, "activations"));
        LMN_TRY(lmn_alloc_floats(&node->dy, node->out_desc.floats, "activation gradients"));
        if (node->out_desc.floats > largest) largest = node->out_desc.floats;
        if (node->in_desc.floats > largest) largest = node->in_desc.floats;
    }
    plan->scratch_floats = largest;
    LMN_TRY(lmn_alloc_floats(&plan->scratch, largest, "gradient scratch"));
    LMN_TRY(lmn_alloc_floats(&plan->scratch2, largest, "gradient scratch"));
    const lmn_plan_node *last = &plan->nodes[net->spec.count - 1];
    if (!is_dense(net->backend, &last->out_desc))
        LMN_TRY(lmn_alloc_floats(&plan->output, (size_t)plan->batch * (size_t)net->num_outputs,
                                 "network output"));
    return LMN_OK;
}

static lmn_status create_plan(lmn_network *net, int batch, lmn_plan *plan)
{
    plan->batch = batch;
    plan->input_desc = lmn_act_dense(batch, net->input_shape.c, net->input_shape.h,
                                     net->input_shape.w);
    plan->nodes = calloc((size_t)net->spec.count, sizeof *plan->nodes);
    if (!plan->nodes) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a network plan");
    for (int i = 0; i < net->spec.count; i++) {
        const lmn_status status = create_op(net, plan, i);
        if (status != LMN_OK)
            return lmn_fail_context(status, "layer '%s' (%s), batch %d", net->spec.layers[i].name,
                                    lmn_layer_kind_name(net->spec.layers[i].kind), batch);
    }
    return allocate_buffers(net, plan);
}

void lmn_plan_free(lmn_network *net, lmn_plan *plan)
{
    if (!plan) return;
    for (int i = 0; plan->nodes && i < net->spec.count; i++) {
        lmn_plan_node *node = &plan->nodes[i];
        if (node->op) net->backend->op_destroy(node->op);
        lmn_free(node->y);
        lmn_free(node->dy);
        lmn_free(node->converted);
        lmn_free(node->workspace);
        lmn_free(node->batch_mean);
        lmn_free(node->batch_var);
        lmn_free(node->mask);
    }
    free(plan->nodes);
    lmn_free(plan->output);
    lmn_free(plan->scratch);
    lmn_free(plan->scratch2);
    free(plan);
}

lmn_status lmn_plan_for_batch(lmn_network *net, int batch, lmn_plan **out)
{
    for (int i = 0; i < net->plan_count; i++) {
        if (net->plans[i]->batch == batch) {
            *out = net->plans[i];
            return LMN_OK;
        }
    }
    if (batch < 1) return lmn_fail(LMN_ERR_ARG, "batch size %d must be >= 1", batch);
    lmn_plan **grown = realloc(net->plans, sizeof *grown * (size_t)(net->plan_count + 1));
    lmn_plan *plan = calloc(1, sizeof *plan);
    if (!grown || !plan) {
        free(plan);
        if (grown) net->plans = grown;
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a network plan");
    }
    net->plans = grown;
    const lmn_status status = create_plan(net, batch, plan);
    if (status != LMN_OK) {
        lmn_plan_free(net, plan);
        return status;
    }
    net->plans[net->plan_count++] = plan;
    *out = plan;
    return LMN_OK;
}
