/* See step.h. */
#include "train/step.h"

#include "train/task.h"
#include "train/trainer.h"

lmn_status lmn_step_gradient(struct lmn_trainer *t, const lmn_step_batch *batch, float grad_scale,
                             uint64_t noise, double *loss, double *correct)
{
    const float *logits = NULL;
    LMN_TRY(lmn_network_forward(t->net, batch->count, batch->images, true, noise, &logits));
    LMN_TRY(lmn_task_batch_loss(t, batch->indices, batch->count, logits, batch->labels, grad_scale,
                                loss, correct));
    return lmn_network_backward(t->net, t->dlogits);
}
