/* The machine's single-precision GEMM ceiling through OpenBLAS.
 *
 * Training throughput means little without a yardstick for what the cores
 * can do at all: this measures C = A * B (square, n x n) with cblas_sgemm
 * and prints, per size, one JSON line
 *   {"bench":"sgemm","threads":T,"n":N,"gflops":BEST,"gflops_median":MED,"reps":R}
 * OpenBLAS picks its thread count from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS;
 * "threads" is what it actually used.
 *
 * usage: bench_sgemm [--reps R] [N ...]      (default: --reps 5 1024 2048) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/timer.h"

enum { LMN_SGEMM_MAX_SIZES = 16, LMN_SGEMM_MAX_REPS = 1000 };

typedef struct sgemm_options {
    int reps;
    int sizes[LMN_SGEMM_MAX_SIZES];
    int size_count;
} sgemm_options;

static lmn_status parse_positive(const char *text, int max, const char *what, int *out)
{
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 1 || value > max)
        return lmn_fail(LMN_ERR_ARG, "bench_sgemm: %s '%s' is not an integer in 1..%d",
                        what, text, max);
    *out = (int)value;
    return LMN_OK;
}

static lmn_status parse_options(int argc, char **argv, sgemm_options *options)
{
    options->reps = 5;
    options->size_count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0) {
            if (i + 1 >= argc)
                return lmn_fail(LMN_ERR_ARG, "bench_sgemm: --reps needs a value");
            LMN_TRY(parse_positive(argv[++i], LMN_SGEMM_MAX_REPS, "--reps", &options->reps));
        } else {
            if (options->size_count == LMN_SGEMM_MAX_SIZES)
                return lmn_fail(LMN_ERR_ARG, "bench_sgemm: at most %d sizes",
                                LMN_SGEMM_MAX_SIZES);
            LMN_TRY(parse_positive(argv[i], 16384, "matrix size",
                                   &options->sizes[options->size_count++]));
        }
    }
    if (options->size_count == 0) {
        options->sizes[0] = 1024;
        options->sizes[1] = 2048;
        options->size_count = 2;
    }
    return LMN_OK;
}

static void fill_uniform(float *values, size_t count, uint64_t stream)
{
    lmn_rng rng = lmn_rng_make(1, lmn_rng_stream_id(stream, 0));
    for (size_t i = 0; i < count; i++)
        values[i] = lmn_rng_uniform(&rng) - 0.5f;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times `reps` multiplications after one untimed warm-up call (which pays
 * for OpenBLAS's thread start-up and buffer allocation). */
static lmn_status measure_size(int n, int reps, double *best, double *median)
{
    size_t count = (size_t)n * (size_t)n;
    float *a = NULL, *b = NULL, *c = NULL;
    double *rates = NULL;
    lmn_status status = lmn_alloc_floats(&a, count, "sgemm A");
    if (status == LMN_OK) status = lmn_alloc_floats(&b, count, "sgemm B");
    if (status == LMN_OK) status = lmn_alloc_floats(&c, count, "sgemm C");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&rates, sizeof(double) * (size_t)reps, "sgemm rates");
    if (status == LMN_OK) {
        fill_uniform(a, count, 1);
        fill_uniform(b, count, 2);
        const double flops = 2.0 * (double)n * (double)n * (double)n;
        for (int rep = -1; rep < reps; rep++) {
            double start = lmn_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n,
                        b, n, 0.0f, c, n);
            double seconds = lmn_now() - start;
            if (rep >= 0) rates[rep] = flops / seconds * 1e-9;
        }
        qsort(rates, (size_t)reps, sizeof(double), compare_doubles);
        *best = rates[reps - 1];
        *median = (reps % 2) ? rates[reps / 2]
                             : 0.5 * (rates[reps / 2 - 1] + rates[reps / 2]);
    }
    lmn_free(a);
    lmn_free(b);
    lmn_free(c);
    lmn_free(rates);
    return status;
}

int main(int argc, char **argv)
{
    sgemm_options options;
    lmn_status status = parse_options(argc, argv, &options);
    for (int i = 0; status == LMN_OK && i < options.size_count; i++) {
        double best = 0.0, median = 0.0;
        status = measure_size(options.sizes[i], options.reps, &best, &median);
        if (status == LMN_OK) {
            printf("{\"bench\":\"sgemm\",\"threads\":%d,\"n\":%d,\"gflops\":%.2f,"
                   "\"gflops_median\":%.2f,\"reps\":%d}\n",
                   openblas_get_num_threads(), options.sizes[i], best, median, options.reps);
            fflush(stdout);
        }
    }
    if (status != LMN_OK) {
        fprintf(stderr, "%s\nusage: bench_sgemm [--reps R] [N ...]\n", lmn_last_error());
        return 1;
    }
    return 0;
}
