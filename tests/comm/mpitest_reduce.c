/* Ordered reductions (comm/reduce.h): the sum is formed in rank order, so
 * it equals a sequential sum computed anywhere, bit for bit, however the
 * buffer is cut into messages; 16-bit wires stay within their rounding of
 * fp32, and the pre-divide factor keeps fp16 from overflowing where the
 * plain sum of the ranks' large gradients would. Runs on 2, 4 and 8 ranks. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "comm/reduce.h"
#include "core/rng.h"
#include "test.h"

enum { COUNT = 1001 };

static float value_of(int rank, size_t i)
{
    return (float)sin(0.37 * (double)i + 1.3 * rank) * (float)(1 + (i % 7)) / (float)(1 + rank);
}

static void fill(float *values, int rank)
{
    for (size_t i = 0; i < COUNT; i++) values[i] = value_of(rank, i);
}

static void check_ordered_sum(lmn_comm *comm)
{
    lmn_reducer reducer;
    CHECK_OK(lmn_reducer_init(&reducer, comm, LMN_WIRE_FP32, 0));
    float whole[COUNT], pieces[COUNT], expected[COUNT];
    for (size_t i = 0; i < COUNT; i++) {
        expected[i] = value_of(0, i);
        for (int r = 1; r < comm->size; r++) expected[i] += value_of(r, i);
    }
    fill(whole, comm->rank);
    fill(pieces, comm->rank);
    CHECK_OK(lmn_allreduce(&reducer, whole, COUNT));
    const size_t cuts[] = {0, 7, 300, 301, 999, COUNT};
    for (int c = 0; c + 1 < 6; c++)
        CHECK_OK(lmn_allreduce(&reducer, pieces + cuts[c], cuts[c + 1] - cuts[c]));
    CHECK(memcmp(whole, expected, sizeof whole) == 0);
    CHECK(memcmp(pieces, expected, sizeof pieces) == 0);
    /* Reduce-scatter leaves the sum in this rank's slice. */
    float scattered[COUNT];
    fill(scattered, comm->rank);
    comm->bytes_sent = 0.0;
    CHECK_OK(lmn_reduce_scatter(&reducer, scattered, COUNT));
    size_t first, length;
    lmn_slice(COUNT, comm->size, comm->rank, &first, &length);
    CHECK(memcmp(scattered + first, expected + first, length * sizeof(float)) == 0);
    CHECK_OK(lmn_allgather_slices(&reducer, scattered, COUNT));
    CHECK(memcmp(scattered, expected, sizeof scattered) == 0);
    /* What this rank sends: every other slice once, its own slice to P - 1 ranks. */
    const double expected_bytes = ((double)(COUNT - length) + (double)length * (comm->size - 1)) * 4;
    CHECK(comm->bytes_sent == expected_bytes);
    lmn_reducer_free(&reducer);
}

static void check_wire(lmn_comm *comm, lmn_wire wire, double tolerance)
{
    lmn_reducer reducer;
    CHECK_OK(lmn_reducer_init(&reducer, comm, wire, 0));
    float exact[COUNT], narrow[COUNT];
    fill(exact, comm->rank);
    fill(narrow, comm->rank);
    lmn_reducer fp32;
    CHECK_OK(lmn_reducer_init(&fp32, comm, LMN_WIRE_FP32, 0));
    CHECK_OK(lmn_allreduce(&fp32, exact, COUNT));
    CHECK_OK(lmn_allreduce(&reducer, narrow, COUNT));
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < COUNT; i++) scale = fmax(scale, fabs(exact[i]));
    for (size_t i = 0; i < COUNT; i++) worst = fmax(worst, fabs(narrow[i] - exact[i]) / scale);
    printf("%s wire on %d ranks: max error %.3g of the largest sum\n", lmn_wire_name(wire),
           comm->size, worst);
    CHECK_MSG(worst <= tolerance, "%s: %g", lmn_wire_name(wire), worst);
    /* Every rank holds the same bits. */
    float first_rank[COUNT];
    memcpy(first_rank, narrow, sizeof narrow);
    MPI_Bcast(first_rank, COUNT, MPI_FLOAT, 0, comm->comm);
    CHECK(memcmp(first_rank, narrow, sizeof narrow) == 0);
    lmn_reducer_free(&reducer);
    lmn_reducer_free(&fp32);
}

/* 40000 fits fp16 on each rank, but P of them do not (65504 is the
 * largest half): the default pre-divide (the rank count) prevents it. */
static void check_overflow(lmn_comm *comm)
{
    float large[COUNT];
    for (int predivide = 0; predivide <= 1; predivide++) {
        lmn_reducer reducer;
        CHECK_OK(lmn_reducer_init(&reducer, comm, LMN_WIRE_FP16, (float)predivide));
        for (size_t i = 0; i < COUNT; i++) large[i] = 40000.0f - (float)(i % 5);
        CHECK_OK(lmn_allreduce(&reducer, large, COUNT));
        int finite = 1;
        for (size_t i = 0; i < COUNT; i++) finite &= isfinite(large[i]);
        if (predivide == 0) {
            CHECK_MSG(finite, "default pre-divide overflowed on %d ranks", comm->size);
            CHECK(fabs(large[3] - 39997.0 * comm->size) <= 39997.0 * comm->size * 1e-3);
        } else if (comm->size > 1) {
            CHECK_MSG(!finite, "without pre-divide the fp16 sum should overflow");
        }
        lmn_reducer_free(&reducer);
    }
}

int main(int argc, char **argv)
{
    lmn_mpi_init(&argc, &argv);
    lmn_comm *comm = NULL;
    CHECK_OK(lmn_comm_create(MPI_COMM_WORLD, &comm));
    if (comm) {
        check_ordered_sum(comm);
        check_wire(comm, LMN_WIRE_FP16, 2e-3);
        check_wire(comm, LMN_WIRE_BF16, 1.6e-2);
        check_overflow(comm);
    }
    const int failed = lmn_test_summary("ordered reductions") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    lmn_comm_free(comm);
    lmn_mpi_finalize();
    return any_failed;
}
