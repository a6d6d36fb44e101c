/* The cost model's byte counts and alpha-beta times on hand-computed values. */
#include <math.h>
#include <string.h>

#include "comm/cost_model.h"
#include "test.h"

static void test_bytes(void)
{
    CHECK_CLOSE(lmn_cost_bytes_allreduce(1000.0, 4), 1500.0, 1e-12);      /* 2 * 3/4 */
    CHECK_CLOSE(lmn_cost_bytes_reduce_scatter(1000.0, 4), 750.0, 1e-12);  /* 3/4 */
    CHECK_CLOSE(lmn_cost_bytes_allgather(1000.0, 4), 750.0, 1e-12);
    CHECK_CLOSE(lmn_cost_bytes_broadcast(1000.0, 4), 1000.0, 1e-12);
    CHECK_CLOSE(lmn_cost_bytes_allreduce(1000.0, 2), 1000.0, 1e-12);
    /* reduce-scatter + allgather move what one allreduce moves */
    CHECK_CLOSE(lmn_cost_bytes_reduce_scatter(777.0, 12) + lmn_cost_bytes_allgather(777.0, 12),
                lmn_cost_bytes_allreduce(777.0, 12), 1e-12);
    for (int kind = 0; kind < LMN_COLLECTIVE_COUNT; kind++)
        CHECK(lmn_cost_bytes((lmn_collective)kind, 1000.0, 1) == 0.0);
    CHECK_CLOSE(lmn_cost_bytes(LMN_COLLECTIVE_ALLREDUCE, 1000.0, 8), 1750.0, 1e-12);
    CHECK_CLOSE(lmn_cost_bytes(LMN_COLLECTIVE_ALLGATHER, 1000.0, 8), 875.0, 1e-12);
}

static void test_link(void)
{
    const lmn_link link = lmn_link_from_gbits(8.0, 10.0); /* 8 Gbit/s = 1 GB/s */
    CHECK_CLOSE(link.bytes_per_second, 1e9, 1e-12);
    CHECK_CLOSE(link.latency_seconds, 1e-5, 1e-12);
}

