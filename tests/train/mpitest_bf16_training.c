/* train.precision bf16 (ALGORITHMS.md 13) through the whole trainer:
 *   - one bf16 step moves the fp32 master parameters by the fp32 step's
 *     update within bf16 rounding (2e-2 of the largest update), and not by
 *     exactly the same amount (the kernels really ran bf16);
 *   - P ranks reach 1 rank's parameters within 1e-5, as in fp32
 *     (mpitest_rank_equivalence), with the fp32 wire and (within 5e-2 of the
 *     fp32-wire run) with parallel.wire bf16, which rounds the fp32
 *     gradients once. That bound is the spread of 16 steps of training
 *     from two starts 2^-9 apart, not of the wire: over seeds 5-8 it was
 *     0.0035-0.0096 with bf16 only inside the convolutions and
 *     0.0076-0.037 with bf16 activations (more roundings, each a
 *     discontinuity a small perturbation can flip);
 *   - resuming is bitwise: 4 epochs straight equal 2 + checkpoint + 2.
 * Skips (77) on a CPU without native bf16, where the trainer must refuse
 * train.precision bf16. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "core/memory.h"
#include "test.h"
#include "train/trainer.h"

/* conv + batch norm + pool + linear: every kind of op the bf16 plan runs.
 * Batch norm only in the single-step model (its statistics are per rank). */
static const char *config(bool batchnorm, const char *extra, char *text, size_t size)
{
    snprintf(text, size,
             "seed: 5\nthreads: 1\n"
             "data: {name: synthetic, shape: [3, 12, 12], classes: 5, train_size: 400, "
             "test_size: 50}\n"
             "model:\n"
             "  - {type: conv, out: 16, kernel: 3, pad: 1%s}\n"
             "  - {type: %s}\n"
             "  - {type: maxpool, kernel: 2, stride: 2}\n"
             "  - {type: conv, out: 16, kernel: 3, stride: 2, activation: relu}\n"
             "  - {type: flatten}\n"
             "  - {type: linear, out: 32, activation: relu}\n"
             "  - {type: linear, out: 5, init: glorot}\n"
             "train: {epochs: 4, batch_size: 50, eval: false}\n"
             "optimizer: {name: sgd, lr: 0.01, momentum: 0.9, weight_decay: 0.0001}\n%s\n",
             batchnorm ? ", bias: false" : "", batchnorm ? "batchnorm, activation: relu" : "relu",
             extra ? extra : "");
    return text;
}

typedef struct run {
    float *before, *after; /* parameters at creation and after the run */
    size_t count;
} run;

static void run_free(run *r)
{
    lmn_free(r->before);
    lmn_free(r->after);
}

static lmn_status copy_params(const lmn_trainer *t, float **out, size_t *count)
{
    *count = t->net->param_count;
    LMN_TRY(lmn_alloc_floats(out, *count, "parameter copy"));
    memcpy(*out, t->net->params, *count * sizeof(float));
    return LMN_OK;
}

static lmn_status train(MPI_Comm parent, const char *text, const char *const *sets, int set_count,
                        const char *dir, const char *resume, run *out)
{
    lmn_cfg *cfg = NULL;
    lmn_comm *comm = NULL;
    lmn_trainer *t = NULL;
    lmn_status status = lmn_cfg_parse_string(text, "test", &cfg);
    for (int i = 0; status == LMN_OK && i < set_count; i++) status = lmn_cfg_set(cfg, sets[i]);
    if (status == LMN_OK) status = lmn_comm_create(parent, &comm);
    if (status == LMN_OK) status = lmn_trainer_create(cfg, comm, dir, NULL, &t);
    if (status == LMN_OK && resume) status = lmn_trainer_resume(t, resume);
    if (status == LMN_OK && out) status = copy_params(t, &out->before, &out->count);
    if (status == LMN_OK) status = lmn_trainer_run(t);
    if (status == LMN_OK && out) status = copy_params(t, &out->after, &out->count);
    lmn_trainer_free(t);
    lmn_comm_free(comm);
    lmn_cfg_free(cfg);
    return status;
}

