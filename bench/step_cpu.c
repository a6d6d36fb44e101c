/* CPU time of one training step (forward, loss gradient, backward) of a
 * zoo classifier on the dnnl backend, from the process CPU clock: on a
 * shared machine wall time measures the neighbours, CPU time mostly this
 * process, and timing only the steps keeps start-up (data, plans) out.
 * Prints one JSON line
 *   {"bench":"step_cpu","model":M,"precision":P,"batch":B,"threads":T,
 *    "cpu_ms_best":BEST,"cpu_ms_median":MED,"rounds":R,"steps":S}
 * where each of R rounds times S steps after 3 untimed warm-up steps.
 * Compare two builds (a fusion on / off) with it, best of many rounds.
 *
 * usage: bench_step_cpu [--model lenet|resnet20] [--precision fp32|bf16]
 *                       [--batch B] [--steps S] [--rounds R]
 *        (default resnet20 fp32, batch 64, 5 steps, 7 rounds) */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/memory.h"
#include "core/rng.h"
#include "kernels/loss.h"
#include "nn/network.h"

enum { CLASSES = 10, WARMUP_STEPS = 3, MAX_COUNT = 100000 };

typedef struct step_options {
    const char *model;
    lmn_precision precision;
    int batch, steps, rounds;
} step_options;

typedef struct step_problem {
    lmn_network *net;
    int batch;
    float *x, *logits, *dout;
    int32_t *labels;
} step_problem;

static double cpu_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static lmn_status parse_count(const char *flag, const char *text, int *out)
{
    char *end = NULL;
    const long value = text ? strtol(text, &end, 10) : 0;
    if (!text || end == text || *end != '\0' || value < 1 || value > MAX_COUNT)
        return lmn_fail(LMN_ERR_ARG, "bench_step_cpu: %s needs an integer in 1..%d, got '%s'",
                        flag, MAX_COUNT, text ? text : "");
    *out = (int)value;
    return LMN_OK;
}

static lmn_status parse_option(int argc, char **argv, int *i, step_options *o)
{
    const char *flag = argv[*i], *value = *i + 1 < argc ? argv[++*i] : NULL;
    if (strcmp(flag, "--model") == 0 && value) {
        if (strcmp(value, "lenet") != 0 && strcmp(value, "resnet20") != 0)
            return lmn_fail(LMN_ERR_ARG, "bench_step_cpu: --model '%s': lenet or resnet20",
                            value);
        o->model = value;
        return LMN_OK;
    }
    if (strcmp(flag, "--precision") == 0 && value) {
        if (strcmp(value, "fp32") != 0 && strcmp(value, "bf16") != 0)
            return lmn_fail(LMN_ERR_ARG, "bench_step_cpu: --precision '%s': fp32 or bf16",
                            value);
        o->precision = strcmp(value, "bf16") == 0 ? LMN_PRECISION_BF16 : LMN_PRECISION_FP32;
        return LMN_OK;
    }
    if (strcmp(flag, "--batch") == 0) return parse_count(flag, value, &o->batch);
    if (strcmp(flag, "--steps") == 0) return parse_count(flag, value, &o->steps);
    if (strcmp(flag, "--rounds") == 0) return parse_count(flag, value, &o->rounds);
    return lmn_fail(LMN_ERR_ARG, "bench_step_cpu: unknown option or missing value: '%s'", flag);
}

