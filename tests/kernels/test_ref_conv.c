/* Reference conv2d: hand-computed forwards, shape errors, and every
 * gradient against central finite differences of sum(y * R)
 * (lmn_kt_check_conv_gradients, shared with the conv3d test). */
#include <omp.h>
#include <string.h>

#include "kernel_testing.h"

static void test_hand_computed_3x3(lmn_backend *be)
{
    lmn_conv2d_params p = {.out_channels = 1, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
                           .stride_w = 1, .pad_h = 1, .pad_w = 1, .bias = true};
    lmn_act_desc in = lmn_act_dense(1, 1, 3, 3), out;
    lmn_op *op = lmn_kt_conv(be, &p, &in, &out);
    CHECK(out.n == 1 && out.c == 1 && out.h == 3 && out.w == 3 && out.floats == 9);
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const float b[1] = {0.5f};
    /* Sums of each zero-padded 3x3 neighbourhood, plus the bias. */
    const float want[9] = {12.5f, 21.5f, 16.5f, 27.5f, 45.5f, 33.5f, 24.5f, 39.5f, 28.5f};
    float y[9];
    CHECK_OK(be->conv2d_forward(op, x, w, b, y));
    lmn_kt_check_close(y, want, 9, 1e-6, "3x3 ones, pad 1, bias 0.5");
    be->op_destroy(op);
}

static void test_hand_computed_stride2_relu(lmn_backend *be)
{
    lmn_conv2d_params p = {.out_channels = 2, .kernel_h = 2, .kernel_w = 2, .stride_h = 2,
                           .stride_w = 2, .fuse_relu = true};
    lmn_act_desc in = lmn_act_dense(1, 1, 4, 4), out;
    lmn_op *op = lmn_kt_conv(be, &p, &in, &out);
    CHECK(out.c == 2 && out.h == 2 && out.w == 2);
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    /* channel 0 sums each 2x2 block; channel 1 negates it (ReLU -> 0). */
    const float w[8] = {1, 1, 1, 1, -1, -1, -1, -1};
    const float want[8] = {10, 18, 42, 50, 0, 0, 0, 0};
    float y[8];
    CHECK_OK(be->conv2d_forward(op, x, w, NULL, y));
    lmn_kt_check_close(y, want, 8, 1e-6, "2x2 stride 2 with fused relu");
    be->op_destroy(op);
}

static void test_hand_computed_1x1(lmn_backend *be)
{
    lmn_conv2d_params p = {.out_channels = 2, .kernel_h = 1, .kernel_w = 1, .stride_h = 1,
                           .stride_w = 1};
    lmn_act_desc in = lmn_act_dense(1, 2, 1, 2), out;
    lmn_op *op = lmn_kt_conv(be, &p, &in, &out);
    const float x[4] = {1, 2, 3, 4};       /* c0 = (1, 2), c1 = (3, 4) */
    const float w[4] = {1, 10, -2, 0.5f}; /* o0 = c0 + 10 c1, o1 = -2 c0 + c1 / 2 */
    const float want[4] = {31, 42, -0.5f, -2};
    float y[4];
    CHECK_OK(be->conv2d_forward(op, x, w, NULL, y));
    lmn_kt_check_close(y, want, 4, 1e-6, "1x1 channel mixing");
    be->op_destroy(op);
}

