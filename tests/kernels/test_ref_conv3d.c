/* Reference conv3d: hand-computed forwards, agreement with conv2d when the
 * depth is trivial, shape errors, and every gradient (dx, dw, db) against
 * central finite differences of sum(y * R) on odd shapes, strides 1 and 2,
 * padding 0 and 1, non-cubic kernels and batches > 1. */
#include <string.h>

#include "kernel_testing.h"

/* x[d][h][w] = 1 + 9d + 3h + w, all-ones 3x3x3 kernel, pad 1: each output
 * is the sum of its zero-padded neighbourhood plus the bias. */
static void test_hand_computed(lmn_backend *be)
{
    lmn_conv3d_params p = lmn_kt_conv3d_params(1, 3, 3, 3, 1, 1, true, false);
    lmn_act_desc in = lmn_act_dense3d(1, 1, 3, 3, 3), out;
    lmn_op *op = lmn_kt_conv3d(be, &p, &in, &out);
    if (!op) return;
    CHECK(out.n == 1 && out.c == 1 && out.d == 3 && out.h == 3 && out.w == 3);
    CHECK(out.floats == 27 && out.layout == NULL);
    float x[27], w[27], y[27];
    for (int i = 0; i < 27; i++) x[i] = (float)(i + 1), w[i] = 1.0f;
    const float b[1] = {0.5f};
    CHECK_OK(be->conv3d_forward(op, x, w, b, y));
    CHECK_CLOSE(y[13], 378.5, 1e-7);          /* centre: all 27 values */
    CHECK_CLOSE(y[0], 1 + 2 + 4 + 5 + 10 + 11 + 13 + 14 + 0.5, 1e-7); /* corner: 8 values */
    CHECK_CLOSE(y[26], 14 + 15 + 17 + 18 + 23 + 24 + 26 + 27 + 0.5, 1e-7);
    be->op_destroy(op);

    /* stride 2, 2x1x2 kernel picking (d, w) pairs, fused ReLU on a negated
     * second channel */
    p = lmn_kt_conv3d_params(2, 2, 1, 2, 2, 0, false, true);
    in = lmn_act_dense3d(1, 1, 2, 1, 4);
    op = lmn_kt_conv3d(be, &p, &in, &out);
    if (!op) return;
    CHECK(out.c == 2 && out.d == 1 && out.h == 1 && out.w == 2);
    const float x2[8] = {1, 2, 3, 4, 10, 20, 30, 40};
    const float w2[8] = {1, 1, 1, 1, -1, -1, -1, -1};
    const float want[4] = {33, 77, 0, 0};
    float y2[4];
    CHECK_OK(be->conv3d_forward(op, x2, w2, NULL, y2));
    lmn_kt_check_close(y2, want, 4, 0, "2x1x2 stride 2 with fused relu");
    be->op_destroy(op);
}

/* Depth 1 with a depth-1 kernel is a conv2d: all three passes agree. */
static void test_matches_conv2d(lmn_backend *be)
{
    const lmn_conv2d_params p2 = {.out_channels = 5, .kernel_h = 3, .kernel_w = 2,
                                  .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1,
                                  .bias = true};
    lmn_conv3d_params p3 = lmn_kt_conv3d_params(5, 1, 3, 2, 1, 0, true, false);
    p3.stride_h = 2;
    p3.pad_h = p3.pad_w = 1;
    const lmn_act_desc in2 = lmn_act_dense(2, 3, 7, 6), in3 = lmn_act_dense3d(2, 3, 1, 7, 6);
    lmn_act_desc out2, out3;
    lmn_op *op2 = lmn_kt_conv(be, &p2, &in2, &out2), *op3 = lmn_kt_conv3d(be, &p3, &in3, &out3);
    if (!op2 || !op3) return;
    CHECK(out3.floats == out2.floats && out3.d == 1 && out3.h == out2.h && out3.w == out2.w);
    const size_t nw = lmn_kt_conv_weights(&p2, &in2);
    float *x = lmn_kt_random(in2.floats, 11), *w = lmn_kt_random(nw, 12);
    float *b = lmn_kt_random(5, 13), *dy = lmn_kt_random(out2.floats, 14);
    float *y2 = lmn_kt_zeros(out2.floats), *y3 = lmn_kt_zeros(out2.floats);
    float *dx2 = lmn_kt_zeros(in2.floats), *dx3 = lmn_kt_zeros(in2.floats);
    float *dw2 = lmn_kt_zeros(nw), *dw3 = lmn_kt_zeros(nw);
    float *db2 = lmn_kt_zeros(5), *db3 = lmn_kt_zeros(5);
    CHECK_OK(be->conv2d_forward(op2, x, w, b, y2));
    CHECK_OK(be->conv3d_forward(op3, x, w, b, y3));
    CHECK_OK(be->conv2d_backward_data(op2, dy, w, dx2));
    CHECK_OK(be->conv3d_backward_data(op3, dy, w, dx3));
    CHECK_OK(be->conv2d_backward_weights(op2, x, dy, dw2, db2));
    CHECK_OK(be->conv3d_backward_weights(op3, x, dy, dw3, db3));
    CHECK(memcmp(y2, y3, out2.floats * sizeof(float)) == 0);
    CHECK(memcmp(dx2, dx3, in2.floats * sizeof(float)) == 0);
    CHECK(memcmp(dw2, dw3, nw * sizeof(float)) == 0);
    CHECK(memcmp(db2, db3, 5 * sizeof(float)) == 0);
    float *buffers[] = {x, w, b, dy, y2, y3, dx2, dx3, dw2, dw3, db2, db3};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    be->op_destroy(op2);
    be->op_destroy(op3);
}

