#include "nn/layer_io.h"

#include "nn/plan.h"

lmn_status lmn_network_linear_io(const lmn_network *net, int layer, const float **x,
                                 const float **dy, int *batch)
{
    const lmn_plan *plan = net->last_forward;
    if (!plan || layer < 0 || layer >= net->spec.count ||
        net->spec.layers[layer].kind != LMN_LAYER_LINEAR)
        return lmn_fail(LMN_ERR_INTERNAL, "layer %d is not a linear layer of the last training pass",
                        layer);
    const lmn_plan_node *node = &plan->nodes[layer];
    const int input = net->spec.layers[layer].input;
    *x = node->converted ? node->converted
                         : input == LMN_INPUT ? plan->last_input : plan->nodes[input].y;
    *dy = node->dy;
    *batch = plan->batch;
    return LMN_OK;
}
