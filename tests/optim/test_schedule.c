/* Learning-rate schedules: values at the steps where they change, on
 * both sides of epoch boundaries, and with linear warm-up in front. */
#include <math.h>
#include <string.h>

#include "optim/schedule.h"
#include "test.h"

enum { STEPS_PER_EPOCH = 10 };

static const double PI = 3.14159265358979323846;

static lmn_lr_schedule schedule(lmn_lr_kind kind)
{
    lmn_lr_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.base_lr = 0.4;
    s.gamma = 0.1;
    s.total_epochs = 8;
    return s;
}

static double lr(const lmn_lr_schedule *s, int64_t step) { return lmn_lr_at(s, step, STEPS_PER_EPOCH); }

static void check_constant(void)
{
    const lmn_lr_schedule s = schedule(LMN_LR_CONSTANT);
    const int64_t steps[] = {0, 1, 9, 10, 11, 79, 80, 1000000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) CHECK(lr(&s, steps[i]) == 0.4);
}

/* two_phase is constant (with warm-up): its factors come from the trainer. */
static void check_two_phase(void)
{
    lmn_lr_schedule s = schedule(LMN_LR_TWO_PHASE);
    CHECK(lr(&s, 0) == 0.4);
    CHECK(lr(&s, 1000000) == 0.4);
    s.warmup_epochs = 1;
    CHECK_CLOSE(lr(&s, 4), 0.4 * 5 / 10, 1e-12);
    CHECK(lr(&s, 10) == 0.4);
}

static void check_step(void)
{
    lmn_lr_schedule s = schedule(LMN_LR_STEP);
    s.milestones[0] = 2;
    s.milestones[1] = 4;
    s.milestone_count = 2;
    /* Epoch e covers steps [10 e, 10 e + 10); the factor applies from the
     * first step of the milestone epoch. */
    CHECK_CLOSE(lr(&s, 0), 0.4, 1e-12);
    CHECK_CLOSE(lr(&s, 10), 0.4, 1e-12);
    CHECK_CLOSE(lr(&s, 19), 0.4, 1e-12);
    CHECK_CLOSE(lr(&s, 20), 0.04, 1e-12);
    CHECK_CLOSE(lr(&s, 39), 0.04, 1e-12);
    CHECK_CLOSE(lr(&s, 40), 0.004, 1e-12);
    CHECK_CLOSE(lr(&s, 1000), 0.004, 1e-12);
    /* The epoch is counted in whole steps, whatever steps_per_epoch is. */
    CHECK_CLOSE(lmn_lr_at(&s, 5, 3), 0.4, 1e-12);  /* epoch 1.67 */
    CHECK_CLOSE(lmn_lr_at(&s, 6, 3), 0.04, 1e-12); /* epoch 2 */
    CHECK_CLOSE(lmn_lr_at(&s, 11, 3), 0.04, 1e-12);
    CHECK_CLOSE(lmn_lr_at(&s, 12, 3), 0.004, 1e-12);
    /* Milestones need not be listed in order. */
    s.milestones[0] = 4;
    s.milestones[1] = 2;
    CHECK_CLOSE(lr(&s, 25), 0.04, 1e-12);
    CHECK_CLOSE(lr(&s, 45), 0.004, 1e-12);
}

static void check_cosine(void)
{
    lmn_lr_schedule s = schedule(LMN_LR_COSINE);
    s.min_lr = 0.01;
    CHECK_CLOSE(lr(&s, 0), 0.4, 1e-12);
    CHECK_CLOSE(lr(&s, 40), (0.4 + 0.01) / 2, 1e-12); /* half-way through 8 epochs */
    CHECK_CLOSE(lr(&s, 80), 0.01, 1e-12);
    CHECK_CLOSE(lr(&s, 500), 0.01, 1e-12); /* stays at the floor after the end */
    CHECK_CLOSE(lr(&s, 20), 0.01 + 0.39 * 0.5 * (1 + cos(PI / 4)), 1e-12);
    for (int64_t step = 1; step <= 80; step++)
        CHECK_MSG(lr(&s, step) < lr(&s, step - 1), "cosine does not decrease at step %lld",
                  (long long)step);
}

static void check_warmup(void)
{
    lmn_lr_schedule s = schedule(LMN_LR_CONSTANT);
    s.warmup_epochs = 2;
    /* 20 warm-up steps: step t uses base * (t + 1) / 20. */
    CHECK_CLOSE(lr(&s, 0), 0.4 / 20, 1e-12);
    CHECK_CLOSE(lr(&s, 9), 0.4 * 10 / 20, 1e-12);
    CHECK_CLOSE(lr(&s, 19), 0.4, 1e-12);
    CHECK_CLOSE(lr(&s, 20), 0.4, 1e-12);
    for (int64_t step = 1; step < 20; step++)
        CHECK_CLOSE(lr(&s, step) - lr(&s, step - 1), 0.4 / 20, 1e-12);

    /* Fractional warm-up: 0.5 epoch = 5 steps. */
    s.warmup_epochs = 0.5;
    CHECK_CLOSE(lr(&s, 0), 0.4 / 5, 1e-12);
    CHECK_CLOSE(lr(&s, 4), 0.4, 1e-12);
    CHECK_CLOSE(lr(&s, 5), 0.4, 1e-12);

    /* Cosine decays over the epochs after warm-up: it starts at base
     * right after warm-up and still ends at min_lr at total_epochs. */
    lmn_lr_schedule c = schedule(LMN_LR_COSINE);
    c.min_lr = 0.0;
    c.warmup_epochs = 2;
    CHECK_CLOSE(lr(&c, 0), 0.02, 1e-12);
    CHECK_CLOSE(lr(&c, 19), 0.4, 1e-12);
    CHECK_CLOSE(lr(&c, 20), 0.4, 1e-12);
    CHECK_CLOSE(lr(&c, 50), 0.2, 1e-12); /* half-way through epochs 2..8 */
    CHECK_CLOSE(lr(&c, 80), 0.0, 1e-12);

    /* Step milestones count epochs from the start of training. */
    lmn_lr_schedule st = schedule(LMN_LR_STEP);
    st.milestones[0] = 3;
    st.milestone_count = 1;
    st.warmup_epochs = 1;
    CHECK_CLOSE(lr(&st, 0), 0.04, 1e-12);
    CHECK_CLOSE(lr(&st, 10), 0.4, 1e-12);
    CHECK_CLOSE(lr(&st, 29), 0.4, 1e-12);
    CHECK_CLOSE(lr(&st, 30), 0.04, 1e-12);
}

int main(void)
{
    check_constant();
    check_two_phase();
    check_step();
    check_cosine();
    check_warmup();
    int names = 0;
    for (const char *const *name = lmn_lr_schedule_names(); *name; name++) names++;
    CHECK(names == 4);
    return lmn_test_summary("optim_test_schedule");
}
