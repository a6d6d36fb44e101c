/* allreduce: the engine's synchronous SGD. After backward, one ordered
 * allreduce of the whole gradient, then the update. */
#include "core/timer.h"
#include "train/sync_internal.h"

static lmn_status init(lmn_sync *s)
{
    (void)s;
    return LMN_OK;
}

static lmn_status step(lmn_sync *s, double lr)
{
    lmn_network *net = s->net;
    const double start = lmn_now();
    const lmn_status status = lmn_allreduce(&s->reducer, net->grads, net->param_count);
    lmn_sync_charge_exposed(s, start);
    LMN_TRY(status);
    if (s->optimizer->qn) return lmn_sync_slimqn_update(s, lr);
    lmn_optimizer_update(s->optimizer, net->params, net->grads, lr, 0, net->param_count);
    lmn_optimizer_finish_step(s->optimizer);
    return LMN_OK;
}

static lmn_layer_traffic traffic(const lmn_sync *s, int layer, int global_batch)
{
    (void)global_batch;
    lmn_layer_traffic traffic = {"gradient allreduce",
                                 lmn_sync_allreduce_bytes(s, (double)lmn_sync_layer_size(s, layer),
                                                          s->comm->size)};
    return traffic;
}

const lmn_sync_policy lmn_sync_allreduce_policy = {
    .init = init, .step = step, .settle = lmn_sync_slimqn_settle, .traffic = traffic};
