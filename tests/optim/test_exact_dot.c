/* Exact dot products (optim/exact_dot.h): a sum whose terms cancel but for
 * a few tiny ones is exactly those, however the vectors are cut, in
 * whatever order the pieces come, through one call, pieces or per-thread
 * accumulators; across the bucket capacity (2^15 products per lane),
 * with subnormal factors and non-finite terms. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/memory.h"
#include "optim/exact_dot.h"
#include "test.h"

/* 2 x 150001 cancelling products and 3 small ones: more than one block. */
enum { HALF = 150001, COUNT = 2 * HALF + 3 };

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state >> 11;
}

/* A float with a random sign, significand and exponent in 2^-60 .. 2^60. */
static float wide_float(uint64_t *state)
{
    const uint64_t r = next_random(state);
    const float significand = 1.0f + (float)(r & 0x7fffff) / 8388608.0f;
    const int exponent = (int)((r >> 23) % 121) - 60;
    return ldexpf((r >> 40) & 1 ? -significand : significand, exponent);
}

/* Each product a b comes again as (-a) b, at a shuffled place; the three
 * extra products add up to 7 x 2^-140 (one factor subnormal). */
static void fill(float *a, float *b)
{
    uint64_t state = 12345;
    for (size_t i = 0; i < HALF; i++) {
        a[2 * i] = wide_float(&state);
        b[2 * i] = wide_float(&state);
        a[2 * i + 1] = -a[2 * i];
        b[2 * i + 1] = b[2 * i];
    }
    const float extra_a[3] = {ldexpf(1.0f, -130), ldexpf(3.0f, -70), ldexpf(1.0f, -10)};
    const float extra_b[3] = {ldexpf(1.0f, -10), ldexpf(1.0f, -70), ldexpf(3.0f, -130)};
    for (int k = 0; k < 3; k++) {
        a[2 * HALF + k] = extra_a[k];
        b[2 * HALF + k] = extra_b[k];
    }
    for (size_t i = COUNT - 1; i > 0; i--) { /* Fisher-Yates */
        const size_t j = (size_t)(next_random(&state) % (i + 1));
        const float ta = a[i], tb = b[i];
        a[i] = a[j], b[i] = b[j];
        a[j] = ta, b[j] = tb;
    }
}

static bool same_bits(double x, double y) { return memcmp(&x, &y, sizeof x) == 0; }

static void check_cancellation(const float *a, const float *b)
{
    const double expected = ldexp(7.0, -140);
    lmn_exact_sum whole = {{0}};
    lmn_exact_dot_add(&whole, a, b, COUNT);
    const double value = lmn_exact_sum_value(&whole);
    CHECK_MSG(value == expected, "exact sum %a, expected %a", value, expected);

    /* the pieces in reverse order, cut inside and at block boundaries */
    const size_t cuts[] = {0, 1, 4095, 32768, 131072, 131075, 262144, 300000, COUNT};
    const int pieces = (int)(sizeof cuts / sizeof cuts[0]) - 1;
    lmn_exact_sum cut = {{0}};
    for (int k = pieces - 1; k >= 0; k--)
        lmn_exact_dot_add(&cut, a + cuts[k], b + cuts[k], cuts[k + 1] - cuts[k]);
    CHECK(same_bits(lmn_exact_sum_value(&cut), value));

    /* three accumulators over interleaved chunks, merged in any order */
    lmn_exact_accumulator *acc[3];
    for (int k = 0; k < 3; k++) acc[k] = lmn_exact_accumulator_create();
    for (size_t at = 0, k = 0; at < COUNT; at += 1000, k = (k + 1) % 3)
        lmn_exact_accumulate(acc[k], a + at, b + at, COUNT - at < 1000 ? COUNT - at : 1000);
    lmn_exact_sum merged = {{0}};
    for (int k = 2; k >= 0; k--) lmn_exact_accumulator_finish(acc[k], &merged);
    CHECK(same_bits(lmn_exact_sum_value(&merged), value));
}

/* More equal products in one lane than a bucket takes before a flush. */
static void check_bucket_capacity(void)
{
    enum { MANY = 1 << 19 };
    float *a = NULL, *b = NULL;
    CHECK_OK(lmn_alloc_floats(&a, MANY, "test"));
    CHECK_OK(lmn_alloc_floats(&b, MANY, "test"));
    if (!a || !b) return;
    const float largest = nextafterf(2.0f, 0.0f); /* 24-bit significand, all ones */
    for (size_t i = 0; i < MANY; i++) a[i] = b[i] = largest;
    lmn_exact_sum sum = {{0}};
    lmn_exact_dot_add(&sum, a, b, MANY);
    const double expected = (double)largest * (double)largest * MANY; /* exact: 48 bits x 2^19 */
    const double value = lmn_exact_sum_value(&sum);
    CHECK_MSG(value == expected, "sum %a, expected %a", value, expected);
    lmn_free(a);
    lmn_free(b);
}

static void check_non_finite(const float *a, const float *b)
{
    float *c = NULL;
    CHECK_OK(lmn_alloc_floats(&c, COUNT, "test"));
    if (!c) return;
    memcpy(c, a, COUNT * sizeof(float));
    c[200000] = INFINITY;
    lmn_exact_sum sum = {{0}};
    lmn_exact_dot_add(&sum, c, b, COUNT);
    CHECK(isnan(lmn_exact_sum_value(&sum)));
    lmn_free(c);
}

int main(void)
{
    float *a = NULL, *b = NULL;
    CHECK_OK(lmn_alloc_floats(&a, COUNT, "test"));
    CHECK_OK(lmn_alloc_floats(&b, COUNT, "test"));
    if (a && b) {
        fill(a, b);
        check_cancellation(a, b);
        check_non_finite(a, b);
    }
    check_bucket_capacity();
    lmn_free(a);
    lmn_free(b);
    return lmn_test_summary("exact_dot");
}
