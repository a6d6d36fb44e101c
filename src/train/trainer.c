#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comm/exact_sum.h"
#include "comm/watchdog.h"
#include "core/memory.h"
#include "core/rng.h"
#include "core/timer.h"
#include "data/grf.h"
#include "io/hdf5_dataset.h"
#include "data/prefetch.h"
#include "data/sampler.h"
#include "io/files.h"
#include "io/image_folder.h"
#include "io/model_config.h"
#include "kernels/loss.h"
#include "nn/finite.h"
#include "optim/slimqn.h"
#include "train/config_schema.h"
#include "train/data_input.h"
#include "train/memory_budget.h"
#include "train/step.h"
#include "train/stop.h"
#include "train/sync.h"

/* The CPUs Slurm gave each task (--cpus-per-task), 0 outside Slurm. */
static int slurm_cpus_per_task(void)
{
    const char *text = getenv("SLURM_CPUS_PER_TASK");
    const long cpus = text ? strtol(text, NULL, 10) : 0;
    return cpus > 0 && cpus < 1 << 16 ? (int)cpus : 0;
}

/* Threads per rank: what Slurm allotted each task, else the cores of the
 * node shared by its ranks (on a node shared with other jobs, dividing all
 * its cores would oversubscribe it). */
static int choose_threads(const lmn_trainer *t, FILE *log)
{
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int local = t->comm->local_size > 0 ? t->comm->local_size : 1;
    int threads = t->settings.threads;
    if (threads == 0) threads = slurm_cpus_per_task();
    if (threads == 0) threads = cores / local > 0 ? (int)(cores / local) : 1;
    if (log && (long)threads * local > cores)
        fprintf(log, "lamina: warning: %d ranks x %d threads on a node with %ld cores "
                "(oversubscribed; expect slow steps)\n", local, threads, cores);
    return threads;
}

/* One set per data.* (train: the training split, else the test split). */
static lmn_status load_set(lmn_trainer *t, bool train, lmn_dataset **out)
{
    const lmn_data_settings *d = &t->settings.data;
    if (strcmp(d->name, "synthetic") == 0) {
        LMN_TRY(lmn_dataset_synthetic(train ? d->train_size : d->test_size, d->shape[0],
                                      d->shape[1], d->shape[2], d->classes, t->settings.seed, out));
        /* Same class prototypes, different noise: held-out samples. */
        if (!train) (*out)->synthetic_seed = ~(uint64_t)t->settings.seed;
        return LMN_OK;
    }
    /* grf-cubes: split 0 and 1, the same prior, different samples. */
    if (strcmp(d->name, "grf-cubes") == 0)
        return lmn_dataset_grf_cubes(&d->grf, train ? d->train_size : d->test_size,
                                     t->settings.seed, train ? 0 : 1, out);
    /* Images are decoded on demand; only the file list is held (io/image_folder.h). */
    if (strcmp(d->name, "images") == 0)
        return lmn_dataset_load_image_folder(d->path, train, &d->image_folder, t->comm->comm, out);
    return lmn_dataset_load_named(d->name, d->path, train, out);
}

/* Loads the sets the caller did not supply: the test set always, the
 * training set unless the trainer only evaluates (eval, export). */
static lmn_status load_data(lmn_trainer *t)
{
    const lmn_data_settings *d = &t->settings.data;
    const bool want_train = !t->evaluation_only && !t->train_set;
    if (strcmp(d->name, "hdf5") == 0 && (want_train || !t->test_set)) {
        /* Out of core unless data.in_memory (train/data_input.h). */
        LMN_TRY(lmn_trainer_load_hdf5(t));
    } else {
        if (want_train) LMN_TRY(load_set(t, true, &t->train_set));
        if (!t->test_set) LMN_TRY(load_set(t, false, &t->test_set));
    }
    if (t->train_set && d->augment >= 0) {
        t->train_set->augment = d->augment == 1;
        if (t->train_set->augment && !t->train_set->crop_pad && !t->train_set->flip) {
            t->train_set->crop_pad = 4;
            t->train_set->flip = true;
        }
    }
    t->test_set->augment = false;
    return lmn_task_prepare_data(t);
}

/* The set that fixes the model's input and output shapes: the training
 * set, or the test set of a trainer that only evaluates. */
static const lmn_dataset *shape_set(const lmn_trainer *t)
{
    return t->train_set ? t->train_set : t->test_set;
}

static lmn_status build_network(lmn_trainer *t, lmn_cfg *cfg)
{
    const lmn_dataset *ds = shape_set(t);
    lmn_model_spec spec;
    const lmn_layer_shape input = {.c = ds->channels, .h = ds->height, .w = ds->width, .d = ds->depth};
    lmn_status status = lmn_model_from_config_shape(cfg, input, lmn_task_output_count(&t->settings.task, ds),
                                                    &spec, &t->model_name);
    if (status == LMN_OK) {
        status = lmn_network_create_shape(t->backend, &spec, input, &t->net);
        lmn_model_spec_free(&spec);
    }
    if (status == LMN_ERR_SHAPE) {
        /* Name the data: a 2-D model fed volumes (or the reverse) fails in a layer. */
        char shape[96];
        lmn_dataset_describe_shape(ds, shape, sizeof shape);
        return lmn_fail_context(status, "data '%s' gives %s samples (%s)", ds->name,
                                ds->depth > 0 ? "3-D" : "2-D", shape);
    }
    LMN_TRY(status);
    LMN_TRY(lmn_task_check_network(t));
    lmn_network_init_params(t->net, t->settings.seed);
    return t->settings.profile ? lmn_network_enable_profile(t->net) : LMN_OK;
}

static lmn_status build_optimizer(lmn_trainer *t)
{
    const lmn_network *net = t->net;
    lmn_param_range *ranges = calloc((size_t)net->tensor_count + 1, sizeof *ranges);
    if (!ranges) return lmn_fail(LMN_ERR_NOMEM, "cannot list parameter ranges");
    int count = 0;
    for (int i = 0; i < net->tensor_count; i++) {
        const lmn_tensor_view *v = &net->tensors[i];
        if (v->role == LMN_ROLE_BN_MEAN || v->role == LMN_ROLE_BN_VAR) continue;
        ranges[count++] = (lmn_param_range){v->offset, v->count,
                                            v->role == LMN_ROLE_WEIGHT || t->settings.decay_bias_and_bn};
    }
    const lmn_status status = lmn_optimizer_create(&t->settings.optimizer, ranges, count,
                                                   net->param_count, &t->optimizer);
    free(ranges);
    return status;
}

