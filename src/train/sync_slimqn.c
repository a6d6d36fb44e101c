/* SLIM-QN inside the sync policies (optim/slimqn.h). Its step needs the
 * averaged gradient of every layer at once, so the policies that defer or
 * split the update (overlap, multistep) finish all reductions first and
 * then take one step. Each rank steps its own slices, those multistep
 * updates; with allreduce and overlap the updated slices of the parameters
 * are then allgathered. */
#include <stdlib.h>

#include "core/timer.h"
#include "optim/slimqn.h"
#include "train/sync_internal.h"

/* Per layer, this rank's lmn_slice of the layer's range (multistep's
 * gradient path). */
static lmn_status layer_slices(lmn_sync *s)
{
    lmn_slimqn_span *spans = calloc((size_t)s->layers + 1, sizeof *spans);
    if (!spans) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the SLIM-QN slices");
    int count = 0;
    for (int i = 0; i < s->layers; i++) {
        size_t first, length;
        lmn_slice(lmn_sync_layer_size(s, i), s->comm->size, s->comm->rank, &first, &length);
        if (length > 0)
            spans[count++] = (lmn_slimqn_span){s->begin[i] + first, s->begin[i] + first + length};
    }
    const lmn_status status = lmn_slimqn_set_spans(s->optimizer, spans, count);
    free(spans);
    return status;
}

/* Every rank's slices of buffer (parameters or momentum) to every rank. */
static lmn_status gather_slices(lmn_sync *s, float *buffer)
{
    const double start = lmn_now();
    lmn_status status = LMN_OK;
    for (int i = 0; i < s->layers && status == LMN_OK; i++)
        if (lmn_sync_layer_size(s, i) > 0)
            status = lmn_allgather_slices(&s->reducer, buffer + s->begin[i], lmn_sync_layer_size(s, i));
    lmn_sync_charge_exposed(s, start);
    return status;
}

lmn_status lmn_sync_slimqn_update(lmn_sync *s, double lr)
{
    if (!lmn_slimqn_has_spans(s->optimizer->qn)) LMN_TRY(layer_slices(s));
    LMN_TRY(lmn_slimqn_step(s->optimizer, s->net->params, s->net->grads, lr, s->comm));
    if (s->comm->size > 1) LMN_TRY(gather_slices(s, s->net->params));
    lmn_optimizer_finish_step(s->optimizer);
    return LMN_OK;
}

lmn_status lmn_sync_slimqn_settle(lmn_sync *s)
{
    if (!s->optimizer->qn || s->comm->size == 1 || !lmn_slimqn_has_spans(s->optimizer->qn))
        return LMN_OK;
    return gather_slices(s, s->optimizer->velocity);
}
