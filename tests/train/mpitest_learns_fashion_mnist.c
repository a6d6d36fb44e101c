/* A short real run: LeNet on Fashion-MNIST over 2 ranks learns (test loss
 * falls, accuracy far above chance) and every rank ends with the same
 * model. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "test.h"
#include "train/trainer.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    const char *dir = getenv("LMN_DATA_DIR") ? getenv("LMN_DATA_DIR") : "/usr/share/datasets/fashion-mnist";
    char text[1024];
    snprintf(text, sizeof text,
             "model: lenet\nseed: 3\nthreads: 1\n"
             "data: {name: fashion-mnist, path: %s}\n"
             "train: {epochs: 1, batch_size: 64, max_steps: 250}\n"
             "optimizer: {name: sgd, lr: 0.05, momentum: 0.9}\n",
             dir);
    lmn_cfg *cfg = NULL;
    lmn_comm *comm = NULL;
    lmn_trainer *trainer = NULL;
    CHECK_OK(lmn_cfg_parse_string(text, "test", &cfg));
    CHECK_OK(lmn_comm_create(MPI_COMM_WORLD, &comm));
    CHECK_OK(lmn_trainer_create(cfg, comm, NULL, NULL, &trainer));
    double loss_before = NAN, acc_before = NAN, loss_after = NAN, acc_after = NAN;
    if (trainer) {
        CHECK_OK(lmn_trainer_evaluate(trainer, &loss_before, &acc_before));
        CHECK_OK(lmn_trainer_run(trainer));
        CHECK_OK(lmn_trainer_evaluate(trainer, &loss_after, &acc_after));
        /* Same model everywhere: the sum of parameters agrees bitwise. */
        double checksum[2] = {0.0, 0.0};
        for (size_t i = 0; i < trainer->net->param_count; i++) checksum[0] += trainer->net->params[i];
        checksum[1] = -checksum[0];
        MPI_Allreduce(MPI_IN_PLACE, checksum, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        CHECK(checksum[0] == -checksum[1]);
        CHECK(trainer->global_step == 250);
    }
    if (comm && comm->rank == 0)
        printf("test loss %.4f -> %.4f, accuracy %.4f -> %.4f\n", loss_before, loss_after,
               acc_before, acc_after);
    CHECK(loss_after < 0.6 * loss_before);
    CHECK(acc_after > 0.75);
    lmn_trainer_free(trainer);
    lmn_comm_free(comm);
    lmn_cfg_free(cfg);
    const int failed = lmn_test_summary("learns fashion-mnist") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any_failed;
}
