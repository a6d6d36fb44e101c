/* A minimal test harness: CHECK-style assertions that report file:line and
 * keep going, and a final summary whose exit status is the verdict. */
#ifndef LMN_TESTS_TEST_H
#define LMN_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int lmn_test_failures;
static int lmn_test_checks;
static int lmn_test_skips;

/* ctest's SKIP_RETURN_CODE (tests/CMakeLists.txt): a test that skipped a
 * part for want of a tool reports "skipped", not "passed". */
enum { LMN_TEST_SKIPPED = 77 };

/* Records that a part of the test did not run, and why. */
#define SKIP(...)                     \
    do {                              \
        lmn_test_skips++;             \
        printf("SKIP: " __VA_ARGS__); \
        putchar('\n');                \
    } while (0)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        lmn_test_checks++;                                                           \
        if (!(cond)) {                                                               \
            lmn_test_failures++;                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                   \
    do {                                                                       \
        lmn_test_checks++;                                                     \
        if (!(cond)) {                                                         \
            lmn_test_failures++;                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* Asserts an lmn_status is LMN_OK, printing the library's message if not. */
#define CHECK_OK(expr)                                                                 \
    do {                                                                               \
        lmn_status check_ok_status_ = (expr);                                          \
        lmn_test_checks++;                                                             \
        if (check_ok_status_ != LMN_OK) {                                              \
            lmn_test_failures++;                                                       \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,       \
                    lmn_last_error());                                                 \
        }                                                                              \
    } while (0)

/* |a - b| <= tol * max(1, |a|, |b|) */
#define CHECK_CLOSE(a, b, tol)                                                         \
    do {                                                                               \
        double check_a_ = (a), check_b_ = (b);                                         \
        double check_scale_ = fmax(1.0, fmax(fabs(check_a_), fabs(check_b_)));        \
        lmn_test_checks++;                                                             \
        if (!(fabs(check_a_ - check_b_) <= (tol) * check_scale_)) {                    \
            lmn_test_failures++;                                                       \
            fprintf(stderr, "%s:%d: %s = %.9g vs %s = %.9g (tol %g)\n", __FILE__,      \
                    __LINE__, #a, check_a_, #b, check_b_, (double)(tol));              \
        }                                                                              \
    } while (0)

/* Largest |a_i - b_i| / max(1e-3, max|b|) over two arrays: a relative error
 * that is not fooled by individual near-zero entries. */
static inline double lmn_test_max_rel_diff(const float *a, const float *b, size_t n)
{
    double scale = 1e-3, worst = 0.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    return worst / scale;
}

/* The exit status: 1 when a check failed or none ran (a test that checks
 * nothing proves nothing), LMN_TEST_SKIPPED when a part was skipped, else 0. */
static inline int lmn_test_summary(const char *name)
{
    if (lmn_test_failures) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, lmn_test_failures,
                lmn_test_checks);
        return 1;
    }
    if (lmn_test_checks == 0) {
        fprintf(stderr, "%s: FAILED: no check ran\n", name);
        return 1;
    }
    if (lmn_test_skips) {
        printf("%s: %d checks passed, %d part(s) SKIPPED\n", name, lmn_test_checks, lmn_test_skips);
        return LMN_TEST_SKIPPED;
    }
    printf("%s: all %d checks passed\n", name, lmn_test_checks);
    return 0;
}

#endif
