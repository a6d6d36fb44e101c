#include "train/task.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/exact_sum.h"
#include "data/resample.h"
#include "data/super_resolution.h"
#include "kernels/loss.h"
#include "train/trainer.h"

static const char *const task_names[] = {"classification", "regression", NULL};
static const char *const loss_names[] = {"cross_entropy", "mse", "mae", NULL};
static const char *const psnr_names[] = {"auto", "true", "false", NULL};

const char *lmn_task_kind_name(lmn_task_kind kind)
{
    return kind == LMN_TASK_REGRESSION ? "regression" : "classification";
}

const char *lmn_loss_name(lmn_loss_kind kind)
{
    return (unsigned)kind < 3 ? loss_names[kind] : "?";
}

static lmn_status read_classification(lmn_cfg *cfg, lmn_task *task)
{
    task->loss = LMN_LOSS_CROSS_ENTROPY;
    if (lmn_cfg_find(cfg, NULL, "loss")) {
        int index = 0;
        LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "loss", loss_names, NULL, &index));
        if (index != LMN_LOSS_CROSS_ENTROPY)
            return lmn_fail(LMN_ERR_CONFIG, "key 'loss': %s is a regression loss; task "
                            "classification trains with cross_entropy (or set task: regression)",
                            loss_names[index]);
    }
    if (lmn_cfg_find(cfg, NULL, "metrics"))
        return lmn_fail(LMN_ERR_CONFIG, "key 'metrics': metrics.psnr and metrics.psnr_peak score "
                        "regression; set task: regression or remove them");
    return LMN_OK;
}

lmn_status lmn_task_read(lmn_cfg *cfg, lmn_task *task)
{
    *task = (lmn_task){.kind = LMN_TASK_CLASSIFICATION};
    int index = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "task", task_names, "classification", &index));
    task->kind = (lmn_task_kind)index;
    if (task->kind == LMN_TASK_CLASSIFICATION) return read_classification(cfg, task);
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "loss", loss_names, "mse", &index));
    task->loss = (lmn_loss_kind)index;
    if (task->loss == LMN_LOSS_CROSS_ENTROPY)
        return lmn_fail(LMN_ERR_CONFIG, "key 'loss': cross_entropy is a classification loss; task "
                        "regression trains with mse or mae");
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "metrics.psnr", psnr_names, "auto", &index));
    task->psnr_mode = index == 0 ? LMN_PSNR_AUTO : index == 1 ? LMN_PSNR_ON : LMN_PSNR_OFF;
    const double one = 1.0;
    return lmn_cfg_get_positive_double(cfg, NULL, "metrics.psnr_peak", &one, &task->psnr_peak);
}

int lmn_task_output_count(const lmn_task *task, const lmn_dataset *ds)
{
    return task->kind == LMN_TASK_REGRESSION ? (int)lmn_dataset_target_size(ds) : ds->num_classes;
}

double lmn_task_loss(const lmn_task *task, const float *outputs, const int32_t *labels,
                     const float *targets, int n, int k, float grad_scale, float *dout,
                     int64_t *correct)
{
    if (correct) *correct = 0;
    switch (task->loss) {
    case LMN_LOSS_MSE: return lmn_mse_loss(outputs, targets, n, k, grad_scale, dout);
    case LMN_LOSS_MAE: return lmn_mae_loss(outputs, targets, n, k, grad_scale, dout);
    case LMN_LOSS_CROSS_ENTROPY: break;
    }
    return lmn_softmax_xent(outputs, labels, n, k, grad_scale, dout, correct);
}

void lmn_task_score_batch(const lmn_task *task, const float *outputs, const float *targets, int n,
                          int k, bool image, double sums[4])
{
    for (int i = 0; i < n; i++) {
        double squares = 0.0, absolutes = 0.0;
        for (int j = 0; j < k; j++) {
            const size_t at = (size_t)i * k + j;
            const double diff = (double)outputs[at] - targets[at];
            squares += diff * diff;
            absolutes += fabs(diff);
        }
        const double mse = squares / k, mae = absolutes / k;
        sums[0] += task->loss == LMN_LOSS_MAE ? mae : mse;
        sums[1] += mse;
        sums[2] += mae;
        if (image) sums[3] += lmn_psnr_db(mse, task->psnr_peak);
    }
}

