#include "train/settings.h"

#include <math.h>
#include <string.h>

static const char *const dataset_names[] = {"fashion-mnist", "mnist", "cifar10", "cifar100",
                                            "hdf5", "synthetic", NULL};
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
    const bool hdf5 = strcmp(data->name, "hdf5") == 0;
    if (hdf5) {
        LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.path", NULL, &data->path));
        LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.test_path", NULL, &data->test_path));
        LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.images", "images", &data->images));
        LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.labels", "labels", &data->labels));
    } else if (!synthetic) {
        LMN_TRY(lmn_cfg_get_string(cfg, NULL, "data.path", default_path, &data->path));
    }
    int64_t prefetch = 0;
    const int64_t no_prefetch = 0;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "data.prefetch_samples", &no_prefetch, 0, 1 << 24, &prefetch));
    data->prefetch_samples = (int)prefetch;
    const double no_delay = 0.0;
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "data.read_delay_ms", &no_delay, 0.0, 1e6,
                                     &data->read_delay_ms));
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

/* Keys shared by `train` and `fl`: seed, threads, backend, data. */
static lmn_status read_common(lmn_cfg *cfg, lmn_train_settings *s)
{
    memset(s, 0, sizeof *s);
    const int64_t seed_default = 1;
    int64_t seed = 0;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "seed", &seed_default, 0, INT64_MAX, &seed));
    s->seed = (uint64_t)seed;
    LMN_TRY(get_int(cfg, "threads", 0, 0, 4096, &s->threads));
    int backend = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "backend", backend_names, "dnnl", &backend));
    s->backend = backend_names[backend];
    return read_data(cfg, &s->data);
}

lmn_status lmn_train_settings_read(lmn_cfg *cfg, lmn_train_settings *s)
{
    LMN_TRY(read_common(cfg, s));
    const int64_t zero = 0;
    LMN_TRY(get_int(cfg, "train.epochs", 5, 1, 1000000, &s->epochs));
    LMN_TRY(get_int(cfg, "train.batch_size", 64, 1, 1 << 24, &s->batch_size));
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "train.max_steps", &zero, 0, INT64_MAX, &s->max_steps));
    const bool yes = true, no = false;
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "train.drop_last", &no, &s->drop_last));
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "train.shuffle", &yes, &s->shuffle));
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "train.eval", &yes, &s->eval));
    LMN_TRY(get_int(cfg, "train.eval_batch_size", 500, 1, 1 << 24, &s->eval_batch_size));
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "train.profile", &no, &s->profile));
    LMN_TRY(get_int(cfg, "train.checkpoint_every", 0, 0, 1 << 30, &s->checkpoint_every));
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "train.checkpoint_every_steps", &zero, 0, INT64_MAX,
                                  &s->checkpoint_every_steps));
    LMN_TRY(get_int(cfg, "train.keep_checkpoints", 3, 1, 1 << 20, &s->keep_checkpoints));
    return read_optimizer(cfg, s);
}

static const char *const partition_names[] = {"iid", "dirichlet", "shards", NULL};
static const char *const aggregator_names[] = {"fedavg", "fedlama", "partial", "fedprox",
                                               "fedavgm", "fedadam", NULL};
static const char *const weighting_names[] = {"samples", "plain", NULL};
static const char *const split_names[] = {"layers", "elements", NULL};

const char *lmn_aggregator_name(lmn_aggregator_kind kind)
{
    return (unsigned)kind < sizeof aggregator_names / sizeof aggregator_names[0] - 1
               ? aggregator_names[kind]
               : "?";
}

static lmn_status read_server_optimizer(lmn_cfg *cfg, lmn_fl_settings *fl)
{
    const double one = 1.0, momentum = 0.9, small_lr = 0.01, eps = 1e-3;
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "fl.server_lr",
                                     fl->aggregator == LMN_AGG_FEDADAM ? &small_lr : &one, 1e-12,
                                     1e6, &fl->server_lr));
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "fl.server_momentum", &momentum, 0.0, 0.9999,
                                     &fl->server_momentum));
    const double betas_default[2] = {0.9, 0.99};
    const double *betas = NULL;
    size_t count = 0;
    LMN_TRY(lmn_cfg_get_double_list(cfg, NULL, "fl.server_betas", betas_default, 2, &betas, &count));
    if (count != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.server_betas': expected [beta1, beta2] in [0, 1)");
    fl->server_beta1 = betas[0];
    fl->server_beta2 = betas[1];
    return lmn_cfg_get_double_range(cfg, NULL, "fl.server_epsilon", &eps, 1e-30, 1.0, &fl->server_epsilon);
}

