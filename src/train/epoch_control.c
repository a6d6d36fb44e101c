#include "train/epoch_control.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/settings.h"

lmn_status lmn_epoch_control_init(lmn_epoch_control *c, const lmn_train_settings *s)
{
    memset(c, 0, sizeof *c);
    c->batch = s->batch_schedule;
    c->two_phase = s->two_phase;
    c->initial_batch_size = s->batch_size;
    c->base_lr = s->schedule.base_lr;
    if (c->initial_batch_size < 1 || !(c->base_lr > 0.0))
        return lmn_fail(LMN_ERR_ARG, "epoch control: batch size %d and lr %g must be positive",
                        c->initial_batch_size, c->base_lr);
    if (c->batch.kind == LMN_BATCH_EXPLICIT && c->batch.phase_count < 1)
        return lmn_fail(LMN_ERR_ARG, "epoch control: an explicit batch schedule without entries");
    if (c->batch.kind == LMN_BATCH_ADAPTIVE &&
        (!(c->batch.factor > 1.0) || c->batch.max_batch_size < c->initial_batch_size))
        return lmn_fail(LMN_ERR_ARG, "epoch control: adaptive factor %g must be > 1 and the "
                        "largest batch %d at least %d", c->batch.factor, c->batch.max_batch_size,
                        c->initial_batch_size);
    c->batch_size = c->initial_batch_size;
    c->batch_lr_factor = 1.0;
    c->phase = c->two_phase.enabled ? 1 : 0;
    c->decay_factor = 1.0;
    return LMN_OK;
}

int lmn_epoch_control_max_batch_size(const lmn_epoch_control *c)
{
    switch (c->batch.kind) {
    case LMN_BATCH_FIXED:
        break;
    case LMN_BATCH_EXPLICIT: {
        int largest = c->batch.phases[0].epoch > 1 ? c->initial_batch_size : 1;
        for (int p = 0; p < c->batch.phase_count; p++)
            if (c->batch.phases[p].batch_size > largest) largest = c->batch.phases[p].batch_size;
        return largest;
    }
    case LMN_BATCH_ADAPTIVE:
        return c->batch.max_batch_size;
    }
    return c->initial_batch_size;
}

static double scaled_lr_factor(lmn_lr_scaling scaling, int batch, int initial)
{
    const double ratio = (double)batch / (double)initial;
    switch (scaling) {
    case LMN_LR_SCALING_LINEAR: return ratio;
    case LMN_LR_SCALING_SQRT: return sqrt(ratio);
    case LMN_LR_SCALING_NONE: break;
    }
    return 1.0;
}

/* What the batch schedule prescribes for `epoch` (0-based) in the current
 * state: an explicit schedule is a function of the epoch alone, an adaptive
 * one of the batch it has grown to. */
static void batch_for_epoch(const lmn_epoch_control *c, int epoch, int *batch_out,
                            double *lr_factor_out)
{
    int batch = c->initial_batch_size;
    double lr_factor = 1.0;
    if (c->batch.kind == LMN_BATCH_EXPLICIT) {
        for (int p = 0; p < c->batch.phase_count && c->batch.phases[p].epoch <= epoch + 1; p++) {
            batch = c->batch.phases[p].batch_size;
            if (c->batch.phases[p].lr > 0.0) lr_factor = c->batch.phases[p].lr / c->base_lr;
        }
    } else if (c->batch.kind == LMN_BATCH_ADAPTIVE) {
        batch = c->batch_size;
        lr_factor = scaled_lr_factor(c->batch.lr_scaling, c->batch_size, c->initial_batch_size);
    }
    *batch_out = batch;
    *lr_factor_out = lr_factor;
}

void lmn_epoch_control_begin(lmn_epoch_control *c, int epoch, int *batch_size, double *lr_factor)
{
    batch_for_epoch(c, epoch, &c->batch_size, &c->batch_lr_factor);
    *batch_size = c->batch_size;
    *lr_factor = c->batch_lr_factor * c->decay_factor;
}

/* Whether `loss` is flat against the lowest loss before it. */
static bool is_flat(const lmn_epoch_control *c, double threshold, double loss)
{
    return !(c->best_loss - loss > threshold * fabs(c->best_loss));
}

static void grow_batch(lmn_epoch_control *c, bool flat)
{
    c->batch_flat_epochs = flat ? c->batch_flat_epochs + 1 : 0;
    if (c->batch_flat_epochs < c->batch.patience || c->batch_size >= c->batch.max_batch_size) return;
    const double grown = ceil((double)c->batch_size * c->batch.factor);
    c->batch_size = grown < (double)c->batch.max_batch_size ? (int)grown : c->batch.max_batch_size;
    c->batch_flat_epochs = 0;
}