static lmn_status allocate_buffers(lmn_trainer *t)
{
    const lmn_train_settings *s = &t->settings;
    const int largest = t->federated ? s->batch_size : lmn_epoch_control_max_batch_size(&t->epoch_control);
    const int local_batch = t->federated ? s->batch_size
                                         : (largest + t->comm->size - 1) / t->comm->size;
    t->batch_capacity = local_batch > s->eval_batch_size ? local_batch : s->eval_batch_size;
    LMN_TRY(lmn_trainer_reserve_memory(t, local_batch));
    const size_t sample = (size_t)lmn_dataset_sample_size(shape_set(t));
    LMN_TRY(lmn_alloc_floats(&t->inputs, sample * (size_t)t->batch_capacity, "input batch"));
    const size_t outputs = (size_t)t->net->num_outputs * (size_t)t->batch_capacity;
    LMN_TRY(lmn_alloc_floats(&t->dlogits, outputs, "output gradients"));
    if (t->settings.task.kind == LMN_TASK_REGRESSION)
        LMN_TRY(lmn_alloc_floats(&t->targets, outputs, "regression targets"));
    LMN_TRY(lmn_alloc_bytes((void **)&t->labels, sizeof(int32_t) * (size_t)t->batch_capacity, "labels"));
    if (!t->train_set) return LMN_OK;
    return lmn_alloc_bytes((void **)&t->order, sizeof(uint32_t) * (size_t)t->train_set->count,
                           "epoch order");
}

/* out_dir/sync_plan.txt: what each layer synchronises (multistep's
 * per-layer choice included), as `lamina train --dry-run` prints it. */
static lmn_status write_sync_plan(const lmn_trainer *t, const char *out_dir)
{
    char *text = NULL, path[4096];
    size_t length = 0;
    FILE *stream = open_memstream(&text, &length);
    if (!stream) return lmn_fail(LMN_ERR_NOMEM, "cannot describe the sync plan");
    lmn_sync_describe(t->sync, t->settings.batch_size, stream);
    fclose(stream);
    snprintf(path, sizeof path, "%s/sync_plan.txt", out_dir);
    const lmn_status status = lmn_write_file_atomic(path, text, length);
    free(text);
    return status;
}

static lmn_status open_outputs(lmn_trainer *t, lmn_cfg *cfg, const char *out_dir)
{
    size_t length = 0;
    LMN_TRY(lmn_cfg_to_yaml(cfg, &t->config_yaml, &length));
    if (!out_dir) return LMN_OK;
    t->out_dir = strdup(out_dir);
    if (!t->out_dir) return lmn_fail(LMN_ERR_NOMEM, "cannot copy the output directory name");
    return LMN_OK;
}

/* The run's files, written only once the run has validated everything and
 * its claim on the directory holds: a refused run leaves it untouched. */
static lmn_status write_run_files(const lmn_trainer *t)
{
    LMN_TRY(lmn_run_directory_check(t->out_dir, t->claim, !t->checkpoint_loaded, t->config_yaml));
    LMN_TRY(lmn_run_directory_prepare(t->out_dir, t->claim));
    char path[4096];
    snprintf(path, sizeof path, "%s/config.yaml", t->out_dir);
    const lmn_status status = lmn_write_file_atomic(path, t->config_yaml, strlen(t->config_yaml));
    if (status != LMN_OK) return lmn_fail_context(status, "cannot write the resolved configuration");
    LMN_TRY(lmn_image_folder_write_outputs(t->train_set, t->test_set, t->out_dir, t->log));
    return t->sync ? write_sync_plan(t, t->out_dir) : LMN_OK;
}

/* metrics.jsonl starts empty, unless a resume kept its earlier epochs. */
lmn_status lmn_trainer_open_metrics(lmn_trainer *t)
{
    if (t->comm->rank != 0 || !t->out_dir || t->metrics) return LMN_OK;
    LMN_TRY(write_run_files(t));
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->out_dir);
    return t->resumed.global_step == 0 ? lmn_metrics_open(path, &t->metrics)
                                       : lmn_metrics_open_append(path, &t->metrics);
}

/* A global batch larger than the training set would train one short step
 * per epoch while the metrics report the batch asked for. */
static lmn_status check_batch_fits(const lmn_trainer *t)
{
    const int largest = lmn_epoch_control_max_batch_size(&t->epoch_control);
    if (largest <= t->train_set->count) return LMN_OK;
    return lmn_fail(LMN_ERR_CONFIG, "the global batch of %d (train.batch_size%s) is larger than the "
                    "%lld training samples of '%s': lower train.batch_size", largest,
                    largest != t->settings.batch_size ? ", grown by train.batch_schedule" : "",
                    (long long)t->train_set->count, t->train_set->name);
}

/* Settings, threads, backend and data: everything the network's shape
 * depends on. */
static lmn_status open_inputs(lmn_trainer *t, lmn_cfg *cfg)
{
    lmn_comm *comm = t->comm;
    lmn_status status = lmn_config_check_keys(cfg); /* a typo fails before the data loads */
    if (status == LMN_OK)
        status = t->federated ? lmn_fl_settings_read(cfg, &t->settings, &t->fl)
                              : lmn_train_settings_read(cfg, &t->settings);
    if (status == LMN_OK && !t->federated) status = lmn_epoch_control_init(&t->epoch_control, &t->settings);
    LMN_TRY(lmn_comm_agree(comm, status));
    t->threads = choose_threads(t, t->log);
    omp_set_num_threads(t->threads);
    status = lmn_backend_create(t->settings.backend, &t->backend);
    if (status == LMN_OK) status = lmn_backend_set_precision(t->backend, t->settings.precision);
    if (status == LMN_OK) status = load_data(t);
    return lmn_comm_agree(comm, status);
}

static lmn_status setup(lmn_trainer *t, lmn_cfg *cfg, const lmn_trainer_options *options)
{
    lmn_comm *comm = t->comm;
    LMN_TRY(open_inputs(t, cfg));
    lmn_status status = build_network(t, cfg);
    if (status == LMN_OK) status = lmn_cfg_check_unused(cfg);
    /* Evaluation needs no optimizer: a checkpoint's model is all it uses. */
    if (status == LMN_OK && options->purpose != LMN_PURPOSE_EVALUATE) status = build_optimizer(t);
    if (status == LMN_OK) status = allocate_buffers(t);
    LMN_TRY(lmn_comm_agree(comm, status));
    /* Initialised once, on rank 0, and broadcast: every rank starts from
     * the same model whatever its RNG or library versions. */
    LMN_TRY(lmn_comm_broadcast(comm, t->net->params, t->net->param_count, 0));
    LMN_TRY(lmn_comm_broadcast(comm, t->net->state, t->net->state_count, 0));
    if (!t->federated && !t->evaluation_only)
        LMN_TRY(lmn_sync_create(&t->settings.parallel, t->net, t->optimizer, comm,
                                t->settings.batch_size, &t->sync));
    comm->bytes_sent = comm->seconds = 0.0;
    return lmn_comm_agree(comm, open_outputs(t, cfg, options->out_dir));
}

lmn_status lmn_trainer_open(lmn_cfg *cfg, lmn_comm *comm, const lmn_trainer_options *options,
                            lmn_trainer **out)
{
    *out = NULL;
    lmn_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        lmn_dataset_free(options->train_set);
        lmn_dataset_free(options->test_set);
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the trainer");
    }
    t->comm = comm;
    t->federated = options->purpose == LMN_PURPOSE_FEDERATED;
    t->evaluation_only = options->purpose == LMN_PURPOSE_EVALUATE ||
                       options->purpose == LMN_PURPOSE_PROFILE;
    t->train_set = options->train_set;
    t->test_set = options->test_set;
    t->log = comm->rank == 0 ? options->log : NULL;
    lmn_status status = LMN_OK;
    if (!t->train_set != !t->test_set)
        status = lmn_fail(LMN_ERR_ARG, "a caller that supplies data supplies both the training "
                          "and the test set");
    if (status == LMN_OK) status = setup(t, cfg, options);
    if (status != LMN_OK) {
        lmn_trainer_free(t);
        return status;
    }
    *out = t;
    return LMN_OK;
}

