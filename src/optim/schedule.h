/* Learning-rate schedules as a pure function of the training position. */
#ifndef LMN_OPTIM_SCHEDULE_H
#define LMN_OPTIM_SCHEDULE_H

#include <stdint.h>

/* LMN_LR_TWO_PHASE is constant here: the trainer's epoch control
 * (train/epoch_control.h) multiplies it by factors chosen at run time. */
typedef enum lmn_lr_kind {
    LMN_LR_CONSTANT,
    LMN_LR_STEP,
    LMN_LR_COSINE,
    LMN_LR_TWO_PHASE
} lmn_lr_kind;

enum { LMN_MAX_MILESTONES = 16 };

typedef struct lmn_lr_schedule {
    lmn_lr_kind kind;
    double base_lr;
    double gamma;                          /* step: factor at each milestone */
    double milestones[LMN_MAX_MILESTONES]; /* step: epochs (0-based) where lr *= gamma */
    int milestone_count;
    double min_lr;        /* cosine: floor */
    double total_epochs;  /* cosine: length of the decay */
    double warmup_epochs; /* linear warm-up from ~0 to base_lr first */
} lmn_lr_schedule;

/* Learning rate for the update that completes step `step` (0-based) of
 * training, with steps_per_epoch steps in an epoch. */
double lmn_lr_at(const lmn_lr_schedule *schedule, int64_t step, int64_t steps_per_epoch);

/* Names accepted by configuration ("constant", "step", "cosine", "two_phase"). */
const char *const *lmn_lr_schedule_names(void);

#endif
