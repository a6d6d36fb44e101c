/* What a run learns and how it is scored: classification (integer labels,
 * softmax cross-entropy, accuracy) or regression (float targets, MSE or
 * MAE, reported as test_mse / test_mae and, for image targets, test_psnr).
 *
 * Keys (top level):
 *   task:  classification | regression                 [classification]
 *   loss:  cross_entropy (classification) | mse | mae (regression)
 *                                     [cross_entropy / mse]
 *   metrics.psnr:      auto | true | false  (regression) [auto = image targets]
 *   metrics.psnr_peak: the targets' value range for PSNR  [1.0]
 *
 * PSNR: per test image, 10 log10(peak^2 / MSE_i) with MSE_i the mean
 * squared error over the image's values (see data/resample.h for the cap at
 * 100 dB above the peak), then averaged over the images: the convention of
 * the super-resolution literature. Super-resolution sets (data.derive:
 * super_resolution) hold targets in [0, 1], so the default peak 1 is right
 * for them.
 *
 * Evaluation sums are fixed-point integers added over fixed batches (like
 * classification accuracy), so the metrics have the same bits whatever the
 * number of ranks. */
#ifndef LMN_TRAIN_TASK_H
#define LMN_TRAIN_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "io/config.h"
#include "io/metrics.h"

typedef enum lmn_task_kind { LMN_TASK_CLASSIFICATION, LMN_TASK_REGRESSION } lmn_task_kind;
typedef enum lmn_loss_kind { LMN_LOSS_CROSS_ENTROPY, LMN_LOSS_MSE, LMN_LOSS_MAE } lmn_loss_kind;
typedef enum lmn_psnr_mode { LMN_PSNR_AUTO, LMN_PSNR_ON, LMN_PSNR_OFF } lmn_psnr_mode;

/* Mean test metrics of a regression model. */
typedef struct lmn_regression_metrics {
    double loss;  /* mean per-sample loss (equals mse or mae) */
    double mse;   /* mean squared error over every target value */
    double mae;   /* mean absolute error over every target value */
    double psnr;  /* mean per-image PSNR in dB; NAN when not reported */
} lmn_regression_metrics;

/* The user's choice of task, as read from the configuration. */
typedef struct lmn_task {
    lmn_task_kind kind;
    lmn_loss_kind loss;
    lmn_psnr_mode psnr_mode;
    double psnr_peak;
} lmn_task;

/* What a run learns of its task from the data and the evaluations: the
 * trainer holds it (lmn_trainer.task_scores), so that the settings stay
 * the user's input. */
typedef struct lmn_task_scores {
    bool psnr;                        /* resolved against the data: report test_psnr */
    double baseline_psnr;             /* super-resolution: bicubic's test PSNR; NAN otherwise */
    double baseline_nearest_psnr;     /* the same for nearest-neighbour upsampling */
    lmn_regression_metrics evaluated; /* the latest evaluation (regression runs); NAN before */
} lmn_task_scores;

/* No PSNR, no baseline, nothing evaluated yet. */
lmn_task_scores lmn_task_scores_none(void);

/* "classification", "regression"; "cross_entropy", "mse", "mae". */
const char *lmn_task_kind_name(lmn_task_kind kind);
const char *lmn_loss_name(lmn_loss_kind kind);

/* Reads task, loss and (regression) metrics.*; classification runs get no
 * defaults inserted for loss and metrics.* so their resolved configuration
 * is unchanged. Errors (LMN_ERR_CONFIG, naming the key): a regression loss
 * with task classification, cross_entropy with task regression, metrics.*
 * with task classification. */
lmn_status lmn_task_read(lmn_cfg *cfg, lmn_task *task);

/* Values the model must output per sample: the class count, or the target
 * size. */
int lmn_task_output_count(const lmn_task *task, const lmn_dataset *ds);

/* Loss of one batch: cross-entropy against labels or MSE / MAE against
 * targets (n x k each), returning the sum over the batch and writing
 * d(sum)/d(outputs) * grad_scale into dout (may be NULL); *correct (may be
 * NULL) gets the classification hits (0 for regression). */
double lmn_task_loss(const lmn_task *task, const float *outputs, const int32_t *labels,
                     const float *targets, int n, int k, float grad_scale, float *dout,
                     int64_t *correct);

/* Per-sample scores of a regression batch (n x k outputs and targets):
 * adds the sums over the batch of the per-sample loss, MSE, MAE and (when
 * image is true) PSNR against `peak` into sums[0..3]. Summation in sample
 * order. */
void lmn_task_score_batch(const lmn_task *task, const float *outputs, const float *targets, int n,
                          int k, bool image, double sums[4]);

/* Writes test_mse, test_mae, test_psnr (when reported) and baseline_psnr
 * (super-resolution) of the latest evaluation. */
lmn_status lmn_task_write_metrics(const lmn_task_scores *scores, lmn_metrics *m);

/* ---- The trainer's side (train/trainer.c, train/federated.c) ---- */

struct lmn_trainer;

/* After the sets are loaded: derives super-resolution pairs when
 * data.derive asks, checks that task, loss, metrics and data fit together
 * (errors name the key and the dataset), resets t->task_scores, resolves
 * PSNR, computes the super-resolution baseline and, on rank 0, reports it
 * once. Not collective. */
lmn_status lmn_task_prepare_data(struct lmn_trainer *t);

/* After the network is built: its output must be the class count, or the
 * target shape (count, and for spatial outputs c x h x w); the error names
 * both shapes. */
lmn_status lmn_task_check_network(const struct lmn_trainer *t);

/* Evaluates a regression model on the test set (collective; identical on
 * every rank) and stores the result in t->task_scores.evaluated too. */
lmn_status lmn_task_evaluate_regression(struct lmn_trainer *t, lmn_regression_metrics *out);

#endif
