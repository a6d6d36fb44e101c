/* Asynchronous double-buffered batches: same bytes as synchronous gathering,
 * failures surface at the right step, reading overlaps computing, and
 * stopping never hangs. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/timer.h"
#include "data/dataset.h"
#include "data/prefetch.h"
#include "data/sampler.h"
#include "test.h"

enum { COUNT = 93, BATCH = 8, CLASSES = 5, C = 2, H = 6, W = 5, SIZE = C * H * W };
enum { MAX_FLOATS = BATCH * SIZE };
static const uint64_t SEED = 11;

/* The batch of step s of an epoch: samples order[s*BATCH, (s+1)*BATCH),
 * the last one partial, gathered with the epoch's augmentation. */
typedef struct gather_reader {
    const lmn_dataset *ds;
    lmn_epoch_plan plan;
    uint64_t epoch;
    uint32_t order[COUNT];
    int64_t fail_at;            /* step that fails with LMN_ERR_IO; -1 for none */
    atomic_llong calls_started; /* reader calls begun, over the reader's life */
} gather_reader;

static void reader_set_epoch(gather_reader *r, uint64_t epoch)
{
    r->epoch = epoch;
    lmn_epoch_order(COUNT, SEED, epoch, true, r->order);
}

static gather_reader *reader_make(const lmn_dataset *ds)
{
    static gather_reader reader;
    memset(&reader, 0, sizeof reader);
    reader.ds = ds;
    reader.fail_at = -1;
    atomic_init(&reader.calls_started, 0);
    CHECK_OK(lmn_epoch_plan_make(COUNT, BATCH, false, &reader.plan));
    reader_set_epoch(&reader, 0);
    return &reader;
}

/* The synchronous reference: what a trainer without prefetching gathers. */
static lmn_status gather_step(const gather_reader *r, int64_t step, float *images,
                              int32_t *labels, int *count)
{
    int64_t first = 0;
    const int n = lmn_epoch_plan_batch(&r->plan, step, &first);
    LMN_TRY(lmn_dataset_gather(r->ds, r->order + first, n, SEED, r->epoch, images, labels));
    *count = n;
    return LMN_OK;
}

static lmn_status read_batch(void *ctx, int64_t step, float *images, int32_t *labels, int *count)
{
    gather_reader *r = ctx;
    atomic_fetch_add(&r->calls_started, 1);
    if (step == r->fail_at)
        return lmn_fail(LMN_ERR_IO, "test reader: disk gone at step %lld", (long long)step);
    return gather_step(r, step, images, labels, count);
}

static lmn_dataset *make_dataset(void)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_synthetic(COUNT, C, H, W, CLASSES, 3, &ds));
    if (!ds) exit(1);
    /* Augmentation makes each epoch's batches differ, so a batch from the
     * wrong epoch would be caught. */
    ds->augment = true;
    ds->crop_pad = 1;
    ds->flip = true;
    return ds;
}

/* Does the prefetched batch equal the synchronous read of step, bitwise? */
static int equals_synchronous(const gather_reader *r, int64_t step, const float *images,
                              const int32_t *labels, int count)
{
    static float expected_images[MAX_FLOATS];
    static int32_t expected_labels[BATCH];
    int expected_count = -1;
    if (gather_step(r, step, expected_images, expected_labels, &expected_count) != LMN_OK)
        return 0;
    return count == expected_count &&
           memcmp(images, expected_images, sizeof(float) * (size_t)count * SIZE) == 0 &&
           memcmp(labels, expected_labels, sizeof(int32_t) * (size_t)count) == 0;
}

static void sleep_seconds(double seconds)
{
    struct timespec t = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&t, NULL);
}

/* Polls (test only) until the reader has begun `calls` calls, or 2 s pass. */
static void wait_for_calls(gather_reader *r, long long calls)
{
    const double deadline = lmn_now() + 2.0;
    while (atomic_load(&r->calls_started) < calls && lmn_now() < deadline) sleep_seconds(1e-4);
}