lmn_task_scores lmn_task_scores_none(void)
{
    return (lmn_task_scores){.psnr = false, .baseline_psnr = NAN, .baseline_nearest_psnr = NAN,
                             .evaluated = {NAN, NAN, NAN, NAN}};
}

lmn_status lmn_task_write_metrics(const lmn_task_scores *scores, lmn_metrics *m)
{
    LMN_TRY(lmn_metrics_double(m, "test_mse", scores->evaluated.mse));
    LMN_TRY(lmn_metrics_double(m, "test_mae", scores->evaluated.mae));
    if (scores->psnr) LMN_TRY(lmn_metrics_double(m, "test_psnr", scores->evaluated.psnr));
    if (!isnan(scores->baseline_psnr))
        LMN_TRY(lmn_metrics_double(m, "baseline_psnr", scores->baseline_psnr));
    return LMN_OK;
}

/* ---- The trainer's side ---- */

static lmn_status check_kind(const lmn_task *task, const lmn_dataset *ds)
{
    char shape[96];
    lmn_dataset_describe_target_shape(ds, shape, sizeof shape);
    if (task->kind == LMN_TASK_CLASSIFICATION && ds->has_targets)
        return lmn_fail(LMN_ERR_CONFIG, "key 'task': data '%s' has regression targets (shape %s), "
                        "not class labels; set task: regression (loss: mse or mae)", ds->name, shape);
    if (task->kind == LMN_TASK_REGRESSION && !ds->has_targets)
        return lmn_fail(LMN_ERR_CONFIG, "key 'task': regression needs targets, but data '%s' has "
                        "class labels only; use data.derive: super_resolution, data.name: "
                        "grf-cubes, or an HDF5 file with a targets dataset (data.targets)", ds->name);
    return LMN_OK;
}

static lmn_status check_sets(const lmn_dataset *train, const lmn_dataset *test)
{
    char train_shape[96], test_shape[96];
    if (lmn_dataset_sample_size(train) != lmn_dataset_sample_size(test) ||
        train->depth != test->depth || train->channels != test->channels ||
        train->height != test->height || train->width != test->width) {
        lmn_dataset_describe_shape(train, train_shape, sizeof train_shape);
        lmn_dataset_describe_shape(test, test_shape, sizeof test_shape);
        return lmn_fail(LMN_ERR_SHAPE, "the training samples of '%s' are %s but the test samples "
                        "of '%s' are %s", train->name, train_shape, test->name, test_shape);
    }
    lmn_dataset_describe_target_shape(train, train_shape, sizeof train_shape);
    lmn_dataset_describe_target_shape(test, test_shape, sizeof test_shape);
    if (strcmp(train_shape, test_shape) != 0)
        return lmn_fail(LMN_ERR_SHAPE, "the training targets of '%s' are %s but the test targets "
                        "of '%s' are %s", train->name, train_shape, test->name, test_shape);
    return LMN_OK;
}

/* PSNR: reported for image targets unless switched off; asked for
 * explicitly on vector targets, an error. */
static lmn_status resolve_psnr(const lmn_task *task, const lmn_dataset *ds, bool *psnr)
{
    *psnr = task->kind == LMN_TASK_REGRESSION && ds->image_targets &&
            task->psnr_mode != LMN_PSNR_OFF;
    if (task->kind == LMN_TASK_REGRESSION && task->psnr_mode == LMN_PSNR_ON && !ds->image_targets) {
        char shape[96];
        lmn_dataset_describe_target_shape(ds, shape, sizeof shape);
        return lmn_fail(LMN_ERR_CONFIG, "key 'metrics.psnr': PSNR compares images, but the targets "
                        "of data '%s' are a vector of %s values; set metrics.psnr: auto or false",
                        ds->name, shape);
    }
    return LMN_OK;
}