static void test_errors(lmn_backend *be)
{
    lmn_op *op = NULL;
    lmn_act_desc out;
    lmn_conv2d_params p = {.out_channels = 1, .kernel_h = 5, .kernel_w = 5, .stride_h = 1,
                           .stride_w = 1};
    lmn_act_desc in = lmn_act_dense(1, 1, 3, 3);
    CHECK(be->conv2d_create(be, &p, &in, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
    CHECK(strstr(lmn_last_error(), "kernel") != NULL);
    p.pad_h = p.pad_w = 1; /* 3 + 2 - 5 = 0: exactly one output */
    op = lmn_kt_conv(be, &p, &in, &out);
    CHECK(out.h == 1 && out.w == 1);
    be->op_destroy(op);
    op = NULL;
    p.stride_h = 0;
    CHECK(be->conv2d_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    p.stride_h = 1;
    in.layout = (const lmn_layout *)&p; /* any non-dense layout */
    CHECK(be->conv2d_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
}

typedef struct conv_config {
    int n, c, h, w;
    lmn_conv2d_params p;
    const char *name;
    uint64_t seed;
} conv_config;

static void check_gradients(lmn_backend *be, const conv_config *cfg)
{
    lmn_kt_conv_grad c = {.be = be, .name = cfg->name, .seed = cfg->seed};
    c.in = lmn_act_dense(cfg->n, cfg->c, cfg->h, cfg->w);
    c.op = lmn_kt_conv(be, &cfg->p, &c.in, &c.out);
    if (!c.op) return;
    if (cfg->p.fuse_relu) {
        lmn_conv2d_params plain = cfg->p;
        plain.fuse_relu = false;
        lmn_act_desc plain_out;
        c.plain = lmn_kt_conv(be, &plain, &c.in, &plain_out);
    }
    c.weights = lmn_kt_conv_weights(&cfg->p, &c.in);
    c.biases = cfg->p.bias ? (size_t)cfg->p.out_channels : 0;
    lmn_kt_check_conv_gradients(&c);
    be->op_destroy(c.op);
    if (c.plain) be->op_destroy(c.plain);
}

static void test_gradients(lmn_backend *be)
{
    const conv_config configs[] = {
        {2, 3, 5, 5, {4, 3, 3, 1, 1, 1, 1, true, false}, "3x3 pad 1 bias", 110},
        {2, 2, 7, 6, {3, 3, 3, 2, 2, 1, 1, false, false}, "3x3 stride 2 odd size", 120},
        {1, 3, 6, 5, {2, 1, 1, 1, 1, 0, 0, true, false}, "1x1", 130},
        {2, 2, 5, 7, {3, 2, 3, 1, 2, 0, 1, true, false}, "2x3 kernel, stride 1x2", 140},
        {1, 2, 6, 6, {2, 5, 5, 2, 2, 2, 2, true, false}, "5x5 stride 2 pad 2", 150},
        {1, 2, 7, 7, {2, 1, 1, 3, 3, 0, 0, false, false}, "1x1 stride 3 (skips inputs)", 160},
        {2, 2, 5, 5, {3, 3, 3, 1, 1, 1, 1, true, true}, "3x3 fused relu", 170},
        {2, 3, 9, 9, {4, 7, 7, 2, 2, 3, 3, false, false}, "7x7 stride 2 pad 3 (resnet stem)",
         180},
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        check_gradients(be, &configs[i]);
}

/* Each output is computed by one thread: the thread count cannot matter. */
static void test_thread_independence(lmn_backend *be)
{
    lmn_conv2d_params p = {.out_channels = 5, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
                           .stride_w = 1, .pad_h = 1, .pad_w = 1, .bias = true};
    lmn_act_desc in = lmn_act_dense(3, 4, 6, 6), out;
    lmn_op *op = lmn_kt_conv(be, &p, &in, &out);
    const size_t nw = lmn_kt_conv_weights(&p, &in);
    float *x = lmn_kt_random(in.floats, 7), *w = lmn_kt_random(nw, 8), *b = lmn_kt_random(5, 9);
    float *dw1 = lmn_kt_zeros(nw), *dw3 = lmn_kt_zeros(nw);
    float *y1 = lmn_kt_zeros(out.floats), *y3 = lmn_kt_zeros(out.floats);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_OK(be->conv2d_forward(op, x, w, b, y1));
    CHECK_OK(be->conv2d_backward_weights(op, x, y1, dw1, NULL));
    omp_set_num_threads(3);
    CHECK_OK(be->conv2d_forward(op, x, w, b, y3));
    CHECK_OK(be->conv2d_backward_weights(op, x, y3, dw3, NULL));
    omp_set_num_threads(saved);
    CHECK(memcmp(y1, y3, out.floats * sizeof(float)) == 0);
    CHECK(memcmp(dw1, dw3, nw * sizeof(float)) == 0);
    lmn_free(x), lmn_free(w), lmn_free(b), lmn_free(dw1), lmn_free(dw3);
    lmn_free(y1), lmn_free(y3);
    be->op_destroy(op);
}

int main(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create_ref(&be));
    if (!be) return lmn_test_summary("kernels_test_ref_conv");
    CHECK(strcmp(be->name, "ref") == 0);
    test_hand_computed_3x3(be);
    test_hand_computed_stride2_relu(be);
    test_hand_computed_1x1(be);
    test_errors(be);
    test_gradients(be);
    test_thread_independence(be);
    lmn_backend_destroy(be);
    return lmn_test_summary("kernels_test_ref_conv");
}
