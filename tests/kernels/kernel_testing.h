/* Shared helpers for kernel tests: deterministic random buffers, array
 * comparison with a relative tolerance, a central finite-difference
 * gradient checker, and small wrappers that create ops or fail the test.
 *
 * Header-only (static functions) so every test executable stays a single
 * .c file; include it after nothing else is required (it includes test.h).
 * Buffers from lmn_kt_random / lmn_kt_zeros are freed by the caller with
 * lmn_free. */
#ifndef LMN_TESTS_KERNEL_TESTING_H
#define LMN_TESTS_KERNEL_TESTING_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "core/status.h"
#include "kernels/elementwise.h"
#include "kernels/kernels.h"
#include "test.h"

/* Fills x[0..count) with uniform values in [lo, hi) drawn from stream
 * `seed` (same seed, same values). */
static inline void lmn_kt_fill_uniform(float *x, size_t count, uint64_t seed, float lo, float hi)
{
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(0x6b74u, seed));
    for (size_t i = 0; i < count; i++) x[i] = lo + (hi - lo) * lmn_rng_uniform(&rng);
}

/* A zeroed buffer of count floats; aborts the test binary if allocation
 * fails (there is nothing meaningful left to test). Free with lmn_free. */
static inline float *lmn_kt_zeros(size_t count)
{
    float *x = NULL;
    if (lmn_alloc_floats(&x, count ? count : 1, "kernel test buffer") != LMN_OK) {
        fprintf(stderr, "kernel_testing: %s\n", lmn_last_error());
        abort();
    }
    return x;
}

/* A buffer of count floats uniform in [-1, 1) from `seed`. Free with lmn_free. */
static inline float *lmn_kt_random(size_t count, uint64_t seed)
{
    float *x = lmn_kt_zeros(count);
    lmn_kt_fill_uniform(x, count, seed, -1.0f, 1.0f);
    return x;
}

/* Distinct values 0.01 apart in random order, so a 1e-3 finite-difference
 * step never changes which element a max pool picks. */
static inline void lmn_kt_fill_distinct(float *x, size_t count, uint64_t seed)
{
    uint32_t *perm = NULL;
    CHECK_OK(lmn_alloc_bytes((void **)&perm, count * sizeof(uint32_t), "permutation"));
    if (!perm) return;
    lmn_rng rng = lmn_rng_make(seed, 0);
    lmn_rng_permutation(&rng, perm, count);
    for (size_t i = 0; i < count; i++) x[i] = 0.01f * (float)perm[i] - 0.005f * (float)count;
    lmn_free(perm);
}

/* sum_i a[i] * b[i] in double: the usual scalar objective sum(y * R). */
static inline double lmn_kt_dot(const float *a, const float *b, size_t count)
{
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) sum += (double)a[i] * (double)b[i];
    return sum;
}

/* Largest |got - want| relative to max(floor, max|want|). The scale is the
 * whole array's magnitude so near-zero entries do not blow up the ratio. */
static inline double lmn_kt_rel_error(const float *got, const float *want, size_t count,
                                      size_t *worst_index)
{
    double scale = 1e-6, worst = 0.0;
    size_t where = 0;
    for (size_t i = 0; i < count; i++) scale = fmax(scale, fabs((double)want[i]));
    for (size_t i = 0; i < count; i++) {
        const double diff = fabs((double)got[i] - (double)want[i]);
        if (!(diff <= worst)) { /* also catches NaN */
            worst = isnan(diff) ? INFINITY : diff;
            where = i;
        }
    }
    if (worst_index) *worst_index = where;
    return worst / scale;
}

/* Records one CHECK that got matches want within relative tolerance tol;
 * on failure prints `what`, the worst index and both values. */
static inline bool lmn_kt_check_close(const float *got, const float *want, size_t count,
                                      double tol, const char *what)
{
    size_t at = 0;
    const double err = lmn_kt_rel_error(got, want, count, &at);
    const bool ok = err <= tol;
    CHECK_MSG(ok, "%s: relative error %.3g > %.3g at [%zu]: got %.9g, want %.9g", what, err,
              tol, at, count ? (double)got[at] : 0.0, count ? (double)want[at] : 0.0);
    return ok;
}

/* A scalar function of some buffers, re-evaluated after each perturbation. */
typedef double (*lmn_kt_objective)(void *ctx);

/* Central finite differences of f with respect to every entry of `wrt`
 * (which f must read through ctx): fd[i] = (f(x + eps e_i) - f(x - eps e_i))
 * / (2 eps). `wrt` is restored exactly afterwards. fd has count entries. */
