#include "train/settings.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/config_schema.h"

static const char *const dataset_names[] = {"fashion-mnist", "mnist", "cifar10", "cifar100",
                                            "hdf5", "synthetic", "grf-cubes", "images", NULL};
static const char *const batch_schedule_names[] = {"fixed", "adaptive", NULL};

/* LMN_ERR_CONFIG "FILE:LINE: key 'PATH': message" for a node that was read. */
static lmn_status __attribute__((format(printf, 2, 3)))
fail_at(const lmn_cfg_node *node, const char *fmt, ...)
{
    char message[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    if (lmn_cfg_node_line(node) > 0)
        return lmn_fail(LMN_ERR_CONFIG, "%s:%d: key '%s': %s", lmn_cfg_node_source(node),
                        lmn_cfg_node_line(node), lmn_cfg_node_path(node), message);
    return lmn_fail(LMN_ERR_CONFIG, "%s: key '%s': %s", lmn_cfg_node_source(node),
                    lmn_cfg_node_path(node), message);
}

static lmn_status get_int(lmn_cfg *cfg, const char *key, int64_t def, int64_t min, int64_t max,
                          int *out)
{
    int64_t value;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, key, &def, min, max, &value));
    *out = (int)value;
    return LMN_OK;
}

/* data.<key>: [lo, hi] */
static lmn_status read_range(lmn_cfg *cfg, const char *key, const double def[2], double out[2])
{
    const double *values = NULL;
    size_t count = 0;
    LMN_TRY(lmn_cfg_get_double_list(cfg, NULL, key, def, 2, &values, &count));
    if (count != 2)
        return lmn_fail(LMN_ERR_CONFIG, "key '%s': expected [lo, hi], got %zu values", key, count);
    out[0] = values[0];
    out[1] = values[1];
    return LMN_OK;
}

/* grf-cubes: data.shape [C, S, S, S], the parameter ranges and set sizes. */
static lmn_status read_grf(lmn_cfg *cfg, lmn_data_settings *data)
{
    lmn_grf_config *grf = &data->grf;
    *grf = lmn_grf_default_config();
    const int64_t shape_default[4] = {grf->channels, grf->size, grf->size, grf->size};
    const int64_t *shape = NULL;
    size_t dims = 0;
    LMN_TRY(lmn_cfg_get_int_list(cfg, NULL, "data.shape", shape_default, 4, &shape, &dims));
    if (dims != 4 || shape[1] != shape[2] || shape[1] != shape[3] || shape[0] > 64 || shape[1] > 4096)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.shape': grf-cubes expects [channels, S, S, S] "
                        "(a cube of side S, a power of two)");
    grf->channels = (int)shape[0];
    grf->size = (int)shape[1];
    LMN_TRY(read_range(cfg, "data.grf_amplitude", grf->amplitude, grf->amplitude));
    LMN_TRY(read_range(cfg, "data.grf_slope", grf->slope, grf->slope));
    LMN_TRY(read_range(cfg, "data.grf_correlation", grf->correlation, grf->correlation));
    LMN_TRY(read_range(cfg, "data.grf_growth", grf->growth, grf->growth));
    const int64_t train_default = 1024, test_default = 256;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "data.train_size", &train_default, 1, UINT32_MAX,
                                  &data->train_size));
    return lmn_cfg_get_int_range(cfg, NULL, "data.test_size", &test_default, 1, UINT32_MAX,
                                 &data->test_size);
}

/* data.derive and the super-resolution keys (image sets). */
static lmn_status read_derive(lmn_cfg *cfg, lmn_data_settings *data)
{
    int index = 0;
    LMN_TRY(lmn_config_choice(cfg, "data.derive", &index));
    data->derive_super_resolution = index == 1;
    if (!data->derive_super_resolution) return LMN_OK;
    LMN_TRY(lmn_config_int(cfg, "data.sr_factor", &data->sr_factor));
    LMN_TRY(lmn_config_choice(cfg, "data.sr_input", &index));
    data->sr_input = index == 1 ? LMN_SR_INPUT_UPSAMPLED : LMN_SR_INPUT_LOW;
    return LMN_OK;
}

