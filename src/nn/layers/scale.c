/* scale: y = factor * x (EDSR's residual scaling). */
#include <math.h>

#include "kernels/elementwise.h"
#include "nn/layers/layer.h"

static lmn_status scale_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    if (!isfinite(layer->scale)) return lmn_layer_error(layer, i, "factor must be a finite number");
    return LMN_OK;
}

static lmn_status scale_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    lmn_plan_node *node = &p->plan->nodes[i];
    lmn_act_scale(node->out_desc.elem, lmn_pass_input(p, i), node->y, node->out_desc.floats,
                  layer->scale);
    return LMN_OK;
}

static lmn_status scale_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    const lmn_plan_node *node = &p->plan->nodes[i];
    lmn_act_scale(node->out_desc.elem, node->dy, dx, node->out_desc.floats,
                  p->net->spec.layers[i].scale);
    return LMN_OK;
}

/* No default: a scale layer without a factor would do nothing. */
static const lmn_layer_key key_factor = {"factor", LMN_LAYER_KEY_FLOAT, LMN_LAYER_FIELD(scale),
                                         .required = true, .help = "the multiplier"};

const lmn_layer_type lmn_layer_type_scale = {
    .name = "scale", .help = "y = factor * x (residual scaling); images and volumes",
    .flags = LMN_LAYER_READS_BF16,
    .keys = {&key_factor},
    .infer_shape = scale_shape,
    .forward = scale_forward, .backward = scale_backward,
};
