/* Reference pooling: hand-computed max / average / global average values,
 * padding semantics, errors, and gradients against finite differences. */
#include <string.h>

#include "kernel_testing.h"

static lmn_pool2d_params pool_params(lmn_pool_kind kind, int kh, int kw, int sh, int sw, int ph,
                                     int pw)
{
    lmn_pool2d_params p = {.kind = kind, .kernel_h = kh, .kernel_w = kw, .stride_h = sh,
                           .stride_w = sw, .pad_h = ph, .pad_w = pw};
    return p;
}

/* Runs a forward on a small input and compares with the expected output. */
static void check_forward(lmn_backend *be, const lmn_pool2d_params *p, lmn_act_desc in,
                          const float *x, const float *want, int out_h, int out_w,
                          const char *what)
{
    lmn_act_desc out;
    size_t ws_bytes = 0;
    lmn_op *op = lmn_kt_pool(be, p, &in, &out, &ws_bytes);
    if (!op) return;
    CHECK_MSG(out.h == out_h && out.w == out_w, "%s: output %dx%d", what, out.h, out.w);
    CHECK(ws_bytes == (p->kind == LMN_POOL_MAX ? out.floats * sizeof(int32_t) : 0));
    float *y = lmn_kt_zeros(out.floats);
    void *ws = NULL;
    CHECK_OK(lmn_alloc_bytes(&ws, ws_bytes, "workspace"));
    CHECK_OK(be->pool2d_forward(op, x, y, ws));
    lmn_kt_check_close(y, want, out.floats, 1e-6, what);
    /* Inference passes no workspace and must give the same values. */
    CHECK_OK(be->pool2d_forward(op, x, y, NULL));
    lmn_kt_check_close(y, want, out.floats, 1e-6, what);
    lmn_free(ws);
    lmn_free(y);
    be->op_destroy(op);
}

static void test_hand_computed(lmn_backend *be)
{
    const float x4[16] = {1, 5, 2, 0, 3, 4, 8, 7, -1, -2, -3, -4, 9, -5, -6, -7};
    const float max_want[4] = {5, 8, 9, -3};
    lmn_pool2d_params p = pool_params(LMN_POOL_MAX, 2, 2, 2, 2, 0, 0);
    check_forward(be, &p, lmn_act_dense(1, 1, 4, 4), x4, max_want, 2, 2, "max 2x2 stride 2");

    /* All-negative input: padded positions must not win with a 0. */
    const float neg[9] = {-9, -8, -7, -6, -5, -4, -3, -2, -1};
    const float neg_want[4] = {-5, -4, -2, -1};
    p = pool_params(LMN_POOL_MAX, 3, 3, 2, 2, 1, 1);
    check_forward(be, &p, lmn_act_dense(1, 1, 3, 3), neg, neg_want, 2, 2,
                  "max 3x3 pad 1 ignores padding");

    /* Average counts padding: corners see 4 of 9 ones, edges 6 of 9. */
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const float avg_want[9] = {4 / 9.f, 6 / 9.f, 4 / 9.f, 6 / 9.f, 1, 6 / 9.f,
                               4 / 9.f, 6 / 9.f, 4 / 9.f};
    p = pool_params(LMN_POOL_AVG, 3, 3, 1, 1, 1, 1);
    check_forward(be, &p, lmn_act_dense(1, 1, 3, 3), ones, avg_want, 3, 3,
                  "avg 3x3 pad 1 counts padding");

    /* Global average pooling of two planes of 2x3. */
    const float planes[12] = {1, 2, 3, 4, 5, 6, -6, 0, 0, 0, 0, 0};
    const float global_want[2] = {3.5f, -1};
    p = pool_params(LMN_POOL_AVG, 2, 3, 1, 1, 0, 0);
    check_forward(be, &p, lmn_act_dense(1, 2, 2, 3), planes, global_want, 1, 1,
                  "global average");
}

static void test_errors(lmn_backend *be)
{
    lmn_act_desc in = lmn_act_dense(1, 1, 4, 4), out;
    lmn_op *op = NULL;
    size_t ws = 0;
    lmn_pool2d_params p = pool_params(LMN_POOL_MAX, 5, 5, 1, 1, 0, 0);
    CHECK(be->pool2d_create(be, &p, &in, &op, &out, &ws) == LMN_ERR_SHAPE);
    p = pool_params(LMN_POOL_MAX, 2, 2, 1, 1, 2, 2);
    CHECK(be->pool2d_create(be, &p, &in, &op, &out, &ws) == LMN_ERR_ARG);
    CHECK(op == NULL);

    p = pool_params(LMN_POOL_MAX, 2, 2, 2, 2, 0, 0);
    op = lmn_kt_pool(be, &p, &in, &out, &ws);
    float dy[4] = {0}, dx[16];
    CHECK(be->pool2d_backward(op, dy, NULL, dx) == LMN_ERR_ARG);
    CHECK(strstr(lmn_last_error(), "workspace") != NULL);
    be->op_destroy(op);
}

static void check_gradient(lmn_backend *be, lmn_pool2d_params p, lmn_act_desc in,
                           uint64_t seed, const char *what)
{
    lmn_act_desc out;
    size_t ws_bytes = 0;
    lmn_op *op = lmn_kt_pool(be, &p, &in, &out, &ws_bytes);
    if (!op) return;
    lmn_kt_check_pool_gradient(be, op, &in, &out, ws_bytes, seed, what);
    be->op_destroy(op);
}

static void test_gradients(lmn_backend *be)
{
    check_gradient(be, pool_params(LMN_POOL_MAX, 2, 2, 2, 2, 0, 0), lmn_act_dense(2, 3, 4, 6),
                   1, "max 2x2 stride 2");
    check_gradient(be, pool_params(LMN_POOL_MAX, 3, 3, 2, 2, 1, 1), lmn_act_dense(2, 2, 7, 7),
                   2, "max 3x3 stride 2 pad 1, odd size (overlapping windows)");
    check_gradient(be, pool_params(LMN_POOL_MAX, 2, 3, 1, 2, 1, 0), lmn_act_dense(1, 2, 5, 6),
                   3, "max 2x3 stride 1x2");
    check_gradient(be, pool_params(LMN_POOL_AVG, 3, 3, 1, 1, 1, 1), lmn_act_dense(2, 2, 5, 5),
                   4, "avg 3x3 pad 1");
    check_gradient(be, pool_params(LMN_POOL_AVG, 2, 3, 2, 1, 1, 1), lmn_act_dense(1, 3, 5, 4),
                   5, "avg 2x3 stride 2x1 pad 1");
    check_gradient(be, pool_params(LMN_POOL_AVG, 5, 3, 1, 1, 0, 0), lmn_act_dense(2, 3, 5, 3),
                   6, "global average 5x3");
}

int main(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create_ref(&be));
    if (!be) return lmn_test_summary("kernels_test_ref_pool");
    test_hand_computed(be);
    test_errors(be);
    test_gradients(be);
    lmn_backend_destroy(be);
    return lmn_test_summary("kernels_test_ref_pool");
}