/* data.mean / data.std of an image folder: one value per channel. */
static lmn_status read_channel_values(lmn_cfg *cfg, const char *key, int channels, float *values)
{
    double defaults[3];
    for (int c = 0; c < channels; c++) defaults[c] = values[c];
    const double *list = NULL;
    size_t count = 0;
    LMN_TRY(lmn_cfg_get_double_list(cfg, NULL, key, defaults, (size_t)channels, &list, &count));
    if (count != (size_t)channels)
        return lmn_fail(LMN_ERR_CONFIG, "key '%s': expected %d value%s (one per channel of "
                        "data.channels), got %zu", key, channels, channels == 1 ? "" : "s", count);
    for (int c = 0; c < channels; c++) {
        if (strcmp(key, "data.std") == 0 && !(list[c] > 0.0))
            return lmn_fail(LMN_ERR_CONFIG, "key '%s': every std must be > 0, got %g", key, list[c]);
        values[c] = (float)list[c];
    }
    return LMN_OK;
}

/* data.name images: the crop side, evaluation resize, channels, mean/std
 * (ImageNet's by default) and skip_bad_files (io/image_folder.h). */
static lmn_status read_image_folder(lmn_cfg *cfg, lmn_image_folder_options *o)
{
    int size = 0, channels = 0;
    LMN_TRY(lmn_config_int(cfg, "data.image_size", &size));
    LMN_TRY(lmn_config_int(cfg, "data.channels", &channels));
    if (channels == 2)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.channels': image folders give 1 (gray) or 3 "
                        "(RGB) channels, got 2");
    *o = lmn_image_folder_defaults(size, channels);
    LMN_TRY(get_int(cfg, "data.resize", o->resize, size, 65536, &o->resize));
    LMN_TRY(read_channel_values(cfg, "data.mean", channels, o->mean));
    LMN_TRY(read_channel_values(cfg, "data.std", channels, o->std));
    return lmn_config_bool(cfg, "data.skip_bad_files", &o->skip_bad_files);
}

/* data.order and the out-of-core keys (ALGORITHMS.md section 10). */
static lmn_status read_out_of_core(lmn_cfg *cfg, lmn_data_settings *data, bool hdf5)
{
    LMN_TRY(lmn_config_choice(cfg, "data.order", &data->order));
    LMN_TRY(lmn_config_int(cfg, "data.chunk_rows", &data->chunk_rows));
    LMN_TRY(lmn_config_int(cfg, "data.chunks_per_buffer", &data->chunks_per_buffer));
    LMN_TRY(lmn_config_double(cfg, "data.max_memory", &data->max_memory_mb));
    data->in_memory = -1;
    if (hdf5 && lmn_cfg_find(cfg, NULL, "data.in_memory")) {
        bool in_memory = false;
        LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "data.in_memory", NULL, &in_memory));
        data->in_memory = in_memory;
    }
    return LMN_OK;
}

/* A file or directory key: '' would otherwise surface as "cannot read ''". */
static lmn_status get_path(lmn_cfg *cfg, const char *key, const char *def, const char **out)
{
    LMN_TRY(lmn_cfg_get_string(cfg, NULL, key, def, out));
    if ((*out)[0] == '\0')
        return fail_at(lmn_cfg_find(cfg, NULL, key), "is empty: give a file or directory%s",
                       def ? "" : " (this key has no default)");
    return LMN_OK;
}

