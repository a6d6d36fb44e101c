/* dnnl conv2d equals the ref conv2d (forward, backward data, backward
 * weights) on odd shapes, with and without bias / fused ReLU, from a dense
 * input and from a blocked input produced by a previous dnnl conv. dnnl's
 * outputs are reordered to dense NCHW before comparing, so the blocked
 * layouts and the reorders are exercised too. */
#include <stdio.h>

#include "test_dnnl_common.h"

typedef struct conv_case {
    int n, c, h, w;
    lmn_conv2d_params p;
    bool blocked_input; /* input in the layout of a previous dnnl conv */
} conv_case;

static void check_rel(const float *got, const float *want, size_t count, const char *what,
                      const conv_case *t)
{
    char name[160];
    snprintf(name, sizeof name,
             "N=%d C=%d %dx%d K=%d k=%dx%d s=%dx%d p=%dx%d bias=%d relu=%d blocked=%d", t->n,
             t->c, t->h, t->w, t->p.out_channels, t->p.kernel_h, t->p.kernel_w, t->p.stride_h,
             t->p.stride_w, t->p.pad_h, t->p.pad_w, t->p.bias, t->p.fuse_relu,
             t->blocked_input);
    lmn_dt_check(got, want, count, what, name);
}

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const conv_case *t, uint64_t seed)
{
    lmn_op *producer = NULL;
    const lmn_act_desc ref_in = lmn_act_dense(t->n, t->c, t->h, t->w);
    const lmn_act_desc dnnl_in =
        t->blocked_input ? lmn_dt_blocked_desc(dnnl, t->n, t->c, t->h, t->w, &producer) : ref_in;
    lmn_act_desc ref_out, dnnl_out;
    lmn_op *ref_op = lmn_kt_conv(ref, &t->p, &ref_in, &ref_out);
    lmn_op *dnnl_op = lmn_kt_conv(dnnl, &t->p, &dnnl_in, &dnnl_out);
    if (!ref_op || !dnnl_op) return;
    CHECK(dnnl_out.n == ref_out.n && dnnl_out.c == ref_out.c && dnnl_out.h == ref_out.h &&
          dnnl_out.w == ref_out.w);
    CHECK(dnnl_out.floats >= ref_out.floats);

    const size_t n_w = lmn_kt_conv_weights(&t->p, &ref_in);
    const size_t n_b = (size_t)t->p.out_channels;
    float *x = lmn_kt_random(ref_in.floats, seed);
    float *w = lmn_kt_random(n_w, seed + 1);
    float *b = t->p.bias ? lmn_kt_random(n_b, seed + 2) : NULL;
    float *dy = lmn_kt_random(ref_out.floats, seed + 3);
    float *x_dnnl = lmn_dt_from_dense(dnnl, x, &dnnl_in);
    float *dy_dnnl = lmn_dt_from_dense(dnnl, dy, &dnnl_out);

    /* forward */
    float *y_ref = lmn_kt_zeros(ref_out.floats), *y_dnnl = lmn_kt_zeros(dnnl_out.floats);
    CHECK_OK(ref->conv2d_forward(ref_op, x, w, b, y_ref));
    CHECK_OK(dnnl->conv2d_forward(dnnl_op, x_dnnl, w, b, y_dnnl));
    float *y_dense = lmn_dt_to_dense(dnnl, y_dnnl, &dnnl_out);
    check_rel(y_dense, y_ref, ref_out.floats, "forward", t);
    lmn_dt_check_padding(dnnl, y_dnnl, &dnnl_out, "forward", "conv");

    /* backward data */
    float *dx_ref = lmn_kt_zeros(ref_in.floats), *dx_dnnl = lmn_kt_zeros(dnnl_in.floats);
    CHECK_OK(ref->conv2d_backward_data(ref_op, dy, w, dx_ref));
    CHECK_OK(dnnl->conv2d_backward_data(dnnl_op, dy_dnnl, w, dx_dnnl));
    float *dx_dense = lmn_dt_to_dense(dnnl, dx_dnnl, &dnnl_in);
    check_rel(dx_dense, dx_ref, ref_in.floats, "backward data", t);
    lmn_dt_check_padding(dnnl, dx_dnnl, &dnnl_in, "backward data", "conv");

    /* backward weights: gradients are overwritten, so pre-fill with junk */
    float *dw_ref = lmn_kt_zeros(n_w), *dw_dnnl = lmn_kt_random(n_w, seed + 4);
    float *db_ref = lmn_kt_zeros(n_b), *db_dnnl = lmn_kt_random(n_b, seed + 5);
    CHECK_OK(ref->conv2d_backward_weights(ref_op, x, dy, dw_ref, t->p.bias ? db_ref : NULL));
    CHECK_OK(dnnl->conv2d_backward_weights(dnnl_op, x_dnnl, dy_dnnl, dw_dnnl,
                                           t->p.bias ? db_dnnl : NULL));
    check_rel(dw_dnnl, dw_ref, n_w, "backward weights", t);
    if (t->p.bias) check_rel(db_dnnl, db_ref, n_b, "backward bias", t);

    float *buffers[] = {x, w, b, dy, x_dnnl, dy_dnnl, y_ref, y_dnnl, y_dense, dx_ref,
                        dx_dnnl, dx_dense, dw_ref, dw_dnnl, db_ref, db_dnnl};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    ref->op_destroy(ref_op);
    dnnl->op_destroy(dnnl_op);
    if (producer) dnnl->op_destroy(producer);
}

