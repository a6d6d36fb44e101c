#include "train/settings.h"

#include <math.h>
#include <string.h>

static const char *const dataset_names[] = {"fashion-mnist", "mnist", "cifar10", "cifar100",
                                            "synthetic", NULL};
static const char *const backend_names[] = {"dnnl", "ref", NULL};

static lmn_status get_int(lmn_cfg *cfg, const char *key, int64_t def, int64_t min, int64_t max,
                          int *out)
{
    int64_t value;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, key, &def, min, max, &value));
    *out = (int)value;
    return LMN_OK;
}

static lmn_status read_data(lmn_cfg *cfg, lmn_data_settings *data)
{
    int index = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "data.name", dataset_names, "fashion-mnist", &index));
    data->name = dataset_names[index];
    const bool synthetic = strcmp(data->name, "synthetic") == 0;
    const char *default_path = strstr(data->name, "mnist") ? "/usr/share/datasets/fashion-mnist"
                                                           : "data/cifar";
    if (strcmp(data->name, "mnist") == 0) default_path = "/usr/share/datasets/mnist";
    if (!synthetic) LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.path", default_path, &data->path));
    data->augment = -1;
    if (lmn_cfg_find(cfg, NULL, "data.augment")) {
        bool augment = false;
        LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "data.augment", NULL, &augment));
        data->augment = augment;
    }
    if (!synthetic) return LMN_OK;
    const int64_t shape_default[3] = {3, 32, 32};
    const int64_t *shape = NULL;
    size_t dims = 0;
    LMN_TRY(lmn_cfg_get_int_list(cfg, NULL, "data.shape", shape_default, 3, &shape, &dims));
    if (dims != 3 || shape[0] < 1 || shape[0] > 16 || shape[1] < 1 || shape[2] < 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.shape': expected [channels, height, width] "
                        "with 1..16 channels");
    for (int d = 0; d < 3; d++) data->shape[d] = (int)shape[d];
    LMN_TRY(get_int(cfg, "data.classes", 10, 1, 1 << 20, &data->classes));
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
    const double zero = 0.0, tenth = 0.1;
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.warmup_epochs", &zero, 0.0, 1e6,
                                     &s->warmup_epochs));
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
        LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.gamma", &tenth, 0.0, 1.0, &s->gamma));
    }
    if (s->kind == LMN_LR_COSINE)
        LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.min_lr", &zero, 0.0, lr, &s->min_lr));
    return LMN_OK;
}

static lmn_status read_optimizer(lmn_cfg *cfg, lmn_train_settings *s)
{
    lmn_optimizer_config *o = &s->optimizer;
    int kind = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "optimizer.name", lmn_optimizer_names(), "sgd", &kind));
    o->kind = (lmn_optimizer_kind)kind;
    const double lr_default = o->kind == LMN_OPT_SGD ? 0.05 : 0.001;
    double lr = 0.0;
    LMN_TRY(lmn_cfg_get_double(cfg, NULL, "optimizer.lr", &lr_default, &lr));
    if (!(lr > 0.0) || !isfinite(lr))
        return lmn_fail(LMN_ERR_CONFIG, "key 'optimizer.lr': the learning rate must be > 0, got %g",
                        lr);
    const double zero = 0.0, momentum = 0.9;
    const bool no = false;
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.weight_decay", &zero, 0.0, 1.0,
                                     &o->weight_decay));
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "optimizer.decay_bias_and_bn", &no, &s->decay_bias_and_bn));
    if (o->kind == LMN_OPT_SGD) {
        LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.momentum", &momentum, 0.0, 0.9999,
                                         &o->momentum));
        LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "optimizer.nesterov", &no, &o->nesterov));
        if (o->nesterov && o->momentum == 0.0)
            return lmn_fail(LMN_ERR_CONFIG, "key 'optimizer.nesterov': needs optimizer.momentum > 0");
    } else {
        const double betas_default[2] = {0.9, 0.999}, eps = 1e-8;
        const double *betas = NULL;
        size_t count = 0;
        LMN_TRY(lmn_cfg_get_double_list(cfg, NULL, "optimizer.betas", betas_default, 2, &betas, &count));
        if (count != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1)
            return lmn_fail(LMN_ERR_CONFIG, "key 'optimizer.betas': expected [beta1, beta2] in [0, 1)");
        o->beta1 = betas[0];
        o->beta2 = betas[1];
        LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "optimizer.epsilon", &eps, 1e-30, 1.0, &o->epsilon));
    }
    return read_schedule(cfg, lr, s->epochs, &s->schedule);
}

lmn_status lmn_train_settings_read(lmn_cfg *cfg, lmn_train_settings *s)
{
    memset(s, 0, sizeof *s);
    const int64_t seed_default = 1, zero = 0;
    int64_t seed = 0;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "seed", &seed_default, 0, INT64_MAX, &seed));
    s->seed = (uint64_t)seed;
    LMN_TRY(get_int(cfg, "threads", 0, 0, 4096, &s->threads));
    int backend = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "backend", backend_names, "dnnl", &backend));
    s->backend = backend_names[backend];
    LMN_TRY(read_data(cfg, &s->data));
    LMN_TRY(get_int(cfg, "train.epochs", 5, 1, 1000000, &s->epochs));
    LMN_TRY(get_int(cfg, "train.batch_size", 64, 1, 1 << 24, &s->batch_size));
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "train.max_steps", &zero, 0, INT64_MAX, &s->max_steps));
    const bool yes = true, no = false;
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "train.drop_last", &no, &s->drop_last));
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "train.shuffle", &yes, &s->shuffle));
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "train.eval", &yes, &s->eval));
    LMN_TRY(get_int(cfg, "train.eval_batch_size", 500, 1, 1 << 24, &s->eval_batch_size));
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "train.profile", &no, &s->profile));
    return read_optimizer(cfg, s);
}
