/* dnnl conv3d equals the ref conv3d (forward, backward data, backward
 * weights) within 1e-4 on odd 3-D shapes: strides 1 and 2, padding 0 and
 * 1, non-cubic kernels, batches > 1, channel counts that are and are not
 * multiples of 16, with and without bias / fused ReLU, from a dense input
 * and from a blocked one (nCdhw16c from a previous dnnl conv3d). */
#include <stdio.h>

#include "test_dnnl_common.h"

typedef struct conv3d_case {
    int n, c, d, h, w;
    lmn_conv3d_params p;
    bool blocked_input;
} conv3d_case;

static void check_rel(const float *got, const float *want, size_t count, const char *what,
                      const conv3d_case *t)
{
    char name[200];
    snprintf(name, sizeof name,
             "N=%d C=%d %dx%dx%d K=%d k=%dx%dx%d s=%dx%dx%d p=%dx%dx%d bias=%d relu=%d "
             "blocked=%d",
             t->n, t->c, t->d, t->h, t->w, t->p.out_channels, t->p.kernel_d, t->p.kernel_h,
             t->p.kernel_w, t->p.stride_d, t->p.stride_h, t->p.stride_w, t->p.pad_d,
             t->p.pad_h, t->p.pad_w, t->p.bias, t->p.fuse_relu, t->blocked_input);
    lmn_dt_check(got, want, count, what, name);
}

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const conv3d_case *t, uint64_t seed)
{
    lmn_op *producer = NULL;
    const lmn_act_desc ref_in = lmn_act_dense3d(t->n, t->c, t->d, t->h, t->w);
    const lmn_act_desc dnnl_in =
        t->blocked_input ? lmn_dt_blocked_desc3d(dnnl, t->n, t->c, t->d, t->h, t->w, &producer)
                         : ref_in;
    lmn_act_desc ref_out, dnnl_out;
    lmn_op *ref_op = lmn_kt_conv3d(ref, &t->p, &ref_in, &ref_out);
    lmn_op *dnnl_op = lmn_kt_conv3d(dnnl, &t->p, &dnnl_in, &dnnl_out);
    if (!ref_op || !dnnl_op) return;
    CHECK(dnnl_out.n == ref_out.n && dnnl_out.c == ref_out.c && dnnl_out.d == ref_out.d &&
          dnnl_out.h == ref_out.h && dnnl_out.w == ref_out.w);
    CHECK(dnnl_out.floats >= ref_out.floats);

    const size_t n_w = lmn_kt_conv3d_weights(&t->p, &ref_in);
    const size_t n_b = (size_t)t->p.out_channels;
    float *x = lmn_kt_random(ref_in.floats, seed);
    float *w = lmn_kt_random(n_w, seed + 1);
    float *b = t->p.bias ? lmn_kt_random(n_b, seed + 2) : NULL;
    float *dy = lmn_kt_random(ref_out.floats, seed + 3);
    float *x_dnnl = lmn_dt_from_dense(dnnl, x, &dnnl_in);
    float *dy_dnnl = lmn_dt_from_dense(dnnl, dy, &dnnl_out);

    float *y_ref = lmn_kt_zeros(ref_out.floats), *y_dnnl = lmn_dt_junk(dnnl_out.floats);
    CHECK_OK(ref->conv3d_forward(ref_op, x, w, b, y_ref));
    CHECK_OK(dnnl->conv3d_forward(dnnl_op, x_dnnl, w, b, y_dnnl));
    float *y_dense = lmn_dt_to_dense(dnnl, y_dnnl, &dnnl_out);
    check_rel(y_dense, y_ref, ref_out.floats, "forward", t);
    lmn_dt_check_padding(dnnl, y_dnnl, &dnnl_out, "forward", "conv3d");

    float *dx_ref = lmn_kt_zeros(ref_in.floats), *dx_dnnl = lmn_dt_junk(dnnl_in.floats);
    CHECK_OK(ref->conv3d_backward_data(ref_op, dy, w, dx_ref));
    CHECK_OK(dnnl->conv3d_backward_data(dnnl_op, dy_dnnl, w, dx_dnnl));
    float *dx_dense = lmn_dt_to_dense(dnnl, dx_dnnl, &dnnl_in);
    check_rel(dx_dense, dx_ref, ref_in.floats, "backward data", t);
    lmn_dt_check_padding(dnnl, dx_dnnl, &dnnl_in, "backward data", "conv3d");

    float *dw_ref = lmn_kt_zeros(n_w), *dw_dnnl = lmn_dt_junk(n_w);
    float *db_ref = lmn_kt_zeros(n_b), *db_dnnl = lmn_dt_junk(n_b);
    CHECK_OK(ref->conv3d_backward_weights(ref_op, x, dy, dw_ref, t->p.bias ? db_ref : NULL));
    CHECK_OK(dnnl->conv3d_backward_weights(dnnl_op, x_dnnl, dy_dnnl, dw_dnnl,
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

static lmn_conv3d_params conv3d(int k, int kd, int kh, int kw, int s, int pad, bool bias,
                                bool relu)
{
    lmn_conv3d_params p = {.out_channels = k, .kernel_d = kd, .kernel_h = kh, .kernel_w = kw,
                           .stride_d = s, .stride_h = s, .stride_w = s, .pad_d = pad,
                           .pad_h = pad, .pad_w = pad, .bias = bias, .fuse_relu = relu};
    return p;
}

/* The output layout is reported as a 3-D desc a consumer can take. */
static void test_layout_reporting(lmn_backend *dnnl)
{
    lmn_conv3d_params p = conv3d(5, 3, 3, 3, 1, 1, true, false);
    lmn_act_desc in = lmn_act_dense3d(2, 16, 4, 5, 6), out;
    lmn_op *op = lmn_kt_conv3d(dnnl, &p, &in, &out);
    if (!op) return;
    CHECK(out.n == 2 && out.c == 5 && out.d == 4 && out.h == 5 && out.w == 6);
    if (out.layout) CHECK(out.floats >= (size_t)2 * 5 * 4 * 5 * 6);
    CHECK(dnnl->same_layout(&out, &out));
    const lmn_act_desc dense = lmn_act_dense3d(2, 5, 4, 5, 6);
    CHECK(dnnl->same_layout(&out, &dense) == (out.layout == NULL));
    const lmn_act_desc flat = lmn_act_dense(2, 5, 5, 6);
    CHECK(!dnnl->same_layout(&dense, &flat));
    /* a consumer conv3d takes it as input */
    lmn_act_desc next_out;
    lmn_op *next = lmn_kt_conv3d(dnnl, &p, &out, &next_out);
    if (next) dnnl->op_destroy(next);
    dnnl->op_destroy(op);
}

static void test_bad_params(lmn_backend *dnnl)
{
    lmn_conv3d_params p = conv3d(4, 3, 7, 3, 1, 0, false, false);
    lmn_act_desc in = lmn_act_dense3d(1, 3, 5, 5, 5), out;
    lmn_op *op = NULL;
    CHECK(dnnl->conv3d_create(dnnl, &p, &in, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
    p = conv3d(0, 3, 3, 3, 1, 1, false, false);
    CHECK(dnnl->conv3d_create(dnnl, &p, &in, &op, &out) == LMN_ERR_ARG);
    p = conv3d(4, 3, 3, 3, 1, 1, false, false);
    const lmn_act_desc flat = lmn_act_dense(1, 3, 5, 5);
    CHECK(dnnl->conv3d_create(dnnl, &p, &flat, &op, &out) == LMN_ERR_SHAPE);
    const lmn_conv2d_params p2 = {.out_channels = 4, .kernel_h = 3, .kernel_w = 3,
                                  .stride_h = 1, .stride_w = 1};
    CHECK(dnnl->conv2d_create(dnnl, &p2, &in, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
}

int main(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    lmn_backend *dnnl = lmn_kt_backend("dnnl");
    const conv3d_case cases[] = {
        {2, 3, 5, 7, 6, conv3d(7, 3, 3, 3, 1, 1, true, false), false},
        {2, 5, 7, 5, 5, conv3d(6, 3, 3, 3, 2, 1, false, true), false},
        {2, 16, 5, 5, 5, conv3d(16, 3, 3, 3, 1, 1, true, true), true},
        {2, 16, 6, 5, 7, conv3d(32, 3, 3, 3, 2, 1, false, false), true},
        {3, 20, 3, 5, 4, conv3d(17, 1, 3, 3, 1, 0, true, false), true},
        {2, 4, 5, 6, 7, conv3d(8, 3, 1, 3, 2, 0, true, false), false},
        {1, 1, 7, 7, 7, conv3d(4, 5, 5, 5, 1, 2, true, false), false},
        {2, 12, 4, 3, 5, conv3d(20, 1, 1, 1, 1, 0, false, false), true},
        {3, 8, 5, 4, 3, conv3d(9, 2, 3, 2, 1, 1, true, true), false},
    };
    conv3d_case mixed = {2, 6, 7, 5, 9, conv3d(10, 3, 2, 3, 1, 0, true, false), true};
    mixed.p.stride_d = mixed.p.stride_w = 2;
    mixed.p.pad_d = mixed.p.pad_w = 1;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(ref, dnnl, &cases[i], 3000 + 10 * i);
    run_case(ref, dnnl, &mixed, 2999);
    test_layout_reporting(dnnl);
    test_bad_params(dnnl);
    lmn_backend_destroy(ref);
    lmn_backend_destroy(dnnl);
    return lmn_test_summary("test_dnnl_conv3d");
}
