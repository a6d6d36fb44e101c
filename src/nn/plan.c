/* Building per-batch-size plans: one backend op per layer, buffers sized
 * by the layouts the backend chose. */
#include "nn/plan.h"

#include <stdlib.h>
#include <string.h>

#include "core/memory.h"

lmn_act_desc lmn_plan_dense_like(const lmn_act_desc *desc)
{
    return desc->d > 0 ? lmn_act_dense3d(desc->n, desc->c, desc->d, desc->h, desc->w)
                       : lmn_act_dense(desc->n, desc->c, desc->h, desc->w);
}

static bool is_dense(const lmn_backend *be, const lmn_act_desc *desc)
{
    if (!desc->layout) return true;
    const lmn_act_desc dense = lmn_plan_dense_like(desc);
    return be->same_layout(desc, &dense);
}

static lmn_status create_pool3d(lmn_backend *be, const lmn_layer_spec *layer,
                                const lmn_act_desc *in, lmn_plan_node *node)
{
    const lmn_pool3d_params p = {
        .kind = layer->kind == LMN_LAYER_MAXPOOL3D ? LMN_POOL_MAX : LMN_POOL_AVG,
        .kernel_d = layer->kernel_d, .kernel_h = layer->kernel_h, .kernel_w = layer->kernel_w,
        .stride_d = layer->stride, .stride_h = layer->stride, .stride_w = layer->stride,
        .pad_d = layer->pad, .pad_h = layer->pad, .pad_w = layer->pad};
    size_t workspace_bytes = 0;
    LMN_TRY(be->pool3d_create(be, &p, in, &node->op, &node->out_desc, &workspace_bytes));
    return workspace_bytes ? lmn_alloc_bytes(&node->workspace, workspace_bytes, "pooling workspace")
                           : LMN_OK;
}

/* Linear layers read a dense input. A volume is handed to the op as the
 * [N, c*d*h*w] matrix it is in memory. */
static lmn_status create_linear(lmn_backend *be, const lmn_layer_spec *layer,
                                const lmn_act_desc *in, lmn_plan_node *node)
{
    const lmn_linear_params p = {layer->out, layer->bias, layer->relu};
    node->in_desc = lmn_plan_dense_like(in);
    if (!is_dense(be, in))
        LMN_TRY(lmn_alloc_floats(&node->converted, node->in_desc.floats, "layout conversion"));
    if (in->d == 0) return be->linear_create(be, &p, &node->in_desc, &node->op, &node->out_desc);
    const lmn_act_desc matrix = lmn_act_dense(in->n, (int)(lmn_act_elements(in) / (size_t)in->n), 1, 1);
    return be->linear_create(be, &p, &matrix, &node->op, &node->out_desc);
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
    case LMN_LAYER_CONV3D: {
        const lmn_conv3d_params p = {
            .out_channels = layer->out,
            .kernel_d = layer->kernel_d, .kernel_h = layer->kernel_h, .kernel_w = layer->kernel_w,
            .stride_d = layer->stride, .stride_h = layer->stride, .stride_w = layer->stride,
            .pad_d = layer->pad, .pad_h = layer->pad, .pad_w = layer->pad,
            .bias = layer->bias, .fuse_relu = layer->relu};
        return be->conv3d_create(be, &p, in, &node->op, &node->out_desc);
    }
    case LMN_LAYER_MAXPOOL3D:
    case LMN_LAYER_AVGPOOL3D:
        return create_pool3d(be, layer, in, node);
    case LMN_LAYER_UPSAMPLE: {
        const lmn_upsample_params p = {
            .kind = layer->mode == LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE ? LMN_UPSAMPLE_PIXEL_SHUFFLE
                                                                   : LMN_UPSAMPLE_NEAREST,
            .factor = layer->factor};
        return be->upsample_create(be, &p, in, &node->op, &node->out_desc);
    }
    case LMN_LAYER_LINEAR:
        return create_linear(be, layer, in, node);
    case LMN_LAYER_FLATTEN:
        node->in_desc = lmn_plan_dense_like(in);
        node->out_desc = lmn_act_dense(in->n, (int)(lmn_act_elements(in) / (size_t)in->n), 1, 1);
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
    case LMN_LAYER_LEAKY_RELU:
    case LMN_LAYER_SCALE:
    case LMN_LAYER_KIND_COUNT:
        return LMN_OK;
    }
    return LMN_OK;
}

/* Floats of the plan's largest activation, input included: the size of
 * each gradient scratch buffer. */
static size_t largest_activation(const lmn_network *net, const lmn_plan *plan)
{
    size_t largest = plan->input_desc.floats;
    for (int i = 0; i < net->spec.count; i++) {
        const lmn_plan_node *node = &plan->nodes[i];
        if (node->out_desc.floats > largest) largest = node->out_desc.floats;
        if (node->in_desc.floats > largest) largest = node->in_desc.floats;
    }
    return largest;
}

