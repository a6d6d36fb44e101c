/* Run-time batch size and two-phase training (ALGORITHMS.md 5 and 6): the
 * batch and lr factor of every epoch for hand-made loss curves, the
 * checkpoint round trip, and the configuration errors. */
#include <string.h>

#include "core/memory.h"
#include "io/config.h"
#include "test.h"
#include "train/epoch_control.h"
#include "train/settings.h"

#define CHECK_ERROR_MENTIONS(expr, fragment)                                                 \
    do {                                                                                     \
        lmn_status check_status_ = (expr);                                                   \
        CHECK_MSG(check_status_ == LMN_ERR_CONFIG, "%s returned %d (%s)", #expr,             \
                  (int)check_status_, lmn_last_error());                                     \
        CHECK_MSG(strstr(lmn_last_error(), fragment) != NULL, "message '%s' lacks '%s'",     \
                  lmn_last_error(), fragment);                                               \
    } while (0)

/* Reads the train settings of a YAML text; also rejects unread keys. */
static lmn_status read_settings(const char *yaml, lmn_train_settings *s)
{
    lmn_cfg *cfg = NULL;
    LMN_TRY(lmn_cfg_parse_string(yaml, "test.yaml", &cfg));
    lmn_status status = lmn_train_settings_read(cfg, s);
    if (status == LMN_OK) status = lmn_cfg_check_unused(cfg);
    lmn_cfg_free(cfg);
    return status;
}

static void start(const char *yaml, lmn_epoch_control *c)
{
    lmn_train_settings s;
    CHECK_OK(read_settings(yaml, &s));
    CHECK_OK(lmn_epoch_control_init(c, &s));
}

/* Runs epochs first..first+count-1 with the given losses; records every
 * epoch's batch and lr factor and whether its end reported a change. */
static void run(lmn_epoch_control *c, int first, int count, const double *losses, int *batches,
                double *factors, bool *changed)
{
    for (int e = 0; e < count; e++) {
        lmn_epoch_control_begin(c, first + e, &batches[e], &factors[e]);
        changed[e] = lmn_epoch_control_end(c, first + e, losses[e]);
    }
}

static void check_fixed(void)
{
    lmn_epoch_control c;
    start("train: {batch_size: 96}\noptimizer: {lr: 0.1}\n", &c);
    CHECK(lmn_epoch_control_max_batch_size(&c) == 96);
    for (int e = 0; e < 5; e++) {
        int batch = 0;
        double factor = 0.0;
        lmn_epoch_control_begin(&c, e, &batch, &factor);
        CHECK(batch == 96 && factor == 1.0);
        CHECK(!lmn_epoch_control_end(&c, e, 1.0)); /* flat, but nothing adapts */
    }
    char line[64];
    lmn_epoch_control_describe(&c, line, sizeof line);
    CHECK_MSG(strcmp(line, "batch 96, lr x1") == 0, "'%s'", line);
}

static void check_explicit(void)
{
    lmn_epoch_control c;
    start("train:\n"
          "  batch_size: 64\n"
          "  batch_schedule:\n"
          "    - {epoch: 3, batch_size: 256, lr: 0.2}\n"
          "    - {epoch: 5, batch_size: 512}\n"
          "    - {epoch: 7, batch_size: 128, lr: 0.025}\n"
          "optimizer: {lr: 0.05}\n",
          &c);
    CHECK(lmn_epoch_control_max_batch_size(&c) == 512);
    /* Losses that would trigger any adaptive rule: the list alone decides. */
    const double losses[8] = {1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5};
    const int want_batch[8] = {64, 64, 256, 256, 512, 512, 128, 128};
    const double want_factor[8] = {1, 1, 4, 4, 4, 4, 0.5, 0.5};
    const bool want_changed[8] = {false, true, false, true, false, true, false, false};
    int batches[8];
    double factors[8];
    bool changed[8];
    run(&c, 0, 8, losses, batches, factors, changed);
    for (int e = 0; e < 8; e++) {
        CHECK_MSG(batches[e] == want_batch[e], "epoch %d: batch %d", e + 1, batches[e]);
        CHECK_CLOSE(factors[e], want_factor[e], 1e-12);
        CHECK_MSG(changed[e] == want_changed[e], "epoch %d: changed %d", e + 1, changed[e]);
    }
    /* An entry for epoch 1 replaces train.batch_size from the start. */
    start("train:\n  batch_size: 64\n  batch_schedule: [{epoch: 1, batch_size: 32}]\n", &c);
    CHECK(lmn_epoch_control_max_batch_size(&c) == 32);
    int batch = 0;
    double factor = 0.0;
    lmn_epoch_control_begin(&c, 0, &batch, &factor);
    CHECK(batch == 32 && factor == 1.0);
}

