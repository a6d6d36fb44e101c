/* add: the sum of its input and a second, earlier layer `skip` (residual
 * blocks; skip may be the network input, a global residual as in VDSR). */
#include <string.h>

#include "core/memory.h"
#include "kernels/elementwise.h"
#include "nn/layers/layer.h"

static lmn_status add_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_shape in = *shape, other = lmn_layer_input_shape(net, layer->skip);
    if (other.c == in.c && other.d == in.d && other.h == in.h && other.w == in.w) return LMN_OK;
    char what[200], a[64], b[64];
    lmn_layer_format_shape(a, sizeof a, in);
    lmn_layer_format_shape(b, sizeof b, other);
    snprintf(what, sizeof what, "cannot add a %s input to a %s skip input", a, b);
    return lmn_layer_error(layer, i, what);
}

/* The skip operand is converted to the input's layout when they differ. */
static lmn_status add_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_act_desc *skip = lmn_plan_producer_desc(plan, net->spec.layers[i].skip);
    if (!net->backend->same_layout(skip, &node->in_desc))
        LMN_TRY(lmn_alloc_floats(&node->converted, node->in_desc.floats, "layout conversion"));
    return LMN_OK;
}

static lmn_status add_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    lmn_backend *be = p->net->backend;
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    lmn_plan_node *node = &p->plan->nodes[i];
    const float *x = lmn_pass_activation(p, layer->input);
    const float *skip = lmn_pass_activation(p, layer->skip);
    if (node->converted) {
        LMN_TRY(be->reorder(be, lmn_pass_activation_desc(p, layer->skip), skip,
                            lmn_pass_activation_desc(p, layer->input), node->converted));
        skip = node->converted;
    }
    const lmn_elem_type elem = node->out_desc.elem;
    if (node->add_writes_relu)
        lmn_act_add_relu_forward(elem, x, skip, p->plan->nodes[i + 1].y, node->out_desc.floats);
    else
        lmn_act_add_forward(elem, x, skip, node->y, node->out_desc.floats);
    return LMN_OK;
}

/* The gradient of a sum reaches both operands unchanged. The first operand
 * takes the add's gradient buffer by swapping pointers (same layout, same
 * size) when it has none yet; the skip operand gets a copy. */
static lmn_status add_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    *dx_written = false;
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    lmn_plan_node *node = &p->plan->nodes[i];
    const int input = layer->input;
    if (input != LMN_INPUT && !p->plan->nodes[input].has_grad) {
        lmn_plan_node *target = &p->plan->nodes[input];
        float *taken = node->dy;
        node->dy = target->dy;
        target->dy = taken;
        target->has_grad = true;
        return lmn_pass_deliver(p, layer->skip, &node->out_desc, taken);
    }
    LMN_TRY(lmn_pass_deliver(p, input, &node->out_desc, node->dy));
    return lmn_pass_deliver(p, layer->skip, &node->out_desc, node->dy);
}

static const lmn_layer_key key_skip = {"skip", LMN_LAYER_KEY_LAYER, LMN_LAYER_FIELD(skip),
                                       .required = true,
                                       .help = "the layer to add: its name or 'input'"};

const lmn_layer_type lmn_layer_type_add = {
    .name = "add", .help = "input + skip (residual connections); images and volumes",
    .flags = LMN_LAYER_READS_SKIP | LMN_LAYER_READS_BF16,
    .keys = {&key_skip},
    .infer_shape = add_shape, .create_op = add_create,
    .forward = add_forward, .backward = add_backward,
};
