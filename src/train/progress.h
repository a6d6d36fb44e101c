/* Rank 0's progress display: a live bar redrawn in place on a terminal,
 * one plain line per epoch otherwise (logs, mpirun pipes). */
#ifndef LMN_TRAIN_PROGRESS_H
#define LMN_TRAIN_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "train/task.h"

typedef struct lmn_progress {
    FILE *stream;
    bool live;           /* stream is a terminal */
    double last_draw;    /* time of the last redraw */
    double run_start;
    /* Regression runs show the loss and the task's latest test metrics
     * (MSE, PSNR) instead of accuracies; NULL or classification: accuracy. */
    const lmn_task *task;
    const lmn_task_scores *scores;
} lmn_progress;

typedef struct lmn_epoch_summary {
    int epoch, epochs;
    double train_loss, train_acc;
    double test_loss, test_acc; /* negative when not evaluated */
    double images_per_second;
    double seconds;             /* this epoch */
    double eta_seconds;         /* remaining, estimated */
} lmn_epoch_summary;

void lmn_progress_start(lmn_progress *p, FILE *stream);
/* Redraws the bar (at most ~4 times a second) during an epoch. */
void lmn_progress_step(lmn_progress *p, int epoch, int epochs, int64_t step, int64_t steps,
                       double loss, double acc, double images_per_second, double eta_seconds);
/* Prints the epoch's final line. */
void lmn_progress_epoch(lmn_progress *p, const lmn_epoch_summary *s);

#endif
