/* dropout: zeroes each value with probability `rate` in training and
 * scales the rest by 1 / (1 - rate); the mask is keyed by the network seed,
 * the step's noise key and the layer, so every rank draws the same. */
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "kernels/elementwise.h"
#include "nn/layers/layer.h"

static lmn_status dropout_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    if (!(layer->rate >= 0.0f && layer->rate < 1.0f))
        return lmn_layer_error(layer, i, "dropout rate must be in [0, 1)");
    return LMN_OK;
}

static lmn_status dropout_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_plan_node *node = &plan->nodes[i];
    return lmn_alloc_bytes((void **)&node->mask, node->in_desc.floats, "dropout mask");
}

static lmn_status dropout_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    lmn_plan_node *node = &p->plan->nodes[i];
    const float *x = lmn_pass_input(p, i);
    if (training && layer->rate > 0.0f)
        lmn_dropout_forward(x, node->y, node->mask, node->out_desc.floats, layer->rate,
                            p->net->seed, lmn_rng_stream_id(noise_key, (uint64_t)i));
    else
        memcpy(node->y, x, node->out_desc.floats * sizeof(float));
    return LMN_OK;
}

static lmn_status dropout_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    const lmn_plan_node *node = &p->plan->nodes[i];
    if (layer->rate > 0.0f)
        lmn_dropout_backward(node->dy, node->mask, dx, node->out_desc.floats, layer->rate);
    else
        memcpy(dx, node->dy, node->out_desc.floats * sizeof(float));
    return LMN_OK;
}

static const lmn_layer_key key_rate = {"rate", LMN_LAYER_KEY_FLOAT, LMN_LAYER_FIELD(rate), 0.0,
                                       0.999, .help = "probability of dropping a value"};

const lmn_layer_type lmn_layer_type_dropout = {
    .name = "dropout", .help = "inverted dropout in training, identity in evaluation",
    .keys = {&key_rate},
    .infer_shape = dropout_shape, .create_op = dropout_create,
    .forward = dropout_forward, .backward = dropout_backward,
};
