/* The machine's single-precision GEMM ceiling through OpenBLAS, and with
 * --bf16 its bf16 GEMM ceiling through oneDNN's matmul.
 *
 * Training throughput means little without a yardstick for what the cores
 * can do at all: this measures C = A * B (square, n x n) with cblas_sgemm
 * and prints, per size, one JSON line
 *   {"bench":"sgemm","threads":T,"n":N,"gflops":BEST,"gflops_median":MED,"reps":R}
 * OpenBLAS picks its thread count from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS;
 * "threads" is what it actually used.
 *
 * --bf16 adds, per size, C (f32) = A (bf16) * B (bf16) through oneDNN's
 * matmul, the arithmetic of lamina's train.precision bf16 layers:
 *   {"bench":"bf16_gemm","threads":T,"n":N,"gflops":BEST,"gflops_median":MED,
 *    "reps":R,"isa":ISA,"nominal_peak_gflops":P}
 * P is the bf16 peak at the nominal clock: threads x /proc/cpuinfo's MHz x
 * bf16 FLOPs per cycle and core of the ISA oneDNN uses (AVX512-BF16: two
 * 512-bit FMA pipes x 32 bf16 products x 2 = 128; AMX: 1024); 0 when
 * unknown. A core boosting above its nominal clock can exceed it.
 *
 * usage: bench_sgemm [--reps R] [--bf16] [N ...]   (default: --reps 5 1024 2048) */
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/timer.h"
#include "kernels/kernels.h"

enum { LMN_SGEMM_MAX_SIZES = 16, LMN_SGEMM_MAX_REPS = 1000 };

typedef struct sgemm_options {
    int reps;
    int sizes[LMN_SGEMM_MAX_SIZES];
    int size_count;
    bool bf16;
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
    options->bf16 = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bf16") == 0) {
            options->bf16 = true;
        } else if (strcmp(argv[i], "--reps") == 0) {
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

/* Best and median of the sorted rates. */
static void summarize_rates(double *rates, int reps, double *best, double *median)
{
    qsort(rates, (size_t)reps, sizeof(double), compare_doubles);
    *best = rates[reps - 1];
    *median = (reps % 2) ? rates[reps / 2] : 0.5 * (rates[reps / 2 - 1] + rates[reps / 2]);
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
        summarize_rates(rates, reps, best, median);
    }
    lmn_free(a);
    lmn_free(b);
    lmn_free(c);
    lmn_free(rates);
    return status;
}

/* --- bf16 GEMM through oneDNN's matmul -------------------------------- */

typedef struct bf16_gemm {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t matmul;
    dnnl_memory_t a, b, c;
} bf16_gemm;

static lmn_status dnnl_ok(dnnl_status_t status, const char *what)
{
    if (status == dnnl_success) return LMN_OK;
    return lmn_fail(LMN_ERR_INTERNAL, "bench_sgemm: oneDNN failed %s (status %d)", what,
                    (int)status);
}

static void bf16_gemm_free(bf16_gemm *g)
{
    if (g->a) dnnl_memory_destroy(g->a);
    if (g->b) dnnl_memory_destroy(g->b);
    if (g->c) dnnl_memory_destroy(g->c);
    if (g->matmul) dnnl_primitive_destroy(g->matmul);
    if (g->stream) dnnl_stream_destroy(g->stream);
    if (g->engine) dnnl_engine_destroy(g->engine);
}

/* Row-major n x n: A, B bf16, C f32 (oneDNN accumulates in f32). */
static lmn_status bf16_gemm_create(int n, bf16_gemm *g)
{
    const dnnl_dims_t dims = {n, n};
    dnnl_memory_desc_t a_md, b_md, c_md;
    LMN_TRY(dnnl_ok(dnnl_engine_create(&g->engine, dnnl_cpu, 0), "creating an engine"));
    LMN_TRY(dnnl_ok(dnnl_stream_create(&g->stream, g->engine, dnnl_stream_default_flags),
                    "creating a stream"));
    LMN_TRY(dnnl_ok(dnnl_memory_desc_init_by_tag(&a_md, 2, dims, dnnl_bf16, dnnl_ab), "describing A"));
    LMN_TRY(dnnl_ok(dnnl_memory_desc_init_by_tag(&b_md, 2, dims, dnnl_bf16, dnnl_ab), "describing B"));
    LMN_TRY(dnnl_ok(dnnl_memory_desc_init_by_tag(&c_md, 2, dims, dnnl_f32, dnnl_ab), "describing C"));
    dnnl_matmul_desc_t desc;
    LMN_TRY(dnnl_ok(dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md), "describing the matmul"));
    dnnl_primitive_desc_t pd = NULL;
    LMN_TRY(dnnl_ok(dnnl_primitive_desc_create(&pd, &desc, NULL, g->engine, NULL),
                    "choosing a bf16 matmul"));
    const dnnl_status_t made = dnnl_primitive_create(&g->matmul, pd);
    dnnl_primitive_desc_destroy(pd);
    LMN_TRY(dnnl_ok(made, "creating the matmul"));
    LMN_TRY(dnnl_ok(dnnl_memory_create(&g->a, &a_md, g->engine, DNNL_MEMORY_ALLOCATE), "allocating A"));
    LMN_TRY(dnnl_ok(dnnl_memory_create(&g->b, &b_md, g->engine, DNNL_MEMORY_ALLOCATE), "allocating B"));
    return dnnl_ok(dnnl_memory_create(&g->c, &c_md, g->engine, DNNL_MEMORY_ALLOCATE), "allocating C");
}

