/* Helpers shared by the dnnl kernel tests (test_dnnl_*.c): moving buffers
 * between dense NCHW and a dnnl layout with the backend's own reorder, a
 * conv that produces a blocked input of a given shape, the 1e-4 relative
 * comparison against the ref backend, and whole conv / pool comparisons
 * that serve the 2-D and the 3-D tests alike. */
#ifndef LMN_TESTS_KERNELS_TEST_DNNL_COMMON_H
#define LMN_TESTS_KERNELS_TEST_DNNL_COMMON_H

#include "kernel_testing.h"

/* Relative to the largest reference value; a test of rounded arithmetic
 * (bf16) defines its own before including this file. */
#ifndef LMN_DNNL_TOLERANCE
#define LMN_DNNL_TOLERANCE 1e-4
#endif

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

/* Values a buffer of desc holds: two per float in bf16 (kernels.h). */
static inline size_t lmn_dt_capacity(const lmn_act_desc *desc)
{
    return desc->elem == LMN_ELEM_BF16 ? 2 * desc->floats : desc->floats;
}

/* The sum of |value| over a whole buffer of desc, padding included. */
static inline double lmn_dt_abs_sum(const float *x, const lmn_act_desc *desc)
{
    double sum = 0.0;
    if (desc->elem == LMN_ELEM_F32) {
        for (size_t i = 0; i < desc->floats; i++) sum += fabs((double)x[i]);
        return sum;
    }
    const uint16_t *values = (const uint16_t *)x;
    for (size_t i = 0; i < lmn_dt_capacity(desc); i++) {
        const uint32_t bits = (uint32_t)values[i] << 16;
        float value;
        memcpy(&value, &bits, sizeof value);
        sum += fabs((double)value);
    }
    return sum;
}

/* One CHECK: the entries of x outside the logical tensor (layout padding)
 * are zero, as the element-wise kernels rely on. Compares the absolute sum
 * of the whole buffer with that of its dense copy. */
static inline void lmn_dt_check_padding(lmn_backend *dnnl, const float *x,
                                        const lmn_act_desc *desc, const char *what,
                                        const char *case_name)
{
    float *dense = lmn_dt_to_dense(dnnl, x, desc);
    double logical = 0.0;
    const double all = lmn_dt_abs_sum(x, desc);
    for (size_t i = 0; i < lmn_act_elements(desc); i++)
        logical += fabs((double)dense[i]);
    CHECK_MSG(fabs(all - logical) <= 1e-9 * fmax(1.0, logical),
              "%s (%s): padding is not zero (|buffer| %.9g vs |tensor| %.9g)", what, case_name,
              all, logical);
    lmn_free(dense);
}

/* desc's layout copy of the dense buffer *values (as lmn_dt_from_dense).
 * When desc holds bf16, *values is replaced by the rounded values the copy
 * holds, so the ref backend computes on the inputs dnnl sees. */