static inline void lmn_kt_numeric_grad(lmn_kt_objective f, void *ctx, float *wrt, size_t count,
                                       float eps, float *fd)
{
    for (size_t i = 0; i < count; i++) {
        const float saved = wrt[i];
        wrt[i] = saved + eps;
        const double up = f(ctx);
        wrt[i] = saved - eps;
        const double down = f(ctx);
        wrt[i] = saved;
        /* Divide by the step actually taken in float, not the nominal one. */
        fd[i] = (float)((up - down) / ((double)(saved + eps) - (double)(saved - eps)));
    }
}

/* Checks an analytic gradient against central finite differences of f
 * (one CHECK). Typical use: eps 1e-3, tol 1e-2 with float kernels and a
 * double objective. */
static inline bool lmn_kt_check_grad(lmn_kt_objective f, void *ctx, float *wrt, size_t count,
                                     const float *analytic, float eps, double tol,
                                     const char *what)
{
    float *fd = lmn_kt_zeros(count);
    lmn_kt_numeric_grad(f, ctx, wrt, count, eps, fd);
    const bool ok = lmn_kt_check_close(analytic, fd, count, tol, what);
    lmn_free(fd);
    return ok;
}

/* --- op creation that fails the test instead of returning a status ------ */

static inline lmn_backend *lmn_kt_backend(const char *name)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create(name, &be));
    if (!be) {
        fprintf(stderr, "kernel_testing: backend '%s' unavailable\n", name);
        exit(1);
    }
    return be;
}

static inline lmn_op *lmn_kt_conv(lmn_backend *be, const lmn_conv2d_params *p,
                                  const lmn_act_desc *in, lmn_act_desc *out)
{
    lmn_op *op = NULL;
    CHECK_OK(be->conv2d_create(be, p, in, &op, out));
    return op;
}

static inline lmn_op *lmn_kt_pool(lmn_backend *be, const lmn_pool2d_params *p,
                                  const lmn_act_desc *in, lmn_act_desc *out,
                                  size_t *workspace_bytes)
{
    lmn_op *op = NULL;
    CHECK_OK(be->pool2d_create(be, p, in, &op, out, workspace_bytes));
    return op;
}

static inline lmn_op *lmn_kt_batchnorm(lmn_backend *be, const lmn_batchnorm_params *p,
                                       const lmn_act_desc *in, lmn_act_desc *out)
{
    lmn_op *op = NULL;
    CHECK_OK(be->batchnorm_create(be, p, in, &op, out));
    return op;
}

static inline lmn_op *lmn_kt_linear(lmn_backend *be, const lmn_linear_params *p,
                                    const lmn_act_desc *in, lmn_act_desc *out)
{
    lmn_op *op = NULL;
    CHECK_OK(be->linear_create(be, p, in, &op, out));
    return op;
}

static inline lmn_op *lmn_kt_conv3d(lmn_backend *be, const lmn_conv3d_params *p,
                                    const lmn_act_desc *in, lmn_act_desc *out)
{
    lmn_op *op = NULL;
    CHECK_OK(be->conv3d_create(be, p, in, &op, out));
    return op;
}

static inline lmn_op *lmn_kt_pool3d(lmn_backend *be, const lmn_pool3d_params *p,
                                    const lmn_act_desc *in, lmn_act_desc *out,
                                    size_t *workspace_bytes)
{
    lmn_op *op = NULL;
    CHECK_OK(be->pool3d_create(be, p, in, &op, out, workspace_bytes));
    return op;
}

static inline lmn_op *lmn_kt_upsample(lmn_backend *be, const lmn_upsample_params *p,
                                      const lmn_act_desc *in, lmn_act_desc *out)
{
    lmn_op *op = NULL;
    CHECK_OK(be->upsample_create(be, p, in, &op, out));
    return op;
}

/* 3-D params with the same stride and padding on every axis. */
static inline lmn_conv3d_params lmn_kt_conv3d_params(int out_channels, int kd, int kh, int kw,
                                                     int stride, int pad, bool bias, bool relu)
{
    const lmn_conv3d_params p = {.out_channels = out_channels, .kernel_d = kd, .kernel_h = kh,
                                 .kernel_w = kw, .stride_d = stride, .stride_h = stride,
                                 .stride_w = stride, .pad_d = pad, .pad_h = pad, .pad_w = pad,
                                 .bias = bias, .fuse_relu = relu};
    return p;
}

static inline lmn_pool3d_params lmn_kt_pool3d_params(lmn_pool_kind kind, int kd, int kh, int kw,
                                                     int stride, int pad)
{
    const lmn_pool3d_params p = {.kind = kind, .kernel_d = kd, .kernel_h = kh, .kernel_w = kw,
                                 .stride_d = stride, .stride_h = stride, .stride_w = stride,
                                 .pad_d = pad, .pad_h = pad, .pad_w = pad};
    return p;
}

