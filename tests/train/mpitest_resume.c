/* Resuming is exact: 4 epochs straight equal 2 epochs, a checkpoint, and 2
 * more in a new trainer, bit for bit (parameters, statistics, optimizer
 * state and the metrics of the resumed epochs), with momentum SGD and with
 * Adam, on a model with batch norm; and with the sync policies and epoch
 * controllers whose state checkpoints carry (lazy's k, adaptive tau, the
 * batch schedule, two-phase); and after stops by train.max_steps inside an
 * epoch. Runs on any rank count. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "core/memory.h"
#include "test.h"
#include "train/trainer.h"

static const char *config(const char *optimizer, char *text, size_t size)
{
    snprintf(text, size,
             "seed: 3\nthreads: 1\n"
             "data: {name: synthetic, shape: [1, 10, 10], classes: 4, train_size: 300, test_size: 60}\n"
             "model:\n"
             "  - {type: conv, out: 4, kernel: 3, pad: 1, bias: false}\n"
             "  - {type: batchnorm, activation: relu}\n"
             "  - {type: maxpool}\n"
             "  - {type: flatten}\n"
             "  - {type: linear, out: 4, init: glorot}\n"
             "train: {epochs: 4, batch_size: 25, checkpoint_every: 1, eval_batch_size: 30}\n"
             "optimizer: %s\n",
             optimizer);
    return text;
}

typedef struct outcome {
    float *params, *state, *velocity;
    size_t params_count, state_count;
} outcome;

static lmn_status train(const char *text, const char *dir, const char *const *sets, int set_count,
                        const char *resume, outcome *out)
{
    lmn_cfg *cfg = NULL;
    lmn_comm *comm = NULL;
    lmn_trainer *t = NULL;
    lmn_status status = lmn_cfg_parse_string(text, "test", &cfg);
    for (int i = 0; status == LMN_OK && i < set_count; i++) status = lmn_cfg_set(cfg, sets[i]);
    if (status == LMN_OK) status = lmn_comm_create(MPI_COMM_WORLD, &comm);
    if (status == LMN_OK) status = lmn_trainer_create(cfg, comm, dir, NULL, &t);
    if (status == LMN_OK && resume) status = lmn_trainer_resume(t, resume);
    if (status == LMN_OK) status = lmn_trainer_run(t);
    if (status == LMN_OK && out) {
        out->params_count = t->net->param_count;
        out->state_count = t->net->state_count;
        status = lmn_alloc_floats(&out->params, out->params_count, "copy");
        if (status == LMN_OK) status = lmn_alloc_floats(&out->state, out->state_count, "copy");
        if (status == LMN_OK) status = lmn_alloc_floats(&out->velocity, out->params_count, "copy");
        if (status == LMN_OK) {
            memcpy(out->params, t->net->params, out->params_count * sizeof(float));
            memcpy(out->state, t->net->state, out->state_count * sizeof(float));
            memcpy(out->velocity, t->optimizer->velocity, out->params_count * sizeof(float));
        }
    }
    lmn_trainer_free(t);
    lmn_comm_free(comm);
    lmn_cfg_free(cfg);
    return status;
}

/* The metrics of epoch `epoch` without its timing fields. */
static void epoch_line(const char *dir, int epoch, char *out, size_t size)
{
    char path[512], line[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    out[0] = '\0';
    FILE *file = fopen(path, "r");
    while (file && fgets(line, sizeof line, file)) {
        int e = 0;
        if (sscanf(line, "{\"epoch\":%d", &e) != 1 || e != epoch) continue;
        char *cut = strstr(line, ",\"seconds\"");
        if (cut) *cut = '\0';
        snprintf(out, size, "%s", line);
    }
    if (file) fclose(file);
}

static void check_resume(const char *optimizer, const char *extra, const char *set,
                         const char *root, int rank)
{
    char text[2048], straight[600], split[600];
    config(optimizer, text, sizeof text);
    if (extra) snprintf(text + strlen(text), sizeof text - strlen(text), "%s\n", extra);
    snprintf(straight, sizeof straight, "%s/straight", root);
    snprintf(split, sizeof split, "%s/split", root);
    outcome a = {0}, b = {0};
    const char *sets[] = {set, "train.max_steps=24"}; /* 2 epochs of 12 steps */
    const int set_count = set ? 1 : 0;
    CHECK_OK(train(text, straight, sets, set_count, NULL, &a));
    CHECK_OK(train(text, split, set ? sets : sets + 1, set_count + 1, NULL, NULL));
    CHECK_OK(train(text, split, sets, set_count, split, &b));
    if (!a.params || !b.params) return;
    CHECK_MSG(memcmp(a.params, b.params, a.params_count * sizeof(float)) == 0, "%s %s: parameters",
              optimizer, extra ? extra : "");
    CHECK(memcmp(a.state, b.state, a.state_count * sizeof(float)) == 0);
    CHECK(memcmp(a.velocity, b.velocity, a.params_count * sizeof(float)) == 0);
    if (rank == 0) {
        for (int epoch = 1; epoch <= 4; epoch++) {
            char line_a[4096], line_b[4096];
            epoch_line(straight, epoch, line_a, sizeof line_a);
            epoch_line(split, epoch, line_b, sizeof line_b);
            CHECK_MSG(line_a[0] && strcmp(line_a, line_b) == 0, "%s %s epoch %d: %s vs %s", optimizer,
                      extra ? extra : "", epoch, line_a, line_b);
        }
    }
    lmn_free(a.params), lmn_free(a.state), lmn_free(a.velocity);
    lmn_free(b.params), lmn_free(b.state), lmn_free(b.velocity);
}

/* A run stopped by train.max_steps inside an epoch resumes at that step:
 * stops at step 3 (epoch 1) and 30 (epoch 3), each resumed with --resume
 * auto and a larger limit, end bit for bit where a straight run does. With
 * checkpoint_every_steps the limit's step also gets a mid-epoch checkpoint
 * under the same name, which the end of the run must not overwrite. */
static void check_step_limits(const char *optimizer, const char *set, const char *root, int rank)
{
    char text[2048], straight[600], split[600];
    config(optimizer, text, sizeof text);
    snprintf(straight, sizeof straight, "%s/straight", root);
    snprintf(split, sizeof split, "%s/split", root);
    const char *first[] = {"train.max_steps=3", set}, *second[] = {"train.max_steps=30", set};
    const int count = set ? 2 : 1;
    outcome a = {0}, b = {0};
    CHECK_OK(train(text, straight, first + 1, count - 1, NULL, &a));
    CHECK_OK(train(text, split, first, count, NULL, NULL));
    CHECK_OK(train(text, split, second, count, "auto", NULL));
    CHECK_OK(train(text, split, first + 1, count - 1, "auto", &b));
    if (!a.params || !b.params) return;
    CHECK_MSG(memcmp(a.params, b.params, a.params_count * sizeof(float)) == 0,
              "step limits %s: parameters differ from the straight run", set ? set : "");
    CHECK(memcmp(a.velocity, b.velocity, a.params_count * sizeof(float)) == 0);
    /* A mid-epoch checkpoint holds the ranks' averaged batch-norm statistics,
     * not each rank's own: on several ranks they (and the test loss computed
     * with them) differ from the straight run's by rounding until the next
     * epoch's average. Training never reads them, so the parameters do not. */
    int ranks = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (ranks == 1)
        CHECK(memcmp(a.state, b.state, a.state_count * sizeof(float)) == 0);
    else
        CHECK(lmn_test_max_rel_diff(b.state, a.state, a.state_count) < 1e-5);
    for (int epoch = 1; rank == 0 && ranks == 1 && epoch <= 4; epoch++) {
        char line_a[4096], line_b[4096];
        epoch_line(straight, epoch, line_a, sizeof line_a);
        epoch_line(split, epoch, line_b, sizeof line_b);
        CHECK_MSG(line_a[0] && strcmp(line_a, line_b) == 0, "step limits epoch %d: %s vs %s", epoch,
                  line_a, line_b);
    }
    lmn_free(a.params), lmn_free(a.state), lmn_free(a.velocity);
    lmn_free(b.params), lmn_free(b.state), lmn_free(b.velocity);
}

int main(int argc, char **argv)
{
    lmn_mpi_init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char root[] = "/tmp/lamina-resume-XXXXXX";
    if (rank == 0 && !mkdtemp(root)) return 1;
    MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sgd", root);
    const char *sgd = "{name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005, schedule: cosine}";
    check_resume(sgd, NULL, NULL, dir, rank);
    snprintf(dir, sizeof dir, "%s/adam", root);
    check_resume("{name: adam, lr: 0.003}", NULL, NULL, dir, rank);
    const char *variants[] = {
        "parallel: {strategy: overlap}",
        "parallel: {strategy: lazy, lazy_layers: 1}",
        "parallel: {strategy: localsgd, tau: adaptive}",
        "parallel: {strategy: multistep, fc_exchange: always}",
    };
    for (int v = 0; v < 4; v++) {
        snprintf(dir, sizeof dir, "%s/variant%d", root, v);
        check_resume(sgd, variants[v], NULL, dir, rank);
    }
    /* Epochs 1-2 keep 12 steps of 25 so the split run stops after epoch 2. */
    snprintf(dir, sizeof dir, "%s/schedule", root);
    check_resume("{name: sgd, lr: 0.05, momentum: 0.9, schedule: two_phase, "
                 "two_phase: {extra_epochs: 0, threshold: 0.5}}",
                 "parallel: {strategy: lazy, lazy_layers: 1}",
                 "train.batch_schedule=[{epoch: 3, batch_size: 50, lr: 0.08}]", dir, rank);
    snprintf(dir, sizeof dir, "%s/limits", root);
    check_step_limits(sgd, NULL, dir, rank);
    snprintf(dir, sizeof dir, "%s/limits_every_step", root);
    check_step_limits(sgd, "train.checkpoint_every_steps=3", dir, rank);
    snprintf(dir, sizeof dir, "%s/limits_overlap", root);
    check_step_limits(sgd, "parallel={strategy: overlap}", dir, rank);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        char command[256];
        snprintf(command, sizeof command, "rm -rf %s", root);
        if (system(command) != 0) fprintf(stderr, "could not remove %s\n", root);
    }
    const int failed = lmn_test_summary("resume") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    lmn_mpi_finalize();
    return any_failed;
}