static const char ADAPTIVE[] = "train:\n"
                               "  batch_size: 64\n"
                               "  batch_schedule: adaptive\n"
                               "  batch_adaptive: {patience: 2, max_batch_size: 200%s}\n";

static void check_adaptive(void)
{
    char yaml[256];
    snprintf(yaml, sizeof yaml, ADAPTIVE, "");
    lmn_epoch_control c;
    start(yaml, &c);
    CHECK(lmn_epoch_control_max_batch_size(&c) == 200);
    /* Reference, better, 2 flat (-> 128), flat, better (resets), 2 flat
     * (-> 256 capped at 200), then flat for ever: no more growth. */
    const double losses[11] = {1.0, 0.9, 0.895, 0.894, 0.89, 0.7, 0.699, 0.698, 0.698, 0.7, 0.7};
    const int want_batch[11] = {64, 64, 64, 64, 128, 128, 128, 128, 200, 200, 200};
    int batches[11];
    double factors[11];
    bool changed[11];
    run(&c, 0, 11, losses, batches, factors, changed);
    for (int e = 0; e < 11; e++) {
        CHECK_MSG(batches[e] == want_batch[e], "epoch %d: batch %d", e + 1, batches[e]);
        CHECK_CLOSE(factors[e], want_batch[e] / 64.0, 1e-12); /* linear scaling */
        const bool grows = e + 1 < 11 && want_batch[e + 1] != want_batch[e];
        CHECK_MSG(changed[e] == grows, "epoch %d: changed %d", e + 1, changed[e]);
    }
    char line[64];
    lmn_epoch_control_describe(&c, line, sizeof line);
    CHECK_MSG(strcmp(line, "batch 200, lr x3.125") == 0, "'%s'", line);

    snprintf(yaml, sizeof yaml, ADAPTIVE, ", lr_scaling: sqrt");
    start(yaml, &c);
    run(&c, 0, 11, losses, batches, factors, changed);
    CHECK_CLOSE(factors[4], sqrt(2.0), 1e-12);
    CHECK_CLOSE(factors[10], sqrt(200.0 / 64.0), 1e-12);

    snprintf(yaml, sizeof yaml, ADAPTIVE, ", lr_scaling: none, factor: 1.5, threshold: 0.2");
    start(yaml, &c);
    run(&c, 0, 4, losses, batches, factors, changed);
    /* Every improvement is below 20%: flat, flat -> 96 at epoch 4. */
    CHECK(batches[2] == 64 && batches[3] == 96);
    CHECK(factors[3] == 1.0);
}

static const char TWO_PHASE[] = "optimizer:\n"
                                "  lr: 0.1\n"
                                "  schedule: two_phase\n"
                                "  two_phase: {min_lr: 0.0005}\n";