/* Two consecutive epochs; at every step, once the I/O thread has read as far
 * ahead as it may, the held batch must still be intact and the thread must
 * not have gone further than depth steps ahead. */
static void test_matches_synchronous(int depth)
{
    lmn_dataset *ds = make_dataset();
    gather_reader *r = reader_make(ds);
    lmn_prefetcher *p = NULL;
    CHECK_OK(lmn_prefetcher_create(read_batch, r, MAX_FLOATS, BATCH, depth, &p));
    const int64_t steps = r->plan.steps;
    CHECK(steps == 12);
    for (uint64_t epoch = 0; epoch < 2; epoch++) {
        reader_set_epoch(r, epoch);
        const long long calls_before = atomic_load(&r->calls_started);
        CHECK_OK(lmn_prefetcher_start(p, 0, steps));
        for (int64_t step = 0; step < steps; step++) {
            const float *images = NULL;
            const int32_t *labels = NULL;
            int count = -1;
            CHECK_OK(lmn_prefetcher_next(p, &images, &labels, &count));
            const long long allowed = step + 1 + depth < steps ? step + 1 + depth : steps;
            wait_for_calls(r, calls_before + allowed);
            sleep_seconds(1e-3); /* give an over-eager thread the chance to misbehave */
            CHECK(atomic_load(&r->calls_started) - calls_before == allowed);
            CHECK_MSG(equals_synchronous(r, step, images, labels, count),
                      "depth %d epoch %llu step %lld differs", depth,
                      (unsigned long long)epoch, (long long)step);
        }
        const float *images = NULL;
        int count = 0;
        CHECK(lmn_prefetcher_next(p, &images, NULL, &count) == LMN_ERR_ARG);
        CHECK(strstr(lmn_last_error(), "lmn_prefetcher_start") != NULL);
    }
    lmn_prefetcher_free(p);
    lmn_dataset_free(ds);
}

/* A range that does not start at 0, a partial last batch, an empty range. */
static void test_sub_range(void)
{
    lmn_dataset *ds = make_dataset();
    gather_reader *r = reader_make(ds);
    lmn_prefetcher *p = NULL;
    CHECK_OK(lmn_prefetcher_create(read_batch, r, MAX_FLOATS, BATCH, 2, &p));
    CHECK_OK(lmn_prefetcher_start(p, 10, 12));
    for (int64_t step = 10; step < 12; step++) {
        const float *images = NULL;
        const int32_t *labels = NULL;
        int count = -1;
        CHECK_OK(lmn_prefetcher_next(p, &images, &labels, &count));
        CHECK(count == (step == 11 ? COUNT - 11 * BATCH : BATCH));
        CHECK(equals_synchronous(r, step, images, labels, count));
    }
    CHECK_OK(lmn_prefetcher_start(p, 3, 3));
    const float *images = NULL;
    int count = 0;
    CHECK(lmn_prefetcher_next(p, &images, NULL, &count) == LMN_ERR_ARG);
    lmn_prefetcher_free(p);
    lmn_dataset_free(ds);
}

