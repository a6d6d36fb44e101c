/* Helpers shared by the dnnl kernel tests (test_dnnl_*.c): moving buffers
 * between dense NCHW and a dnnl layout with the backend's own reorder, a
 * conv that produces a blocked input of a given shape, and the 1e-4
 * relative comparison against the ref backend. */
#ifndef LMN_TESTS_KERNELS_TEST_DNNL_COMMON_H
#define LMN_TESTS_KERNELS_TEST_DNNL_COMMON_H

#include "kernel_testing.h"

#define LMN_DNNL_TOLERANCE 1e-4 /* relative to the largest reference value */

/* A copy of a dense NCHW (NCDHW for d > 0) buffer in desc's layout
 * (desc->floats entries, padding zero). Free with lmn_free. */
static inline float *lmn_dt_from_dense(lmn_backend *dnnl, const float *dense,
                                       const lmn_act_desc *desc)
{
    float *x = lmn_kt_zeros(desc->floats);
    const lmn_act_desc dense_desc = lmn_kt_dense_like(desc);
    CHECK_OK(dnnl->reorder(dnnl, &dense_desc, dense, desc, x));
    return x;
}

/* A dense NCHW (NCDHW) copy of x (in desc's layout). Free with lmn_free. */
static inline float *lmn_dt_to_dense(lmn_backend *dnnl, const float *x, const lmn_act_desc *desc)
{
    const lmn_act_desc dense_desc = lmn_kt_dense_like(desc);
    float *dense = lmn_kt_zeros(dense_desc.floats);
    CHECK_OK(dnnl->reorder(dnnl, desc, x, &dense_desc, dense));
    return dense;
}

/* The layout a previous dnnl layer would hand over: the output desc of a
 * 3x3 pad-1 dnnl conv producing [n,c,h,w] (blocked on AVX-512 machines).
 * The conv is returned in *producer (the layout lives as long as it). */
static inline lmn_act_desc lmn_dt_blocked_desc(lmn_backend *dnnl, int n, int c, int h, int w,
                                               lmn_op **producer)
{
    const lmn_conv2d_params p = {.out_channels = c, .kernel_h = 3, .kernel_w = 3,
                                 .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
    const lmn_act_desc before = lmn_act_dense(n, 16, h, w);
    lmn_act_desc produced = before;
    *producer = lmn_kt_conv(dnnl, &p, &before, &produced);
    CHECK(produced.n == n && produced.c == c && produced.h == h && produced.w == w);
    return produced;
}

/* The same for a 3-D activation: the output desc of a 3x3x3 pad-1 dnnl
 * conv3d producing [n,c,d,h,w] (nCdhw16c on AVX-512 machines). */
static inline lmn_act_desc lmn_dt_blocked_desc3d(lmn_backend *dnnl, int n, int c, int d, int h,
                                                 int w, lmn_op **producer)
{
    const lmn_conv3d_params p = {.out_channels = c, .kernel_d = 3, .kernel_h = 3,
                                 .kernel_w = 3, .stride_d = 1, .stride_h = 1, .stride_w = 1,
                                 .pad_d = 1, .pad_h = 1, .pad_w = 1};
    const lmn_act_desc before = lmn_act_dense3d(n, 16, d, h, w);
    lmn_act_desc produced = before;
    *producer = lmn_kt_conv3d(dnnl, &p, &before, &produced);
    CHECK(produced.n == n && produced.c == c && produced.d == d && produced.h == h &&
          produced.w == w);
    return produced;
}

/* One CHECK: the entries of x outside the logical tensor (layout padding)
 * are zero, as the element-wise kernels rely on. Compares the absolute sum
 * of the whole buffer with that of its dense copy. */
static inline void lmn_dt_check_padding(lmn_backend *dnnl, const float *x,
                                        const lmn_act_desc *desc, const char *what,
                                        const char *case_name)
{
    float *dense = lmn_dt_to_dense(dnnl, x, desc);
    double all = 0.0, logical = 0.0;
    for (size_t i = 0; i < desc->floats; i++) all += fabs((double)x[i]);
    for (size_t i = 0; i < lmn_act_elements(desc); i++)
        logical += fabs((double)dense[i]);
    CHECK_MSG(fabs(all - logical) <= 1e-9 * fmax(1.0, logical),
              "%s (%s): padding is not zero (|buffer| %.9g vs |tensor| %.9g)", what, case_name,
              all, logical);
    lmn_free(dense);
}

/* Junk to pre-fill outputs with, so tests see what an op really writes. */
static inline float *lmn_dt_junk(size_t count) { return lmn_kt_random(count, 0x6a756e6bu); }

/* One CHECK: got within LMN_DNNL_TOLERANCE of want (lmn_test_max_rel_diff). */
static inline void lmn_dt_check(const float *got, const float *want, size_t count,
                                const char *what, const char *case_name)
{
    const double err = lmn_test_max_rel_diff(got, want, count);
    CHECK_MSG(err <= LMN_DNNL_TOLERANCE, "%s (%s): relative difference %.3g", what, case_name,
              err);
}

#endif
