/* FedAvgM: the averaged client update is a pseudo-gradient for server
 * momentum (fl.server_lr, fl.server_momentum). */
#include "train/federated_internal.h"

static void momentum_update(fl_run *run, size_t begin, size_t end)
{
    const float beta = (float)run->fl->server_momentum, lr = (float)run->fl->server_lr;
    float *g = run->global, *m = run->server_m;
    const float *u = run->average;
    for (size_t i = begin; i < end; i++) {
        m[i] = beta * m[i] + (g[i] - u[i]);
        g[i] -= lr * m[i];
    }
}

const fl_aggregator lmn_fl_fedavgm = {
    .kind = LMN_AGG_FEDAVGM,
    .server_moments = 1,
    .round = lmn_fl_train_then_aggregate,
    .server_update = momentum_update,
};
