#ifndef LMN_TRAIN_MEMORY_BUDGET_H
#define LMN_TRAIN_MEMORY_BUDGET_H

#include "train/trainer.h"

/* Sets the network's buffer budget from train.max_memory_gb (default: the
 * node's memory divided by its ranks, minus what this rank already holds)
 * and builds the plans of the training step (local_batch samples) and of
 * evaluation, so that a batch that cannot fit fails here, naming the
 * figures, before a run directory is touched. Later plans draw on what is
 * left. */
lmn_status lmn_trainer_reserve_memory(lmn_trainer *t, int local_batch);

#endif