static lmn_status read_fl_keys(lmn_cfg *cfg, lmn_fl_settings *fl)
{
    int index = 0;
    LMN_TRY(get_int(cfg, "fl.clients", 128, 1, 1 << 30, &fl->clients));
    const double quarter = 0.25;
    LMN_TRY(lmn_cfg_get_double(cfg, NULL, "fl.active_ratio", &quarter, &fl->active_ratio));
    if (!(fl->active_ratio > 0.0 && fl->active_ratio <= 1.0))
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.active_ratio': must be in (0, 1], got %g",
                        fl->active_ratio);
    LMN_TRY(get_int(cfg, "fl.rounds", 100, 1, 1 << 30, &fl->rounds));
    LMN_TRY(get_int(cfg, "fl.local_steps", 10, 0, 1 << 24, &fl->local_steps));
    LMN_TRY(get_int(cfg, "fl.local_epochs", 0, 0, 1 << 16, &fl->local_epochs));
    if ((fl->local_steps == 0) == (fl->local_epochs == 0))
        return lmn_fail(LMN_ERR_CONFIG, "keys 'fl.local_steps' and 'fl.local_epochs': set exactly "
                        "one of them (the other to 0)");
    LMN_TRY(get_int(cfg, "fl.batch_size", 32, 1, 1 << 24, &fl->batch_size));
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "fl.partition", partition_names, "dirichlet", &index));
    fl->partition = (lmn_partition_kind)index;
    const double alpha = 0.1;
    const int64_t min_size = 10;
    /* Every method's keys are read whatever the choice, so one config can
     * switch partition or aggregator with a single --set. */
    LMN_TRY(lmn_cfg_get_double(cfg, NULL, "fl.alpha", &alpha, &fl->alpha));
    if (fl->partition == LMN_PARTITION_DIRICHLET && !(fl->alpha > 0.0))
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.alpha': the Dirichlet concentration must be "
                        "> 0, got %g", fl->alpha);
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, "fl.min_partition_size", &min_size, 1, INT64_MAX,
                                  &fl->min_partition_size));
    if (fl->partition != LMN_PARTITION_DIRICHLET) fl->min_partition_size = 0;
    LMN_TRY(get_int(cfg, "fl.shards_per_client", 2, 1, 1 << 20, &fl->shards_per_client));
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "fl.aggregator", aggregator_names, "fedavg", &index));
    fl->aggregator = (lmn_aggregator_kind)index;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "fl.weighting", weighting_names, "samples", &index));
    fl->weight_by_samples = index == 0;
    const bool lama = fl->aggregator == LMN_AGG_FEDLAMA;
    LMN_TRY(get_int(cfg, "fl.phi", lama ? 2 : 1, 1, 1 << 16, &fl->phi));
    if (!lama) fl->phi = 1;
    LMN_TRY(get_int(cfg, "fl.resample_every", fl->phi, 1, 1 << 30, &fl->resample_every));
    LMN_TRY(get_int(cfg, "fl.relax_after", 5, 0, 1 << 30, &fl->relax_after));
    const double mu = 0.01;
    LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "fl.mu", &mu, 0.0, 1e6, &fl->mu));
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "fl.partial_split", split_names, "layers", &index));
    fl->split_elements = index == 1;
    if (fl->aggregator == LMN_AGG_PARTIAL && fl->local_steps == 0)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.local_epochs': the partial aggregator steps all "
                        "clients in lockstep and needs fl.local_steps instead");
    LMN_TRY(read_server_optimizer(cfg, fl));
    const bool no = false;
    LMN_TRY(lmn_cfg_get_bool(cfg, NULL, "fl.keep_client_optimizer", &no, &fl->keep_client_optimizer));
    return get_int(cfg, "fl.eval_every", 1, 1, 1 << 30, &fl->eval_every);
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
    LMN_TRY(get_int(cfg, "fl.eval_batch_size", 500, 1, 1 << 24, &s->eval_batch_size));
    return read_optimizer(cfg, s);
}
