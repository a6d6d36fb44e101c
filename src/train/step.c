/* See step.h. */
#include "train/step.h"

#include "train/trainer.h"

lmn_step_model lmn_step_model_of(struct lmn_trainer *t)
{
    return (lmn_step_model){.net = t->net, .task = &t->settings.task, .target_set = t->train_set,
                            .targets = t->targets, .dout = t->dlogits};
}

lmn_status lmn_step_gradient(const lmn_step_model *model, const lmn_step_batch *batch,
                             float grad_scale, uint64_t noise, double *loss, double *correct)
{
    lmn_network *net = model->net;
    const float *outputs = NULL;
    LMN_TRY(lmn_network_forward(net, batch->count, batch->images, true, noise, &outputs));
    const float *targets = NULL;
    if (model->task->kind == LMN_TASK_REGRESSION) {
        LMN_TRY(lmn_dataset_gather_targets(model->target_set, batch->indices, batch->count,
                                           model->targets));
        targets = model->targets;
    }
    int64_t hits = 0;
    *loss = lmn_task_loss(model->task, outputs, batch->labels, targets, batch->count,
                          net->num_outputs, grad_scale, model->dout, &hits);
    *correct = (double)hits;
    return lmn_network_backward(net, model->dout);
}