/* The dense desc (NCHW, or NCDHW when d > 0) of desc's logical shape. */
static inline lmn_act_desc lmn_kt_dense_like(const lmn_act_desc *desc)
{
    return desc->d > 0 ? lmn_act_dense3d(desc->n, desc->c, desc->d, desc->h, desc->w)
                       : lmn_act_dense(desc->n, desc->c, desc->h, desc->w);
}

/* Number of weights of a conv3d op: OIDHW. */
static inline size_t lmn_kt_conv3d_weights(const lmn_conv3d_params *p, const lmn_act_desc *in)
{
    return (size_t)p->out_channels * (size_t)in->c * (size_t)p->kernel_d *
           (size_t)p->kernel_h * (size_t)p->kernel_w;
}

/* Number of weights of a conv op: OIHW. */
static inline size_t lmn_kt_conv_weights(const lmn_conv2d_params *p, const lmn_act_desc *in)
{
    return (size_t)p->out_channels * (size_t)in->c * (size_t)p->kernel_h * (size_t)p->kernel_w;
}

/* --- one test body for 2-D and 3-D ops ------------------------------------
 * The 2-D and 3-D entry points of conv and pool take the same arguments
 * once the op exists, so a test creates its op of either rank and the
 * helpers below pick the entry points by the input's rank (d > 0: 3-D). */

typedef struct lmn_kt_conv_calls {
    lmn_status (*forward)(lmn_op *op, const float *x, const float *w, const float *b, float *y);
    lmn_status (*backward_data)(lmn_op *op, const float *dy, const float *w, float *dx);
    lmn_status (*backward_weights)(lmn_op *op, const float *x, const float *dy, float *dw,
                                   float *db);
} lmn_kt_conv_calls;

static inline lmn_kt_conv_calls lmn_kt_conv_calls_of(const lmn_backend *be,
                                                     const lmn_act_desc *in)
{
    const lmn_kt_conv_calls deep = {be->conv3d_forward, be->conv3d_backward_data,
                                    be->conv3d_backward_weights};
    const lmn_kt_conv_calls flat = {be->conv2d_forward, be->conv2d_backward_data,
                                    be->conv2d_backward_weights};
    return in->d > 0 ? deep : flat;
}

typedef struct lmn_kt_pool_calls {
    lmn_status (*forward)(lmn_op *op, const float *x, float *y, void *workspace);
    lmn_status (*backward)(lmn_op *op, const float *dy, const void *workspace, float *dx);
} lmn_kt_pool_calls;

static inline lmn_kt_pool_calls lmn_kt_pool_calls_of(const lmn_backend *be,
                                                     const lmn_act_desc *in)
{
    const lmn_kt_pool_calls deep = {be->pool3d_forward, be->pool3d_backward};
    const lmn_kt_pool_calls flat = {be->pool2d_forward, be->pool2d_backward};
    return in->d > 0 ? deep : flat;
}

/* A pool op under a gradient check: objective sum(pool(x) * R). */
typedef struct lmn_kt_pool_grad {
    lmn_kt_pool_calls calls;
    lmn_op *op;
    lmn_act_desc out;
    float *x, *y, *r;
    void *workspace;
} lmn_kt_pool_grad;

static inline double lmn_kt_pool_objective(void *ctx)
{
    lmn_kt_pool_grad *t = ctx;
    CHECK_OK(t->calls.forward(t->op, t->x, t->y, t->workspace));
    return lmn_kt_dot(t->y, t->r, t->out.floats);
}

/* Checks the backward of a pool op (2-D or 3-D, created by the caller on
 * `in` with output `out`) against finite differences; the input values are
 * distinct so a max pool's choice is stable under the step. */
static inline void lmn_kt_check_pool_gradient(lmn_backend *be, lmn_op *op, const lmn_act_desc *in,
                                              const lmn_act_desc *out, size_t workspace_bytes,
                                              uint64_t seed, const char *what)
{
    lmn_kt_pool_grad t = {.calls = lmn_kt_pool_calls_of(be, in), .op = op, .out = *out};
    t.x = lmn_kt_zeros(in->floats);
    lmn_kt_fill_distinct(t.x, in->floats, seed);
    t.r = lmn_kt_random(out->floats, seed + 1);
    t.y = lmn_kt_zeros(out->floats);
    CHECK_OK(lmn_alloc_bytes(&t.workspace, workspace_bytes, "workspace"));
    float *dx = lmn_kt_zeros(in->floats);
    memset(dx, 0x7f, in->floats * sizeof(float)); /* backward must overwrite */

    lmn_kt_pool_objective(&t);
    CHECK_OK(t.calls.backward(op, t.r, t.workspace, dx));
    lmn_kt_check_grad(lmn_kt_pool_objective, &t, t.x, in->floats, dx, 1e-3f, 1e-2, what);
    lmn_free(t.x), lmn_free(t.r), lmn_free(t.y), lmn_free(t.workspace), lmn_free(dx);
}

