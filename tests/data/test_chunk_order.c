/* The `chunks` epoch order: a permutation (every row exactly once per
 * epoch), each rank's slices from its own chunks except the documented
 * end-of-epoch lending, buffers of chunks, and a fresh order per epoch and
 * per seed. Row counts that chunks do not divide and 1..3 ranks. */
#include <stdlib.h>
#include <string.h>

#include "data/chunk_order.h"
#include "test.h"

static int is_permutation(const uint32_t *order, int64_t count)
{
    unsigned char *seen = calloc((size_t)count, 1);
    int ok = seen != NULL;
    for (int64_t i = 0; i < count && ok; i++) {
        ok = order[i] < count && !seen[order[i]];
        if (ok) seen[order[i]] = 1;
    }
    free(seen);
    return ok;
}

/* Rows of step slices that rank r got from a chunk it does not own. */
static int64_t borrowed_rows(const lmn_chunk_layout *layout, const lmn_epoch_plan *plan,
                             const uint32_t *order)
{
    int64_t borrowed = 0;
    for (int64_t step = 0; step < plan->steps; step++)
        for (int r = 0; r < layout->ranks; r++) {
            int64_t first;
            int count;
            lmn_epoch_plan_rank_slice(plan, step, r, layout->ranks, &first, &count);
            for (int k = 0; k < count; k++)
                borrowed += (int64_t)(order[first + k] / (uint32_t)layout->chunk_rows) %
                                layout->ranks != r;
        }
    return borrowed;
}

/* A rank's first (chunks_per_buffer - 1) * chunk_rows rows lie inside its
 * first buffer (only the file's last chunk is short), so they come from at
 * most chunks_per_buffer chunks: buffers, not the whole share, are mixed. */
static int first_buffer_chunks(const lmn_chunk_layout *layout, const lmn_epoch_plan *plan,
                               const uint32_t *order, int rank)
{
    const int64_t buffer_rows = (int64_t)layout->chunk_rows * (layout->chunks_per_buffer - 1);
    int64_t taken = 0;
    int distinct = 0;
    int64_t seen[64];
    for (int64_t step = 0; step < plan->steps && taken < buffer_rows; step++) {
        int64_t first;
        int count;
        lmn_epoch_plan_rank_slice(plan, step, rank, layout->ranks, &first, &count);
        for (int k = 0; k < count && taken < buffer_rows; k++, taken++) {
            const int64_t chunk = order[first + k] / (uint32_t)layout->chunk_rows;
            int known = 0;
            for (int j = 0; j < distinct; j++) known |= seen[j] == chunk;
            if (!known && distinct < 64) seen[distinct++] = chunk;
        }
    }
    return distinct;
}

static void check_layout(int64_t count, int chunk_rows, int per_buffer, int ranks, int batch,
                         bool drop_last)
{
    const lmn_chunk_layout layout = {count, chunk_rows, per_buffer, ranks};
    lmn_epoch_plan plan;
    CHECK_OK(lmn_epoch_plan_make(count, batch, drop_last, &plan));
    uint32_t *a = malloc((size_t)count * sizeof *a), *b = malloc((size_t)count * sizeof *b);
    uint32_t *c = malloc((size_t)count * sizeof *c), *d = malloc((size_t)count * sizeof *d);
    CHECK_OK(lmn_chunk_epoch_order(&layout, &plan, 7, 0, true, a));
    CHECK_OK(lmn_chunk_epoch_order(&layout, &plan, 7, 0, true, b));
    CHECK_OK(lmn_chunk_epoch_order(&layout, &plan, 7, 1, true, c));
    CHECK_OK(lmn_chunk_epoch_order(&layout, &plan, 8, 0, true, d));
    CHECK_MSG(is_permutation(a, count), "%lld rows, chunks of %d, %d ranks", (long long)count,
              chunk_rows, ranks);
    CHECK(is_permutation(c, count) && is_permutation(d, count));
    CHECK(memcmp(a, b, (size_t)count * sizeof *a) == 0);
    CHECK(memcmp(a, c, (size_t)count * sizeof *a) != 0);
    CHECK(memcmp(a, d, (size_t)count * sizeof *a) != 0);
    /* Ranks own whole chunks: shares differ by at most a chunk per rank,
     * so lending stays below ranks * chunk_rows rows. */
    const int64_t borrowed = borrowed_rows(&layout, &plan, a);
    CHECK_MSG(borrowed <= (int64_t)ranks * chunk_rows, "%lld rows borrowed", (long long)borrowed);
    const bool several_buffers = lmn_chunk_count(&layout) > (int64_t)ranks * (per_buffer + 1);
    for (int r = 0; r < ranks && several_buffers; r++)
        CHECK(first_buffer_chunks(&layout, &plan, a, r) <= per_buffer);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_unshuffled_is_chunk_order(void)
{
    /* One rank, no shuffle: the file order. */
    const lmn_chunk_layout layout = {10, 3, 2, 1};
    lmn_epoch_plan plan;
    CHECK_OK(lmn_epoch_plan_make(10, 4, false, &plan));
    uint32_t order[10];
    CHECK_OK(lmn_chunk_epoch_order(&layout, &plan, 1, 0, false, order));
    for (uint32_t i = 0; i < 10; i++) CHECK(order[i] == i);
}

static void test_bad_layout(void)
{
    const lmn_chunk_layout layout = {10, 0, 2, 1};
    lmn_epoch_plan plan;
    CHECK_OK(lmn_epoch_plan_make(10, 4, false, &plan));
    uint32_t order[10];
    CHECK(lmn_chunk_epoch_order(&layout, &plan, 1, 0, true, order) == LMN_ERR_ARG);
}

int main(void)
{
    for (int ranks = 1; ranks <= 3; ranks++) {
        check_layout(1000, 64, 4, ranks, 32, false);   /* 1000 = 15 * 64 + 40 */
        check_layout(1001, 7, 3, ranks, 30, false);
        check_layout(1001, 7, 3, ranks, 30, true);
        check_layout(50, 16, 2, ranks, 64, false);     /* fewer chunks than some ranks' needs */
    }
    test_unshuffled_is_chunk_order();
    test_bad_layout();
    return lmn_test_summary("test_chunk_order");
}
