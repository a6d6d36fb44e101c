/* One client holding all the data is plain SGD: lamina fl with K = 1 ends
 * with the parameters of the same local steps taken by hand, on the same
 * batches. Each rank checks it on its own (MPI_COMM_SELF). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/memory.h"
#include "data/partition.h"
#include "kernels/loss.h"
#include "test.h"
#include "train/federated.h"

static const char *config(char *text, size_t size)
{
    const char *dir = getenv("LMN_DATA_DIR") ? getenv("LMN_DATA_DIR") : "/usr/share/datasets/fashion-mnist";
    snprintf(text, size,
             "seed: 11\nthreads: 1\n"
             "data: {name: fashion-mnist, path: %s}\n"
             "model:\n"
             "  - {type: conv, out: 6, kernel: 5, stride: 2, activation: relu}\n"
             "  - {type: flatten}\n"
             "  - {type: linear, out: 10, init: glorot}\n"
             "fl: {clients: 1, active_ratio: 1.0, local_steps: 25, batch_size: 16, rounds: 1,\n"
             "     partition: iid, eval_batch_size: 2000}\n"
             "optimizer: {lr: 0.05, momentum: 0.9, weight_decay: 0.0001}\n",
             dir);
    return text;
}

/* The same 25 steps, written out with the trainer's parts. */
static void plain_sgd(lmn_trainer *t, float *out)
{
    const lmn_fl_settings *fl = &t->fl;
    lmn_partition *partition = NULL;
    const lmn_partition_spec one_client = {.kind = LMN_PARTITION_IID, .clients = 1};
    CHECK_OK(lmn_partition_make(t->train_set->labels, t->train_set->count,
                                t->train_set->num_classes, &one_client, t->settings.seed,
                                &partition));
    if (!partition) return;
    uint32_t indices[16];
    for (int step = 0; step < fl->local_steps; step++) {
        lmn_client_batch(partition, 0, t->settings.seed, (int64_t)step * fl->batch_size,
                         fl->batch_size, indices);
        const float *logits = NULL;
        CHECK_OK(lmn_dataset_gather(t->train_set, indices, fl->batch_size, t->settings.seed, 0,
                                    t->inputs, t->labels));
        CHECK_OK(lmn_network_forward(t->net, fl->batch_size, t->inputs, true, 0, &logits));
        lmn_softmax_xent(logits, t->labels, fl->batch_size, 10, 1.0f / fl->batch_size, t->dlogits, NULL);
        CHECK_OK(lmn_network_backward(t->net, t->dlogits));
        lmn_optimizer_update(t->optimizer, t->net->params, t->net->grads, 0.05, 0,
                             t->net->param_count);
        lmn_optimizer_finish_step(t->optimizer);
    }
    memcpy(out, t->net->params, t->net->param_count * sizeof(float));
    lmn_partition_free(partition);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    char text[2048];
    lmn_cfg *cfg = NULL;
    lmn_comm *comm = NULL;
    lmn_trainer *federated = NULL, *manual = NULL;
    CHECK_OK(lmn_cfg_parse_string(config(text, sizeof text), "test", &cfg));
    CHECK_OK(lmn_comm_create(MPI_COMM_SELF, &comm));
    CHECK_OK(lmn_trainer_create_federated(cfg, comm, NULL, NULL, &federated));
    CHECK_OK(lmn_trainer_create_federated(cfg, comm, NULL, NULL, &manual));
    if (federated && manual) {
        const size_t count = federated->net->param_count;
        float *expected = NULL;
        CHECK_OK(lmn_alloc_floats(&expected, count, "expected"));
        plain_sgd(manual, expected);
        CHECK_OK(lmn_federated_run(federated));
        const double diff = lmn_test_max_rel_diff(federated->net->params, expected, count);
        printf("1 client vs plain SGD after 25 steps: max relative difference %.3g\n", diff);
        /* Only the fixed-point aggregation (2^-44) separates the two. */
        CHECK(diff < 1e-9);
        double moved = 0.0;
        for (size_t i = 0; i < count; i++) moved += expected[i] != 0.0f;
        CHECK(moved > 0.5 * (double)count);
        lmn_free(expected);
    }
    lmn_trainer_free(federated);
    lmn_trainer_free(manual);
    lmn_comm_free(comm);
    lmn_cfg_free(cfg);
    const int failed = lmn_test_summary("federated one client") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any_failed;
}