/* A conv op under a gradient check: objective sum(conv(x, w, b) * R),
 * fused ReLU included. The caller creates `op` (2-D or 3-D) and, when the
 * ReLU is fused, `plain`: the same conv without it (NULL otherwise). */
typedef struct lmn_kt_conv_grad {
    lmn_backend *be;
    lmn_op *op, *plain;
    lmn_act_desc in, out;
    size_t weights, biases; /* biases 0: the conv has no bias */
    const char *name;
    uint64_t seed;
} lmn_kt_conv_grad;

typedef struct lmn_kt_conv_state {
    lmn_kt_conv_calls calls;
    lmn_op *op;
    size_t out_floats;
    float *x, *w, *b, *y, *r;
} lmn_kt_conv_state;

static inline double lmn_kt_conv_objective(void *ctx)
{
    lmn_kt_conv_state *t = ctx;
    CHECK_OK(t->calls.forward(t->op, t->x, t->w, t->b, t->y));
    return lmn_kt_dot(t->y, t->r, t->out_floats);
}

/* Smallest |conv(x) + b| before the fused ReLU: finite differences of the
 * fused op are only valid when no output sits on the kink. */
static inline double lmn_kt_min_abs_preactivation(const lmn_kt_conv_grad *c,
                                                  const lmn_kt_conv_state *t)
{
    float *pre = lmn_kt_zeros(c->out.floats);
    CHECK_OK(t->calls.forward(c->plain, t->x, t->w, t->b, pre));
    double smallest = INFINITY;
    for (size_t i = 0; i < c->out.floats; i++) smallest = fmin(smallest, fabs(pre[i]));
    lmn_free(pre);
    return smallest;
}

/* dy for the objective: R, masked by the stored output when the ReLU is
 * fused (the caller's job, see kernels.h). */
static inline void lmn_kt_conv_dy(const lmn_kt_conv_grad *c, const lmn_kt_conv_state *t,
                                  float *dy)
{
    if (!c->plain) {
        memcpy(dy, t->r, c->out.floats * sizeof(float));
        return;
    }
    CHECK_MSG(lmn_kt_min_abs_preactivation(c, t) > 0.01,
              "%s: pick another seed, an output is too close to the ReLU kink", c->name);
    lmn_relu_backward(t->y, t->r, dy, c->out.floats);
}

/* Checks dx, dw and (with a bias) db against finite differences. */
static inline void lmn_kt_check_conv_gradients(const lmn_kt_conv_grad *c)
{
    lmn_kt_conv_state t = {.calls = lmn_kt_conv_calls_of(c->be, &c->in), .op = c->op,
                           .out_floats = c->out.floats};
    t.x = lmn_kt_random(c->in.floats, c->seed);
    t.w = lmn_kt_random(c->weights, c->seed + 1);
    t.b = c->biases ? lmn_kt_random(c->biases, c->seed + 2) : NULL;
    t.r = lmn_kt_random(c->out.floats, c->seed + 3);
    t.y = lmn_kt_zeros(c->out.floats);
    /* junk in the gradients: backward overwrites them */
    float *dy = lmn_kt_zeros(c->out.floats), *dx = lmn_kt_random(c->in.floats, 5);
    float *dw = lmn_kt_random(c->weights, 6), *db = lmn_kt_random(c->biases, 7);

    lmn_kt_conv_objective(&t);
    lmn_kt_conv_dy(c, &t, dy);
    CHECK_OK(t.calls.backward_data(c->op, dy, t.w, dx));
    CHECK_OK(t.calls.backward_weights(c->op, t.x, dy, dw, c->biases ? db : NULL));

    char what[160];
    snprintf(what, sizeof what, "%s: dx", c->name);
    lmn_kt_check_grad(lmn_kt_conv_objective, &t, t.x, c->in.floats, dx, 1e-3f, 1e-2, what);
    snprintf(what, sizeof what, "%s: dw", c->name);
    lmn_kt_check_grad(lmn_kt_conv_objective, &t, t.w, c->weights, dw, 1e-3f, 1e-2, what);
    if (c->biases) {
        snprintf(what, sizeof what, "%s: db", c->name);
        lmn_kt_check_grad(lmn_kt_conv_objective, &t, t.b, c->biases, db, 1e-3f, 1e-2, what);
    }
    float *buffers[] = {t.x, t.w, t.b, t.r, t.y, dy, dx, dw, db};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
}

#endif