static void check_two_phase(void)
{
    lmn_epoch_control c;
    start(TWO_PHASE, &c);
    enum { EPOCHS = 14 };
    /* Flat at 1.199 and 1.19 (0.75% < 1%), an improvement restarts the
     * count, then three flat epochs: the first plus extra_epochs = 2; in
     * phase 2 each flat epoch decays, until 0.1 x factor reaches min_lr. */
    const double losses[EPOCHS] = {2.0,   1.5,   1.2, 1.199, 1.19, 1.0, 0.999,
                                   0.999, 0.998, 0.8, 0.8,   0.799, 0.5, 0.5};
    const int want_phase[EPOCHS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2};
    const double want_factor[EPOCHS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0.1, 0.1, 0.01, 0.005, 0.005};
    for (int e = 0; e < EPOCHS; e++) {
        int batch = 0;
        double factor = 0.0;
        lmn_epoch_control_begin(&c, e, &batch, &factor);
        CHECK_MSG(c.phase == want_phase[e], "epoch %d: phase %d", e + 1, c.phase);
        CHECK_CLOSE(factor, want_factor[e], 1e-12);
        CHECK(factor * 0.1 >= 0.0005 * (1 - 1e-12));
        CHECK(batch == 64);
        const bool changed = lmn_epoch_control_end(&c, e, losses[e]);
        const bool want_changed = e + 1 < EPOCHS && want_factor[e + 1] != want_factor[e];
        CHECK_MSG(changed == want_changed, "epoch %d: changed %d", e + 1, changed);
    }
    char line[64];
    lmn_epoch_control_describe(&c, line, sizeof line);
    CHECK_MSG(strcmp(line, "batch 64, lr x0.005, phase 2") == 0, "'%s'", line);

    /* extra_epochs 0: phase 2 from the first flat epoch; default min_lr. */
    lmn_train_settings s;
    CHECK_OK(read_settings("optimizer: {lr: 0.1, schedule: two_phase, two_phase: "
                           "{extra_epochs: 0, decay: 0.5}}\n",
                           &s));
    CHECK_CLOSE(s.two_phase.min_lr, 1e-5, 1e-12);
    CHECK(s.two_phase.threshold == 0.01);
    CHECK_OK(lmn_epoch_control_init(&c, &s));
    CHECK(!lmn_epoch_control_end(&c, 0, 1.0));
    CHECK(lmn_epoch_control_end(&c, 1, 1.0));
    CHECK(c.phase == 2 && c.decay_factor == 0.5);
}

/* Two controllers, one saved and restored half-way, see the same losses and
 * must take the same decisions. */
static void check_save_restore(void)
{
    const char *yaml = "train:\n"
                       "  batch_size: 32\n"
                       "  batch_schedule: adaptive\n"
                       "  batch_adaptive: {patience: 2}\n"
                       "optimizer: {lr: 0.1, schedule: two_phase, two_phase: {extra_epochs: 1}}\n";
    enum { EPOCHS = 16, HALF = 8 };
    double losses[EPOCHS];
    /* Fast progress, a plateau from epoch 7 (with a bump), a drop at 13. */
    for (int e = 0; e < EPOCHS; e++)
        losses[e] = (e < 12 ? 0.5 : 0.3) + 0.5 * pow(0.5, e) + (e == 9 ? 0.2 : 0.0);
    lmn_epoch_control whole, first, resumed;
    start(yaml, &whole);
    start(yaml, &first);
    int batches[EPOCHS], resumed_batches[EPOCHS];
    double factors[EPOCHS], resumed_factors[EPOCHS];
    bool changed[EPOCHS], resumed_changed[EPOCHS];
    run(&whole, 0, EPOCHS, losses, batches, factors, changed);
    run(&first, 0, HALF, losses, resumed_batches, resumed_factors, resumed_changed);
    double state[LMN_EPOCH_CONTROL_STATE];
    lmn_epoch_control_save(&first, state);
    start(yaml, &resumed);
    CHECK_OK(lmn_epoch_control_restore(&resumed, state));
    run(&resumed, HALF, EPOCHS - HALF, losses + HALF, resumed_batches + HALF,
        resumed_factors + HALF, resumed_changed + HALF);
    int changes = 0;
    for (int e = 0; e < EPOCHS; e++) {
        CHECK_MSG(batches[e] == resumed_batches[e] && factors[e] == resumed_factors[e] &&
                      changed[e] == resumed_changed[e],
                  "epoch %d: batch %d / %d, lr x%g / x%g", e + 1, batches[e], resumed_batches[e],
                  factors[e], resumed_factors[e]);
        changes += changed[e];
    }
    CHECK_MSG(changes >= 3, "the curve should exercise growth and decays, %d changes", changes);
    CHECK(whole.phase == 2 && whole.batch_size > 32);
    double whole_state[LMN_EPOCH_CONTROL_STATE], resumed_state[LMN_EPOCH_CONTROL_STATE];
    lmn_epoch_control_save(&whole, whole_state);
    lmn_epoch_control_save(&resumed, resumed_state);
    CHECK(memcmp(whole_state, resumed_state, sizeof whole_state) == 0);

    /* A state no run could have written. */
    state[0] = 10000; /* above max_batch_size 256 */
    CHECK(lmn_epoch_control_restore(&resumed, state) == LMN_ERR_FORMAT);
    state[0] = 64;
    state[6] = 0.0; /* decay factor */
    CHECK(lmn_epoch_control_restore(&resumed, state) == LMN_ERR_FORMAT);
    state[6] = 0.5;
    state[4] = 1.5; /* phase */
    CHECK(lmn_epoch_control_restore(&resumed, state) == LMN_ERR_FORMAT);
}