/* a = 10 us, 1 GB/s: a megabyte costs 1 ms per full pass. */
static void test_times(void)
{
    const lmn_link link = lmn_link_from_gbits(8.0, 10.0);
    const double s = 1e6, a = 1e-5, b = 1e-9;
    const lmn_collective ar = LMN_COLLECTIVE_ALLREDUCE;
    /* P = 4 */
    CHECK_CLOSE(lmn_cost_seconds_with(link, ar, LMN_ALGORITHM_RING, s, 4), 6 * a + 1.5 * s * b, 1e-12);
    CHECK_CLOSE(lmn_cost_seconds_with(link, ar, LMN_ALGORITHM_HALVING_DOUBLING, s, 4),
                4 * a + 1.5 * s * b, 1e-12);
    CHECK_CLOSE(lmn_cost_seconds_with(link, ar, LMN_ALGORITHM_TREE, s, 4), 2 * (a + s * b), 1e-12);
    CHECK_CLOSE(lmn_cost_seconds(link, ar, s, 4), 4 * a + 1.5 * s * b, 1e-12); /* 1.54 ms */
    /* Small messages are latency-bound: the tree wins. */
    CHECK_CLOSE(lmn_cost_seconds(link, ar, 8.0, 4), 2 * (a + 8.0 * b), 1e-12);
    /* P = 3: halving-doubling folds one rank in and out; ring wins for 1 MB. */
    CHECK_CLOSE(lmn_cost_seconds_with(link, ar, LMN_ALGORITHM_RING, s, 3), 4 * a + 4.0 / 3 * s * b, 1e-12);
    CHECK_CLOSE(lmn_cost_seconds_with(link, ar, LMN_ALGORITHM_HALVING_DOUBLING, s, 3),
                2 * a + s * b + 2 * (a + s * b), 1e-12);
    CHECK_CLOSE(lmn_cost_seconds_with(link, ar, LMN_ALGORITHM_TREE, s, 3), 3 * (a + s * b), 1e-12);
    CHECK_CLOSE(lmn_cost_seconds(link, ar, s, 3), 4 * a + 4.0 / 3 * s * b, 1e-12);
    /* P = 2: recursive doubling = one exchange of the whole vector. */
    CHECK_CLOSE(lmn_cost_seconds(link, ar, s, 2), a + s * b, 1e-12);
    /* reduce-scatter and allgather, P = 8 */
    const lmn_collective rs = LMN_COLLECTIVE_REDUCE_SCATTER, ag = LMN_COLLECTIVE_ALLGATHER;
    CHECK_CLOSE(lmn_cost_seconds_with(link, rs, LMN_ALGORITHM_RING, s, 8), 7 * a + 0.875 * s * b, 1e-12);
    CHECK_CLOSE(lmn_cost_seconds_with(link, rs, LMN_ALGORITHM_HALVING_DOUBLING, s, 8),
                3 * a + 0.875 * s * b, 1e-12);
    CHECK_CLOSE(lmn_cost_seconds(link, ag, s, 8), 3 * a + 0.875 * s * b, 1e-12);
    CHECK(isinf(lmn_cost_seconds_with(link, rs, LMN_ALGORITHM_HALVING_DOUBLING, s, 6)));
    CHECK_CLOSE(lmn_cost_seconds(link, rs, s, 6), 5 * a + 5.0 / 6 * s * b, 1e-12); /* ring */
    /* Bruck allgather at P = 6: 3 steps */
    CHECK_CLOSE(lmn_cost_seconds(link, ag, s, 6), 3 * a + 5.0 / 6 * s * b, 1e-12);
    /* broadcast, P = 8: binomial 3 (a + S b) vs scatter + allgather (3 + 7) a + 2 * 7/8 S b */
    CHECK_CLOSE(lmn_cost_seconds_with(link, LMN_COLLECTIVE_BROADCAST, LMN_ALGORITHM_TREE, s, 8),
                3 * (a + s * b), 1e-12);
    CHECK_CLOSE(lmn_cost_seconds(link, LMN_COLLECTIVE_BROADCAST, s, 8), 10 * a + 1.75 * s * b, 1e-12);
    /* nothing to do */
    CHECK(lmn_cost_seconds(link, ar, s, 1) == 0.0);
    CHECK(lmn_cost_seconds(link, ar, 0.0, 16) == 0.0);
    /* The best is never slower than any algorithm. */
    for (int p = 2; p <= 64; p++)
        for (int kind = 0; kind < LMN_COLLECTIVE_COUNT; kind++)
            for (int alg = LMN_ALGORITHM_RING; alg < LMN_ALGORITHM_COUNT; alg++)
                CHECK(lmn_cost_seconds(link, (lmn_collective)kind, 1e5, p) <=
                      lmn_cost_seconds_with(link, (lmn_collective)kind,
                                            (lmn_collective_algorithm)alg, 1e5, p));
}

static void test_names(void)
{
    for (int alg = 0; alg < LMN_ALGORITHM_COUNT; alg++) {
        lmn_collective_algorithm back = LMN_ALGORITHM_COUNT;
        CHECK(lmn_collective_algorithm_from_name(
            lmn_collective_algorithm_name((lmn_collective_algorithm)alg), &back));
        CHECK(back == (lmn_collective_algorithm)alg);
    }
    lmn_collective_algorithm unused;
    CHECK(!lmn_collective_algorithm_from_name("butterfly", &unused));
    CHECK(strcmp(lmn_collective_name(LMN_COLLECTIVE_REDUCE_SCATTER), "reduce-scatter") == 0);
}

int main(void)
{
    test_bytes();
    test_link();
    test_times();
    test_names();
    return lmn_test_summary("test_cost_model");
}