static inline float *lmn_dt_input(lmn_backend *dnnl, float **values, const lmn_act_desc *desc)
{
    float *copy = lmn_dt_from_dense(dnnl, *values, desc);
    if (desc->elem == LMN_ELEM_BF16) {
        float *rounded = lmn_dt_to_dense(dnnl, copy, desc);
        lmn_free(*values);
        *values = rounded;
    }
    return copy;
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

/* --- dnnl against ref, one body for 2-D and 3-D ops ------------------------ */

/* The same op created on both backends by the test (2-D or 3-D, the dnnl
 * one possibly on a blocked input). */
typedef struct lmn_dt_op_pair {
    lmn_op *ref_op, *dnnl_op;
    lmn_act_desc ref_in, ref_out, dnnl_in, dnnl_out;
} lmn_dt_op_pair;

/* One CHECK: both backends report the same logical output shape. */
static inline void lmn_dt_check_same_shape(const lmn_dt_op_pair *o, const char *case_name)
{
    const lmn_act_desc *a = &o->dnnl_out, *b = &o->ref_out;
    CHECK_MSG(a->n == b->n && a->c == b->c && a->d == b->d && a->h == b->h && a->w == b->w,
              "%s: dnnl output [%d,%d,%d,%d,%d] vs ref [%d,%d,%d,%d,%d]", case_name, a->n, a->c,
              a->d, a->h, a->w, b->n, b->c, b->d, b->h, b->w);
}

/* Checks an activation dnnl wrote (in its layout `desc`) against the one
 * ref wrote (dense), padding included. */
static inline void lmn_dt_check_act(lmn_backend *dnnl, const float *got, const lmn_act_desc *desc,
                                    const float *want, const char *what, const char *case_name)
{
    float *dense = lmn_dt_to_dense(dnnl, got, desc);
    lmn_dt_check(dense, want, lmn_act_elements(desc), what, case_name);
    lmn_dt_check_padding(dnnl, got, desc, what, case_name);
    lmn_free(dense);
}

/* Compares forward, backward data and backward weights of a conv pair
 * (weights OIHW / OIDHW; biases 0 when the conv has none). */
static inline void lmn_dt_compare_conv(lmn_backend *ref, lmn_backend *dnnl,
                                       const lmn_dt_op_pair *o, size_t weights, size_t biases,
                                       uint64_t seed, const char *case_name)
{
    lmn_dt_check_same_shape(o, case_name);
    CHECK(lmn_dt_capacity(&o->dnnl_out) >= o->ref_out.floats);
    const lmn_kt_conv_calls r = lmn_kt_conv_calls_of(ref, &o->ref_in);
    const lmn_kt_conv_calls d = lmn_kt_conv_calls_of(dnnl, &o->dnnl_in);
    float *x = lmn_kt_random(o->ref_in.floats, seed);
    float *w = lmn_kt_random(weights, seed + 1);
    float *b = biases ? lmn_kt_random(biases, seed + 2) : NULL;
    float *dy = lmn_kt_random(o->ref_out.floats, seed + 3);
    float *x_dnnl = lmn_dt_input(dnnl, &x, &o->dnnl_in);
    float *dy_dnnl = lmn_dt_input(dnnl, &dy, &o->dnnl_out);

    float *y_ref = lmn_kt_zeros(o->ref_out.floats), *y_dnnl = lmn_dt_junk(o->dnnl_out.floats);
    CHECK_OK(r.forward(o->ref_op, x, w, b, y_ref));
    CHECK_OK(d.forward(o->dnnl_op, x_dnnl, w, b, y_dnnl));
    lmn_dt_check_act(dnnl, y_dnnl, &o->dnnl_out, y_ref, "forward", case_name);

    float *dx_ref = lmn_kt_zeros(o->ref_in.floats), *dx_dnnl = lmn_dt_junk(o->dnnl_in.floats);
    CHECK_OK(r.backward_data(o->ref_op, dy, w, dx_ref));
    CHECK_OK(d.backward_data(o->dnnl_op, dy_dnnl, w, dx_dnnl));
    lmn_dt_check_act(dnnl, dx_dnnl, &o->dnnl_in, dx_ref, "backward data", case_name);

    /* gradients are overwritten: junk in dnnl's shows whether they are */
    float *dw_ref = lmn_kt_zeros(weights), *dw_dnnl = lmn_dt_junk(weights);
    float *db_ref = lmn_kt_zeros(biases), *db_dnnl = lmn_dt_junk(biases);
    CHECK_OK(r.backward_weights(o->ref_op, x, dy, dw_ref, biases ? db_ref : NULL));
    CHECK_OK(d.backward_weights(o->dnnl_op, x_dnnl, dy_dnnl, dw_dnnl, biases ? db_dnnl : NULL));
    lmn_dt_check(dw_dnnl, dw_ref, weights, "backward weights", case_name);
    if (biases) lmn_dt_check(db_dnnl, db_ref, biases, "backward bias", case_name);

    float *buffers[] = {x, w, b, dy, x_dnnl, dy_dnnl, y_ref, y_dnnl, dx_ref, dx_dnnl,
                        dw_ref, dw_dnnl, db_ref, db_dnnl};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
}

/* Compares a pool pair: training forward (with workspace), inference
 * forward (without), backward; max pooling must refuse a NULL workspace. */
static inline void lmn_dt_compare_pool(lmn_backend *ref, lmn_backend *dnnl,
                                       const lmn_dt_op_pair *o, lmn_pool_kind kind,
                                       size_t ref_ws, size_t dnnl_ws, uint64_t seed,
                                       const char *case_name)
{
    lmn_dt_check_same_shape(o, case_name);
    CHECK((dnnl_ws > 0) == (kind == LMN_POOL_MAX));
    /* The blocked layout is kept (unless the output is dense-equivalent). */
    if (o->dnnl_in.layout && o->dnnl_out.layout)
        CHECK(lmn_dt_capacity(&o->dnnl_out) >= o->ref_out.floats);
    const lmn_kt_pool_calls r = lmn_kt_pool_calls_of(ref, &o->ref_in);
    const lmn_kt_pool_calls d = lmn_kt_pool_calls_of(dnnl, &o->dnnl_in);
    float *x = lmn_kt_random(o->ref_in.floats, seed);
    float *dy = lmn_kt_random(o->ref_out.floats, seed + 1);
    float *x_dnnl = lmn_dt_input(dnnl, &x, &o->dnnl_in);
    float *dy_dnnl = lmn_dt_input(dnnl, &dy, &o->dnnl_out);
    void *ref_workspace = NULL, *dnnl_workspace = NULL;
    CHECK_OK(lmn_alloc_bytes(&ref_workspace, ref_ws, "test workspace"));
    CHECK_OK(lmn_alloc_bytes(&dnnl_workspace, dnnl_ws, "test workspace"));

    float *y_ref = lmn_kt_zeros(o->ref_out.floats), *y_dnnl = lmn_dt_junk(o->dnnl_out.floats);
    CHECK_OK(r.forward(o->ref_op, x, y_ref, ref_workspace));
    CHECK_OK(d.forward(o->dnnl_op, x_dnnl, y_dnnl, dnnl_workspace));
    lmn_dt_check_act(dnnl, y_dnnl, &o->dnnl_out, y_ref, "forward", case_name);

    float *y_infer = lmn_dt_junk(o->dnnl_out.floats);
    CHECK_OK(d.forward(o->dnnl_op, x_dnnl, y_infer, NULL));
    lmn_dt_check_act(dnnl, y_infer, &o->dnnl_out, y_ref, "inference forward", case_name);

    float *dx_ref = lmn_kt_zeros(o->ref_in.floats), *dx_dnnl = lmn_dt_junk(o->dnnl_in.floats);
    CHECK_OK(r.backward(o->ref_op, dy, ref_workspace, dx_ref));
    CHECK_OK(d.backward(o->dnnl_op, dy_dnnl, dnnl_workspace, dx_dnnl));
    lmn_dt_check_act(dnnl, dx_dnnl, &o->dnnl_in, dx_ref, "backward", case_name);
    if (kind == LMN_POOL_MAX) CHECK(d.backward(o->dnnl_op, dy_dnnl, NULL, dx_dnnl) == LMN_ERR_ARG);

    float *buffers[] = {x, dy, x_dnnl, dy_dnnl, y_ref, y_dnnl, y_infer, dx_ref, dx_dnnl};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    lmn_free(ref_workspace);
    lmn_free(dnnl_workspace);
}

/* Destroys the pair's ops (either may be NULL) and the producer of a
 * blocked input. */
static inline void lmn_dt_op_pair_destroy(lmn_backend *ref, lmn_backend *dnnl,
                                          lmn_dt_op_pair *o, lmn_op *producer)
{
    if (o->ref_op) ref->op_destroy(o->ref_op);
    if (o->dnnl_op) dnnl->op_destroy(o->dnnl_op);
    if (producer) dnnl->op_destroy(producer);
}

#endif