lmn_status lmn_trainer_create(lmn_cfg *cfg, lmn_comm *comm, const char *out_dir, FILE *log,
                              lmn_trainer **out)
{
    const lmn_trainer_options options = {.purpose = LMN_PURPOSE_TRAIN, .out_dir = out_dir, .log = log};
    return lmn_trainer_open(cfg, comm, &options, out);
}

lmn_status lmn_trainer_create_federated(lmn_cfg *cfg, lmn_comm *comm, const char *out_dir,
                                        FILE *log, lmn_trainer **out)
{
    const lmn_trainer_options options = {.purpose = LMN_PURPOSE_FEDERATED, .out_dir = out_dir,
                                         .log = log};
    return lmn_trainer_open(cfg, comm, &options, out);
}

void lmn_trainer_free(lmn_trainer *t)
{
    if (!t) return;
    lmn_prefetcher_free(t->prefetcher);
    if (t->metrics) lmn_metrics_close(t->metrics);
    free(t->out_dir);
    lmn_free(t->config_yaml);
    lmn_sync_free(t->sync);
    lmn_optimizer_free(t->optimizer);
    lmn_network_free(t->net);
    lmn_backend_destroy(t->backend);
    lmn_dataset_free(t->train_set);
    lmn_dataset_free(t->test_set);
    lmn_free(t->order);
    lmn_free(t->inputs);
    lmn_free(t->dlogits);
    lmn_free(t->targets);
    lmn_free(t->labels);
    free(t);
}

typedef struct step_totals {
    double loss, correct, samples;
} step_totals;

/* Forward + backward of this rank's share; leaves the local gradient of
 * (loss sum / global batch) in net->grads. */
/* This rank's share of `step` of the current epoch, as the prefetcher's
 * reader (it runs on the I/O thread when prefetching). */
static lmn_status read_step(void *ctx, int64_t step, float *images, int32_t *labels, int *count)
{
    lmn_trainer *t = ctx;
    /* On the I/O thread, data.io_threads threads (default 1): a larger
     * OpenMP team would spin on the cores the training step is using, but
     * decoding image files needs more than one core to keep up. */
    if (t->prefetcher) omp_set_num_threads(t->settings.data.io_threads);
    int64_t first = 0;
    lmn_epoch_plan_rank_slice(&t->plan, step, t->comm->rank, t->comm->size, &first, count);
    if (*count == 0) return LMN_OK;
    return lmn_dataset_gather(t->train_set, t->order + first, *count, t->settings.seed,
                              (uint64_t)t->epoch, images, labels);
}

/* The batch of `step`: from the prefetcher, or read now. Either way the
 * time the step waited counts as data wait. */
static lmn_status next_batch(lmn_trainer *t, int64_t step, const float **images,
                             const int32_t **labels, int *count)
{
    const double start = lmn_now();
    lmn_status status;
    if (t->prefetcher) {
        status = lmn_prefetcher_next(t->prefetcher, images, labels, count);
    } else {
        status = t->reader(t->reader_ctx, step, t->inputs, t->labels, count);
        *images = t->inputs;
        *labels = t->labels;
    }
    t->data_wait_seconds += lmn_now() - start;
    return status;
}

/* Forward + backward of this rank's share; leaves the local gradient of
 * (loss sum / global batch) in net->grads. */
static lmn_status local_gradient(lmn_trainer *t, int64_t step, int global, double *loss,
                                 double *correct)
{
    lmn_network *net = t->net;
    *loss = *correct = 0.0;
    const float *images = NULL;
    const int32_t *labels = NULL;
    int count = 0;
    lmn_status read = next_batch(t, step, &images, &labels, &count);
    /* Out-of-core reads can fail on one rank alone (a changed file): agree
     * before the step's collectives, or the others would wait forever. */
    if (t->train_set->rows.read || t->train_set->source.produce) read = lmn_comm_agree(t->comm, read);
    LMN_TRY(read);
    if (count == 0) {
        memset(net->grads, 0, net->param_count * sizeof(float));
        return LMN_OK;
    }
    const uint64_t noise_key = lmn_rng_stream_id((uint64_t)t->global_step, (uint64_t)t->comm->rank);
    /* The batch's samples, for regression targets: the same slice the reader took. */
    int64_t first = 0;
    int slice = 0;
    lmn_epoch_plan_rank_slice(&t->plan, step, t->comm->rank, t->comm->size, &first, &slice);
    const lmn_step_batch batch = {t->order + first, images, labels, count};
    const lmn_step_model model = lmn_step_model_of(t);
    return lmn_step_gradient(&model, &batch, 1.0f / (float)global, noise_key, loss, correct);
}

/* The loss, hit count, stop flag and non-finite flag of a step are summed
 * by a small non-blocking reduction that completes while the sync policy
 * works. */
typedef struct step_scalars {
    double values[4]; /* loss sum, hits, stop requests, ranks with a non-finite model */
    MPI_Request request;
} step_scalars;

static lmn_status start_scalars(lmn_trainer *t, double loss, double correct, bool model_finite,
                                step_scalars *s)
{
    *s = (step_scalars){{loss, correct, lmn_stop_requested() ? 1.0 : 0.0, model_finite ? 0.0 : 1.0},
                        MPI_REQUEST_NULL};
    if (MPI_Iallreduce(MPI_IN_PLACE, s->values, 4, MPI_DOUBLE, MPI_SUM, t->comm->comm,
                       &s->request) != MPI_SUCCESS)
        return lmn_fail(LMN_ERR_MPI, "MPI_Iallreduce of the step's loss failed");
    return LMN_OK;
}

static lmn_status finish_scalars(lmn_comm *comm, step_scalars *s)
{
    lmn_comm_enter(comm, "allreduce of the step's loss", 4);
    const int code = MPI_Wait(&s->request, MPI_STATUS_IGNORE);
    lmn_comm_leave(comm);
    if (code != MPI_SUCCESS) return lmn_fail(LMN_ERR_MPI, "MPI_Wait for the step's loss failed");
    return LMN_OK;
}

/* The schedule's position counts epochs of the current length (the batch
 * size, and with it the steps per epoch, may change between epochs). */
static double epoch_lr(const lmn_trainer *t, int epoch, int64_t step, int64_t steps_per_epoch)
{
    return lmn_lr_at(&t->settings.schedule, (int64_t)epoch * steps_per_epoch + step, steps_per_epoch) *
           t->lr_factor;
}

/* Whether this rank's parameters and statistics are finite: checked at the
 * start of every step, so a step that produced NaN or infinity (which a
 * finite loss can hide: ReLU maps NaN to 0) ends the run at the next one,
 * before any checkpoint is written from it. */
