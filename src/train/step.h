/* The core of a training step, the one place where forward, loss and
 * backward meet: data-parallel steps (trainer.c) and federated client
 * steps (federated.c) both call it; what follows it differs (the sync
 * policy, or the aggregator's gradient hook and a local update). */
#ifndef LMN_TRAIN_STEP_H
#define LMN_TRAIN_STEP_H

#include <stdint.h>

#include "core/status.h"

struct lmn_trainer;

/* A gathered batch: the samples' dataset indices (regression targets are
 * looked up by them), inputs and labels. */
typedef struct lmn_step_batch {
    const uint32_t *indices;
    const float *images;
    const int32_t *labels;
    int count;
} lmn_step_batch;

/* Forward in training mode (noise keys dropout and other random layers),
 * the task's loss with gradients scaled by grad_scale, backward: leaves
 * the gradient in t->net->grads, the batch's loss sum in *loss and its
 * hits (classification) in *correct. */
lmn_status lmn_step_gradient(struct lmn_trainer *t, const lmn_step_batch *batch, float grad_scale,
                             uint64_t noise, double *loss, double *correct);

#endif