/* Uniform values in [-0.5, 0.5) rounded to bf16 (nearest even). */
static lmn_status fill_bf16(dnnl_memory_t mem, size_t count, uint64_t stream)
{
    uint16_t *values = NULL;
    LMN_TRY(dnnl_ok(dnnl_memory_get_data_handle(mem, (void **)&values), "mapping a matrix"));
    lmn_rng rng = lmn_rng_make(1, lmn_rng_stream_id(stream, 0));
    for (size_t i = 0; i < count; i++) {
        const float value = lmn_rng_uniform(&rng) - 0.5f;
        uint32_t bits;
        memcpy(&bits, &value, sizeof bits);
        values[i] = (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
    }
    return LMN_OK;
}

static lmn_status run_bf16_gemm(bf16_gemm *g)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, g->a}, {DNNL_ARG_WEIGHTS, g->b}, {DNNL_ARG_DST, g->c}};
    LMN_TRY(dnnl_ok(dnnl_primitive_execute(g->matmul, g->stream, 3, args), "running the matmul"));
    return dnnl_ok(dnnl_stream_wait(g->stream), "waiting for the matmul");
}

/* As measure_size, for the bf16 matmul. */
static lmn_status measure_bf16_size(int n, int reps, double *best, double *median)
{
    bf16_gemm g = {0};
    double *rates = NULL;
    const size_t count = (size_t)n * (size_t)n;
    lmn_status status = bf16_gemm_create(n, &g);
    if (status == LMN_OK) status = fill_bf16(g.a, count, 1);
    if (status == LMN_OK) status = fill_bf16(g.b, count, 2);
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&rates, sizeof(double) * (size_t)reps, "gemm rates");
    const double flops = 2.0 * (double)n * (double)n * (double)n;
    for (int rep = -1; status == LMN_OK && rep < reps; rep++) {
        const double start = lmn_now();
        status = run_bf16_gemm(&g);
        if (rep >= 0) rates[rep] = flops / (lmn_now() - start) * 1e-9;
    }
    if (status == LMN_OK) summarize_rates(rates, reps, best, median);
    lmn_free(rates);
    bf16_gemm_free(&g);
    return status;
}

/* The first "cpu MHz" of /proc/cpuinfo; 0 when absent. */
static double cpu_mhz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0.0;
    char line[256];
    double mhz = 0.0;
    while (mhz == 0.0 && fgets(line, sizeof line, f))
        if (strncmp(line, "cpu MHz", 7) == 0) {
            const char *colon = strchr(line, ':');
            if (colon) mhz = atof(colon + 1);
        }
    fclose(f);
    return mhz;
}

static double bf16_peak_gflops(const char *isa, int threads)
{
    if (!isa) return 0.0;
    const double per_cycle = strstr(isa, "amx") ? 1024.0 : strstr(isa, "bf16") ? 128.0 : 0.0;
    return per_cycle * threads * cpu_mhz() * 1e-3;
}

static lmn_status report_bf16(const sgemm_options *options)
{
    const char *isa = NULL;
    if (!lmn_dnnl_native_bf16(&isa))
        return lmn_fail(LMN_ERR_CONFIG, "bench_sgemm: --bf16: this CPU has no native bf16 "
                        "(oneDNN ISA %s)", isa ? isa : "unknown");
    const int threads = omp_get_max_threads();
    for (int i = 0; i < options->size_count; i++) {
        double best = 0.0, median = 0.0;
        LMN_TRY(measure_bf16_size(options->sizes[i], options->reps, &best, &median));
        printf("{\"bench\":\"bf16_gemm\",\"threads\":%d,\"n\":%d,\"gflops\":%.2f,"
               "\"gflops_median\":%.2f,\"reps\":%d,\"isa\":\"%s\",\"nominal_peak_gflops\":%.1f}\n",
               threads, options->sizes[i], best, median, options->reps, isa,
               bf16_peak_gflops(isa, threads));
        fflush(stdout);
    }
    return LMN_OK;
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
    if (status == LMN_OK && options.bf16) status = report_bf16(&options);
    if (status != LMN_OK) {
        fprintf(stderr, "%s\nusage: bench_sgemm [--reps R] [--bf16] [N ...]\n", lmn_last_error());
        return 1;
    }
    return 0;
}