static bool model_finite(const lmn_trainer *t)
{
    return lmn_floats_finite(t->net->params, t->net->param_count) &&
           lmn_floats_finite(t->net->state, t->net->state_count);
}

static lmn_status diverged_model(const lmn_trainer *t, double bad_ranks, int epoch, int64_t step)
{
    char what[256];
    snprintf(what, sizeof what, "training diverged: at epoch %d, step %lld the model of %g of %d "
             "rank%s is not finite (lower optimizer.lr or check the data)", epoch + 1,
             (long long)step + 1, bad_ranks, t->comm->size, t->comm->size > 1 ? "s" : "");
    const lmn_status status = lmn_network_check_finite(t->net, what);
    return status != LMN_OK ? status : lmn_fail(LMN_ERR_NUMERIC, "%s", what);
}

static lmn_status train_step(lmn_trainer *t, const lmn_epoch_plan *plan, int64_t step,
                             uint64_t epoch, int64_t steps_per_epoch, step_totals *totals)
{
    int64_t first = 0;
    const int global = lmn_epoch_plan_batch(plan, step, &first);
    double loss, correct;
    const bool finite = model_finite(t);
    LMN_TRY(local_gradient(t, step, global, &loss, &correct));
    step_scalars scalars;
    LMN_TRY(start_scalars(t, loss, correct, finite, &scalars));
    const double lr = epoch_lr(t, (int)epoch, step, steps_per_epoch);
    const lmn_status status = lmn_sync_step(t->sync, lr);
    LMN_TRY(finish_scalars(t->comm, &scalars));
    LMN_TRY(status);
    /* A stop signal on any rank stops every rank after this same step. */
    t->stopped = scalars.values[2] > 0.0;
    const double step_loss = scalars.values[0];
    if (!isfinite(step_loss))
        return lmn_fail(LMN_ERR_NUMERIC, "training diverged: the loss is %g at epoch %d, step %lld "
                        "(learning rate %g); lower optimizer.lr or check the data",
                        step_loss, (int)epoch + 1, (long long)step + 1, lr);
    if (scalars.values[3] > 0.0) return diverged_model(t, scalars.values[3], (int)epoch, step);
    totals->loss += step_loss;
    totals->correct += scalars.values[1];
    totals->samples += global;
    t->global_step++;
    return LMN_OK;
}

/* Batch-norm running statistics differ per rank (local batches); average
 * them so every rank evaluates and saves the same model. */
static lmn_status average_running_stats(lmn_trainer *t)
{
    lmn_network *net = t->net;
    if (net->state_count == 0 || t->comm->size == 1) return LMN_OK;
    LMN_TRY(lmn_comm_allreduce_sum(t->comm, net->state, net->state_count));
    const float scale = 1.0f / (float)t->comm->size;
    for (size_t i = 0; i < net->state_count; i++) net->state[i] *= scale;
    return LMN_OK;
}

/* Evaluation batches are fixed slices of the test set dealt round-robin to
 * the ranks, and their sums are added as fixed-point integers: the result
 * has the same bits whatever the rank count. */
/* What the watchdog expects after an evaluation or a checkpoint. */
static lmn_watch_activity routine_activity(const lmn_trainer *t)
{
    return t->federated ? LMN_WATCH_ROUND : LMN_WATCH_STEP;
}

static void count_classes(const float *logits, const int32_t *labels, int n, int classes,
                          int64_t *class_correct, int64_t *class_total)
{
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * classes;
        int best = 0;
        for (int k = 1; k < classes; k++)
            if (row[k] > row[best]) best = k;
        class_total[labels[i]]++;
        class_correct[labels[i]] += best == labels[i];
    }
}

lmn_status lmn_trainer_evaluate_classes(lmn_trainer *t, double *loss, double *accuracy,
                                        int64_t *class_correct, int64_t *class_total)
{
    if (t->settings.task.kind == LMN_TASK_REGRESSION) {
        /* No classes: the loss, and MSE / MAE / PSNR in task_scores.evaluated. */
        lmn_regression_metrics m;
        LMN_TRY(lmn_task_evaluate_regression(t, &m));
        *loss = m.loss;
        *accuracy = NAN;
        const size_t classes = (size_t)t->net->num_outputs;
        if (class_correct) memset(class_correct, 0, classes * sizeof *class_correct);
        if (class_total) memset(class_total, 0, classes * sizeof *class_total);
        return LMN_OK;
    }
    const lmn_dataset *test = t->test_set;
    const int batch = t->settings.eval_batch_size, classes = t->net->num_outputs;
    const int64_t batches = (test->count + batch - 1) / batch;
    uint32_t *indices = malloc(sizeof *indices * (size_t)batch);
    int64_t *sums = calloc(2 + 2 * (size_t)classes, sizeof *sums);
    if (!indices || !sums) {
        free(indices);
        free(sums);
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate evaluation buffers");
    }
    lmn_status status = LMN_OK;
    for (int64_t b = t->comm->rank; b < batches && status == LMN_OK; b += t->comm->size) {
        lmn_watchdog_progress(t->watchdog, LMN_WATCH_EVALUATION, t->global_step);
        const int64_t first = b * batch;
        const int n = (int)(test->count - first < batch ? test->count - first : batch);
        for (int i = 0; i < n; i++) indices[i] = (uint32_t)(first + i);
        const float *logits = NULL;
        status = lmn_dataset_gather(test, indices, n, t->settings.seed, 0, t->inputs, t->labels);
        if (status == LMN_OK) status = lmn_network_forward(t->net, n, t->inputs, false, 0, &logits);
        if (status != LMN_OK) break;
        int64_t hits = 0;
        const double batch_loss = lmn_softmax_xent(logits, t->labels, n, classes, 0.0f, NULL, &hits);
        sums[0] += lmn_fixed_from_double(batch_loss, LMN_FIXED_METRIC_BITS);
        sums[1] += hits;
        count_classes(logits, t->labels, n, classes, sums + 2, sums + 2 + classes);
    }
    free(indices);
    status = lmn_comm_agree(t->comm, status);
    if (status == LMN_OK && t->comm->size > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, sums, 2 + 2 * classes, MPI_INT64_T, MPI_SUM, t->comm->comm) != MPI_SUCCESS)
        status = lmn_fail(LMN_ERR_MPI, "MPI_Allreduce of evaluation sums failed");
    lmn_watchdog_progress(t->watchdog, routine_activity(t), t->global_step);
    if (status == LMN_OK) {
        *loss = lmn_fixed_to_double(sums[0], LMN_FIXED_METRIC_BITS) / (double)test->count;
        *accuracy = (double)sums[1] / (double)test->count;
        if (class_correct) memcpy(class_correct, sums + 2, sizeof *sums * (size_t)classes);
        if (class_total) memcpy(class_total, sums + 2 + classes, sizeof *sums * (size_t)classes);
    }
    free(sums);
    return status;
}

/* Evaluation batches are fixed slices of the test set dealt round-robin to
 * the ranks, and their sums are added as fixed-point integers: the result
 * has the same bits whatever the rank count. */
