/* Building per-batch-size plans: one backend op per layer, buffers sized
 * by the layouts the backend chose. */
#include "nn/plan.h"

#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "nn/layers/layer.h"

lmn_act_desc lmn_plan_dense_like(const lmn_act_desc *desc)
{
    return desc->d > 0 ? lmn_act_dense3d(desc->n, desc->c, desc->d, desc->h, desc->w)
                       : lmn_act_dense(desc->n, desc->c, desc->h, desc->w);
}

bool lmn_plan_is_dense(const lmn_backend *be, const lmn_act_desc *desc)
{
    if (!desc->layout) return true;
    const lmn_act_desc dense = lmn_plan_dense_like(desc);
    return be->same_layout(desc, &dense);
}

const lmn_act_desc *lmn_plan_producer_desc(const lmn_plan *plan, int input)
{
    return input == LMN_INPUT ? &plan->input_desc : &plan->nodes[input].out_desc;
}

/* The node starts as a pass-through of its input; the kind makes its op. */
static lmn_status create_op(lmn_network *net, lmn_plan *plan, int i)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_act_desc *in = lmn_plan_producer_desc(plan, layer->input);
    const lmn_layer_type *type = lmn_layer_type_of(layer->kind);
    const bool needs_copy = in->elem == LMN_ELEM_BF16 && !(type->flags & LMN_LAYER_READS_BF16);
    node->in_desc = needs_copy ? lmn_plan_dense_like(in) : *in;
    node->out_desc = node->in_desc;
    if (needs_copy)
        LMN_TRY(lmn_alloc_floats(&node->input_copy, node->in_desc.floats, "fp32 input copy"));
    return type->create_op ? type->create_op(net, plan, i) : LMN_OK;
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
    for (int i = 0; i < net->spec.count; i++) {
        const lmn_plan_node *node = &plan->nodes[i];
        floats += 2 * node->out_desc.floats + (node->input_copy ? node->in_desc.floats : 0);
    }
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
    if (!lmn_plan_is_dense(net->backend, &last->out_desc))
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
        const bool reads_skip = lmn_layer_type_of(layer->kind)->flags & LMN_LAYER_READS_SKIP;
        if (reads_skip && layer->skip != LMN_INPUT) (*readers)[layer->skip]++;
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
        lmn_free(node->input_copy);
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
