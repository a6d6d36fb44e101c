/* Reference 3-D pooling: hand-computed max / average values (padding
 * counted by the average), agreement with pool2d when the depth is
 * trivial, errors, and gradients against central finite differences. */
#include <string.h>

#include "kernel_testing.h"

/* Forward with and without workspace (training / inference) against want. */
static void check_forward(lmn_backend *be, const lmn_pool3d_params *p, lmn_act_desc in,
                          const float *x, const float *want, int od, int oh, int ow,
                          const char *what)
{
    lmn_act_desc out;
    size_t ws_bytes = 0;
    lmn_op *op = lmn_kt_pool3d(be, p, &in, &out, &ws_bytes);
    if (!op) return;
    CHECK_MSG(out.d == od && out.h == oh && out.w == ow && out.c == in.c,
              "%s: output %dx%dx%d", what, out.d, out.h, out.w);
    CHECK(ws_bytes == (p->kind == LMN_POOL_MAX ? out.floats * sizeof(int32_t) : 0));
    float *y = lmn_kt_zeros(out.floats);
    void *ws = NULL;
    CHECK_OK(lmn_alloc_bytes(&ws, ws_bytes, "workspace"));
    CHECK_OK(be->pool3d_forward(op, x, y, ws));
    lmn_kt_check_close(y, want, out.floats, 1e-6, what);
    CHECK_OK(be->pool3d_forward(op, x, y, NULL));
    lmn_kt_check_close(y, want, out.floats, 1e-6, what);
    lmn_free(ws);
    lmn_free(y);
    be->op_destroy(op);
}

static void test_hand_computed(lmn_backend *be)
{
    /* x[d][h][w] = 1 + 4d + 2h + w on 2x2x2, 2x2x2 window: one output */
    const float x8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float max8[1] = {8}, avg8[1] = {4.5f};
    lmn_pool3d_params p = lmn_kt_pool3d_params(LMN_POOL_MAX, 2, 2, 2, 2, 0);
    check_forward(be, &p, lmn_act_dense3d(1, 1, 2, 2, 2), x8, max8, 1, 1, 1, "max 2x2x2");
    p.kind = LMN_POOL_AVG;
    check_forward(be, &p, lmn_act_dense3d(1, 1, 2, 2, 2), x8, avg8, 1, 1, 1, "avg 2x2x2");

    /* 2x2x2 window, stride 1, pad 1 on 1x1x1 = 5: every window holds the
     * single value once, the average divides by all 8 positions */
    const float one[1] = {5};
    const float max_pad[8] = {5, 5, 5, 5, 5, 5, 5, 5};
    const float avg_pad[8] = {0.625f, 0.625f, 0.625f, 0.625f, 0.625f, 0.625f, 0.625f, 0.625f};
    p = lmn_kt_pool3d_params(LMN_POOL_MAX, 2, 2, 2, 1, 1);
    check_forward(be, &p, lmn_act_dense3d(1, 1, 1, 1, 1), one, max_pad, 2, 2, 2, "max pad 1");
    p.kind = LMN_POOL_AVG;
    check_forward(be, &p, lmn_act_dense3d(1, 1, 1, 1, 1), one, avg_pad, 2, 2, 2, "avg pad 1");

    /* non-cubic 1x1x2 window stride 2 along w only, two channels */
    const float x2[8] = {1, -2, 3, 0, -1, -5, 4, 4};
    const float max_w[4] = {1, 3, -1, 4}, avg_w[4] = {-0.5f, 1.5f, -3, 4};
    p = lmn_kt_pool3d_params(LMN_POOL_MAX, 1, 1, 2, 1, 0);
    p.stride_w = 2;
    check_forward(be, &p, lmn_act_dense3d(1, 2, 1, 1, 4), x2, max_w, 1, 1, 2, "max 1x1x2");
    p.kind = LMN_POOL_AVG;
    check_forward(be, &p, lmn_act_dense3d(1, 2, 1, 1, 4), x2, avg_w, 1, 1, 2, "avg 1x1x2");
}

/* Depth 1 with a depth-1 window is a pool2d: forward and backward agree. */
static void test_matches_pool2d(lmn_backend *be, lmn_pool_kind kind)
{
    const lmn_pool2d_params p2 = {.kind = kind, .kernel_h = 3, .kernel_w = 2, .stride_h = 2,
                                  .stride_w = 1, .pad_h = 1, .pad_w = 1};
    lmn_pool3d_params p3 = lmn_kt_pool3d_params(kind, 1, 3, 2, 1, 0);
    p3.stride_h = 2;
    p3.pad_h = p3.pad_w = 1;
    const lmn_act_desc in2 = lmn_act_dense(2, 3, 7, 6), in3 = lmn_act_dense3d(2, 3, 1, 7, 6);
    lmn_act_desc out2, out3;
    size_t ws2 = 0, ws3 = 0;
    lmn_op *op2 = lmn_kt_pool(be, &p2, &in2, &out2, &ws2);
    lmn_op *op3 = lmn_kt_pool3d(be, &p3, &in3, &out3, &ws3);
    if (!op2 || !op3) return;
    CHECK(out3.floats == out2.floats && ws2 == ws3);
    float *x = lmn_kt_random(in2.floats, 31), *dy = lmn_kt_random(out2.floats, 32);
    float *y2 = lmn_kt_zeros(out2.floats), *y3 = lmn_kt_zeros(out2.floats);
    float *dx2 = lmn_kt_zeros(in2.floats), *dx3 = lmn_kt_zeros(in2.floats);
    void *w2 = NULL, *w3 = NULL;
    CHECK_OK(lmn_alloc_bytes(&w2, ws2, "workspace"));
    CHECK_OK(lmn_alloc_bytes(&w3, ws3, "workspace"));
    CHECK_OK(be->pool2d_forward(op2, x, y2, w2));
    CHECK_OK(be->pool3d_forward(op3, x, y3, w3));
    CHECK_OK(be->pool2d_backward(op2, dy, w2, dx2));
    CHECK_OK(be->pool3d_backward(op3, dy, w3, dx3));
    CHECK(memcmp(y2, y3, out2.floats * sizeof(float)) == 0);
    CHECK(memcmp(dx2, dx3, in2.floats * sizeof(float)) == 0);
    lmn_free(x), lmn_free(dy), lmn_free(y2), lmn_free(y3), lmn_free(dx2), lmn_free(dx3);
    lmn_free(w2), lmn_free(w3);
    be->op_destroy(op2);
    be->op_destroy(op3);
}