lmn_status lmn_trainer_evaluate(lmn_trainer *t, double *loss, double *accuracy)
{
    return lmn_trainer_evaluate_classes(t, loss, accuracy, NULL, NULL);
}

typedef struct epoch_record {
    int epoch;
    double lr, train_loss, train_acc, test_loss, test_acc;
    double seconds, train_seconds, eval_seconds, elapsed_seconds, images_per_second;
    double comm_bytes, comm_seconds, exposed_comm_seconds, data_wait_seconds;
    double peak_rss_mb; /* the largest over the ranks */
    int batch_size;
} epoch_record;

static lmn_status write_metrics(lmn_trainer *t, const epoch_record *r)
{
    lmn_metrics *m = t->metrics;
    if (!m) return LMN_OK;
    lmn_metrics_begin(m);
    LMN_TRY(lmn_metrics_int(m, "epoch", r->epoch));
    LMN_TRY(lmn_metrics_int(m, "step", t->global_step));
    LMN_TRY(lmn_metrics_double(m, "lr", r->lr));
    LMN_TRY(lmn_metrics_int(m, "batch_size", r->batch_size));
    LMN_TRY(lmn_metrics_double(m, "train_loss", r->train_loss));
    const bool regression = t->settings.task.kind == LMN_TASK_REGRESSION;
    if (!regression) LMN_TRY(lmn_metrics_double(m, "train_acc", r->train_acc));
    if (t->settings.eval) {
        LMN_TRY(lmn_metrics_double(m, "test_loss", r->test_loss));
        if (regression)
            LMN_TRY(lmn_task_write_metrics(&t->task_scores, m));
        else
            LMN_TRY(lmn_metrics_double(m, "test_acc", r->test_acc));
    }
    LMN_TRY(lmn_metrics_double(m, "seconds", r->seconds));
    LMN_TRY(lmn_metrics_double(m, "train_seconds", r->train_seconds));
    LMN_TRY(lmn_metrics_double(m, "eval_seconds", r->eval_seconds));
    LMN_TRY(lmn_metrics_double(m, "elapsed_seconds", r->elapsed_seconds));
    LMN_TRY(lmn_metrics_double(m, "images_per_second", r->images_per_second));
    LMN_TRY(lmn_metrics_double(m, "comm_bytes", r->comm_bytes));
    LMN_TRY(lmn_metrics_double(m, "comm_seconds", r->comm_seconds));
    LMN_TRY(lmn_metrics_double(m, "exposed_comm_seconds", r->exposed_comm_seconds));
    LMN_TRY(lmn_metrics_string(m, "strategy", lmn_strategy_name(t->settings.parallel.strategy)));
    LMN_TRY(lmn_metrics_string(m, "wire", lmn_wire_name(t->settings.parallel.wire)));
    double policy_value = 0.0;
    const char *policy_state = lmn_sync_state_name(t->sync, &policy_value);
    if (policy_state) LMN_TRY(lmn_metrics_double(m, policy_state, policy_value));
    LMN_TRY(lmn_metrics_double(m, "data_wait_seconds", r->data_wait_seconds));
    LMN_TRY(lmn_metrics_double(m, "peak_rss_mb", r->peak_rss_mb));
    LMN_TRY(lmn_metrics_int(m, "ranks", t->comm->size));
    LMN_TRY(lmn_metrics_int(m, "threads", t->threads));
    if (t->optimizer && t->optimizer->qn)
        LMN_TRY(lmn_slimqn_write_metrics(t->optimizer->qn, m, r->train_seconds));
    return lmn_metrics_end(m);
}

/* Checkpoints of data-parallel runs carry the epoch controller's state
 * followed by the sync policy's. */
static int policy_state_count(const lmn_trainer *t)
{
    return t->sync ? LMN_EPOCH_CONTROL_STATE + (int)lmn_sync_state_count(t->sync) : 0;
}

lmn_status lmn_trainer_checkpoint(lmn_trainer *t)
{
    if (!t->out_dir) return lmn_fail(LMN_ERR_ARG, "no output directory to checkpoint into");
    lmn_watchdog_progress(t->watchdog, LMN_WATCH_CHECKPOINT, t->global_step);
    /* All ranks must hold the same model in the file; averaging statistics
     * that are already equal changes nothing. */
    if (t->sync) LMN_TRY(lmn_sync_settle(t->sync));
    LMN_TRY(average_running_stats(t));
    /* A checkpoint is written only from a finite model, so rotation can
     * never replace the last good one with a poisoned one. */
    char target[4096], refusal[4400];
    lmn_checkpoint_name(target, sizeof target, t->out_dir, t->global_step);
    snprintf(refusal, sizeof refusal, "refusing to write %s (the earlier checkpoints are kept; "
             "lower optimizer.lr or check the data)", target);
    LMN_TRY(lmn_comm_agree(t->comm, lmn_network_check_finite(t->net, refusal)));
    /* Sized by the policy: a policy may keep any number of values. */
    const int policy_count = policy_state_count(t);
    double *policy_state = calloc((size_t)policy_count + 1, sizeof *policy_state);
    lmn_status status = policy_state ? LMN_OK
                                     : lmn_fail(LMN_ERR_NOMEM, "cannot save the sync-policy state");
    if (policy_state && t->sync) {
        lmn_epoch_control_save(&t->epoch_control, policy_state);
        lmn_sync_state_save(t->sync, policy_state + LMN_EPOCH_CONTROL_STATE);
    }
    /* SLIM-QN's history is spread over the ranks' slices: rank 0 collects it. */
    if (status == LMN_OK && t->optimizer && t->optimizer->qn)
        status = lmn_slimqn_gather(t->optimizer, t->comm);
    if (status == LMN_OK && t->comm->rank == 0) {
        char path[4096];
        lmn_checkpoint_name(path, sizeof path, t->out_dir, t->global_step);
        t->resumed.ranks = t->comm->size;
        status = lmn_checkpoint_save(path, t->net, t->optimizer, &t->resumed, t->config_yaml,
                                     policy_state, policy_count);
        if (status == LMN_OK) status = lmn_checkpoint_prune(t->out_dir, t->settings.keep_checkpoints);
        if (status == LMN_OK && t->log) fprintf(t->log, "lamina: checkpoint %s\n", path);
    }
    free(policy_state);
    if (t->optimizer && t->optimizer->qn) lmn_slimqn_drop_saved(t->optimizer->qn);
    status = lmn_comm_agree(t->comm, status);
    lmn_watchdog_progress(t->watchdog, routine_activity(t), t->global_step);
    return status;
}

/* Whether the epoch controller remembers more than the epoch tells: the
 * adaptive batch schedule and two-phase training decide on past losses. */
static bool controller_has_memory(const lmn_epoch_control *c)
{
    return c->batch.kind == LMN_BATCH_ADAPTIVE || c->two_phase.enabled;
}

/* How many /policy_state values resuming reads from path: all this run
 * keeps, or none when the file has none and a fresh controller and policy
 * resume exactly (src/io/checkpoint.h). */
