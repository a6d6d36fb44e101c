/* Every sync policy against plain synchronous SGD (ALGORITHMS.md 1-4):
 * overlap and lazy with k = 1 give the same bits as allreduce, multistep
 * and local SGD with one group agree to 1e-5, local SGD with tau = 1 and
 * one rank per group is synchronous SGD, and averaging leaves identical
 * parameters on every rank. Runs under mpirun with 1, 2 or 4 ranks; the
 * layer sizes (114, 440, 528, 85) do not all divide by the rank count. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "comm/comm.h"
#include "core/memory.h"
#include "test.h"
#include "train/trainer.h"

static int rank, ranks;

static const char *config_text(const char *optimizer, const char *parallel, int max_steps,
                               char *buffer, size_t size)
{
    snprintf(buffer, size,
             "seed: 11\n"
             "threads: 1\n"
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
             "train: {epochs: 2, batch_size: 50, eval: false, max_steps: %d}\n"
             "optimizer: %s\n"
             "parallel: %s\n",
             max_steps, optimizer, parallel);
    return buffer;
}

static const char *const momentum = "{name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0001}";
static const char *const plain_sgd = "{name: sgd, lr: 0.05, momentum: 0, weight_decay: 0.0001}";

/* Trains and returns this rank's final parameters (caller frees). */
static float *train(const char *optimizer, const char *parallel, int max_steps, size_t *count)
{
    char text[2048];
    lmn_cfg *cfg = NULL;
    lmn_comm *comm = NULL;
    lmn_trainer *trainer = NULL;
    float *params = NULL;
    lmn_status status = lmn_cfg_parse_string(config_text(optimizer, parallel, max_steps, text,
                                                         sizeof text), "test", &cfg);
    if (status == LMN_OK) status = lmn_comm_create(MPI_COMM_WORLD, &comm);
    if (status == LMN_OK) status = lmn_trainer_create(cfg, comm, NULL, NULL, &trainer);
    if (status == LMN_OK) status = lmn_trainer_run(trainer);
    if (status == LMN_OK) {
        *count = trainer->net->param_count;
        status = lmn_alloc_floats(&params, *count, "parameter copy");
    }
    if (status == LMN_OK) memcpy(params, trainer->net->params, *count * sizeof(float));
    CHECK_MSG(status == LMN_OK, "parallel %s: %s", parallel, lmn_last_error());
    lmn_trainer_free(trainer);
    lmn_comm_free(comm);
    lmn_cfg_free(cfg);
    return params;
}

static void check_bitwise(const float *expected, const char *parallel, const char *optimizer)
{
    size_t count = 0;
    float *params = train(optimizer, parallel, 0, &count);
    if (!params || !expected) return;
    size_t differ = 0;
    for (size_t i = 0; i < count; i++) differ += memcmp(&params[i], &expected[i], sizeof(float)) != 0;
    if (rank == 0) printf("%-60s %zu of %zu values differ\n", parallel, differ, count);
    CHECK_MSG(differ == 0, "%s: %zu values differ from allreduce", parallel, differ);
    lmn_free(params);
}

static void check_close(const float *expected, const char *parallel, const char *optimizer,
                        double tolerance)
{
    size_t count = 0;
    float *params = train(optimizer, parallel, 0, &count);
    if (!params || !expected) return;
    const double diff = lmn_test_max_rel_diff(params, expected, count);
    if (rank == 0) printf("%-60s max relative difference %.3g\n", parallel, diff);
    CHECK_MSG(diff <= tolerance, "%s: differs by %g", parallel, diff);
    lmn_free(params);
}

/* Rank 0's parameters reach every rank; all must hold the same bits. */
static void check_identical_on_ranks(const char *parallel, int max_steps)
{
    size_t count = 0;
    float *params = train(momentum, parallel, max_steps, &count), *copy = NULL;
    if (!params || lmn_alloc_floats(&copy, count, "copy") != LMN_OK) return;
    memcpy(copy, params, count * sizeof(float));
    MPI_Bcast(copy, (int)count, MPI_FLOAT, 0, MPI_COMM_WORLD);
    int differ = memcmp(copy, params, count * sizeof(float)) != 0;
    MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) printf("%-60s identical on all ranks: %s\n", parallel, differ ? "no" : "yes");
    CHECK_MSG(!differ, "%s: ranks hold different parameters after averaging", parallel);
    lmn_free(params);
    lmn_free(copy);
}

int main(int argc, char **argv)
{
    lmn_mpi_init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    size_t count = 0;
    float *reference = train(momentum, "{strategy: allreduce}", 0, &count);
    check_bitwise(reference, "{strategy: overlap}", momentum);
    check_bitwise(reference, "{strategy: overlap, bucket_mb: 0.002}", momentum);
    check_bitwise(reference, "{strategy: lazy, lazy_layers: 0}", momentum);
    check_bitwise(reference, "{strategy: lazy, lazy_layers: 2, lazy_max_k: 1}", momentum);
    check_close(reference, "{strategy: multistep, fc_exchange: never}", momentum, 1e-5);
    check_close(reference, "{strategy: multistep, fc_exchange: always}", momentum, 1e-5);
    check_close(reference, "{strategy: localsgd, groups: 1, tau: 4}", momentum, 1e-5);
    float *multistep = train(momentum, "{strategy: multistep, fc_exchange: never}", 0, &count);
    check_close(multistep, "{strategy: localsgd, groups: 1, tau: 3}", momentum, 1e-5);
    float *plain = train(plain_sgd, "{strategy: allreduce}", 0, &count);
    char local[128];
    snprintf(local, sizeof local, "{strategy: localsgd, groups: %d, tau: 1}", ranks);
    check_close(plain, local, plain_sgd, 1e-5);
    /* 6 steps with tau 3 end on an average: the end of the run has nothing
     * left to settle, so identical parameters come from the averaging. */
    check_identical_on_ranks("{strategy: localsgd, tau: 3}", 6);
    check_identical_on_ranks("{strategy: localsgd, tau: adaptive}", 30);
    check_identical_on_ranks("{strategy: lazy, lazy_layers: 2}", 25);
    lmn_free(reference);
    lmn_free(multistep);
    lmn_free(plain);
    const int failed = lmn_test_summary("sync policies") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    lmn_mpi_finalize();
    return any_failed;
}
