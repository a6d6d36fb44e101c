/* Regression metrics do not depend on the rank count: the same untrained
 * model evaluated on 2 ranks and on each rank alone gives the same bits of
 * test_loss, test_mse, test_mae and test_psnr (fixed-point sums over fixed
 * batches), for volumes with vector targets and for super-resolution. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "test.h"
#include "train/trainer.h"

static void evaluate(const char *text, MPI_Comm mpi, lmn_regression_metrics *out)
{
    lmn_cfg *cfg = NULL;
    lmn_comm *comm = NULL;
    lmn_trainer *trainer = NULL;
    *out = (lmn_regression_metrics){NAN, NAN, NAN, NAN};
    CHECK_OK(lmn_cfg_parse_string(text, "test", &cfg));
    CHECK_OK(lmn_comm_create(mpi, &comm));
    CHECK_OK(lmn_trainer_create(cfg, comm, NULL, NULL, &trainer));
    if (trainer) {
        double loss = 0.0, accuracy = 0.0;
        CHECK_OK(lmn_trainer_evaluate(trainer, &loss, &accuracy));
        CHECK(isnan(accuracy));
        *out = trainer->task_scores.evaluated;
        CHECK(loss == out->loss);
    }
    lmn_trainer_free(trainer);
    lmn_comm_free(comm);
    lmn_cfg_free(cfg);
}

static void same_on_any_ranks(const char *text, bool psnr)
{
    MPI_Comm alone;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_split(MPI_COMM_WORLD, rank, 0, &alone);
    lmn_regression_metrics both, single;
    evaluate(text, MPI_COMM_WORLD, &both);
    evaluate(text, alone, &single);
    MPI_Comm_free(&alone);
    if (rank == 0)
        printf("2 ranks: loss %.9g mse %.9g mae %.9g psnr %.9g; 1 rank: %.9g %.9g %.9g %.9g\n",
               both.loss, both.mse, both.mae, both.psnr, single.loss, single.mse, single.mae,
               single.psnr);
    CHECK(isfinite(both.mse) && both.mse > 0.0);
    CHECK(both.loss == single.loss && both.mse == single.mse && both.mae == single.mae);
    CHECK(psnr ? both.psnr == single.psnr && isfinite(both.psnr) : isnan(both.psnr));
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    same_on_any_ranks("task: regression\nseed: 2\nthreads: 1\n"
                      "data: {name: grf-cubes, shape: [2, 8, 8, 8], train_size: 8, test_size: 37}\n"
                      "model: [{type: conv3d, out: 2, kernel: 3, stride: 2}, {type: flatten},"
                      " {type: linear, out: 4}]\n"
                      "train: {eval_batch_size: 5}\n",
                      false);
    const char *dir = getenv("LMN_DATA_DIR") ? getenv("LMN_DATA_DIR") : "/usr/share/datasets/fashion-mnist";
    char text[1024];
    snprintf(text, sizeof text,
             "task: regression\nseed: 2\nthreads: 1\n"
             "data: {name: fashion-mnist, path: %s, derive: super_resolution}\n"
             "model: [{type: conv, out: 4, kernel: 3, pad: 1},"
             " {type: upsample, mode: pixel_shuffle, factor: 2}]\n"
             "train: {eval_batch_size: 777}\n",
             dir);
    same_on_any_ranks(text, true);
    const int failed = lmn_test_summary("regression metrics on any rank count") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any_failed;
}
