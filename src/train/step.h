/* The core of a training step, the one place where forward, loss and
 * backward meet: data-parallel steps (trainer.c), federated client steps
 * (federated.c) and the simulator's profile (simulate.c) all call it; what
 * follows it differs (the sync policy, the aggregator's gradient hook and a
 * local update, or nothing: the profile only times the passes). */
#ifndef LMN_TRAIN_STEP_H
#define LMN_TRAIN_STEP_H

#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "nn/network.h"
#include "train/task.h"

struct lmn_trainer;

/* A gathered batch: the samples' dataset indices (regression targets are
 * looked up by them; may be NULL for classification), inputs and labels. */
typedef struct lmn_step_batch {
    const uint32_t *indices;
    const float *images;
    const int32_t *labels;
    int count;
} lmn_step_batch;

/* What a step trains and how it scores it: the network, the task's loss,
 * the set the regression targets come from (NULL for classification) with
 * a buffer for a batch of them, and the buffer for the output gradient
 * (batch capacity x outputs each). */
typedef struct lmn_step_model {
    lmn_network *net;
    const lmn_task *task;
    const lmn_dataset *target_set;
    float *targets;
    float *dout;
} lmn_step_model;

/* The trainer's network, task, training set and buffers. */
lmn_step_model lmn_step_model_of(struct lmn_trainer *t);

/* Forward in training mode (noise keys dropout and other random layers),
 * the task's loss with gradients scaled by grad_scale, backward: leaves
 * the gradient in model->net->grads, the batch's loss sum in *loss and its
 * hits (classification) in *correct. A non-finite loss is returned as it
 * is (the caller reports divergence). */
lmn_status lmn_step_gradient(const lmn_step_model *model, const lmn_step_batch *batch,
                             float grad_scale, uint64_t noise, double *loss, double *correct);

#endif