static void test_errors(lmn_backend *be)
{
    lmn_op *op = NULL;
    lmn_act_desc out;
    lmn_conv3d_params p = lmn_kt_conv3d_params(2, 3, 3, 3, 1, 0, false, false);
    const lmn_act_desc flat = lmn_act_dense(1, 2, 5, 5);
    CHECK(be->conv3d_create(be, &p, &flat, &op, &out) == LMN_ERR_SHAPE); /* 2-D input */
    CHECK(op == NULL);
    CHECK(strstr(lmn_last_error(), "3-D") != NULL);
    lmn_act_desc in = lmn_act_dense3d(1, 2, 2, 5, 5);
    CHECK(be->conv3d_create(be, &p, &in, &op, &out) == LMN_ERR_SHAPE); /* depth 2 < 3 */
    CHECK(strstr(lmn_last_error(), "d") != NULL);
    p.pad_d = 1; /* 2 + 2 - 3 = 1: two outputs */
    op = lmn_kt_conv3d(be, &p, &in, &out);
    CHECK(out.d == 2 && out.h == 3 && out.w == 3);
    be->op_destroy(op);
    op = NULL;
    p.stride_w = 0;
    CHECK(be->conv3d_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    p.stride_w = 1;
    p.out_channels = 0;
    CHECK(be->conv3d_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    p.out_channels = 2;
    in.layout = (const lmn_layout *)&p; /* any non-dense layout */
    CHECK(be->conv3d_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    /* and the 2-D ops refuse 3-D inputs */
    const lmn_conv2d_params p2 = {.out_channels = 1, .kernel_h = 1, .kernel_w = 1,
                                  .stride_h = 1, .stride_w = 1};
    const lmn_act_desc deep = lmn_act_dense3d(1, 2, 3, 4, 4);
    CHECK(be->conv2d_create(be, &p2, &deep, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
}

typedef struct conv3d_config {
    int n, c, d, h, w;
    lmn_conv3d_params p;
    const char *name;
    uint64_t seed;
} conv3d_config;

static void check_gradients(lmn_backend *be, const conv3d_config *cfg)
{
    lmn_kt_conv_grad c = {.be = be, .name = cfg->name, .seed = cfg->seed};
    c.in = lmn_act_dense3d(cfg->n, cfg->c, cfg->d, cfg->h, cfg->w);
    c.op = lmn_kt_conv3d(be, &cfg->p, &c.in, &c.out);
    if (!c.op) return;
    if (cfg->p.fuse_relu) {
        lmn_conv3d_params plain = cfg->p;
        plain.fuse_relu = false;
        lmn_act_desc plain_out;
        c.plain = lmn_kt_conv3d(be, &plain, &c.in, &plain_out);
    }
    c.weights = lmn_kt_conv3d_weights(&cfg->p, &c.in);
    c.biases = cfg->p.bias ? (size_t)cfg->p.out_channels : 0;
    lmn_kt_check_conv_gradients(&c);
    be->op_destroy(c.op);
    if (c.plain) be->op_destroy(c.plain);
}

static void test_gradients(lmn_backend *be)
{
    conv3d_config configs[] = {
        {2, 3, 5, 5, 5, lmn_kt_conv3d_params(4, 3, 3, 3, 1, 1, true, false),
         "3x3x3 pad 1 bias", 210},
        {2, 2, 5, 7, 6, lmn_kt_conv3d_params(3, 3, 3, 3, 2, 1, false, false),
         "3x3x3 stride 2 odd", 220},
        {1, 3, 3, 4, 5, lmn_kt_conv3d_params(2, 1, 1, 1, 1, 0, true, false),
         "1x1x1", 230},
        {2, 2, 4, 5, 3, lmn_kt_conv3d_params(3, 2, 3, 1, 1, 0, true, false),
         "2x3x1 kernel pad 0", 240},
        {3, 1, 5, 4, 5, lmn_kt_conv3d_params(2, 3, 2, 3, 2, 0, true, false),
         "3x2x3 stride 2 pad 0", 250},
        {2, 2, 4, 4, 4, lmn_kt_conv3d_params(3, 3, 3, 3, 1, 1, true, true),
         "3x3x3 fused relu", 270},
    };
    /* mixed strides and padding per axis */
    conv3d_config mixed = {2, 2, 6, 5, 7, lmn_kt_conv3d_params(3, 3, 2, 3, 1, 0, true, false),
                           "k 3x2x3, stride 2x1x2, pad 1x0x1", 260};
    mixed.p.stride_d = mixed.p.stride_w = 2;
    mixed.p.pad_d = mixed.p.pad_w = 1;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        check_gradients(be, &configs[i]);
    check_gradients(be, &mixed);
}

int main(void)
{
    lmn_backend *be = lmn_kt_backend("ref");
    test_hand_computed(be);
    test_matches_conv2d(be);
    test_errors(be);
    test_gradients(be);
    lmn_backend_destroy(be);
    return lmn_test_summary("kernels_test_ref_conv3d");
}
