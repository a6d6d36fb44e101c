/* lmn_trainer_open by purpose: a federated trainer refuses lmn_trainer_run
 * with a message that names lmn_federated_run (it used to dereference a
 * NULL sync policy); an evaluating trainer opens no training set, no
 * optimizer and no sync policy, evaluates to the same bits as a training
 * trainer of the same configuration, and refuses to train. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "comm/comm.h"
#include "test.h"
#include "train/trainer.h"

/* The model and data; then train.* or fl.* (each refuses the other's keys). */
static const char common_text[] =
    "seed: 3\nthreads: 1\n"
    "data: {name: synthetic, shape: [1, 8, 8], classes: 4, train_size: 96, test_size: 40}\n"
    "model:\n"
    "  - {type: conv, out: 4, kernel: 3, pad: 1, activation: relu}\n"
    "  - {type: flatten}\n"
    "  - {type: linear, out: 4, init: glorot}\n";
static const char train_text[] = "train: {epochs: 1, batch_size: 16}\n";
static const char fl_text[] =
    "fl: {clients: 4, active_ratio: 1.0, local_steps: 2, batch_size: 8, rounds: 1}\n";

static lmn_trainer *open_trainer(lmn_comm *comm, lmn_trainer_purpose purpose, lmn_cfg **cfg)
{
    lmn_trainer *t = NULL;
    char text[1024];
    snprintf(text, sizeof text, "%s%s", common_text,
             purpose == LMN_PURPOSE_FEDERATED ? fl_text : train_text);
    CHECK_OK(lmn_cfg_parse_string(text, "test", cfg));
    const lmn_trainer_options options = {.purpose = purpose};
    CHECK_OK(lmn_trainer_open(*cfg, comm, &options, &t));
    return t;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    lmn_comm *comm = NULL;
    CHECK_OK(lmn_comm_create(MPI_COMM_WORLD, &comm));
    lmn_cfg *fl_cfg = NULL, *eval_cfg = NULL, *train_cfg = NULL;

    lmn_trainer *federated = open_trainer(comm, LMN_PURPOSE_FEDERATED, &fl_cfg);
    if (federated) {
        CHECK(lmn_trainer_run(federated) == LMN_ERR_ARG);
        CHECK(strstr(lmn_last_error(), "lmn_federated_run") != NULL);
    }

    lmn_trainer *evaluating = open_trainer(comm, LMN_PURPOSE_EVALUATE, &eval_cfg);
    lmn_trainer *training = open_trainer(comm, LMN_PURPOSE_TRAIN, &train_cfg);
    if (evaluating && training) {
        CHECK(evaluating->train_set == NULL && evaluating->optimizer == NULL &&
              evaluating->sync == NULL && evaluating->test_set != NULL);
        CHECK(training->train_set != NULL && training->optimizer != NULL);
        double eval_loss = 0, eval_acc = 0, train_loss = 1, train_acc = 1;
        CHECK_OK(lmn_trainer_evaluate(evaluating, &eval_loss, &eval_acc));
        CHECK_OK(lmn_trainer_evaluate(training, &train_loss, &train_acc));
        /* The same initial model on the same test set: the same bits. */
        CHECK(eval_loss == train_loss && eval_acc == train_acc);
        CHECK(lmn_trainer_run(evaluating) == LMN_ERR_ARG);
        CHECK(strstr(lmn_last_error(), "LMN_PURPOSE_TRAIN") != NULL);
        CHECK_OK(lmn_trainer_run(training));
    }
    lmn_trainer_free(federated);
    lmn_trainer_free(evaluating);
    lmn_trainer_free(training);
    lmn_cfg_free(fl_cfg);
    lmn_cfg_free(eval_cfg);
    lmn_cfg_free(train_cfg);
    lmn_comm_free(comm);
    const int failed = lmn_test_summary("trainer purposes") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any_failed;
}
