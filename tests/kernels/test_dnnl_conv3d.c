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

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const conv3d_case *t, uint64_t seed)
{
    char name[200];
    snprintf(name, sizeof name,
             "N=%d C=%d %dx%dx%d K=%d k=%dx%dx%d s=%dx%dx%d p=%dx%dx%d bias=%d relu=%d "
             "blocked=%d",
             t->n, t->c, t->d, t->h, t->w, t->p.out_channels, t->p.kernel_d, t->p.kernel_h,
             t->p.kernel_w, t->p.stride_d, t->p.stride_h, t->p.stride_w, t->p.pad_d,
             t->p.pad_h, t->p.pad_w, t->p.bias, t->p.fuse_relu, t->blocked_input);
    lmn_op *producer = NULL;
    lmn_dt_op_pair o = {.ref_in = lmn_act_dense3d(t->n, t->c, t->d, t->h, t->w)};
    o.dnnl_in = t->blocked_input
                    ? lmn_dt_blocked_desc3d(dnnl, t->n, t->c, t->d, t->h, t->w, &producer)
                    : o.ref_in;
    o.ref_op = lmn_kt_conv3d(ref, &t->p, &o.ref_in, &o.ref_out);
    o.dnnl_op = lmn_kt_conv3d(dnnl, &t->p, &o.dnnl_in, &o.dnnl_out);
    if (o.ref_op && o.dnnl_op)
        lmn_dt_compare_conv(ref, dnnl, &o, lmn_kt_conv3d_weights(&t->p, &o.ref_in),
                            t->p.bias ? (size_t)t->p.out_channels : 0, seed, name);
    lmn_dt_op_pair_destroy(ref, dnnl, &o, producer);
}

/* The output layout is reported as a 3-D desc a consumer can take. */
static void test_layout_reporting(lmn_backend *dnnl)
{
    lmn_conv3d_params p = lmn_kt_conv3d_params(5, 3, 3, 3, 1, 1, true, false);
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
    lmn_conv3d_params p = lmn_kt_conv3d_params(4, 3, 7, 3, 1, 0, false, false);
    lmn_act_desc in = lmn_act_dense3d(1, 3, 5, 5, 5), out;
    lmn_op *op = NULL;
    CHECK(dnnl->conv3d_create(dnnl, &p, &in, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
    p = lmn_kt_conv3d_params(0, 3, 3, 3, 1, 1, false, false);
    CHECK(dnnl->conv3d_create(dnnl, &p, &in, &op, &out) == LMN_ERR_ARG);
    p = lmn_kt_conv3d_params(4, 3, 3, 3, 1, 1, false, false);
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
        {2, 3, 5, 7, 6, lmn_kt_conv3d_params(7, 3, 3, 3, 1, 1, true, false), false},
        {2, 5, 7, 5, 5, lmn_kt_conv3d_params(6, 3, 3, 3, 2, 1, false, true), false},
        {2, 16, 5, 5, 5, lmn_kt_conv3d_params(16, 3, 3, 3, 1, 1, true, true), true},
        {2, 16, 6, 5, 7, lmn_kt_conv3d_params(32, 3, 3, 3, 2, 1, false, false), true},
        {3, 20, 3, 5, 4, lmn_kt_conv3d_params(17, 1, 3, 3, 1, 0, true, false), true},
        {2, 4, 5, 6, 7, lmn_kt_conv3d_params(8, 3, 1, 3, 2, 0, true, false), false},
        {1, 1, 7, 7, 7, lmn_kt_conv3d_params(4, 5, 5, 5, 1, 2, true, false), false},
        {2, 12, 4, 3, 5, lmn_kt_conv3d_params(20, 1, 1, 1, 1, 0, false, false), true},
        {3, 8, 5, 4, 3, lmn_kt_conv3d_params(9, 2, 3, 2, 1, 1, true, true), false},
    };
    conv3d_case mixed = {2, 6, 7, 5, 9, lmn_kt_conv3d_params(10, 3, 2, 3, 1, 0, true, false), true};
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
