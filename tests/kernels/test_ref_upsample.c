/* Reference upsampling: nearest and pixel shuffle against hand-written
 * tensors (PyTorch's nn.Upsample(mode='nearest') and nn.PixelShuffle
 * orders), factors 2 and 3, errors, and both backwards against central
 * finite differences. */
#include <string.h>

#include "kernel_testing.h"

typedef struct upsample_case {
    lmn_backend *be;
    lmn_op *op;
    lmn_act_desc in, out;
    float *x, *y, *r;
} upsample_case;

static double upsample_objective(void *ctx)
{
    upsample_case *t = ctx;
    CHECK_OK(t->be->upsample_forward(t->op, t->x, t->y));
    return lmn_kt_dot(t->y, t->r, t->out.floats);
}

static lmn_upsample_params upsample(lmn_upsample_kind kind, int factor)
{
    lmn_upsample_params p = {.kind = kind, .factor = factor};
    return p;
}

static void check_forward(lmn_backend *be, lmn_upsample_params p, lmn_act_desc in,
                          const float *x, lmn_act_desc want_desc, const float *want,
                          const char *what)
{
    lmn_act_desc out;
    lmn_op *op = lmn_kt_upsample(be, &p, &in, &out);
    if (!op) return;
    CHECK_MSG(out.n == want_desc.n && out.c == want_desc.c && out.h == want_desc.h &&
                  out.w == want_desc.w && out.d == 0 && out.layout == NULL &&
                  out.floats == want_desc.floats,
              "%s: output [%d,%d,%d,%d]", what, out.n, out.c, out.h, out.w);
    float *y = lmn_kt_random(out.floats, 3); /* junk: every entry is written */
    CHECK_OK(be->upsample_forward(op, x, y));
    lmn_kt_check_close(y, want, want_desc.floats, 0, what);
    lmn_free(y);
    be->op_destroy(op);
}

static void test_nearest(lmn_backend *be)
{
    const float x[4] = {1, 2, 3, 4}; /* [1,1,2,2] */
    const float want2[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    check_forward(be, upsample(LMN_UPSAMPLE_NEAREST, 2), lmn_act_dense(1, 1, 2, 2), x,
                  lmn_act_dense(1, 1, 4, 4), want2, "nearest x2");
    /* [1,2,1,2] by 3: each channel's row becomes 3 rows of 6 */
    const float x3[4] = {1, 2, -1, 5};
    float want3[36];
    for (int c = 0; c < 2; c++)
        for (int h = 0; h < 3; h++)
            for (int w = 0; w < 6; w++) want3[(c * 3 + h) * 6 + w] = x3[c * 2 + w / 3];
    check_forward(be, upsample(LMN_UPSAMPLE_NEAREST, 3), lmn_act_dense(1, 2, 1, 2), x3,
                  lmn_act_dense(1, 2, 3, 6), want3, "nearest x3");
}

/* Expected values printed by PyTorch 2 (nn.PixelShuffle on torch.arange):
 * reshape(1, 8, 1, 1) by 2 is [[[0,1],[2,3]], [[4,5],[6,7]]]; reshape(1, 4,
 * 1, 2) by 2 is [[[0,2,1,3],[4,6,5,7]]]. */
static void test_pixel_shuffle(lmn_backend *be)
{
    float x[18];
    for (int i = 0; i < 18; i++) x[i] = (float)i;
    const float want_1x1[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    check_forward(be, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2), lmn_act_dense(1, 8, 1, 1), x,
                  lmn_act_dense(1, 2, 2, 2), want_1x1, "pixel shuffle x2 on 1x1");
    const float want_1x2[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    check_forward(be, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2), lmn_act_dense(1, 4, 1, 2), x,
                  lmn_act_dense(1, 1, 2, 4), want_1x2, "pixel shuffle x2 on 1x2");
    /* batch 2 of torch.arange(18.).reshape(2, 9, 1, 1) by 3: each sample
     * becomes a 3x3 image of its channels in order */
    check_forward(be, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 3), lmn_act_dense(2, 9, 1, 1), x,
                  lmn_act_dense(2, 1, 3, 3), x, "pixel shuffle x3, batch 2");
    /* [1,4,2,1] (h = 2, w = 1) by 2: out[0][2h+i][j] = in[2i+j][h][0] */
    const float want_2x1[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    check_forward(be, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2), lmn_act_dense(1, 4, 2, 1), x,
                  lmn_act_dense(1, 1, 4, 2), want_2x1, "pixel shuffle x2 on 2x1");
}

static void test_errors(lmn_backend *be)
{
    lmn_op *op = NULL;
    lmn_act_desc out;
    lmn_upsample_params p = upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2);
    const lmn_act_desc in = lmn_act_dense(1, 6, 3, 3);
    CHECK(be->upsample_create(be, &p, &in, &op, &out) == LMN_ERR_SHAPE); /* 6 % 4 != 0 */
    CHECK(op == NULL);
    CHECK(strstr(lmn_last_error(), "divisible by 4") != NULL);
    p.factor = 0;
    CHECK(be->upsample_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    p = upsample((lmn_upsample_kind)9, 2);
    CHECK(be->upsample_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    p = upsample(LMN_UPSAMPLE_NEAREST, 2);
    const lmn_act_desc deep = lmn_act_dense3d(1, 4, 2, 3, 3);
    CHECK(be->upsample_create(be, &p, &deep, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
}

static void check_gradient(lmn_backend *be, lmn_upsample_params p, lmn_act_desc in,
                           uint64_t seed, const char *what)
{
    upsample_case t = {.be = be, .in = in};
    t.op = lmn_kt_upsample(be, &p, &t.in, &t.out);
    if (!t.op) return;
    t.x = lmn_kt_random(in.floats, seed);
    t.r = lmn_kt_random(t.out.floats, seed + 1);
    t.y = lmn_kt_zeros(t.out.floats);
    float *dx = lmn_kt_random(in.floats, seed + 2); /* junk: overwritten */
    CHECK_OK(be->upsample_backward(t.op, t.r, dx));
    lmn_kt_check_grad(upsample_objective, &t, t.x, in.floats, dx, 1e-3f, 1e-3, what);
    lmn_free(t.x), lmn_free(t.r), lmn_free(t.y), lmn_free(dx);
    be->op_destroy(t.op);
}

static void test_gradients(lmn_backend *be)
{
    check_gradient(be, upsample(LMN_UPSAMPLE_NEAREST, 2), lmn_act_dense(2, 3, 3, 5), 1,
                   "nearest x2");
    check_gradient(be, upsample(LMN_UPSAMPLE_NEAREST, 3), lmn_act_dense(2, 2, 4, 3), 2,
                   "nearest x3");
    check_gradient(be, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2), lmn_act_dense(2, 8, 3, 5), 3,
                   "pixel shuffle x2");
    check_gradient(be, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 3), lmn_act_dense(2, 18, 3, 2), 4,
                   "pixel shuffle x3");
    check_gradient(be, upsample(LMN_UPSAMPLE_NEAREST, 1), lmn_act_dense(1, 2, 3, 3), 5,
                   "nearest x1 (identity)");
}

int main(void)
{
    lmn_backend *be = lmn_kt_backend("ref");
    test_nearest(be);
    test_pixel_shuffle(be);
    test_errors(be);
    test_gradients(be);
    lmn_backend_destroy(be);
    return lmn_test_summary("kernels_test_ref_upsample");
}