static lmn_status policy_values_to_read(const lmn_trainer *t, const char *path, int *count)
{
    const int needed = policy_state_count(t);
    *count = needed;
    if (needed == 0) return LMN_OK;
    int found = 0;
    LMN_TRY(lmn_checkpoint_policy_state_count(path, &found));
    const int policy = needed - LMN_EPOCH_CONTROL_STATE;
    const char *strategy = lmn_strategy_name(t->settings.parallel.strategy);
    if (found == 0 && policy == 0 && !controller_has_memory(&t->epoch_control)) {
        *count = 0;
        return LMN_OK;
    }
    if (found == 0)
        return lmn_fail(LMN_ERR_FORMAT, "%s has no /policy_state, which resuming parallel.strategy "
                        "'%s'%s needs: %d values, the epoch controller's %d and the policy's %d "
                        "(see src/io/checkpoint.h)", path, strategy,
                        controller_has_memory(&t->epoch_control)
                            ? " with an adaptive batch schedule or two-phase training" : "",
                        needed, LMN_EPOCH_CONTROL_STATE, policy);
    if (found != needed)
        return lmn_fail(LMN_ERR_FORMAT, "%s: /policy_state holds %d values, but parallel.strategy "
                        "'%s' resumes from %d (the epoch controller's %d and the policy's %d): was "
                        "it written with another parallel.strategy?", path, found, strategy, needed,
                        LMN_EPOCH_CONTROL_STATE, policy);
    return LMN_OK;
}

/* Whether the checkpoint just loaded already reached train.epochs or
 * train.max_steps. */
static bool resumed_run_finished(const lmn_trainer *t)
{
    const lmn_train_settings *s = &t->settings;
    return t->resumed.epoch >= s->epochs || (s->max_steps > 0 && t->global_step >= s->max_steps);
}

lmn_status lmn_trainer_resume_path(lmn_trainer *t, const char *from, char *path, size_t size,
                                   bool *fresh)
{
    /* Resuming continues the run in the output directory, whoever calls it. */
    if (t->claim == LMN_CLAIM_FRESH) t->claim = LMN_CLAIM_CONTINUE;
    lmn_status status = lmn_run_directory_resume_source(t->out_dir, from, path, size, fresh);
    if (status == LMN_OK && !*fresh)
        status = lmn_run_directory_check_resume(t->out_dir, t->claim, from, path);
    LMN_TRY(lmn_comm_agree(t->comm, status));
    if (*fresh && t->log)
        fprintf(t->log, "lamina: no checkpoint in %s yet; starting fresh\n", t->out_dir);
    return LMN_OK;
}

lmn_status lmn_trainer_resume(lmn_trainer *t, const char *from)
{
    char path[4096] = {0};
    bool fresh = false;
    LMN_TRY(lmn_trainer_resume_path(t, from, path, sizeof path, &fresh));
    if (fresh) return LMN_OK;
    /* Every rank reads the same file: no broadcast needed. */
    int policy_count = 0;
    lmn_status status = policy_values_to_read(t, path, &policy_count);
    double *policy_state = calloc((size_t)policy_count + 1, sizeof *policy_state);
    if (status == LMN_OK && !policy_state)
        status = lmn_fail(LMN_ERR_NOMEM, "cannot read the sync-policy state");
    if (status == LMN_OK)
        status = lmn_checkpoint_load(path, t->net, t->optimizer, &t->resumed,
                                     policy_count > 0 ? policy_state : NULL, policy_count);
    if (status == LMN_OK && policy_count > 0) {
        status = lmn_epoch_control_restore(&t->epoch_control, policy_state);
        lmn_sync_state_restore(t->sync, policy_state + LMN_EPOCH_CONTROL_STATE);
    }
    free(policy_state);
    if (status != LMN_OK) status = lmn_fail_context(status, "cannot resume from '%s'", path);
    LMN_TRY(lmn_comm_agree(t->comm, status));
    t->checkpoint_loaded = true;
    t->global_step = t->resumed.global_step;
    if (resumed_run_finished(t)) {
        /* Nothing to train: the directory's metrics and files stay as they are. */
        t->already_finished = true;
        if (t->log)
            fprintf(t->log, "lamina: %s is the end of the run (epoch %lld of %d, global step %lld%s); "
                    "nothing to do: raise train.epochs or train.max_steps to train further\n", path,
                    (long long)t->resumed.epoch + (t->resumed.step_in_epoch > 0), t->settings.epochs,
                    (long long)t->global_step, t->settings.max_steps > 0 ? " = train.max_steps" : "");
        return LMN_OK;
    }
    if (t->log && t->resumed.ranks > 0 && t->resumed.ranks != t->comm->size)
        fprintf(t->log, "lamina: warning: the checkpoint was written by %lld ranks and resumes on "
                "%d: training continues, but not bit for bit as it would have\n",
                (long long)t->resumed.ranks, t->comm->size);
    if (t->log)
        fprintf(t->log, "lamina: resuming from %s (epoch %lld, step %lld of the epoch, global step "
                "%lld)\n", path, (long long)t->resumed.epoch + 1,
                (long long)t->resumed.step_in_epoch, (long long)t->global_step);
    /* The metrics lines of epochs after the checkpoint go. */
    if (t->comm->rank != 0 || !t->out_dir) return lmn_comm_agree(t->comm, LMN_OK);
    return lmn_comm_agree(t->comm, lmn_run_directory_rewind_metrics(t->out_dir, "epoch",
                                                                    t->resumed.epoch));
}

/* Checkpoints due after this step (by steps) or epoch (by epochs). */
static bool checkpoint_due(const lmn_trainer *t, bool epoch_end, int epoch)
{
    const lmn_train_settings *s = &t->settings;
    if (!t->out_dir) return false;
    if (epoch_end) return s->checkpoint_every > 0 && (epoch + 1) % s->checkpoint_every == 0;
    return s->checkpoint_every_steps > 0 && t->global_step % s->checkpoint_every_steps == 0;
}

/* Steps left in the run if later epochs keep this epoch's batch size. */
static double remaining_steps(const lmn_trainer *t, const lmn_epoch_plan *plan, int epoch,
                             int64_t step, int64_t total_steps)
{
    const double by_epochs = (double)(plan->steps - step - 1) +
                             (double)plan->steps * (t->settings.epochs - epoch - 1);
    const double by_limit = (double)(total_steps - t->global_step);
    return by_epochs < by_limit ? by_epochs : by_limit;
}

/* A checkpoint inside epoch `epoch` after `step` of its steps: resuming
 * continues with the next step and the epoch's running totals. */
static lmn_status checkpoint_mid_epoch(lmn_trainer *t, int epoch, int64_t step,
                                       const step_totals *totals, double comm_bytes,
                                       double run_start)
{
    t->resumed = (lmn_checkpoint_progress){
        .epoch = epoch, .step_in_epoch = step, .global_step = t->global_step,
        .epoch_loss = totals->loss, .epoch_correct = totals->correct,
        .epoch_samples = totals->samples, .epoch_comm_bytes = comm_bytes,
        .elapsed_seconds = lmn_now() - run_start + t->resumed.elapsed_seconds};
    return lmn_trainer_checkpoint(t);
}