static lmn_status derive(lmn_trainer *t)
{
    const lmn_data_settings *d = &t->settings.data;
    if (!d->derive_super_resolution) return LMN_OK;
    if (d->augment == 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.augment': super-resolution pairs are not "
                        "augmented (a crop of the input would have to move the target too); "
                        "remove data.augment");
    if (t->train_set)
        LMN_TRY(lmn_dataset_derive_super_resolution(&t->train_set, d->sr_factor, d->sr_input));
    return lmn_dataset_derive_super_resolution(&t->test_set, d->sr_factor, d->sr_input);
}

static void report_baseline(const lmn_trainer *t)
{
    const lmn_task_scores *scores = &t->task_scores;
    if (!t->log || isnan(scores->baseline_psnr)) return;
    fprintf(t->log, "lamina: %s: upsampling the test inputs scores %.2f dB PSNR bicubic, %.2f dB "
            "nearest; the network has to beat %.2f dB\n", t->test_set->name, scores->baseline_psnr,
            scores->baseline_nearest_psnr, scores->baseline_psnr);
}

lmn_status lmn_task_prepare_data(lmn_trainer *t)
{
    const lmn_task *task = &t->settings.task;
    lmn_task_scores *scores = &t->task_scores;
    *scores = lmn_task_scores_none();
    LMN_TRY(derive(t));
    /* An evaluating trainer has no training set: the test set stands in. */
    const lmn_dataset *train = t->train_set ? t->train_set : t->test_set;
    LMN_TRY(check_kind(task, train));
    LMN_TRY(check_kind(task, t->test_set));
    if (t->settings.data.augment == 1 && (train->has_targets || train->depth > 0))
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.augment': random crops and flips apply to 2-D "
                        "classification images; data '%s' is %s", train->name,
                        train->depth > 0 ? "3-D" : "a regression set");
    LMN_TRY(check_sets(train, t->test_set));
    LMN_TRY(resolve_psnr(task, train, &scores->psnr));
    t->progress.task = task;
    t->progress.scores = scores;
    if (scores->psnr && lmn_dataset_is_super_resolution(t->test_set)) {
        LMN_TRY(lmn_dataset_sr_baseline_psnr(t->test_set, task->psnr_peak, &scores->baseline_psnr,
                                             &scores->baseline_nearest_psnr));
        report_baseline(t);
    }
    return LMN_OK;
}

lmn_status lmn_task_check_network(const lmn_trainer *t)
{
    const lmn_dataset *ds = t->train_set ? t->train_set : t->test_set;
    const lmn_network *net = t->net;
    if (t->settings.task.kind == LMN_TASK_CLASSIFICATION) {
        if (net->num_outputs != ds->num_classes)
            return lmn_fail(LMN_ERR_SHAPE, "the model outputs %d values per sample but %s has %d "
                            "classes", net->num_outputs, ds->name, ds->num_classes);
        return LMN_OK;
    }
    const int last = net->spec.count - 1;
    const lmn_layer_shape out = lmn_network_output_shape(net);
    const lmn_target_shape want = ds->target_shape;
    /* A flat output of the right count is fine (values in target order);
     * a spatial one must be the target image itself. */
    const bool spatial = out.h > 1 || out.w > 1 || out.d > 0;
    const bool same_image = out.c == want.c && out.d == want.d && out.h == want.h && out.w == want.w;
    if (net->num_outputs == lmn_dataset_target_size(ds) && (!spatial || same_image)) return LMN_OK;
    char target[96], output[96];
    lmn_dataset_describe_target_shape(ds, target, sizeof target);
    if (out.d > 0)
        snprintf(output, sizeof output, "%d x %d x %d x %d", out.c, out.d, out.h, out.w);
    else
        snprintf(output, sizeof output, "%d x %d x %d", out.c, out.h, out.w);
    const bool vector = want.d == 0 && want.h == 1 && want.w == 1;
    char wanted[160];
    if (vector)
        snprintf(wanted, sizeof wanted, "a vector of %s values", target);
    else
        snprintf(wanted, sizeof wanted, "%s = %lld values", target,
                 (long long)lmn_dataset_target_size(ds));
    return lmn_fail(LMN_ERR_SHAPE, "the model's output (last layer %d '%s', %s) is %s = %d values "
                    "per sample, but the targets of data '%s' are %s; the model must output the "
                    "target shape",
                    last, net->spec.layers[last].name, lmn_layer_kind_name(net->spec.layers[last].kind),
                    output, net->num_outputs, ds->name, wanted);
}

