/* Epoch order and the split of global batches across ranks. */
#include <string.h>

#include "data/sampler.h"
#include "test.h"

enum { N = 1000 };

static int is_permutation(const uint32_t *order, int count)
{
    static unsigned char seen[N];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < count; i++) {
        if (order[i] >= (uint32_t)count || seen[order[i]]) return 0;
        seen[order[i]] = 1;
    }
    return 1;
}

static void test_epoch_order(void)
{
    static uint32_t a[N], b[N], c[N], d[N];
    lmn_epoch_order(N, 42, 3, true, a);
    lmn_epoch_order(N, 42, 3, true, b);
    lmn_epoch_order(N, 42, 4, true, c);
    lmn_epoch_order(N, 43, 3, true, d);
    CHECK(is_permutation(a, N) && is_permutation(c, N) && is_permutation(d, N));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK(memcmp(a, d, sizeof a) != 0);
    int fixed_points = 0;
    for (int i = 0; i < N; i++) fixed_points += a[i] == (uint32_t)i;
    CHECK(fixed_points < 10); /* a shuffle, not the identity */
    lmn_epoch_order(N, 42, 3, false, b);
    for (int i = 0; i < N; i++) CHECK(b[i] == (uint32_t)i);
}

static void test_rank_share(void)
{
    for (int ranks = 1; ranks <= 5; ranks++)
        for (int batch = 0; batch <= 13; batch++) {
            int next = 0, smallest = batch, largest = 0;
            for (int rank = 0; rank < ranks; rank++) {
                int offset, count;
                lmn_rank_share(batch, rank, ranks, &offset, &count);
                CHECK_MSG(offset == next, "P=%d batch=%d rank=%d offset %d", ranks, batch, rank, offset);
                CHECK(count == batch / ranks + (rank < batch % ranks));
                next = offset + count;
                smallest = count < smallest ? count : smallest;
                largest = count > largest ? count : largest;
            }
            CHECK(next == batch);
            CHECK(largest - smallest <= 1);
        }
    int offset, count;
    lmn_rank_share(2, 4, 5, &offset, &count);
    CHECK(count == 0 && offset == 2);
}

static void test_plan(void)
{
    lmn_epoch_plan plan;
    CHECK_OK(lmn_epoch_plan_make(10, 4, false, &plan));
    CHECK(plan.steps == 3);
    int64_t first;
    CHECK(lmn_epoch_plan_batch(&plan, 2, &first) == 2 && first == 8);
    CHECK_OK(lmn_epoch_plan_make(10, 4, true, &plan));
    CHECK(plan.steps == 2);
    CHECK_OK(lmn_epoch_plan_make(8, 4, false, &plan));
    CHECK(plan.steps == 2);
    CHECK_OK(lmn_epoch_plan_make(3, 4, true, &plan));
    CHECK(plan.steps == 0);
    CHECK(lmn_epoch_plan_make(10, 0, false, &plan) == LMN_ERR_ARG);
    CHECK(lmn_epoch_plan_make(-1, 4, false, &plan) == LMN_ERR_ARG);

    /* Every sample of the epoch is visited exactly once over all ranks and
     * steps (or, with drop_last, exactly the full batches' samples). */
    const int count = 23, batch = 6;
    for (int drop_last = 0; drop_last <= 1; drop_last++)
        for (int ranks = 1; ranks <= 5; ranks++) {
            CHECK_OK(lmn_epoch_plan_make(count, batch, drop_last, &plan));
            int visits[23] = {0};
            for (int64_t step = 0; step < plan.steps; step++)
                for (int rank = 0; rank < ranks; rank++) {
                    int n;
                    lmn_epoch_plan_rank_slice(&plan, step, rank, ranks, &first, &n);
                    CHECK(first >= step * batch && first + n <= (step + 1) * batch);
                    for (int i = 0; i < n; i++) visits[first + i]++;
                }
            const int covered = drop_last ? count / batch * batch : count;
            for (int i = 0; i < count; i++)
                CHECK_MSG(visits[i] == (i < covered), "P=%d drop_last=%d position %d visited %d times",
                          ranks, drop_last, i, visits[i]);
        }
}

int main(void)
{
    test_epoch_order();
    test_rank_share();
    test_plan();
    return lmn_test_summary("data_test_sampler");
}