static void check_resolved_defaults(void)
{
    lmn_cfg *cfg = NULL;
    CHECK_OK(lmn_cfg_parse_string("train: {batch_size: 16, batch_schedule: adaptive}\n"
                                  "optimizer: {lr: 0.2, schedule: two_phase}\n",
                                  "test.yaml", &cfg));
    lmn_train_settings s;
    CHECK_OK(lmn_train_settings_read(cfg, &s));
    CHECK(s.batch_schedule.kind == LMN_BATCH_ADAPTIVE && s.batch_schedule.max_batch_size == 128);
    CHECK(s.batch_schedule.patience == 1 && s.batch_schedule.factor == 2.0);
    CHECK(s.batch_schedule.lr_scaling == LMN_LR_SCALING_LINEAR);
    CHECK(s.two_phase.enabled && s.two_phase.extra_epochs == 2 && s.two_phase.decay == 0.1);
    char *yaml = NULL;
    size_t length = 0;
    CHECK_OK(lmn_cfg_to_yaml(cfg, &yaml, &length));
    const char *keys[] = {"max_batch_size: 128", "lr_scaling: linear", "patience: 1",
                          "extra_epochs: 2", "min_lr: 2e-05", "decay: 0.1"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        CHECK_MSG(yaml && strstr(yaml, keys[k]), "resolved config lacks '%s':\n%s", keys[k], yaml);
    lmn_free(yaml);
    lmn_cfg_free(cfg);

    CHECK_OK(lmn_cfg_parse_string("train: {epochs: 2}\n", "test.yaml", &cfg));
    CHECK_OK(lmn_train_settings_read(cfg, &s));
    CHECK(s.batch_schedule.kind == LMN_BATCH_FIXED && !s.two_phase.enabled);
    CHECK_OK(lmn_cfg_to_yaml(cfg, &yaml, &length));
    CHECK_MSG(yaml && strstr(yaml, "batch_schedule: fixed"), "%s", yaml);
    lmn_free(yaml);
    lmn_cfg_free(cfg);
}

static void check_config_errors(void)
{
    lmn_train_settings s;
    CHECK_ERROR_MENTIONS(read_settings("train:\n  batch_schedule:\n"
                                       "    - {epoch: 3, batch_size: 128}\n"
                                       "    - {epoch: 3, batch_size: 256}\n",
                                       &s),
                         "test.yaml:4: key 'train.batch_schedule[1].epoch': epochs must increase");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: [{epoch: 2, batch_size: 0}]}\n", &s),
                         "key 'train.batch_schedule[0].batch_size': must be between 1");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: [{epoch: 0, batch_size: 8}]}\n", &s),
                         "key 'train.batch_schedule[0].epoch'");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: [{batch_size: 8}]}\n", &s),
                         "missing required key 'train.batch_schedule[0].epoch'");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: [{epoch: 2, batch_size: 8, "
                                       "lr: -1}]}\n", &s),
                         "key 'train.batch_schedule[0].lr': must be > 0");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: [{epoch: 2, batch_size: 8, "
                                       "lrr: 1}]}\n", &s),
                         "unknown key 'train.batch_schedule[0].lrr'");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: [4]}\n", &s),
                         "key 'train.batch_schedule[0]': expected {epoch");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: []}\n", &s),
                         "key 'train.batch_schedule': expected 1 to");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: sometimes}\n", &s),
                         "key 'train.batch_schedule': unknown value 'sometimes'");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: {epoch: 2}}\n", &s),
                         "key 'train.batch_schedule': expected fixed, adaptive or a list");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: adaptive, batch_adaptive: "
                                       "{lr_scaling: cubic}}\n", &s),
                         "key 'train.batch_adaptive.lr_scaling': unknown value 'cubic'");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: adaptive, batch_adaptive: "
                                       "{factor: 1}}\n", &s),
                         "key 'train.batch_adaptive.factor': the batch must grow");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_size: 64, batch_schedule: adaptive, "
                                       "batch_adaptive: {max_batch_size: 32}}\n", &s),
                         "key 'train.batch_adaptive.max_batch_size': must be between 64");
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_schedule: adaptive, batch_adaptive: "
                                       "{patience: 0}}\n", &s),
                         "key 'train.batch_adaptive.patience'");
    /* The adaptive keys belong to the adaptive schedule. */
    CHECK_ERROR_MENTIONS(read_settings("train: {batch_adaptive: {factor: 4}}\n", &s),
                         "unknown key 'train.batch_adaptive");
    CHECK_ERROR_MENTIONS(read_settings("optimizer: {schedule: two_phase, two_phase: "
                                       "{decay: 1}}\n", &s),
                         "key 'optimizer.two_phase.decay': the lr factor at each decay must be "
                         "in (0, 1), got 1");
    CHECK_ERROR_MENTIONS(read_settings("optimizer: {schedule: two_phase, two_phase: "
                                       "{decay: 0}}\n", &s),
                         "key 'optimizer.two_phase.decay'");
    CHECK_ERROR_MENTIONS(read_settings("optimizer: {lr: 0.1, schedule: two_phase, two_phase: "
                                       "{min_lr: 0.5}}\n", &s),
                         "key 'optimizer.two_phase.min_lr': must be between 0 and 0.1");
    CHECK_ERROR_MENTIONS(read_settings("optimizer: {schedule: two_phase, two_phase: "
                                       "{extra_epochs: -1}}\n", &s),
                         "key 'optimizer.two_phase.extra_epochs'");
    CHECK_ERROR_MENTIONS(read_settings("optimizer: {schedule: halving}\n", &s),
                         "two_phase");

    lmn_cfg *cfg = NULL;
    lmn_fl_settings fl;
    CHECK_OK(lmn_cfg_parse_string("optimizer: {schedule: two_phase}\n", "fl.yaml", &cfg));
    CHECK_ERROR_MENTIONS(lmn_fl_settings_read(cfg, &s, &fl),
                         "fl.yaml:1: key 'optimizer.schedule': two_phase");
    lmn_cfg_free(cfg);
}

int main(void)
{
    check_fixed();
    check_explicit();
    check_adaptive();
    check_two_phase();
    check_save_restore();
    check_resolved_defaults();
    check_config_errors();
    return lmn_test_summary("train_test_epoch_control");
}