static lmn_status read_data(lmn_cfg *cfg, lmn_data_settings *data, const lmn_task *task)
{
    int index = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "data.name", dataset_names, "fashion-mnist", &index));
    data->name = dataset_names[index];
    const bool synthetic = strcmp(data->name, "synthetic") == 0;
    const bool grf = strcmp(data->name, "grf-cubes") == 0;
    const char *default_path = strstr(data->name, "mnist") ? "/usr/share/datasets/fashion-mnist"
                                                           : "data/cifar";
    if (strcmp(data->name, "mnist") == 0) default_path = "/usr/share/datasets/mnist";
    const bool images = strcmp(data->name, "images") == 0;
    if (images) default_path = NULL; /* ROOT of train/ and val/: no sensible default */
    const bool hdf5 = strcmp(data->name, "hdf5") == 0;
    if (hdf5) {
        LMN_TRY(get_path(cfg, "data.path", NULL, &data->path));
        LMN_TRY(get_path(cfg, "data.test_path", NULL, &data->test_path));
        LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.images", "images", &data->images));
        if (task->kind == LMN_TASK_REGRESSION)
            LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.targets", "targets", &data->targets));
        else
            LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.labels", "labels", &data->labels));
    } else if (!synthetic && !grf) {
        LMN_TRY(get_path(cfg, "data.path", default_path, &data->path));
    }
    int64_t prefetch = 0;
    LMN_TRY(lmn_config_int64(cfg, "data.prefetch_samples", &prefetch));
    data->prefetch_samples = (int)prefetch;
    LMN_TRY(lmn_config_double(cfg, "data.read_delay_ms", &data->read_delay_ms));
    LMN_TRY(read_out_of_core(cfg, data, hdf5));
    data->augment = -1;
    if (lmn_cfg_find(cfg, NULL, "data.augment")) {
        bool augment = false;
        LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "data.augment", NULL, &augment));
        data->augment = augment;
    }
    LMN_TRY(lmn_config_int(cfg, "data.io_threads", &data->io_threads));
    if (images) LMN_TRY(read_image_folder(cfg, &data->image_folder));
    if (grf) return read_grf(cfg, data);
    if (!synthetic) return read_derive(cfg, data);
    const int64_t shape_default[3] = {3, 32, 32};
    const int64_t *shape = NULL;
    size_t dims = 0;
    LMN_TRY(lmn_cfg_get_int_list(cfg, NULL, "data.shape", shape_default, 3, &shape, &dims));
    if (dims != 3 || shape[0] < 1 || shape[0] > 16 || shape[1] < 1 || shape[2] < 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.shape': expected [channels, height, width] "
                        "with 1..16 channels");
    for (int d = 0; d < 3; d++) data->shape[d] = (int)shape[d];
    LMN_TRY(lmn_config_int(cfg, "data.classes", &data->classes));
    const int64_t train_default = 6400, test_default = 640;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "data.train_size", &train_default, 1, UINT32_MAX,
                                  &data->train_size));
    return lmn_cfg_get_int_range(cfg, NULL, "data.test_size", &test_default, 1, UINT32_MAX,
                                 &data->test_size);
}

static lmn_status read_schedule(lmn_cfg *cfg, double lr, int epochs, lmn_lr_schedule *s)
{
    int kind = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "optimizer.schedule", lmn_lr_schedule_names(), "constant",
                             &kind));
    memset(s, 0, sizeof *s);
    s->kind = (lmn_lr_kind)kind;
    s->base_lr = lr;
    s->total_epochs = epochs;
    LMN_TRY(lmn_config_double(cfg, "optimizer.warmup_epochs", &s->warmup_epochs));
    if (s->kind == LMN_LR_STEP) {
        const double *milestones = NULL;
        size_t count = 0;
        LMN_TRY(lmn_cfg_get_double_list(cfg, NULL, "optimizer.milestones", NULL, 0, &milestones,
                                        &count));
        if (count > LMN_MAX_MILESTONES)
            return lmn_fail(LMN_ERR_CONFIG, "key 'optimizer.milestones': at most %d epochs",
                            LMN_MAX_MILESTONES);
        for (size_t m = 0; m < count; m++) s->milestones[m] = milestones[m];
        s->milestone_count = (int)count;
        LMN_TRY(lmn_config_double(cfg, "optimizer.gamma", &s->gamma));
    }
    const double zero = 0.0; /* min_lr's range ends at lr: read here, not by the table */
    if (s->kind == LMN_LR_COSINE)
        LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.min_lr", &zero, 0.0, lr, &s->min_lr));
    return LMN_OK;
}

