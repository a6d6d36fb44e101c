/* Federated-learning simulation (`lamina fl`, ALGORITHMS.md sections 7-9).
 *
 * Clients are data: a partition of the training set, a stream position
 * and, only where a method needs it, a little state. Each round the active
 * clients are spread over the ranks by id (client c lives on rank c mod P);
 * a rank trains its clients one after another on one network and adds
 * their weighted models into fixed-point sums, which one MPI_Allreduce per
 * run of scheduled tensors turns into the server model. Integer sums make
 * every metric identical whatever the number of ranks. */
#ifndef LMN_TRAIN_FEDERATED_H
#define LMN_TRAIN_FEDERATED_H

#include "train/trainer.h"

/* Runs fl.rounds rounds on a trainer made by lmn_trainer_create_federated.
 * On return the trainer's network holds the server model. Collective. */
lmn_status lmn_federated_run(lmn_trainer *trainer);

/* Like lmn_federated_run, continuing from a checkpoint when resume_from
 * is not NULL: a file, a directory (its newest valid checkpoint) or "auto"
 * (the output directory's, starting fresh when it has none). Writes a
 * checkpoint every fl.checkpoint_every rounds and after the last; a
 * SIGTERM / SIGUSR1 (train/stop.h) ends the run after the round in
 * progress, with a checkpoint, and sets trainer->stopped. Collective. */
lmn_status lmn_federated_run_from(lmn_trainer *trainer, const char *resume_from);

/* Prints the partition (per-client sizes and label histograms) on rank 0.
 * Collective only in that every rank may call it. */
lmn_status lmn_federated_describe_partition(lmn_trainer *trainer, FILE *out);

#endif
