#include "optim/schedule.h"

#include <math.h>
#include <stddef.h>

static const char *const schedule_names[] = {"constant", "step", "cosine", "two_phase", NULL};

const char *const *lmn_lr_schedule_names(void) { return schedule_names; }

double lmn_lr_at(const lmn_lr_schedule *s, int64_t step, int64_t steps_per_epoch)
{
    const double per_epoch = steps_per_epoch > 0 ? (double)steps_per_epoch : 1.0;
    const double epoch = (double)step / per_epoch;
    /* Warm-up counts the current step as done so the first update is not 0. */
    if (s->warmup_epochs > 0.0 && epoch < s->warmup_epochs)
        return s->base_lr * ((double)step + 1.0) / (s->warmup_epochs * per_epoch);
    switch (s->kind) {
    case LMN_LR_CONSTANT:
    case LMN_LR_TWO_PHASE:
        return s->base_lr;
    case LMN_LR_STEP: {
        double lr = s->base_lr;
        const double whole_epoch = floor(epoch);
        for (int m = 0; m < s->milestone_count; m++)
            if (whole_epoch >= s->milestones[m]) lr *= s->gamma;
        return lr;
    }
    case LMN_LR_COSINE: {
        const double span = s->total_epochs - s->warmup_epochs;
        double progress = span > 0.0 ? (epoch - s->warmup_epochs) / span : 1.0;
        if (progress > 1.0) progress = 1.0;
        return s->min_lr + (s->base_lr - s->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress));
    }
    }
    return s->base_lr;
}