/* optimizer.slimqn.*, read when optimizer.name is slimqn (ALGORITHMS.md 14). */
static lmn_status read_slimqn(lmn_cfg *cfg, lmn_slimqn_config *q)
{
    const lmn_slimqn_config d = lmn_slimqn_defaults();
    LMN_TRY(get_int(cfg, "optimizer.slimqn.history", d.history, 1, 10000, &q->history));
    LMN_TRY(get_int(cfg, "optimizer.slimqn.interval", d.interval, 1, 1 << 30, &q->interval));
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.slimqn.param_momentum",
                                     &d.param_momentum, 0.0, 0.9999, &q->param_momentum));
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.slimqn.grad_momentum",
                                     &d.grad_momentum, 0.0, 0.9999, &q->grad_momentum));
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.slimqn.damping", &d.damping, 0.0, 1.0,
                                     &q->damping));
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.slimqn.clip", &d.clip, 1e-12, 1e12,
                                     &q->clip));
    return lmn_cfg_get_double_range(cfg, NULL, "optimizer.slimqn.rho_min", &d.rho_min, 0.0, 1e12,
                                    &q->rho_min);
}

static lmn_status read_optimizer(lmn_cfg *cfg, lmn_train_settings *s)
{
    lmn_optimizer_config *o = &s->optimizer;
    int kind = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "optimizer.name", lmn_optimizer_names(), "sgd", &kind));
    o->kind = (lmn_optimizer_kind)kind;
    const double lr_default = o->kind == LMN_OPT_SGD || o->kind == LMN_OPT_SLIMQN ? 0.05 : 0.001;
    double lr = 0.0;
    LMN_TRY(lmn_cfg_get_double(cfg, NULL, "optimizer.lr", &lr_default, &lr));
    if (!(lr > 0.0) || !isfinite(lr))
        return lmn_fail(LMN_ERR_CONFIG, "key 'optimizer.lr': the learning rate must be > 0, got %g",
                        lr);
    LMN_TRY(lmn_config_double(cfg, "optimizer.weight_decay", &o->weight_decay));
    LMN_TRY(lmn_config_bool(cfg, "optimizer.decay_bias_and_bn", &s->decay_bias_and_bn));
    if (o->kind == LMN_OPT_SLIMQN) {
        LMN_TRY(lmn_config_double(cfg, "optimizer.momentum", &o->momentum));
        LMN_TRY(read_slimqn(cfg, &o->slimqn));
    } else if (o->kind == LMN_OPT_SGD) {
        LMN_TRY(lmn_config_double(cfg, "optimizer.momentum", &o->momentum));
        LMN_TRY(lmn_config_bool(cfg, "optimizer.nesterov", &o->nesterov));
        if (o->nesterov && o->momentum == 0.0)
            return lmn_fail(LMN_ERR_CONFIG, "key 'optimizer.nesterov': needs optimizer.momentum > 0");
    } else {
        const double betas_default[2] = {0.9, 0.999};
        const double *betas = NULL;
        size_t count = 0;
        LMN_TRY(lmn_cfg_get_double_list(cfg, NULL, "optimizer.betas", betas_default, 2, &betas, &count));
        if (count != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1)
            return lmn_fail(LMN_ERR_CONFIG, "key 'optimizer.betas': expected [beta1, beta2] in [0, 1)");
        o->beta1 = betas[0];
        o->beta2 = betas[1];
        LMN_TRY(lmn_config_double(cfg, "optimizer.epsilon", &o->epsilon));
    }
    return read_schedule(cfg, lr, s->epochs, &s->schedule);
}

/* Keys shared by `train` and `fl`: seed, threads, backend, data. */
/* parallel.timeout_seconds: "auto" (-1 here), 0 (off) or seconds. Read
 * with the common keys: a federated run can hang on a stuck rank too. */
static lmn_status read_timeout(lmn_cfg *cfg, double *seconds)
{
    const char *text = NULL;
    LMN_TRY(lmn_cfg_get_string(cfg, NULL, "parallel.timeout_seconds", "auto", &text));
    if (strcmp(text, "auto") == 0) {
        *seconds = -1.0;
        return LMN_OK;
    }
    char *end = NULL;
    errno = 0;
    *seconds = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !(*seconds >= 0.0) || *seconds > 1e9)
        return fail_at(lmn_cfg_find(cfg, NULL, "parallel.timeout_seconds"),
                       "'%s' is neither 'auto', 0 (no watchdog) nor a number of seconds up to 1e9",
                       text);
    return LMN_OK;
}

