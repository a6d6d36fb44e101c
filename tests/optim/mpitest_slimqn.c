/* SLIM-QN on P ranks (1, 2, 4) against one process: every rank holds the
 * history of its own slices (per "layer", lmn_slice of it, as multistep
 * cuts), yet the parameters after every step and the gathered pairs are
 * the same bits as a single process holding everything. The problem: a
 * quadratic with a diagonal-plus-coupling Hessian and a gradient noise
 * term, interval 3 and history 4, so that the FIFO turns over. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/reduce.h"
#include "core/memory.h"
#include "optim/slimqn.h"
#include "test.h"

enum { N = 37, LAYERS = 3, STEPS = 40 };
static const size_t LAYER_END[LAYERS] = {10, 11, N};

static lmn_optimizer *make(void)
{
    const lmn_param_range ranges[2] = {{0, 10, true}, {10, N - 10, false}};
    lmn_slimqn_config c = lmn_slimqn_defaults();
    c.history = 4;
    c.interval = 3;
    c.param_momentum = 0.5;
    c.grad_momentum = 0.7;
    const lmn_optimizer_config config = {.kind = LMN_OPT_SLIMQN, .momentum = 0.9,
                                         .weight_decay = 0.01, .slimqn = c};
    lmn_optimizer *opt = NULL;
    CHECK_OK(lmn_optimizer_create(&config, ranges, 2, N, &opt));
    return opt;
}

static void gradient(const float *w, int step, float *g)
{
    for (int i = 0; i < N; i++) {
        const double coupled = i > 0 ? 0.1 * w[i - 1] : 0.0;
        g[i] = (float)((0.05 + 0.02 * i) * w[i] + coupled + 0.01 * sin(3.0 * step + i));
    }
}

static int spans_of(int ranks, int rank, lmn_slimqn_span *spans)
{
    int count = 0;
    for (int l = 0; l < LAYERS; l++) {
        const size_t begin = l ? LAYER_END[l - 1] : 0;
        size_t first, length;
        lmn_slice(LAYER_END[l] - begin, ranks, rank, &first, &length);
        if (length) spans[count++] = (lmn_slimqn_span){begin + first, begin + first + length};
    }
    return count;
}

/* Every rank's slices of w to every rank, bit for bit (OR of bit patterns
 * with zeros elsewhere). */
static void share(const lmn_slimqn_span *spans, int count, float *w)
{
    uint32_t bits[N] = {0};
    for (int k = 0; k < count; k++)
        memcpy(bits + spans[k].begin, w + spans[k].begin, (spans[k].end - spans[k].begin) * 4);
    MPI_Allreduce(MPI_IN_PLACE, bits, N, MPI_UINT32_T, MPI_BOR, MPI_COMM_WORLD);
    memcpy(w, bits, sizeof bits);
}

int main(int argc, char **argv)
{
    lmn_mpi_init(&argc, &argv);
    lmn_comm *comm = NULL;
    CHECK_OK(lmn_comm_create(MPI_COMM_WORLD, &comm));
    lmn_optimizer *alone = make(), *sliced = make();
    if (comm && alone && sliced) {
        lmn_slimqn_span spans[LAYERS], whole = {0, N};
        const int count = spans_of(comm->size, comm->rank, spans);
        CHECK_OK(lmn_slimqn_set_spans(alone, &whole, 1));
        CHECK_OK(lmn_slimqn_set_spans(sliced, spans, count));
        float a[N], b[N], g[N];
        for (int i = 0; i < N; i++) a[i] = b[i] = (float)(1.0 - 0.05 * i);
        int same_steps = 0;
        for (int step = 0; step < STEPS; step++) {
            gradient(a, step, g);
            CHECK_OK(lmn_slimqn_step(alone, a, g, 0.3, NULL));
            gradient(b, step, g);
            CHECK_OK(lmn_slimqn_step(sliced, b, g, 0.3, comm));
            share(spans, count, b);
            same_steps += memcmp(a, b, sizeof a) == 0;
        }
        CHECK_MSG(same_steps == STEPS, "%d of %d steps the same bits on %d ranks", same_steps,
                  STEPS, comm->size);
        lmn_slimqn_report ra, rb;
        lmn_slimqn_report_get(alone->qn, &ra);
        lmn_slimqn_report_get(sliced->qn, &rb);
        CHECK(ra.pairs == 4 && rb.pairs == 4 && ra.rejected == rb.rejected);
        CHECK(ra.damping == rb.damping && ra.clip == rb.clip);
        /* the pairs themselves, gathered to rank 0 */
        CHECK_OK(lmn_slimqn_gather(alone, NULL));
        CHECK_OK(lmn_slimqn_gather(sliced, comm));
        const double *sa, *sb;
        const float *va, *vb;
        int ca = 0, cb = 0;
        CHECK_OK(lmn_slimqn_saved(alone->qn, &sa, &va, &ca));
        if (comm->rank == 0) {
            CHECK_OK(lmn_slimqn_saved(sliced->qn, &sb, &vb, &cb));
            CHECK(ca == 12 && cb == ca);
            CHECK(memcmp(sa, sb, sizeof(double) * lmn_slimqn_scalar_count(alone->qn)) == 0);
            CHECK(memcmp(va, vb, sizeof(float) * (size_t)ca * N) == 0);
        }
    }
    lmn_optimizer_free(alone);
    lmn_optimizer_free(sliced);
    const int failed = lmn_test_summary("slimqn on ranks") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    lmn_comm_free(comm);
    lmn_mpi_finalize();
    return any_failed;
}