/* One evaluation batch: gather, forward, score into the fixed-point sums. */
static lmn_status evaluate_batch(lmn_trainer *t, const uint32_t *indices, int n, int64_t sums[4])
{
    const lmn_dataset *test = t->test_set;
    float *targets = t->targets;
    const float *outputs = NULL;
    LMN_TRY(lmn_dataset_gather(test, indices, n, t->settings.seed, 0, t->inputs, NULL));
    LMN_TRY(lmn_dataset_gather_targets(test, indices, n, targets));
    LMN_TRY(lmn_network_forward(t->net, n, t->inputs, false, 0, &outputs));
    double batch[4] = {0.0, 0.0, 0.0, 0.0};
    lmn_task_score_batch(&t->settings.task, outputs, targets, n, t->net->num_outputs,
                         t->task_scores.psnr, batch);
    for (int j = 0; j < 4; j++) {
        if (!isfinite(batch[j]))
            return lmn_fail(LMN_ERR_NUMERIC, "evaluation: the model's outputs on test samples "
                            "%u..%u are not finite; training diverged (lower optimizer.lr)",
                            indices[0], indices[n - 1]);
        sums[j] += lmn_fixed_from_double(batch[j], LMN_FIXED_METRIC_BITS);
    }
    return LMN_OK;
}

lmn_status lmn_task_evaluate_regression(lmn_trainer *t, lmn_regression_metrics *out)
{
    const lmn_dataset *test = t->test_set;
    const int batch = t->settings.eval_batch_size;
    const int64_t batches = (test->count + batch - 1) / batch;
    uint32_t *indices = malloc(sizeof *indices * (size_t)batch);
    if (!indices) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate evaluation indices");
    int64_t sums[4] = {0, 0, 0, 0};
    lmn_status status = LMN_OK;
    /* Fixed slices dealt round-robin: the same batches whatever the ranks. */
    for (int64_t b = t->comm->rank; b < batches && status == LMN_OK; b += t->comm->size) {
        const int64_t first = b * batch;
        const int n = (int)(test->count - first < batch ? test->count - first : batch);
        for (int i = 0; i < n; i++) indices[i] = (uint32_t)(first + i);
        status = evaluate_batch(t, indices, n, sums);
    }
    free(indices);
    status = lmn_comm_agree(t->comm, status);
    if (status == LMN_OK && t->comm->size > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, sums, 4, MPI_INT64_T, MPI_SUM, t->comm->comm) != MPI_SUCCESS)
        status = lmn_fail(LMN_ERR_MPI, "MPI_Allreduce of evaluation sums failed");
    LMN_TRY(status);
    const double count = (double)test->count;
    lmn_regression_metrics m;
    m.loss = lmn_fixed_to_double(sums[0], LMN_FIXED_METRIC_BITS) / count;
    m.mse = lmn_fixed_to_double(sums[1], LMN_FIXED_METRIC_BITS) / count;
    m.mae = lmn_fixed_to_double(sums[2], LMN_FIXED_METRIC_BITS) / count;
    m.psnr = t->task_scores.psnr ? lmn_fixed_to_double(sums[3], LMN_FIXED_METRIC_BITS) / count : NAN;
    t->task_scores.evaluated = m;
    if (out) *out = m;
    return LMN_OK;
}