static lmn_status read_common(lmn_cfg *cfg, lmn_train_settings *s)
{
    memset(s, 0, sizeof *s);
    lmn_cfg_set_catalog(cfg, lmn_config_catalog()); /* unknown-key messages know every key */
    int64_t seed = 0;
    LMN_TRY(lmn_config_int64(cfg, "seed", &seed));
    s->seed = (uint64_t)seed;
    LMN_TRY(lmn_config_int(cfg, "threads", &s->threads));
    int backend = 0;
    LMN_TRY(lmn_config_choice(cfg, "backend", &backend));
    s->backend = lmn_config_choice_name("backend", backend);
    /* Read here, not with the other train.* keys: federated runs take it too. */
    int precision = 0;
    LMN_TRY(lmn_config_choice(cfg, "train.precision", &precision));
    s->precision = (lmn_precision)precision;
    LMN_TRY(lmn_task_read(cfg, &s->task));
    LMN_TRY(read_timeout(cfg, &s->timeout_seconds));
    return read_data(cfg, &s->data, &s->task);
}

/* One entry of an explicit train.batch_schedule: {epoch, batch_size, lr}. */
static lmn_status read_batch_phase(lmn_cfg *cfg, lmn_cfg_node *item, int previous_epoch,
                                   lmn_batch_phase *phase)
{
    if (lmn_cfg_kind(item) != LMN_CFG_MAP)
        return fail_at(item, "expected {epoch: E, batch_size: B} or {epoch: E, batch_size: B, "
                       "lr: LR}");
    int64_t value = 0;
    LMN_TRY(lmn_cfg_get_int_range(cfg, item, "epoch", NULL, 1, 1000000, &value));
    if (value <= previous_epoch)
        return fail_at(lmn_cfg_find(cfg, item, "epoch"), "epochs must increase from entry to "
                       "entry, got %d after %d", (int)value, previous_epoch);
    phase->epoch = (int)value;
    LMN_TRY(lmn_cfg_get_int_range(cfg, item, "batch_size", NULL, 1, 1 << 24, &value));
    phase->batch_size = (int)value;
    phase->lr = 0.0; /* absent: the lr of the entry before */
    if (lmn_cfg_find(cfg, item, "lr"))
        LMN_TRY(lmn_cfg_get_positive_double(cfg, item, "lr", NULL, &phase->lr));
    return LMN_OK;
}

static lmn_status read_explicit_batches(lmn_cfg *cfg, lmn_cfg_node *list, lmn_batch_schedule *b)
{
    const size_t count = lmn_cfg_seq_length(list);
    if (count < 1 || count > LMN_MAX_BATCH_PHASES)
        return fail_at(list, "expected 1 to %d entries {epoch, batch_size, lr}, got %zu",
                       LMN_MAX_BATCH_PHASES, count);
    b->kind = LMN_BATCH_EXPLICIT;
    for (size_t p = 0; p < count; p++)
        LMN_TRY(read_batch_phase(cfg, lmn_cfg_seq_item(list, p), p ? b->phases[p - 1].epoch : 0,
                                 &b->phases[p]));
    b->phase_count = (int)count;
    return LMN_OK;
}

static lmn_status read_adaptive_batches(lmn_cfg *cfg, int batch_size, lmn_batch_schedule *b)
{
    b->kind = LMN_BATCH_ADAPTIVE;
    const double factor = 2.0;
    LMN_TRY(lmn_config_double(cfg, "train.batch_adaptive.threshold", &b->threshold));
    LMN_TRY(lmn_config_int(cfg, "train.batch_adaptive.patience", &b->patience));
    LMN_TRY(lmn_cfg_get_double(cfg, NULL, "train.batch_adaptive.factor", &factor, &b->factor));
    if (!(b->factor > 1.0))
        return fail_at(lmn_cfg_find(cfg, NULL, "train.batch_adaptive.factor"),
                       "the batch must grow: expected a factor > 1, got %g", b->factor);
    const int64_t largest = 1 << 24, eightfold = 8 * (int64_t)batch_size;
    LMN_TRY(get_int(cfg, "train.batch_adaptive.max_batch_size",
                    eightfold < largest ? eightfold : largest, batch_size, largest,
                    &b->max_batch_size));
    int scaling = 0;
    LMN_TRY(lmn_config_choice(cfg, "train.batch_adaptive.lr_scaling", &scaling));
    b->lr_scaling = (lmn_lr_scaling)scaling;
    return LMN_OK;
}