static void test_one_step(void)
{
    char text[2048];
    config(true, NULL, text, sizeof text);
    const char *fp32_sets[] = {"train.max_steps=1"};
    const char *bf16_sets[] = {"train.max_steps=1", "train.precision=bf16"};
    run a = {0}, b = {0};
    CHECK_OK(train(MPI_COMM_WORLD, text, fp32_sets, 1, NULL, NULL, &a));
    CHECK_OK(train(MPI_COMM_WORLD, text, bf16_sets, 2, NULL, NULL, &b));
    if (a.after && b.after && a.count == b.count) {
        CHECK(memcmp(a.before, b.before, a.count * sizeof(float)) == 0);
        const double param_diff = lmn_test_max_rel_diff(b.after, a.after, a.count);
        for (size_t i = 0; i < a.count; i++) {
            a.after[i] -= a.before[i]; /* the updates */
            b.after[i] -= b.before[i];
        }
        const double diff = lmn_test_max_rel_diff(b.after, a.after, a.count);
        printf("one step: bf16 vs fp32: parameters %.3g, updates %.3g (max relative)\n",
               param_diff, diff);
        /* bf16 keeps 8 significant bits: 2^-8 is its rounding. */
        CHECK_MSG(param_diff <= 0x1p-8, "bf16 step's parameters differ by %.3g", param_diff);
        CHECK_MSG(diff <= 5e-2, "bf16 update differs from the fp32 update by %.3g", diff);
        CHECK_MSG(diff > 1e-6, "bf16 step equals the fp32 step (%.3g): bf16 did not run", diff);
    }
    run_free(&a);
    run_free(&b);
}

/* P ranks against 1 rank, in bf16, with the given parallel.wire; returns
 * the P-rank run (the caller frees it). */
static run rank_equivalence(const char *wire, double tolerance, int rank)
{
    char text[2048], wire_set[64];
    config(false, NULL, text, sizeof text);
    snprintf(wire_set, sizeof wire_set, "parallel.wire=%s", wire);
    const char *sets[] = {"train.precision=bf16", "train.epochs=2", wire_set};
    run parallel = {0}, single = {0};
    CHECK_OK(train(MPI_COMM_WORLD, text, sets, 3, NULL, NULL, &parallel));
    if (rank == 0) {
        CHECK_OK(train(MPI_COMM_SELF, text, sets, 3, NULL, NULL, &single));
        if (parallel.after && single.after) {
            const double diff = lmn_test_max_rel_diff(parallel.after, single.after, single.count);
            printf("bf16, wire %s: P ranks vs 1 rank: max relative difference %.3g\n", wire, diff);
            CHECK_MSG(diff <= tolerance, "bf16 wire %s: ranks differ by %.3g", wire, diff);
        }
    }
    run_free(&single);
    return parallel;
}

static void test_ranks(int rank)
{
    run fp32_wire = rank_equivalence("fp32", 1e-5, rank);
    run bf16_wire = rank_equivalence("bf16", 5e-2, rank);
    if (fp32_wire.after && bf16_wire.after) {
        const double diff = lmn_test_max_rel_diff(bf16_wire.after, fp32_wire.after,
                                                   fp32_wire.count);
        if (rank == 0) printf("bf16: wire bf16 vs wire fp32 after 2 epochs: %.3g\n", diff);
        CHECK(diff <= 5e-2);
        int ranks = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &ranks);
        if (ranks > 1) CHECK(diff > 0.0); /* the wire did round (1 rank sends nothing) */
    }
    run_free(&fp32_wire);
    run_free(&bf16_wire);
}

static void test_resume(const char *root)
{
    char text[2048], straight[600], split[600];
    config(true, NULL, text, sizeof text);
    snprintf(straight, sizeof straight, "%s/straight", root);
    snprintf(split, sizeof split, "%s/split", root);
    const char *sets[] = {"train.precision=bf16", "train.checkpoint_every=1",
                          "train.max_steps=16"}; /* 2 epochs of 8 steps */
    run a = {0}, b = {0};
    CHECK_OK(train(MPI_COMM_WORLD, text, sets, 2, straight, NULL, &a));
    CHECK_OK(train(MPI_COMM_WORLD, text, sets, 3, split, NULL, NULL));
    CHECK_OK(train(MPI_COMM_WORLD, text, sets, 2, split, split, &b));
    if (a.after && b.after)
        CHECK_MSG(memcmp(a.after, b.after, a.count * sizeof(float)) == 0,
                  "bf16 resume: parameters differ from the straight run");
    run_free(&a);
    run_free(&b);
}

/* On a CPU without native bf16 the trainer refuses, naming the key. */
static void test_refused(void)
{
    char text[2048];
    config(false, NULL, text, sizeof text);
    const char *sets[] = {"train.precision=bf16"};
    CHECK(train(MPI_COMM_WORLD, text, sets, 1, NULL, NULL, NULL) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "train.precision") != NULL);
}

int main(int argc, char **argv)
{
    lmn_mpi_init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const char *isa = NULL;
    if (!lmn_dnnl_native_bf16(&isa)) {
        test_refused();
        SKIP("no native bf16 on this CPU (oneDNN ISA %s)", isa ? isa : "?");
    } else {
        char root[] = "/tmp/lamina-bf16-XXXXXX";
        if (rank == 0 && !mkdtemp(root)) return 1;
        MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
        test_one_step();
        test_ranks(rank);
        test_resume(root);
    }
    int code = lmn_test_summary("bf16 training"), worst = 0;
    MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return worst;
}