static void test_errors(lmn_backend *be)
{
    lmn_op *op = NULL;
    lmn_act_desc out;
    size_t ws = 0;
    lmn_pool3d_params p = lmn_kt_pool3d_params(LMN_POOL_MAX, 2, 2, 2, 2, 0);
    const lmn_act_desc flat = lmn_act_dense(1, 1, 4, 4);
    CHECK(be->pool3d_create(be, &p, &flat, &op, &out, &ws) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
    const lmn_act_desc in = lmn_act_dense3d(1, 1, 1, 4, 4);
    CHECK(be->pool3d_create(be, &p, &in, &op, &out, &ws) == LMN_ERR_SHAPE); /* depth 1 < 2 */
    p.pad_d = 2; /* more than half the window */
    CHECK(be->pool3d_create(be, &p, &in, &op, &out, &ws) == LMN_ERR_ARG);
    p.pad_d = 0;
    p.kind = (lmn_pool_kind)7;
    CHECK(be->pool3d_create(be, &p, &in, &op, &out, &ws) == LMN_ERR_ARG);
    const lmn_pool2d_params p2 = {.kind = LMN_POOL_MAX, .kernel_h = 2, .kernel_w = 2,
                                  .stride_h = 2, .stride_w = 2};
    const lmn_act_desc deep = lmn_act_dense3d(1, 1, 2, 4, 4);
    CHECK(be->pool2d_create(be, &p2, &deep, &op, &out, &ws) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
}

static void check_gradient(lmn_backend *be, lmn_pool3d_params p, lmn_act_desc in,
                           uint64_t seed, const char *what)
{
    lmn_act_desc out;
    size_t ws_bytes = 0;
    lmn_op *op = lmn_kt_pool3d(be, &p, &in, &out, &ws_bytes);
    if (!op) return;
    lmn_kt_check_pool_gradient(be, op, &in, &out, ws_bytes, seed, what);
    be->op_destroy(op);
}

static void test_gradients(lmn_backend *be)
{
    lmn_pool3d_params mixed = lmn_kt_pool3d_params(LMN_POOL_MAX, 3, 2, 3, 1, 0);
    mixed.stride_d = mixed.stride_w = 2;
    mixed.pad_d = mixed.pad_w = 1;
    check_gradient(be, lmn_kt_pool3d_params(LMN_POOL_MAX, 2, 2, 2, 2, 0),
                   lmn_act_dense3d(2, 3, 4, 4, 6), 1, "max 2x2x2 stride 2");
    check_gradient(be, lmn_kt_pool3d_params(LMN_POOL_MAX, 3, 3, 3, 2, 1),
                   lmn_act_dense3d(2, 2, 5, 5, 5), 2, "max 3x3x3 stride 2 pad 1, odd size");
    check_gradient(be, mixed, lmn_act_dense3d(1, 2, 5, 4, 7), 3,
                   "max 3x2x3 stride 2x1x2 pad 1x0x1");
    check_gradient(be, lmn_kt_pool3d_params(LMN_POOL_AVG, 3, 3, 3, 1, 1),
                   lmn_act_dense3d(2, 2, 3, 5, 4), 4, "avg 3x3x3 pad 1");
    mixed.kind = LMN_POOL_AVG;
    check_gradient(be, mixed, lmn_act_dense3d(2, 3, 5, 5, 3), 5,
                   "avg 3x2x3 stride 2x1x2 pad 1x0x1");
    check_gradient(be, lmn_kt_pool3d_params(LMN_POOL_AVG, 3, 5, 3, 1, 0),
                   lmn_act_dense3d(2, 3, 3, 5, 3), 6, "global average 3x5x3");
}

int main(void)
{
    lmn_backend *be = lmn_kt_backend("ref");
    test_hand_computed(be);
    test_matches_pool2d(be, LMN_POOL_MAX);
    test_matches_pool2d(be, LMN_POOL_AVG);
    test_errors(be);
    test_gradients(be);
    lmn_backend_destroy(be);
    return lmn_test_summary("kernels_test_ref_pool3d");
}