/* Bytes allocate_buffers will take for this plan's buffers (at most: the
 * network output copy is counted whether or not the layout needs it). */
static size_t plan_buffer_bytes(const lmn_network *net, const lmn_plan *plan)
{
    size_t floats = 2 * largest_activation(net, plan) + (size_t)plan->batch * (size_t)net->num_outputs;
    for (int i = 0; i < net->spec.count; i++) floats += 2 * plan->nodes[i].out_desc.floats;
    return floats * sizeof(float);
}

/* Checked before allocating: a batch too large for the node must fail with
 * the figure, not be killed by the kernel's OOM killer half-way through. */
static lmn_status take_from_budget(lmn_network *net, const lmn_plan *plan)
{
    const size_t needed = plan_buffer_bytes(net, plan), left = net->activation_budget_bytes;
    if (left == 0) return LMN_OK;
    if (needed > left)
        return lmn_fail(LMN_ERR_NOMEM, "a step with %d samples per rank needs %.2f GB for "
                        "activations and their gradients, more than the %.2f GB this rank has "
                        "left", plan->batch, (double)needed / 1e9, (double)left / 1e9);
    net->activation_budget_bytes = needed < left ? left - needed : 1; /* 0 would mean no limit */
    return LMN_OK;
}

static lmn_status allocate_buffers(lmn_network *net, lmn_plan *plan)
{
    LMN_TRY(take_from_budget(net, plan));
    for (int i = 0; i < net->spec.count; i++) {
        lmn_plan_node *node = &plan->nodes[i];
        LMN_TRY(lmn_alloc_floats(&node->y, node->out_desc.floats, "activations"));
        LMN_TRY(lmn_alloc_floats(&node->dy, node->out_desc.floats, "activation gradients"));
    }
    const size_t largest = largest_activation(net, plan);
    plan->scratch_floats = largest;
    LMN_TRY(lmn_alloc_floats(&plan->scratch, largest, "gradient scratch"));
    LMN_TRY(lmn_alloc_floats(&plan->scratch2, largest, "gradient scratch"));
    const lmn_plan_node *last = &plan->nodes[net->spec.count - 1];
    if (!is_dense(net->backend, &last->out_desc))
        LMN_TRY(lmn_alloc_floats(&plan->output, (size_t)plan->batch * (size_t)net->num_outputs,
                                 "network output"));
    return LMN_OK;
}

/* Number of layers that read each layer's output (input or skip). */
static lmn_status count_readers(const lmn_model_spec *spec, int **readers)
{
    *readers = calloc((size_t)spec->count, sizeof **readers);
    if (!*readers) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a network plan");
    for (int i = 0; i < spec->count; i++) {
        const lmn_layer_spec *layer = &spec->layers[i];
        if (layer->input != LMN_INPUT) (*readers)[layer->input]++;
        if (layer->kind == LMN_LAYER_ADD && layer->skip != LMN_INPUT) (*readers)[layer->skip]++;
    }
    return LMN_OK;
}

/* Marks every add whose only reader is the relu right after it. */
static lmn_status plan_fusions(const lmn_network *net, lmn_plan *plan)
{
    int *readers = NULL;
    LMN_TRY(count_readers(&net->spec, &readers));
    const lmn_layer_spec *layers = net->spec.layers;
    for (int i = 0; i + 1 < net->spec.count; i++) {
        const bool fusable = layers[i].kind == LMN_LAYER_ADD && !layers[i].relu &&
                             layers[i + 1].kind == LMN_LAYER_RELU && layers[i + 1].input == i &&
                             readers[i] == 1;
        plan->nodes[i].add_writes_relu = fusable;
        plan->nodes[i + 1].written_by_add = fusable;
    }
    free(readers);
    return LMN_OK;
}

static lmn_status create_plan(lmn_network *net, int batch, lmn_plan *plan)
{
    plan->batch = batch;
    const lmn_layer_shape in = net->input_shape;
    plan->input_desc = in.d > 0 ? lmn_act_dense3d(batch, in.c, in.d, in.h, in.w)
                                : lmn_act_dense(batch, in.c, in.h, in.w);
    plan->nodes = calloc((size_t)net->spec.count, sizeof *plan->nodes);
    if (!plan->nodes) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a network plan");
    for (int i = 0; i < net->spec.count; i++) {
        const lmn_status status = create_op(net, plan, i);
        if (status != LMN_OK)
            return lmn_fail_context(status, "layer '%s' (%s), batch %d", net->spec.layers[i].name,
                                    lmn_layer_kind_name(net->spec.layers[i].kind), batch);
    }
    LMN_TRY(plan_fusions(net, plan));
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
