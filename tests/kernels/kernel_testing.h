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

#include "core/memory.h"
#include "core/rng.h"
#include "core/status.h"
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

#endif