/* Where an epoch stands: its steps so far and what it started from. */
typedef struct epoch_state {
    double start;                 /* lmn_now() when the epoch began (this run) */
    lmn_sync_totals before;       /* communication totals then */
    step_totals totals;
    int64_t step, first_step;     /* next step of the epoch; the first this run takes */
    int64_t saved_step;           /* global step of this epoch's latest checkpoint, or -1 */
    double earlier_comm_bytes;    /* sent in this epoch before a resume */
} epoch_state;

static lmn_status start_epoch_state(lmn_trainer *t, int epoch, const lmn_epoch_plan *plan,
                                    epoch_state *e)
{
    *e = (epoch_state){.start = lmn_now(), .saved_step = -1};
    lmn_sync_totals_get(t->sync, &e->before);
    LMN_TRY(lmn_trainer_epoch_order(t, epoch, plan));
    t->epoch = epoch;
    t->data_wait_seconds = 0.0;
    if (epoch == t->resumed.epoch) {
        /* Resuming inside this epoch: the totals so far came with the checkpoint. */
        e->step = t->resumed.step_in_epoch;
        e->totals = (step_totals){t->resumed.epoch_loss, t->resumed.epoch_correct,
                                  t->resumed.epoch_samples};
        e->earlier_comm_bytes = t->resumed.epoch_comm_bytes;
    }
    e->first_step = e->step;
    return LMN_OK;
}

/* The epoch's steps until its end, train.max_steps or a stop signal,
 * with the progress line and mid-epoch checkpoints. */
static lmn_status run_steps(lmn_trainer *t, int epoch, const lmn_epoch_plan *plan,
                            double run_start, int64_t total_steps, epoch_state *e)
{
    const lmn_train_settings *s = &t->settings;
    const int64_t last_step = plan->steps < e->step + (total_steps - t->global_step)
                                  ? plan->steps : e->step + (total_steps - t->global_step);
    if (t->prefetcher) LMN_TRY(lmn_prefetcher_start(t->prefetcher, e->step, last_step));
    for (; e->step < plan->steps && t->global_step < total_steps && !t->stopped; e->step++) {
        const int64_t step = e->step;
        LMN_TRY(train_step(t, plan, step, (uint64_t)epoch, plan->steps, &e->totals));
        lmn_watchdog_progress(t->watchdog, LMN_WATCH_STEP, t->global_step);
        const double elapsed = lmn_now() - e->start;
        lmn_progress_step(&t->progress, epoch + 1, s->epochs, step + 1, plan->steps,
                          e->totals.loss / e->totals.samples, e->totals.correct / e->totals.samples,
                          (double)(step + 1 - e->first_step) * t->batch_size / elapsed,
                          elapsed / (double)(step + 1 - e->first_step) *
                              remaining_steps(t, plan, epoch, step, total_steps));
        if (step + 1 < plan->steps && (t->stopped || checkpoint_due(t, false, epoch))) {
            lmn_sync_totals now;
            lmn_sync_totals_get(t->sync, &now);
            LMN_TRY(checkpoint_mid_epoch(t, epoch, step + 1, &e->totals,
                                         e->earlier_comm_bytes + now.bytes - e->before.bytes,
                                         run_start));
            e->saved_step = t->global_step;
        }
    }
    if (t->prefetcher) lmn_prefetcher_stop(t->prefetcher);
    /* Settling (pending updates, averages) is part of training time. */
    return lmn_sync_settle(t->sync);
}

/* The epoch's metrics record, evaluation included. */
static lmn_status record_epoch(lmn_trainer *t, int epoch, const lmn_epoch_plan *plan,
                               double run_start, const epoch_state *e, epoch_record *r)
{
    *r = (epoch_record){.epoch = epoch + 1, .test_loss = -1.0, .test_acc = -1.0};
    const step_totals *totals = &e->totals;
    r->train_seconds = lmn_now() - e->start;
    r->lr = epoch_lr(t, epoch, e->step > 0 ? e->step - 1 : 0, plan->steps);
    r->batch_size = t->batch_size;
    r->train_loss = totals->samples > 0 ? totals->loss / totals->samples : 0.0;
    r->train_acc = totals->samples > 0 ? totals->correct / totals->samples : 0.0;
    r->images_per_second = (double)(e->step - e->first_step) * t->batch_size /
                           (r->train_seconds > 0 ? r->train_seconds : 1e-9);
    LMN_TRY(average_running_stats(t));
    lmn_sync_totals after;
    lmn_sync_totals_get(t->sync, &after);
    r->comm_bytes = e->earlier_comm_bytes + after.bytes - e->before.bytes;
    r->comm_seconds = after.seconds - e->before.seconds;
    r->exposed_comm_seconds = after.exposed_seconds - e->before.exposed_seconds;
    r->data_wait_seconds = t->data_wait_seconds;
    const double eval_start = lmn_now();
    if (t->settings.eval) LMN_TRY(lmn_trainer_evaluate(t, &r->test_loss, &r->test_acc));
    r->eval_seconds = lmn_now() - eval_start;
    r->seconds = lmn_now() - e->start;
    r->elapsed_seconds = lmn_now() - run_start + t->resumed.elapsed_seconds;
    return LMN_OK;
}

/* The epoch line on the terminal, metrics.jsonl and the API's callback. */
static lmn_status report_epoch(lmn_trainer *t, int epoch, const lmn_epoch_plan *plan,
                               double run_start, int64_t total_steps, epoch_record *r)
{
    const double per_step = (lmn_now() - run_start) / (double)(t->global_step > 0 ? t->global_step : 1);
    if (t->log) {
        const lmn_epoch_summary summary = {r->epoch, t->settings.epochs, r->train_loss,
                                           r->train_acc, r->test_loss, r->test_acc,
                                           r->images_per_second, r->seconds,
                                           per_step * remaining_steps(t, plan, epoch, plan->steps - 1,
                                                                      total_steps)};
        lmn_progress_epoch(&t->progress, &summary);
    }
    LMN_TRY(lmn_peak_rss_mb(t->comm, &r->peak_rss_mb));
    LMN_TRY(lmn_comm_agree(t->comm, write_metrics(t, r)));
    if (!t->on_epoch) return LMN_OK;
    const lmn_epoch_report report = {r->epoch, t->global_step, r->lr, r->train_loss, r->train_acc,
                                     r->test_loss, r->test_acc};
    return t->on_epoch(t->on_epoch_ctx, &report);
}

/* After a whole epoch: the epoch-control decision and the checkpoint due. */
static lmn_status end_epoch(lmn_trainer *t, int epoch, bool finished, const epoch_record *r)
{
    if (lmn_epoch_control_end(&t->epoch_control, epoch, r->train_loss) && t->log) {
        char change[128];
        lmn_epoch_control_describe(&t->epoch_control, change, sizeof change);
        fprintf(t->log, "lamina: from epoch %d: %s\n", epoch + 2, change);
    }
    if (t->stopped || checkpoint_due(t, true, epoch) || (finished && t->settings.checkpoint_every > 0)) {
        t->resumed = (lmn_checkpoint_progress){.epoch = epoch + 1, .global_step = t->global_step,
                                               .elapsed_seconds = r->elapsed_seconds};
        LMN_TRY(lmn_trainer_checkpoint(t));
    }
    return LMN_OK;
}

