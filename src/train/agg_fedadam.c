/* FedAdam: Adam on the server with the averaged client update as the
 * gradient (fl.server_lr, fl.server_betas, fl.server_epsilon). */
#include <math.h>

#include "train/federated_internal.h"

static void adam_update(fl_run *run, size_t begin, size_t end)
{
    const lmn_fl_settings *fl = run->fl;
    const float b1 = (float)fl->server_beta1, b2 = (float)fl->server_beta2;
    const float lr = (float)fl->server_lr, eps = (float)fl->server_epsilon;
    float *g = run->global, *m = run->server_m, *v = run->server_v;
    const float *u = run->average;
    for (size_t i = begin; i < end; i++) {
        const float delta = g[i] - u[i];
        m[i] = b1 * m[i] + (1.0f - b1) * delta;
        v[i] = b2 * v[i] + (1.0f - b2) * delta * delta;
        g[i] -= lr * m[i] / (sqrtf(v[i]) + eps);
    }
}

const fl_aggregator lmn_fl_fedadam = {
    .kind = LMN_AGG_FEDADAM,
    .server_moments = 2,
    .round = lmn_fl_train_then_aggregate,
    .server_update = adam_update,
};
