/* The regression task: its keys and their errors, the loss dispatch, and
 * the per-sample metrics (MSE, MAE, PSNR) on hand-made outputs. */
#include <math.h>
#include <string.h>

#include "io/config.h"
#include "test.h"
#include "train/task.h"

static lmn_status read_task(const char *text, lmn_task *task)
{
    lmn_cfg *cfg = NULL;
    lmn_status status = lmn_cfg_parse_string(text, "task.yaml", &cfg);
    if (status == LMN_OK) status = lmn_task_read(cfg, task);
    lmn_cfg_free(cfg);
    return status;
}

static void test_keys(void)
{
    lmn_task task;
    CHECK_OK(read_task("seed: 1\n", &task));
    CHECK(task.kind == LMN_TASK_CLASSIFICATION && task.loss == LMN_LOSS_CROSS_ENTROPY);
    CHECK_OK(read_task("task: regression\n", &task));
    CHECK(task.kind == LMN_TASK_REGRESSION && task.loss == LMN_LOSS_MSE);
    CHECK(task.psnr_mode == LMN_PSNR_AUTO && task.psnr_peak == 1.0);
    CHECK_OK(read_task("task: regression\nloss: mae\nmetrics: {psnr: true, psnr_peak: 255}\n", &task));
    CHECK(task.loss == LMN_LOSS_MAE && task.psnr_mode == LMN_PSNR_ON && task.psnr_peak == 255.0);
    CHECK_OK(read_task("task: classification\nloss: cross_entropy\n", &task));

    CHECK(read_task("loss: mse\n", &task) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "key 'loss'") && strstr(lmn_last_error(), "regression loss"));
    CHECK(read_task("task: regression\nloss: cross_entropy\n", &task) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "classification loss") != NULL);
    CHECK(read_task("metrics: {psnr: true}\n", &task) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "metrics") != NULL);
    CHECK(read_task("task: regresion\n", &task) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "regression") != NULL); /* the choices are listed */
    CHECK(read_task("task: regression\nmetrics: {psnr_peak: 0}\n", &task) == LMN_ERR_CONFIG);
    CHECK(read_task("task: regression\nmetrics: {psnr: maybe}\n", &task) == LMN_ERR_CONFIG);
}

static void test_loss_dispatch(void)
{
    lmn_task task = {.kind = LMN_TASK_REGRESSION, .loss = LMN_LOSS_MSE, .psnr_peak = 1.0};
    const float outputs[4] = {1.0f, 2.0f, 0.0f, -1.0f}, targets[4] = {0.0f, 0.0f, 0.0f, 1.0f};
    float dout[4];
    int64_t hits = 7;
    /* Sample 0: (1 + 4) / 2 = 2.5; sample 1: (0 + 4) / 2 = 2. */
    CHECK_CLOSE(lmn_task_loss(&task, outputs, NULL, targets, 2, 2, 0.5f, dout, &hits), 4.5, 1e-12);
    CHECK(hits == 0);
    CHECK_CLOSE(dout[0], 2.0 * 1.0 / 2 * 0.5, 1e-7);
    CHECK_CLOSE(dout[3], 2.0 * -2.0 / 2 * 0.5, 1e-7);
    task.loss = LMN_LOSS_MAE;
    CHECK_CLOSE(lmn_task_loss(&task, outputs, NULL, targets, 2, 2, 1.0f, dout, NULL), 1.5 + 1.0, 1e-12);
    CHECK_CLOSE(dout[1], 0.5, 1e-7);
    lmn_task classify = {.kind = LMN_TASK_CLASSIFICATION, .loss = LMN_LOSS_CROSS_ENTROPY};
    const int32_t labels[2] = {1, 0};
    CHECK_CLOSE(lmn_task_loss(&classify, outputs, labels, NULL, 2, 2, 1.0f, NULL, &hits),
                log(1 + exp(-1.0)) + log(1 + exp(-1.0)), 1e-6);
    CHECK(hits == 2);
}

static void test_scores(void)
{
    /* Two "images" of 4 values against a zero target: errors of 0.1 and
     * 0.01 everywhere give MSEs 1e-2 and 1e-4, PSNRs 20 and 40 dB: their
     * mean is 30 dB (per-image PSNR, then the mean), whereas the PSNR of
     * the pooled MSE would be 10 log10(1 / 0.00505) = 22.97 dB. */
    lmn_task task = {.kind = LMN_TASK_REGRESSION, .loss = LMN_LOSS_MSE, .psnr_peak = 1.0};
    const float outputs[8] = {0.1f, -0.1f, 0.1f, -0.1f, 0.01f, 0.01f, -0.01f, 0.01f};
    const float targets[8] = {0};
    double sums[4] = {0, 0, 0, 0};
    lmn_task_score_batch(&task, outputs, targets, 2, 4, true, sums);
    CHECK_CLOSE(sums[0], 1e-2 + 1e-4, 1e-8);
    CHECK_CLOSE(sums[1], 1e-2 + 1e-4, 1e-8);
    CHECK_CLOSE(sums[2], 0.1 + 0.01, 1e-7);
    CHECK_CLOSE(sums[3] / 2, 30.0, 1e-5);
    /* Peak 255 on values 255 times larger: the same PSNR. */
    float scaled_out[8], scaled_target[8] = {0};
    for (int j = 0; j < 8; j++) scaled_out[j] = outputs[j] * 255.0f;
    task.psnr_peak = 255.0;
    double scaled[4] = {0, 0, 0, 0};
    lmn_task_score_batch(&task, scaled_out, scaled_target, 2, 4, true, scaled);
    CHECK_CLOSE(scaled[3] / 2, 30.0, 1e-4);
    /* MAE as the loss; no PSNR for vectors. */
    task.loss = LMN_LOSS_MAE;
    double mae[4] = {0, 0, 0, 0};
    lmn_task_score_batch(&task, outputs, targets, 2, 4, false, mae);
    CHECK_CLOSE(mae[0], 0.11, 1e-7);
    CHECK(mae[3] == 0.0);
}

int main(void)
{
    test_keys();
    test_loss_dispatch();
    test_scores();
    return lmn_test_summary("regression task");
}
