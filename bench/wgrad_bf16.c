/* bf16 convolution weight gradients: lamina's kernel (kernels/conv_wgrad_bf16.h,
 * its packing included) against oneDNN's backward-weights primitive in
 * bf16 and in f32, on the same data, wall clock, OMP_NUM_THREADS threads.
 * Activations are nChw16c (bf16 or f32), weight gradients f32. Per shape
 * one JSON line
 *   {"bench":"wgrad_bf16","shape":S,"threads":T,"gflop":G,
 *    "lamina_ms":..,"onednn_bf16_ms":..,"onednn_f32_ms":..,     (medians)
 *    "lamina_gflops":..,"onednn_bf16_gflops":..,"onednn_f32_gflops":..}
 * Shapes: ResNet-20's 3x3 layers (batch 64, stride 1 and 2), its 1x1
 * stride-2 shortcut, and an EDSR body layer (64 channels, batch 16,
 * 48x48 patches).
 *
 * usage: bench_wgrad_bf16 [--reps R]   (default 30) */
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "core/timer.h"
#include "kernels/conv_wgrad_bf16.h"
#include "kernels/kernels.h"

enum { MAX_REPS = 10000 };

#define DNNL_OK(call)                                                                    \
    do {                                                                                 \
        if ((call) != dnnl_success) {                                                    \
            fprintf(stderr, "bench_wgrad_bf16: %s failed\n", #call);                     \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median ms of reps calls of call(ctx), after 3 untimed ones. */
static double median_ms(void (*call)(void *ctx), void *ctx, int reps)
{
    double *times = calloc((size_t)reps, sizeof *times);
    if (!times) exit(1);
    for (int r = -3; r < reps; r++) {
        const double start = lmn_now();
        call(ctx);
        if (r >= 0) times[r] = 1e3 * (lmn_now() - start);
    }
    const double ms = median_of(times, reps);
    free(times);
    return ms;
}

typedef struct primitive_call {
    dnnl_primitive_t prim;
    const dnnl_exec_arg_t *args;
} primitive_call;

static void run_primitive(void *ctx)
{
    const primitive_call *c = ctx;
    DNNL_OK(dnnl_primitive_execute(c->prim, stream, 3, c->args));
    DNNL_OK(dnnl_stream_wait(stream));
}

typedef struct kernel_call {
    const lmn_wgrad_bf16_shape *s;
    const void *x, *dy;
    float *dw;
    void *workspace;
    int threads;
} kernel_call;

static void run_kernel(void *ctx)
{
    const kernel_call *c = ctx;
    lmn_wgrad_bf16(c->s, c->x, c->dy, c->dw, NULL, c->workspace, c->threads);
}

static void *filled(size_t count, dnnl_data_type_t type, uint64_t seed)
{
    void *data = NULL;
    if (lmn_alloc_bytes(&data, count * 4, "benchmark tensor") != LMN_OK) exit(1);
    lmn_rng rng = lmn_rng_make(seed, 1);
    for (size_t i = 0; i < count; i++) {
        const float v = lmn_rng_uniform(&rng) - 0.5f;
        if (type == dnnl_f32) {
            ((float *)data)[i] = v;
        } else {
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            ((uint16_t *)data)[i] = (uint16_t)(bits >> 16);
        }
    }
    return data;
}

/* Median ms of oneDNN's backward weights in `type` over reps calls. */
static double onednn_ms(const lmn_wgrad_bf16_shape *s, dnnl_data_type_t type, int reps)
{
    dnnl_memory_desc_t src, dst, weights_any, diff_weights;
    const dnnl_dims_t sd = {s->n, s->c, s->h, s->w}, dd = {s->n, s->oc, s->oh, s->ow},
                      wd = {s->oc, s->c, s->kh, s->kw};
    const dnnl_dims_t strides = {s->sh, s->sw}, pad = {s->ph, s->pw};
    DNNL_OK(dnnl_memory_desc_init_by_tag(&src, 4, sd, type, dnnl_aBcd16b));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&dst, 4, dd, type, dnnl_aBcd16b));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&weights_any, 4, wd, type, dnnl_format_tag_any));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&diff_weights, 4, wd, dnnl_f32, dnnl_format_tag_any));
    dnnl_convolution_desc_t fwd_desc, bwd_desc;
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    DNNL_OK(dnnl_convolution_forward_desc_init(&fwd_desc, dnnl_forward_training,
                                               dnnl_convolution_direct, &src, &weights_any, NULL,
                                               &dst, strides, pad, pad));
    DNNL_OK(dnnl_primitive_desc_create(&fwd_pd, &fwd_desc, NULL, engine, NULL));
    DNNL_OK(dnnl_convolution_backward_weights_desc_init(&bwd_desc, dnnl_convolution_direct, &src,
                                                        &diff_weights, NULL, &dst, strides, pad,
                                                        pad));
    DNNL_OK(dnnl_primitive_desc_create(&bwd_pd, &bwd_desc, NULL, engine, fwd_pd));
    dnnl_primitive_t prim;
    DNNL_OK(dnnl_primitive_create(&prim, bwd_pd));
    const dnnl_memory_desc_t *dw_md = dnnl_primitive_desc_query_md(bwd_pd, dnnl_query_diff_weights_md, 0);
    const size_t xs = (size_t)s->n * s->c * s->h * s->w, ys = (size_t)s->n * s->oc * s->oh * s->ow;
    void *x = filled(xs, type, 1), *dy = filled(ys, type, 2);
    dnnl_memory_t mx, mdy, mdw;
    DNNL_OK(dnnl_memory_create(&mx, &src, engine, x));
    DNNL_OK(dnnl_memory_create(&mdy, &dst, engine, dy));
    DNNL_OK(dnnl_memory_create(&mdw, dw_md, engine, DNNL_MEMORY_ALLOCATE));
    const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, mdy},
                                     {DNNL_ARG_DIFF_WEIGHTS, mdw}};
    primitive_call call = {prim, args};
    const double ms = median_ms(run_primitive, &call, reps);
    dnnl_memory_destroy(mx);
    dnnl_memory_destroy(mdy);
    dnnl_memory_destroy(mdw);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(bwd_pd);
    dnnl_primitive_desc_destroy(fwd_pd);
    lmn_free(x);
    lmn_free(dy);
    return ms;
}