static void test_arguments(void)
{
    lmn_prefetcher *p = NULL;
    CHECK(lmn_prefetcher_create(NULL, NULL, 8, 1, 1, &p) == LMN_ERR_ARG && p == NULL);
    CHECK(lmn_prefetcher_create(read_batch, NULL, 8, 1, 0, &p) == LMN_ERR_ARG);
    CHECK(strstr(lmn_last_error(), "depth 0") != NULL);
    CHECK(lmn_prefetcher_create(read_batch, NULL, 0, 1, 1, &p) == LMN_ERR_ARG);
    CHECK(lmn_prefetcher_create(read_batch, NULL, 8, 0, 1, &p) == LMN_ERR_ARG);

    lmn_dataset *ds = make_dataset();
    gather_reader *r = reader_make(ds);
    CHECK_OK(lmn_prefetcher_create(read_batch, r, MAX_FLOATS, BATCH, 1, &p));
    const float *images = NULL;
    int count = 0;
    CHECK(lmn_prefetcher_next(p, &images, NULL, &count) == LMN_ERR_ARG); /* never started */
    CHECK(lmn_prefetcher_start(p, 2, 1) == LMN_ERR_ARG);
    CHECK_OK(lmn_prefetcher_start(p, 0, 6));
    CHECK_OK(lmn_prefetcher_next(p, &images, NULL, &count));
    CHECK(lmn_prefetcher_start(p, 0, 6) == LMN_ERR_ARG); /* steps 1..5 still pending */
    CHECK(strstr(lmn_last_error(), "lmn_prefetcher_stop") != NULL);
    lmn_prefetcher_stop(p);
    CHECK(lmn_prefetcher_next(p, &images, NULL, &count) == LMN_ERR_ARG); /* stopped */
    lmn_prefetcher_stop(p);                                              /* twice is fine */
    lmn_prefetcher_free(p);
    lmn_prefetcher_free(NULL);
    lmn_dataset_free(ds);
}

/* A reader that claims more samples than the buffers hold. */
static lmn_status read_too_many(void *ctx, int64_t step, float *images, int32_t *labels,
                                int *count)
{
    *count = BATCH + 1;
    return LMN_OK;
}

static void test_failure_at_step(int depth, int64_t fail_at)
{
    lmn_dataset *ds = make_dataset();
    gather_reader *r = reader_make(ds);
    r->fail_at = fail_at;
    lmn_prefetcher *p = NULL;
    CHECK_OK(lmn_prefetcher_create(read_batch, r, MAX_FLOATS, BATCH, depth, &p));
    CHECK_OK(lmn_prefetcher_start(p, 0, r->plan.steps));
    const float *images = NULL;
    const int32_t *labels = NULL;
    int count = 0;
    for (int64_t step = 0; step < fail_at; step++) {
        CHECK_OK(lmn_prefetcher_next(p, &images, &labels, &count));
        CHECK(equals_synchronous(r, step, images, labels, count));
    }
    char expected[128];
    snprintf(expected, sizeof expected, "test reader: disk gone at step %lld", (long long)fail_at);
    for (int again = 0; again < 2; again++) { /* the failure sticks */
        lmn_clear_error();
        CHECK(lmn_prefetcher_next(p, &images, &labels, &count) == LMN_ERR_IO);
        CHECK_MSG(strcmp(lmn_last_error(), expected) == 0, "message '%s'", lmn_last_error());
    }
    /* A new range after the failure works. */
    r->fail_at = -1;
    CHECK_OK(lmn_prefetcher_start(p, 0, r->plan.steps));
    CHECK_OK(lmn_prefetcher_next(p, &images, &labels, &count));
    CHECK(equals_synchronous(r, 0, images, labels, count));
    lmn_prefetcher_stop(p);
    lmn_prefetcher_free(p);

    CHECK_OK(lmn_prefetcher_create(read_too_many, NULL, MAX_FLOATS, BATCH, depth, &p));
    CHECK_OK(lmn_prefetcher_start(p, 0, 3));
    CHECK(lmn_prefetcher_next(p, &images, &labels, &count) == LMN_ERR_INTERNAL);
    CHECK(strstr(lmn_last_error(), "max_labels") != NULL);
    lmn_prefetcher_free(p); /* without stop(): free stops */
    lmn_dataset_free(ds);
}

/* Total seconds next() waited over `steps` steps of a reader taking
 * read_seconds per batch, with compute_seconds of "work" per batch. */
