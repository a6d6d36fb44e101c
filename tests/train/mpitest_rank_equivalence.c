/* Data parallelism is exact: P ranks with global batch B reach the same
 * parameters as 1 rank with batch B, including uneven splits and the
 * short last batch of an epoch. Runs under mpirun with any rank count. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "comm/comm.h"
#include "core/memory.h"
#include "test.h"
#include "train/trainer.h"

/* 1030 samples in batches of 50: 20 full steps + one of 30 per epoch,
 * split unevenly over 3 or 4 ranks. No batch norm (its statistics are
 * per rank by design). */
static const char *config_text(const char *backend, char *buffer, size_t size)
{
    snprintf(buffer, size,
             "seed: 7\n"
             "threads: 1\n"
             "backend: %s\n"
             "data: {name: synthetic, shape: [2, 12, 12], classes: 5, train_size: 1030, "
             "test_size: 100}\n"
             "model:\n"
             "  - {type: conv, out: 6, kernel: 3, pad: 1, activation: relu}\n"
             "  - {type: maxpool, kernel: 2, stride: 2}\n"
             "  - {type: conv, out: 8, kernel: 3, stride: 2}\n"
             "  - {type: relu}\n"
             "  - {type: flatten}\n"
             "  - {type: linear, out: 16, activation: relu}\n"
             "  - {type: linear, out: 5, init: glorot}\n"
             "train: {epochs: 2, batch_size: 50, eval: false}\n"
             "optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0001}\n",
             backend);
    return buffer;
}

static lmn_status train(MPI_Comm parent, const char *backend, float **params, size_t *count)
{
    char text[2048];
    lmn_cfg *cfg = NULL;
    lmn_comm *comm = NULL;
    lmn_trainer *trainer = NULL;
    LMN_TRY(lmn_cfg_parse_string(config_text(backend, text, sizeof text), "test", &cfg));
    lmn_status status = lmn_comm_create(parent, &comm);
    if (status == LMN_OK) status = lmn_trainer_create(cfg, comm, NULL, NULL, &trainer);
    if (status == LMN_OK) status = lmn_trainer_run(trainer);
    if (status == LMN_OK) {
        *count = trainer->net->param_count;
        status = lmn_alloc_floats(params, *count, "parameter copy");
    }
    if (status == LMN_OK) memcpy(*params, trainer->net->params, *count * sizeof(float));
    lmn_trainer_free(trainer);
    lmn_comm_free(comm);
    lmn_cfg_free(cfg);
    return status;
}

static void check_backend(const char *backend, double tolerance, int rank, int ranks)
{
    float *parallel = NULL, *single = NULL;
    size_t parallel_count = 0, single_count = 0;
    CHECK_OK(train(MPI_COMM_WORLD, backend, &parallel, &parallel_count));
    if (rank == 0) {
        CHECK_OK(train(MPI_COMM_SELF, backend, &single, &single_count));
        CHECK(parallel_count == single_count && parallel_count > 0);
        if (parallel && single && parallel_count == single_count) {
            const double diff = lmn_test_max_rel_diff(parallel, single, single_count);
            printf("%s: %d ranks vs 1 rank after 42 steps: max relative difference %.3g\n", backend,
                   ranks, diff);
            CHECK_MSG(diff <= tolerance, "%s backend differs by %g", backend, diff);
            double moved = 0.0;
            for (size_t i = 0; i < single_count; i++) moved += single[i] != 0.0f;
            CHECK(moved > 0.5 * (double)single_count);
        }
    }
    lmn_free(parallel);
    lmn_free(single);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    check_backend("ref", 1e-5, rank, ranks);
    check_backend("dnnl", 1e-5, rank, ranks);
    const int failed = lmn_test_summary("rank equivalence") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any_failed;
}