/* train.batch_schedule: fixed, adaptive (train.batch_adaptive.*) or a list. */
static lmn_status read_batch_schedule(lmn_cfg *cfg, int batch_size, lmn_batch_schedule *b)
{
    memset(b, 0, sizeof *b);
    lmn_cfg_node *node = lmn_cfg_find(cfg, NULL, "train.batch_schedule");
    if (node && lmn_cfg_kind(node) == LMN_CFG_SEQUENCE) return read_explicit_batches(cfg, node, b);
    if (node && lmn_cfg_kind(node) == LMN_CFG_MAP)
        return fail_at(node, "expected fixed, adaptive or a list of {epoch, batch_size, lr}");
    int kind = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "train.batch_schedule", batch_schedule_names, "fixed",
                             &kind));
    return kind == 1 ? read_adaptive_batches(cfg, batch_size, b) : LMN_OK;
}

/* optimizer.two_phase.*, read when optimizer.schedule is two_phase. */
static lmn_status read_two_phase(lmn_cfg *cfg, const lmn_lr_schedule *schedule,
                                 lmn_two_phase_settings *t)
{
    memset(t, 0, sizeof *t);
    t->enabled = schedule->kind == LMN_LR_TWO_PHASE;
    if (!t->enabled) return LMN_OK;
    const double decay = 0.1, min_lr = 1e-4 * schedule->base_lr;
    LMN_TRY(lmn_config_double(cfg, "optimizer.two_phase.threshold", &t->threshold));
    LMN_TRY(lmn_config_int(cfg, "optimizer.two_phase.extra_epochs", &t->extra_epochs));
    LMN_TRY(lmn_cfg_get_double(cfg, NULL, "optimizer.two_phase.decay", &decay, &t->decay));
    if (!(t->decay > 0.0 && t->decay < 1.0))
        return fail_at(lmn_cfg_find(cfg, NULL, "optimizer.two_phase.decay"),
                       "the lr factor at each decay must be in (0, 1), got %g", t->decay);
    return lmn_cfg_get_double_range(cfg, NULL, "optimizer.two_phase.min_lr", &min_lr, 0.0,
                                    schedule->base_lr, &t->min_lr);
}

/* train.max_memory_gb: absent means "the node's memory / its ranks", which
 * only the trainer knows; -1 says so. 0 turns the check off. */
static lmn_status read_max_memory(lmn_cfg *cfg, lmn_train_settings *s)
{
    s->max_memory_gb = -1.0;
    if (!lmn_cfg_find(cfg, NULL, "train.max_memory_gb")) return LMN_OK;
    return lmn_cfg_get_double_range(cfg, NULL, "train.max_memory_gb", NULL, 0.0, 1e9,
                                    &s->max_memory_gb);
}

/* SLIM-QN's curvature pairs need every rank's averaged gradient at every
 * step: lazy leaves some layers' gradients unsynchronised for k steps and
 * localsgd lets the groups' models differ, so neither has one gradient to
 * build the pairs from. */
static lmn_status check_slimqn_strategy(lmn_cfg *cfg, const lmn_train_settings *s)
{
    const lmn_strategy strategy = s->parallel.strategy;
    if (s->optimizer.kind != LMN_OPT_SLIMQN ||
        (strategy != LMN_STRATEGY_LAZY && strategy != LMN_STRATEGY_LOCALSGD))
        return LMN_OK;
    return fail_at(lmn_cfg_find(cfg, NULL, "parallel.strategy"), "%s does not work with optimizer "
                   "slimqn: its curvature pairs need the gradient averaged over all ranks at every "
                   "step, which %s does not form; use allreduce, overlap or multistep",
                   lmn_strategy_name(strategy), lmn_strategy_name(strategy));
}