static lmn_conv2d_params conv(int k, int kh, int kw, int s, int pad, bool bias, bool relu)
{
    lmn_conv2d_params p = {.out_channels = k, .kernel_h = kh, .kernel_w = kw, .stride_h = s,
                           .stride_w = s, .pad_h = pad, .pad_w = pad, .bias = bias,
                           .fuse_relu = relu};
    return p;
}

/* A consumer conv must see its own output layout as its input's: the
 * reported layout stays valid and describes padded channels. */
static void test_layout_reporting(lmn_backend *dnnl)
{
    lmn_conv2d_params p = conv(5, 3, 3, 1, 1, true, false);
    lmn_act_desc in = lmn_act_dense(2, 16, 8, 8), out;
    lmn_op *op = lmn_kt_conv(dnnl, &p, &in, &out);
    if (!op) return;
    CHECK(out.n == 2 && out.c == 5 && out.h == 8 && out.w == 8);
    /* AVX-512 jit convs pick a 16-channel-blocked dst: C=5 is padded. */
    if (out.layout) CHECK(out.floats >= (size_t)2 * 5 * 8 * 8);
    CHECK(dnnl->same_layout(&out, &out));
    lmn_act_desc dense = lmn_act_dense(2, 5, 8, 8);
    CHECK(dnnl->same_layout(&dense, &dense));
    CHECK(dnnl->same_layout(&out, &dense) == (out.layout == NULL));
    dnnl->op_destroy(op);
}

static void test_bad_params(lmn_backend *dnnl)
{
    lmn_conv2d_params p = conv(4, 7, 7, 1, 0, false, false);
    lmn_act_desc in = lmn_act_dense(1, 3, 5, 5), out;
    lmn_op *op = NULL;
    CHECK(dnnl->conv2d_create(dnnl, &p, &in, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
    p = conv(0, 3, 3, 1, 1, false, false);
    CHECK(dnnl->conv2d_create(dnnl, &p, &in, &op, &out) == LMN_ERR_ARG);
}

int main(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    lmn_backend *dnnl = lmn_kt_backend("dnnl");
    const conv_case cases[] = {
        {3, 5, 11, 11, conv(7, 3, 3, 2, 1, true, false), false},
        {3, 5, 11, 11, conv(7, 3, 3, 2, 1, false, true), true},
        {2, 16, 9, 9, conv(16, 3, 3, 1, 1, true, true), true},
        {2, 16, 9, 9, conv(32, 3, 3, 2, 1, false, false), true},
        {3, 32, 7, 7, conv(17, 5, 5, 1, 2, true, false), true},
        {2, 3, 10, 13, conv(16, 5, 5, 1, 2, true, true), false},
        {4, 1, 12, 12, conv(6, 5, 5, 1, 0, true, false), false},
        {2, 12, 6, 9, conv(20, 1, 1, 1, 0, false, false), true},
        {2, 16, 8, 8, conv(32, 1, 1, 2, 0, true, false), true},
        {3, 8, 7, 5, conv(9, 3, 1, 1, 0, true, true), false},
        {2, 3, 9, 9, conv(4, 2, 3, 1, 1, true, false), true},
    };
    conv_case uneven = {2, 6, 8, 11, conv(10, 3, 5, 1, 0, true, false), true};
    uneven.p.pad_h = 1;
    uneven.p.pad_w = 2;
    uneven.p.stride_w = 2;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(ref, dnnl, &cases[i], 1000 + 10 * i);
    run_case(ref, dnnl, &uneven, 999);
    test_layout_reporting(dnnl);
    test_bad_params(dnnl);
    lmn_backend_destroy(ref);
    lmn_backend_destroy(dnnl);
    return lmn_test_summary("test_dnnl_conv");
}