/* LeNet on 1x28x28 (Fashion-MNIST), ResNet-20 on 3x32x32 (CIFAR). */
static lmn_status problem_create(const step_options *o, lmn_backend *be, step_problem *p)
{
    const bool lenet = strcmp(o->model, "lenet") == 0;
    const int channels = lenet ? 1 : 3, size = lenet ? 28 : 32;
    lmn_model_spec spec = {0};
    lmn_status status = lmn_model_zoo(o->model, channels, size, size, CLASSES, &spec);
    if (status == LMN_OK) status = lmn_network_create(be, &spec, channels, size, size, &p->net);
    lmn_model_spec_free(&spec);
    LMN_TRY(status);
    lmn_network_init_params(p->net, 1);
    p->batch = o->batch;
    const size_t inputs = (size_t)o->batch * (size_t)(channels * size * size);
    const size_t outputs = (size_t)o->batch * CLASSES;
    LMN_TRY(lmn_alloc_floats(&p->x, inputs, "benchmark input"));
    LMN_TRY(lmn_alloc_floats(&p->logits, outputs, "benchmark logits"));
    LMN_TRY(lmn_alloc_floats(&p->dout, outputs, "benchmark output gradient"));
    LMN_TRY(lmn_alloc_bytes((void **)&p->labels, sizeof(int32_t) * (size_t)o->batch, "labels"));
    lmn_rng rng = lmn_rng_make(1, 2);
    for (size_t i = 0; i < inputs; i++) p->x[i] = lmn_rng_uniform(&rng) - 0.5f;
    for (int n = 0; n < o->batch; n++) p->labels[n] = n % CLASSES;
    return LMN_OK;
}

static void problem_free(step_problem *p)
{
    lmn_network_free(p->net);
    lmn_free(p->x);
    lmn_free(p->logits);
    lmn_free(p->dout);
    lmn_free(p->labels);
}

static lmn_status train_step(step_problem *p)
{
    const float *out = NULL;
    LMN_TRY(lmn_network_forward(p->net, p->batch, p->x, true, 1, &out));
    memcpy(p->logits, out, sizeof(float) * (size_t)p->batch * CLASSES);
    lmn_softmax_xent(p->logits, p->labels, p->batch, CLASSES, 1.0f / (float)p->batch, p->dout,
                     NULL);
    return lmn_network_backward(p->net, p->dout);
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorted per-step CPU milliseconds of each round into ms[rounds]. */
static lmn_status measure(const step_options *o, step_problem *p, double *ms)
{
    for (int s = 0; s < WARMUP_STEPS; s++) LMN_TRY(train_step(p));
    for (int r = 0; r < o->rounds; r++) {
        const double start = cpu_seconds();
        for (int s = 0; s < o->steps; s++) LMN_TRY(train_step(p));
        ms[r] = 1e3 * (cpu_seconds() - start) / o->steps;
    }
    qsort(ms, (size_t)o->rounds, sizeof *ms, compare_doubles);
    return LMN_OK;
}

static lmn_status run(const step_options *o)
{
    lmn_backend *be = NULL;
    step_problem p = {0};
    double *ms = NULL;
    lmn_status status = lmn_backend_create("dnnl", &be);
    if (status == LMN_OK) status = lmn_backend_set_precision(be, o->precision);
    if (status == LMN_OK) status = problem_create(o, be, &p);
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&ms, sizeof *ms * (size_t)o->rounds, "round times");
    if (status == LMN_OK) status = measure(o, &p, ms);
    if (status == LMN_OK)
        printf("{\"bench\":\"step_cpu\",\"model\":\"%s\",\"precision\":\"%s\",\"batch\":%d,"
               "\"threads\":%d,\"cpu_ms_best\":%.2f,\"cpu_ms_median\":%.2f,\"rounds\":%d,"
               "\"steps\":%d}\n",
               o->model, lmn_precision_name(o->precision), o->batch, omp_get_max_threads(),
               ms[0], ms[o->rounds / 2], o->rounds, o->steps);
    lmn_free(ms);
    problem_free(&p);
    if (be) lmn_backend_destroy(be);
    return status;
}

int main(int argc, char **argv)
{
    step_options options = {"resnet20", LMN_PRECISION_FP32, 64, 5, 7};
    lmn_status status = LMN_OK;
    for (int i = 1; status == LMN_OK && i < argc; i++)
        status = parse_option(argc, argv, &i, &options);
    if (status == LMN_OK) status = run(&options);
    if (status != LMN_OK) {
        fprintf(stderr, "%s\n", lmn_last_error());
        return 1;
    }
    return 0;
}