lmn_status lmn_train_settings_read(lmn_cfg *cfg, lmn_train_settings *s)
{
    LMN_TRY(read_common(cfg, s));
    LMN_TRY(lmn_config_int(cfg, "train.epochs", &s->epochs));
    LMN_TRY(lmn_config_int(cfg, "train.batch_size", &s->batch_size));
    LMN_TRY(lmn_config_int64(cfg, "train.max_steps", &s->max_steps));
    LMN_TRY(lmn_config_bool(cfg, "train.drop_last", &s->drop_last));
    LMN_TRY(lmn_config_bool(cfg, "train.shuffle", &s->shuffle));
    LMN_TRY(lmn_config_bool(cfg, "train.eval", &s->eval));
    LMN_TRY(lmn_config_int(cfg, "train.eval_batch_size", &s->eval_batch_size));
    LMN_TRY(read_max_memory(cfg, s));
    LMN_TRY(lmn_config_bool(cfg, "train.profile", &s->profile));
    LMN_TRY(lmn_config_int(cfg, "train.checkpoint_every", &s->checkpoint_every));
    LMN_TRY(lmn_config_int64(cfg, "train.checkpoint_every_steps", &s->checkpoint_every_steps));
    LMN_TRY(lmn_config_int(cfg, "train.keep_checkpoints", &s->keep_checkpoints));
    LMN_TRY(read_batch_schedule(cfg, s->batch_size, &s->batch_schedule));
    LMN_TRY(read_optimizer(cfg, s));
    LMN_TRY(lmn_parallel_settings_read(cfg, &s->parallel));
    LMN_TRY(check_slimqn_strategy(cfg, s));
    return read_two_phase(cfg, &s->schedule, &s->two_phase);
}

static const char *const aggregator_names[] = {"fedavg", "fedlama", "partial", "fedprox",
                                               "fedavgm", "fedadam", NULL};

const char *lmn_aggregator_name(lmn_aggregator_kind kind)
{
    return (unsigned)kind < sizeof aggregator_names / sizeof aggregator_names[0] - 1
               ? aggregator_names[kind]
               : "?";
}

static lmn_status read_server_optimizer(lmn_cfg *cfg, lmn_fl_settings *fl)
{
    const double one = 1.0, small_lr = 0.01;
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "fl.server_lr",
                                     fl->aggregator == LMN_AGG_FEDADAM ? &small_lr : &one, 1e-12,
                                     1e6, &fl->server_lr));
    LMN_TRY(lmn_config_double(cfg, "fl.server_momentum", &fl->server_momentum));
    const double betas_default[2] = {0.9, 0.99};
    const double *betas = NULL;
    size_t count = 0;
    LMN_TRY(lmn_cfg_get_double_list(cfg, NULL, "fl.server_betas", betas_default, 2, &betas, &count));
    if (count != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.server_betas': expected [beta1, beta2] in [0, 1)");
    fl->server_beta1 = betas[0];
    fl->server_beta2 = betas[1];
    return lmn_config_double(cfg, "fl.server_epsilon", &fl->server_epsilon);
}

static lmn_status read_partition(lmn_cfg *cfg, int clients, lmn_partition_spec *p)
{
    int index = 0;
    p->clients = clients;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "fl.partition", lmn_partition_kind_names, "dirichlet",
                             &index));
    p->kind = (lmn_partition_kind)index;
    const double alpha = 0.1;
    /* Every kind's keys are read whatever the choice, so one config can
     * switch partition with a single --set. */
    LMN_TRY(lmn_cfg_get_double(cfg, NULL, "fl.alpha", &alpha, &p->alpha));
    if (p->kind != LMN_PARTITION_IID && p->kind != LMN_PARTITION_SHARDS && !(p->alpha > 0.0))
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.alpha': the Dirichlet concentration must be "
                        "> 0, got %g", p->alpha);
    LMN_TRY(lmn_config_int64(cfg, "fl.min_partition_size", &p->min_size));
    if (p->kind != LMN_PARTITION_DIRICHLET_PER_CLASS) p->min_size = 0;
    LMN_TRY(lmn_config_int(cfg, "fl.shards_per_client", &p->shards_per_client));
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "fl.client_sizes", lmn_client_sizes_names, "equal",
                             &index));
    p->sizes = (lmn_client_sizes)index;
    return lmn_config_double(cfg, "fl.client_size_sigma", &p->size_sigma);
}