static double wait_with_compute(gather_reader *r, int steps, double read_seconds,
                                double compute_seconds)
{
    struct lmn_slow_reader_ctx slow = {read_batch, r, read_seconds};
    lmn_prefetcher *p = NULL;
    CHECK_OK(lmn_prefetcher_create(lmn_slow_reader, &slow, MAX_FLOATS, BATCH, 1, &p));
    if (!p) return 0.0;
    CHECK_OK(lmn_prefetcher_start(p, 0, steps));
    for (int step = 0; step < steps; step++) {
        const float *images = NULL;
        const int32_t *labels = NULL;
        int count = 0;
        CHECK_OK(lmn_prefetcher_next(p, &images, &labels, &count));
        if (step == steps - 1) CHECK(equals_synchronous(r, step, images, labels, count));
        if (compute_seconds > 0.0) sleep_seconds(compute_seconds);
    }
    const double waited = lmn_prefetcher_wait_seconds(p);
    lmn_prefetcher_free(p);
    return waited;
}

static void test_overlap(void)
{
    lmn_dataset *ds = make_dataset();
    gather_reader *r = reader_make(ds);
    enum { STEPS = 12 }; /* one epoch */
    const double read_seconds = 0.005, reading = STEPS * read_seconds;
    /* Two passes each, in case the first pays for warm-up. */
    double overlapped = 1e9, serial = 1e9;
    for (int pass = 0; pass < 2; pass++) {
        overlapped = fmin(overlapped, wait_with_compute(r, STEPS, read_seconds, 0.010));
        serial = fmin(serial, wait_with_compute(r, STEPS, read_seconds, 0.0));
    }
    printf("prefetch overlap: waited %.2f ms computing 10 ms/batch, %.2f ms computing "
           "nothing, reading takes %.2f ms\n",
           overlapped * 1e3, serial * 1e3, reading * 1e3);
    CHECK(serial > 0.5 * reading);
    CHECK_MSG(overlapped < 0.5 * serial, "waited %g s with compute, %g s without", overlapped,
              serial);

    struct lmn_slow_reader_ctx bad = {read_batch, r, -1.0};
    float images[MAX_FLOATS];
    int count = 0;
    CHECK(lmn_slow_reader(&bad, 0, images, NULL, &count) == LMN_ERR_ARG);
    lmn_dataset_free(ds);
}

/* Stop with reads pending returns after at most the read in progress, and a
 * new range afterwards delivers the right batches. */
static void test_stop_mid_epoch(void)
{
    lmn_dataset *ds = make_dataset();
    gather_reader *r = reader_make(ds);
    struct lmn_slow_reader_ctx slow = {read_batch, r, 0.02};
    lmn_prefetcher *p = NULL;
    CHECK_OK(lmn_prefetcher_create(lmn_slow_reader, &slow, MAX_FLOATS, BATCH, 3, &p));
    CHECK_OK(lmn_prefetcher_start(p, 0, r->plan.steps));
    const float *images = NULL;
    const int32_t *labels = NULL;
    int count = 0;
    CHECK_OK(lmn_prefetcher_next(p, &images, &labels, &count));
    double began = lmn_now();
    lmn_prefetcher_stop(p);
    const double stop_seconds = lmn_now() - began;
    CHECK_MSG(stop_seconds < 0.5, "stop took %g s", stop_seconds);
    CHECK(atomic_load(&r->calls_started) < r->plan.steps); /* later reads were cancelled */

    slow.seconds_per_batch = 0.0;
    CHECK_OK(lmn_prefetcher_start(p, 2, 4));
    CHECK_OK(lmn_prefetcher_next(p, &images, &labels, &count));
    CHECK(equals_synchronous(r, 2, images, labels, count));

    /* Stop right after start, before anything was consumed; then free. */
    lmn_prefetcher_stop(p);
    slow.seconds_per_batch = 0.02;
    CHECK_OK(lmn_prefetcher_start(p, 0, r->plan.steps));
    began = lmn_now();
    lmn_prefetcher_free(p);
    CHECK(lmn_now() - began < 0.5);
    lmn_dataset_free(ds);
}

int main(void)
{
    test_arguments();
    test_matches_synchronous(1);
    test_matches_synchronous(3);
    test_sub_range();
    test_failure_at_step(1, 3);
    test_failure_at_step(3, 0);
    test_failure_at_step(2, 5);
    test_overlap();
    test_stop_mid_epoch();
    return lmn_test_summary("data_test_prefetch");
}