static void decay_lr(lmn_epoch_control *c)
{
    const double floor_factor = c->two_phase.min_lr / c->base_lr;
    const double decayed = c->decay_factor * c->two_phase.decay;
    c->decay_factor = decayed > floor_factor ? decayed : fmin(c->decay_factor, floor_factor);
}

/* Phase 1 outlasts the first flat epoch by extra_epochs flat epochs (an
 * improvement starts the count again); the switch is the first decay, and
 * every flat epoch of phase 2 decays once more. */
static void advance_two_phase(lmn_epoch_control *c, bool flat)
{
    c->phase_flat_epochs = flat ? c->phase_flat_epochs + 1 : 0;
    const int needed = c->phase == 1 ? c->two_phase.extra_epochs + 1 : 1;
    if (c->phase_flat_epochs < needed) return;
    c->phase = 2;
    c->phase_flat_epochs = 0;
    decay_lr(c);
}

bool lmn_epoch_control_end(lmn_epoch_control *c, int epoch, double train_loss)
{
    int batch_before = 0, batch_after = 0;
    double factor_before = 0.0, factor_after = 0.0;
    batch_for_epoch(c, epoch, &batch_before, &factor_before);
    factor_before *= c->decay_factor;
    const int phase_before = c->phase;

    if (c->epochs_seen > 0) {
        if (c->batch.kind == LMN_BATCH_ADAPTIVE)
            grow_batch(c, is_flat(c, c->batch.threshold, train_loss));
        if (c->two_phase.enabled) advance_two_phase(c, is_flat(c, c->two_phase.threshold, train_loss));
    }
    if (c->epochs_seen == 0 || train_loss < c->best_loss) c->best_loss = train_loss;
    c->epochs_seen++;

    batch_for_epoch(c, epoch + 1, &c->batch_size, &c->batch_lr_factor);
    batch_after = c->batch_size;
    factor_after = c->batch_lr_factor * c->decay_factor;
    return batch_after != batch_before || factor_after != factor_before || c->phase != phase_before;
}

void lmn_epoch_control_save(const lmn_epoch_control *c, double *state)
{
    state[0] = c->batch_size;
    state[1] = c->best_loss;
    state[2] = c->epochs_seen;
    state[3] = c->batch_flat_epochs;
    state[4] = c->phase;
    state[5] = c->phase_flat_epochs;
    state[6] = c->decay_factor;
}

static bool is_count(double value, double max)
{
    return value >= 0.0 && value <= max && value == floor(value);
}

lmn_status lmn_epoch_control_restore(lmn_epoch_control *c, const double *state)
{
    const double batch = state[0], best = state[1], seen = state[2], batch_flat = state[3];
    const double phase = state[4], phase_flat = state[5], decay = state[6];
    const bool counts = is_count(batch, 1 << 30) && batch >= 1.0 && is_count(seen, 1 << 30) &&
                        is_count(batch_flat, 1 << 30) && is_count(phase, 2) &&
                        is_count(phase_flat, 1 << 30);
    if (!counts || (seen > 0 && isnan(best)) || !(decay > 0.0 && decay <= 1.0))
        return lmn_fail(LMN_ERR_FORMAT, "epoch control state is malformed: batch %g, best loss %g, "
                        "epochs %g, flat epochs %g, phase %g, flat epochs %g, decay %g",
                        batch, best, seen, batch_flat, phase, phase_flat, decay);
    if (c->batch.kind == LMN_BATCH_ADAPTIVE && batch > c->batch.max_batch_size)
        return lmn_fail(LMN_ERR_FORMAT, "the checkpoint's batch size %g is above "
                        "train.batch_adaptive.max_batch_size %d: the configuration changed",
                        batch, c->batch.max_batch_size);
    c->batch_size = (int)batch;
    c->best_loss = best;
    c->epochs_seen = (int)seen;
    c->batch_flat_epochs = (int)batch_flat;
    /* A state saved without two-phase training starts it in phase 1. */
    const bool had_two_phase = phase > 0.0;
    c->phase = !c->two_phase.enabled ? 0 : had_two_phase ? (int)phase : 1;
    c->phase_flat_epochs = c->two_phase.enabled && had_two_phase ? (int)phase_flat : 0;
    c->decay_factor = c->two_phase.enabled && had_two_phase ? decay : 1.0;
    return LMN_OK;
}

void lmn_epoch_control_describe(const lmn_epoch_control *c, char *out, size_t capacity)
{
    const int written = snprintf(out, capacity, "batch %d, lr x%g", c->batch_size,
                                 c->batch_lr_factor * c->decay_factor);
    if (c->phase > 0 && written >= 0 && (size_t)written < capacity)
        snprintf(out + written, capacity - (size_t)written, ", phase %d", c->phase);
}