static lmn_status read_fl_keys(lmn_cfg *cfg, lmn_fl_settings *fl)
{
    int index = 0;
    LMN_TRY(lmn_config_int(cfg, "fl.clients", &fl->clients));
    const double quarter = 0.25;
    LMN_TRY(lmn_cfg_get_double(cfg, NULL, "fl.active_ratio", &quarter, &fl->active_ratio));
    if (!(fl->active_ratio > 0.0 && fl->active_ratio <= 1.0))
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.active_ratio': must be in (0, 1], got %g",
                        fl->active_ratio);
    LMN_TRY(lmn_config_int(cfg, "fl.rounds", &fl->rounds));
    LMN_TRY(lmn_config_int(cfg, "fl.local_steps", &fl->local_steps));
    LMN_TRY(lmn_config_int(cfg, "fl.local_epochs", &fl->local_epochs));
    if ((fl->local_steps == 0) == (fl->local_epochs == 0))
        return lmn_fail(LMN_ERR_CONFIG, "keys 'fl.local_steps' and 'fl.local_epochs': set exactly "
                        "one of them (the other to 0)");
    LMN_TRY(lmn_config_int(cfg, "fl.batch_size", &fl->batch_size));
    LMN_TRY(read_partition(cfg, fl->clients, &fl->partition));
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "fl.aggregator", aggregator_names, "fedavg", &index));
    fl->aggregator = (lmn_aggregator_kind)index;
    LMN_TRY(lmn_config_choice(cfg, "fl.weighting", &index));
    fl->weight_by_samples = index == 0;
    const bool lama = fl->aggregator == LMN_AGG_FEDLAMA;
    LMN_TRY(get_int(cfg, "fl.phi", lama ? 2 : 1, 1, 1 << 16, &fl->phi));
    if (!lama) fl->phi = 1;
    LMN_TRY(get_int(cfg, "fl.resample_every", fl->phi, 1, 1 << 30, &fl->resample_every));
    LMN_TRY(lmn_config_int(cfg, "fl.relax_after", &fl->relax_after));
    LMN_TRY(lmn_config_double(cfg, "fl.mu", &fl->mu));
    LMN_TRY(lmn_config_choice(cfg, "fl.partial_split", &index));
    fl->split_elements = index == 1;
    if (fl->aggregator == LMN_AGG_PARTIAL && fl->local_steps == 0)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.local_epochs': the partial aggregator steps all "
                        "clients in lockstep and needs fl.local_steps instead");
    LMN_TRY(read_server_optimizer(cfg, fl));
    LMN_TRY(lmn_config_bool(cfg, "fl.keep_client_optimizer", &fl->keep_client_optimizer));
    LMN_TRY(lmn_config_int(cfg, "fl.checkpoint_every", &fl->checkpoint_every));
    return lmn_config_int(cfg, "fl.eval_every", &fl->eval_every);
}

lmn_status lmn_fl_settings_read(lmn_cfg *cfg, lmn_train_settings *s, lmn_fl_settings *fl)
{
    LMN_TRY(read_common(cfg, s));
    memset(fl, 0, sizeof *fl);
    LMN_TRY(read_fl_keys(cfg, fl));
    /* The trainer's buffers and schedule speak in batches and "epochs":
     * for federated runs an epoch is a round. */
    s->epochs = fl->rounds;
    s->batch_size = fl->batch_size;
    s->shuffle = true;
    s->eval = true;
    LMN_TRY(lmn_config_int(cfg, "fl.eval_batch_size", &s->eval_batch_size));
    LMN_TRY(lmn_config_int(cfg, "fl.keep_checkpoints", &s->keep_checkpoints));
    LMN_TRY(read_optimizer(cfg, s));
    if (s->optimizer.kind == LMN_OPT_SLIMQN)
        return fail_at(lmn_cfg_find(cfg, NULL, "optimizer.name"), "slimqn is a data-parallel "
                       "optimizer ('lamina train'); fl clients take sgd, adam or adamw");
    if (s->schedule.kind == LMN_LR_TWO_PHASE)
        return fail_at(lmn_cfg_find(cfg, NULL, "optimizer.schedule"), "two_phase follows the "
                       "training loss of 'lamina train' epochs; for fl use constant, step or cosine");
    return LMN_OK;
}