static lmn_status run_epoch(lmn_trainer *t, int epoch, const lmn_epoch_plan *plan,
                            double run_start, int64_t total_steps, bool *finished)
{
    epoch_state e;
    LMN_TRY(start_epoch_state(t, epoch, plan, &e));
    LMN_TRY(run_steps(t, epoch, plan, run_start, total_steps, &e));
    if (t->stopped && e.step < plan->steps) return LMN_OK;
    /* train.max_steps ended the run inside the epoch: the metrics report
     * the steps so far, but the epoch is not over (no epoch-control
     * decision) and the checkpoint resumes at the next step. */
    const bool partial = e.step < plan->steps;
    *finished = t->global_step >= total_steps || epoch + 1 >= t->settings.epochs;
    epoch_record r;
    LMN_TRY(record_epoch(t, epoch, plan, run_start, &e, &r));
    LMN_TRY(report_epoch(t, epoch, plan, run_start, total_steps, &r));
    if (partial)
        return t->settings.checkpoint_every > 0 && e.saved_step != t->global_step
                   ? checkpoint_mid_epoch(t, epoch, e.step, &e.totals, r.comm_bytes, run_start)
                   : LMN_OK;
    return end_epoch(t, epoch, *finished, &r);
}

/* Rank 0's table of where a training step spends its time. */
static void report_profile(const lmn_trainer *t)
{
    const lmn_network *net = t->net;
    if (!t->log || !net->forward_seconds || t->global_step == 0) return;
    const double steps = (double)t->global_step;
    double forward = 0.0, backward = 0.0;
    fprintf(t->log, "\nper-layer time (ms per training step, rank 0; evaluation included in forward):\n");
    fprintf(t->log, "  %-24s %-15s %9s %9s\n", "layer", "type", "forward", "backward");
    for (int i = 0; i < net->spec.count; i++) {
        fprintf(t->log, "  %-24s %-15s %9.3f %9.3f\n", net->spec.layers[i].name,
                lmn_layer_kind_name(net->spec.layers[i].kind), 1e3 * net->forward_seconds[i] / steps,
                1e3 * net->backward_seconds[i] / steps);
        forward += net->forward_seconds[i];
        backward += net->backward_seconds[i];
    }
    fprintf(t->log, "  %-24s %-15s %9.3f %9.3f\n", "total", "", 1e3 * forward / steps,
            1e3 * backward / steps);
}

/* The prefetcher holds batches of the largest local batch the run can use. */
static lmn_status prepare_reader(lmn_trainer *t)
{
    const lmn_train_settings *s = &t->settings;
    t->reader = read_step;
    t->reader_ctx = t;
    if (s->data.read_delay_ms > 0.0) {
        t->slow_reader = (struct lmn_slow_reader_ctx){read_step, t, s->data.read_delay_ms / 1e3};
        t->reader = lmn_slow_reader;
        t->reader_ctx = &t->slow_reader;
    }
    if (s->data.prefetch_samples <= 0 || t->prefetcher) return LMN_OK;
    const int largest = lmn_epoch_control_max_batch_size(&t->epoch_control);
    const int local = (largest + t->comm->size - 1) / t->comm->size;
    const int depth = s->data.prefetch_samples / local > 1 ? s->data.prefetch_samples / local : 1;
    return lmn_prefetcher_create(t->reader, t->reader_ctx,
                                 (size_t)local * (size_t)lmn_dataset_sample_size(t->train_set), local,
                                 depth, &t->prefetcher);
}

/* The epoch's batch size and learning-rate factor (train.batch_schedule,
 * optimizer.schedule two_phase) and its plan of steps. */
static lmn_status begin_epoch(lmn_trainer *t, int epoch)
{
    const lmn_train_settings *s = &t->settings;
    const int previous_batch_size = t->batch_size;
    lmn_epoch_control_begin(&t->epoch_control, epoch, &t->batch_size, &t->lr_factor);
    /* New shapes: new primitives, and step times unlike the ones seen. */
    if (t->batch_size != previous_batch_size)
        lmn_watchdog_progress(t->watchdog, LMN_WATCH_STARTUP, t->global_step);
    LMN_TRY(lmn_epoch_plan_make(t->train_set->count, t->batch_size, s->drop_last, &t->plan));
    if (t->plan.steps == 0)
        return lmn_fail(LMN_ERR_CONFIG, "the global batch of %d (train.batch_size or "
                        "train.batch_schedule) is larger than the %lld training samples and "
                        "train.drop_last is set: no step to run", t->batch_size,
                        (long long)t->train_set->count);
    return LMN_OK;
}

static lmn_status run_epochs(lmn_trainer *t)
{
    const lmn_train_settings *s = &t->settings;
    LMN_TRY(prepare_reader(t));
    const int64_t total_steps = s->max_steps > 0 ? s->max_steps : INT64_MAX;
    LMN_TRY(lmn_comm_agree(t->comm, lmn_trainer_open_metrics(t)));
    if (t->log) lmn_progress_start(&t->progress, t->log);
    const double run_start = lmn_now();
    bool finished = t->global_step >= total_steps;
    for (int epoch = (int)t->resumed.epoch; epoch < s->epochs && !finished && !t->stopped; epoch++) {
        LMN_TRY(begin_epoch(t, epoch));
        LMN_TRY(run_epoch(t, epoch, &t->plan, run_start, total_steps, &finished));
    }
    /* The last step's update is checked here, not by a next step. */
    LMN_TRY(lmn_comm_agree(t->comm, lmn_network_check_finite(
                                        t->net, "training diverged: the final model is not finite")));
    if (t->stopped && t->log)
        fprintf(t->log, "lamina: stopped by signal after step %lld; checkpoint written, resume with "
                "--resume auto\n", (long long)t->global_step);
    report_profile(t);
    return LMN_OK;
}

lmn_status lmn_trainer_run(lmn_trainer *t)
{
    if (t->federated)
        return lmn_fail(LMN_ERR_ARG, "lmn_trainer_run trains data-parallel; this trainer was made "
                        "for federated simulation (lmn_trainer_create_federated): run it with "
                        "lmn_federated_run");
    if (t->evaluation_only)
        return lmn_fail(LMN_ERR_ARG, "this trainer was opened to evaluate or profile a model (no "
                        "training set): open one with LMN_PURPOSE_TRAIN to train");
    if (t->already_finished) return LMN_OK;
    /* Checked here, not at set-up: evaluation alone may use a smaller set. */
    LMN_TRY(lmn_comm_agree(t->comm, check_batch_fits(t)));
    LMN_TRY(lmn_watchdog_start(t->comm, lmn_sync_thread_comm(t->sync), t->settings.timeout_seconds,
                               &t->watchdog));
    const lmn_status status = run_epochs(t);
    lmn_watchdog_stop(t->watchdog);
    t->watchdog = NULL;
    return status;
}
