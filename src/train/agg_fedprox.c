/* FedProx: FedAvg whose clients minimise loss + mu/2 ||w - w_server||^2,
 * which keeps heterogeneous clients near the server model. */
#include "train/federated_internal.h"

static void add_proximal_gradient(fl_run *run)
{
    lmn_network *net = run->t->net;
    const float mu = (float)run->fl->mu;
    for (size_t i = 0; i < net->param_count; i++) net->grads[i] += mu * (net->params[i] - run->global[i]);
}

const fl_aggregator lmn_fl_fedprox = {
    .kind = LMN_AGG_FEDPROX,
    .round = lmn_fl_train_then_aggregate,
    .adjust_gradient = add_proximal_gradient,
    .server_update = lmn_fl_server_average,
};