static double lamina_ms(const lmn_wgrad_bf16_shape *s, int reps)
{
    const int threads = omp_get_max_threads();
    const size_t xs = (size_t)s->n * s->c * s->h * s->w, ys = (size_t)s->n * s->oc * s->oh * s->ow;
    void *x = filled(xs, dnnl_bf16, 1), *dy = filled(ys, dnnl_bf16, 2), *workspace = NULL;
    float *dw = NULL;
    if (lmn_alloc_bytes(&workspace, lmn_wgrad_bf16_workspace_bytes(s, threads), "workspace") ||
        lmn_alloc_floats(&dw, (size_t)s->oc * s->c * s->kh * s->kw, "dw"))
        exit(1);
    kernel_call call = {s, x, dy, dw, workspace, threads};
    const double ms = median_ms(run_kernel, &call, reps);
    lmn_free(x);
    lmn_free(dy);
    lmn_free(workspace);
    lmn_free(dw);
    return ms;
}

static lmn_wgrad_bf16_shape shape(int n, int c, int hw, int oc, int k, int stride, int pad)
{
    lmn_wgrad_bf16_shape s = {.n = n, .c = c, .h = hw, .w = hw, .oc = oc, .kh = k, .kw = k,
                              .sh = stride, .sw = stride, .ph = pad, .pw = pad};
    s.oh = s.ow = (hw + 2 * pad - k) / stride + 1;
    return s;
}

int main(int argc, char **argv)
{
    int reps = 30;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_wgrad_bf16 [--reps R]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "bench_wgrad_bf16: --reps needs 1..%d\n", MAX_REPS);
        return 2;
    }
    const char *isa = NULL;
    if (!lmn_dnnl_native_bf16(&isa)) {
        fprintf(stderr, "bench_wgrad_bf16: no native bf16 on this CPU (oneDNN ISA %s)\n", isa);
        return 1;
    }
    DNNL_OK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    DNNL_OK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    const struct {
        const char *name;
        lmn_wgrad_bf16_shape s;
    } cases[] = {
        {"resnet20 16->16 3x3 32x32", shape(64, 16, 32, 16, 3, 1, 1)},
        {"resnet20 32->32 3x3 16x16", shape(64, 32, 16, 32, 3, 1, 1)},
        {"resnet20 64->64 3x3 8x8", shape(64, 64, 8, 64, 3, 1, 1)},
        {"resnet20 16->32 3x3 stride 2", shape(64, 16, 32, 32, 3, 2, 1)},
        {"resnet20 32->64 3x3 stride 2", shape(64, 32, 16, 64, 3, 2, 1)},
        {"resnet20 16->32 1x1 stride 2", shape(64, 16, 32, 32, 1, 2, 0)},
        {"edsr 64->64 3x3 48x48 batch 16", shape(16, 64, 48, 64, 3, 1, 1)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const lmn_wgrad_bf16_shape *s = &cases[i].s;
        const double gflop = 2e-9 * s->n * s->oc * s->c * s->kh * s->kw * s->oh * s->ow;
        const double mine = lamina_ms(s, reps), bf16 = onednn_ms(s, dnnl_bf16, reps),
                     f32 = onednn_ms(s, dnnl_f32, reps);
        printf("{\"bench\":\"wgrad_bf16\",\"shape\":\"%s\",\"threads\":%d,\"gflop\":%.4f,"
               "\"lamina_ms\":%.4f,\"onednn_bf16_ms\":%.4f,\"onednn_f32_ms\":%.4f,"
               "\"lamina_gflops\":%.1f,\"onednn_bf16_gflops\":%.1f,\"onednn_f32_gflops\":%.1f}\n",
               cases[i].name, omp_get_max_threads(), gflop, mine, bf16, f32, gflop / mine * 1e3,
               gflop / bf16 * 1e3, gflop / f32 * 1e3);
        fflush(stdout);
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
