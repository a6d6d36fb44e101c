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

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const conv_case *t, uint64_t seed)
{
    char name[160];
    snprintf(name, sizeof name,
             "N=%d C=%d %dx%d K=%d k=%dx%d s=%dx%d p=%dx%d bias=%d relu=%d blocked=%d", t->n,
             t->c, t->h, t->w, t->p.out_channels, t->p.kernel_h, t->p.kernel_w, t->p.stride_h,
             t->p.stride_w, t->p.pad_h, t->p.pad_w, t->p.bias, t->p.fuse_relu,
             t->blocked_input);
    lmn_op *producer = NULL;
    lmn_dt_op_pair o = {.ref_in = lmn_act_dense(t->n, t->c, t->h, t->w)};
    o.dnnl_in = t->blocked_input
                    ? lmn_dt_blocked_desc(dnnl, t->n, t->c, t->h, t->w, &producer)
                    : o.ref_in;
    o.ref_op = lmn_kt_conv(ref, &t->p, &o.ref_in, &o.ref_out);
    o.dnnl_op = lmn_kt_conv(dnnl, &t->p, &o.dnnl_in, &o.dnnl_out);
    if (o.ref_op && o.dnnl_op)
        lmn_dt_compare_conv(ref, dnnl, &o, lmn_kt_conv_weights(&t->p, &o.ref_in),
                            t->p.bias ? (size_t)t->p.out_channels : 0, seed, name);
    lmn_dt_op_pair_destroy(ref, dnnl, &o, producer);
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
        {2, 3, 23, 23, conv(64, 7, 7, 2, 3, false, false), false}, /* resnet stem */
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
