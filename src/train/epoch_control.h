/* Epoch-level control of the batch size and the learning rate
 * (ALGORITHMS.md sections 5 and 6): a run-time batch schedule (fixed,
 * explicit per epoch, or adaptive on the training loss) and two-phase
 * large-batch training (a long large-lr phase, then lr decays each time the
 * training loss flattens).
 *
 * The controller is plain data and takes no part in communication: every
 * rank feeds it the same epoch losses and so every rank takes the same
 * decisions at the same epoch. The trainer asks it, before each epoch, for
 * the global batch size and a factor for the scheduled learning rate, and
 * tells it, after each epoch, the epoch's mean training loss.
 *
 * "Flat" means: the epoch's loss is not lower than the lowest epoch loss so
 * far by more than threshold x that lowest loss. The first epoch only sets
 * the reference. */
#ifndef LMN_TRAIN_EPOCH_CONTROL_H
#define LMN_TRAIN_EPOCH_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

struct lmn_train_settings;

enum { LMN_MAX_BATCH_PHASES = 64 };

typedef enum lmn_batch_schedule_kind {
    LMN_BATCH_FIXED,    /* train.batch_size throughout */
    LMN_BATCH_EXPLICIT, /* a list of {epoch, batch_size, lr} */
    LMN_BATCH_ADAPTIVE  /* grow when the training loss flattens */
} lmn_batch_schedule_kind;

typedef enum lmn_lr_scaling {
    LMN_LR_SCALING_LINEAR, /* lr x (batch / initial batch) */
    LMN_LR_SCALING_SQRT,   /* lr x sqrt(batch / initial batch) */
    LMN_LR_SCALING_NONE
} lmn_lr_scaling;

/* One entry of an explicit schedule: from `epoch` on (1-based, as in the
 * metrics), the global batch is batch_size and, if lr > 0, the base
 * learning rate is lr (else it stays what the previous entry set). */
typedef struct lmn_batch_phase {
    int epoch;
    int batch_size;
    double lr;
} lmn_batch_phase;

/* train.batch_schedule and train.batch_adaptive.* */
typedef struct lmn_batch_schedule {
    lmn_batch_schedule_kind kind;
    lmn_batch_phase phases[LMN_MAX_BATCH_PHASES]; /* explicit: epochs increasing */
    int phase_count;
    double threshold;   /* adaptive: relative loss improvement that counts */
    int patience;       /* adaptive: flat epochs before the batch grows */
    double factor;      /* adaptive: batch multiplier, > 1 */
    int max_batch_size; /* adaptive: the batch never grows past this */
    lmn_lr_scaling lr_scaling;
} lmn_batch_schedule;

/* optimizer.two_phase.* (used when optimizer.schedule is two_phase) */
typedef struct lmn_two_phase_settings {
    bool enabled;
    double threshold;  /* relative loss improvement that counts */
    int extra_epochs;  /* flat epochs phase 1 keeps going after the first one */
    double decay;      /* lr factor at each flattening in phase 2, in (0, 1) */
    double min_lr;     /* the decays stop here (an lr at the initial batch) */
} lmn_two_phase_settings;

/* Settings and state. Read the state fields for metrics; change them only
 * through the functions below. batch_size and batch_lr_factor are those of
 * the epoch of the last begin, or after an end those of the next epoch. */
typedef struct lmn_epoch_control {
    lmn_batch_schedule batch;
    lmn_two_phase_settings two_phase;
    int initial_batch_size; /* train.batch_size */
    double base_lr;         /* optimizer.lr */
    /* state */
    int batch_size;         /* global batch of the current epoch */
    double batch_lr_factor; /* from the batch schedule */
    double best_loss;       /* lowest epoch loss so far */
    int epochs_seen;        /* epoch losses reported so far */
    int batch_flat_epochs;  /* adaptive: flat epochs since the last growth */
    int phase;              /* two-phase: 1 or 2; 0 when not enabled */
    int phase_flat_epochs;  /* two-phase: consecutive flat epochs */
    double decay_factor;    /* two-phase: product of the decays so far */
} lmn_epoch_control;

/* The number of doubles lmn_epoch_control_save writes. */
enum { LMN_EPOCH_CONTROL_STATE = 7 };

/* Copies the settings from s (batch_size, batch_schedule, two_phase,
 * optimizer lr) and starts with the state of a fresh run. */
lmn_status lmn_epoch_control_init(lmn_epoch_control *c, const struct lmn_train_settings *s);

/* The largest global batch the run can use (buffers are sized for it). */
int lmn_epoch_control_max_batch_size(const lmn_epoch_control *c);

/* Before epoch `epoch` (0-based): the global batch size and the factor by
 * which the scheduled learning rate (lmn_lr_at) is multiplied. */
void lmn_epoch_control_begin(lmn_epoch_control *c, int epoch, int *batch_size, double *lr_factor);

/* After epoch `epoch` (0-based) with its mean training loss, the same on
 * every rank: grows the batch (adaptive), switches phase or decays the lr
 * (two-phase). True when epoch + 1 will run with another batch size, lr
 * factor or phase than this epoch, so the caller can log it. */
bool lmn_epoch_control_end(lmn_epoch_control *c, int epoch, double train_loss);

/* The state as LMN_EPOCH_CONTROL_STATE doubles, for checkpoints. */
void lmn_epoch_control_save(const lmn_epoch_control *c, double *state);
/* Restores a saved state into a controller initialised from the same
 * settings; LMN_ERR_FORMAT when the state cannot come from these settings
 * (say, a batch above max_batch_size: the configuration changed). */
lmn_status lmn_epoch_control_restore(lmn_epoch_control *c, const double *state);

/* "batch 256, lr x0.2, phase 2" for logs: the epoch of the last begin, or
 * after an end the epoch that follows it. */
void lmn_epoch_control_describe(const lmn_epoch_control *c, char *out, size_t capacity);

#endif
