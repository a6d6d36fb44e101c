/* dnnl upsampling equals the ref one within 1e-4 (forward and backward),
 * nearest and pixel shuffle, factors 2 and 3, from dense and from blocked
 * inputs with channel counts that are and are not multiples of 16. Nearest
 * keeps the input's layout family; pixel shuffle reports a dense output. */
#include <stdio.h>

#include "test_dnnl_common.h"

typedef struct upsample_case {
    int n, c, h, w;
    lmn_upsample_params p;
    bool blocked_input;
} upsample_case;

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const upsample_case *t,
                     uint64_t seed)
{
    char name[128];
    snprintf(name, sizeof name, "%s x%d N=%d C=%d %dx%d blocked=%d",
             t->p.kind == LMN_UPSAMPLE_NEAREST ? "nearest" : "pixel shuffle", t->p.factor,
             t->n, t->c, t->h, t->w, t->blocked_input);
    lmn_op *producer = NULL;
    const lmn_act_desc ref_in = lmn_act_dense(t->n, t->c, t->h, t->w);
    const lmn_act_desc dnnl_in =
        t->blocked_input ? lmn_dt_blocked_desc(dnnl, t->n, t->c, t->h, t->w, &producer) : ref_in;
    lmn_act_desc ref_out, dnnl_out;
    lmn_op *ref_op = lmn_kt_upsample(ref, &t->p, &ref_in, &ref_out);
    lmn_op *dnnl_op = lmn_kt_upsample(dnnl, &t->p, &dnnl_in, &dnnl_out);
    if (!ref_op || !dnnl_op) return;
    CHECK_MSG(dnnl_out.n == ref_out.n && dnnl_out.c == ref_out.c && dnnl_out.h == ref_out.h &&
                  dnnl_out.w == ref_out.w && dnnl_out.d == 0,
              "%s: output shape", name);
    if (t->p.kind == LMN_UPSAMPLE_PIXEL_SHUFFLE)
        CHECK_MSG(dnnl_out.layout == NULL, "%s: pixel shuffle output must be dense", name);
    else
        CHECK_MSG((dnnl_out.layout != NULL) == (dnnl_in.layout != NULL),
                  "%s: nearest keeps the input's layout family", name);

    float *x = lmn_kt_random(ref_in.floats, seed);
    float *dy = lmn_kt_random(ref_out.floats, seed + 1);
    float *x_dnnl = lmn_dt_from_dense(dnnl, x, &dnnl_in);
    float *dy_dnnl = lmn_dt_from_dense(dnnl, dy, &dnnl_out);

    float *y_ref = lmn_kt_zeros(ref_out.floats), *y_dnnl = lmn_dt_junk(dnnl_out.floats);
    CHECK_OK(ref->upsample_forward(ref_op, x, y_ref));
    CHECK_OK(dnnl->upsample_forward(dnnl_op, x_dnnl, y_dnnl));
    float *y_dense = lmn_dt_to_dense(dnnl, y_dnnl, &dnnl_out);
    lmn_dt_check(y_dense, y_ref, ref_out.floats, "forward", name);
    lmn_dt_check_padding(dnnl, y_dnnl, &dnnl_out, "forward", name);

    float *dx_ref = lmn_kt_zeros(ref_in.floats), *dx_dnnl = lmn_dt_junk(dnnl_in.floats);
    CHECK_OK(ref->upsample_backward(ref_op, dy, dx_ref));
    CHECK_OK(dnnl->upsample_backward(dnnl_op, dy_dnnl, dx_dnnl));
    float *dx_dense = lmn_dt_to_dense(dnnl, dx_dnnl, &dnnl_in);
    lmn_dt_check(dx_dense, dx_ref, ref_in.floats, "backward", name);
    lmn_dt_check_padding(dnnl, dx_dnnl, &dnnl_in, "backward", name);

    float *buffers[] = {x, dy, x_dnnl, dy_dnnl, y_ref, y_dnnl, y_dense, dx_ref, dx_dnnl,
                        dx_dense};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    ref->op_destroy(ref_op);
    dnnl->op_destroy(dnnl_op);
    if (producer) dnnl->op_destroy(producer);
}

static lmn_upsample_params upsample(lmn_upsample_kind kind, int factor)
{
    lmn_upsample_params p = {.kind = kind, .factor = factor};
    return p;
}

/* The pixel-shuffle PyTorch example of the ref test, through dnnl from a
 * blocked input: the dense copy, the loops and the output agree. */
static void test_pixel_shuffle_values(lmn_backend *dnnl)
{
    lmn_op *producer = NULL;
    const lmn_act_desc in = lmn_dt_blocked_desc(dnnl, 1, 4, 1, 2, &producer);
    const lmn_upsample_params p = upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2);
    lmn_act_desc out;
    lmn_op *op = lmn_kt_upsample(dnnl, &p, &in, &out);
    if (!op) return;
    float dense[8];
    for (int i = 0; i < 8; i++) dense[i] = (float)i;
    float *x = lmn_dt_from_dense(dnnl, dense, &in);
    const float want[8] = {0, 2, 1, 3, 4, 6, 5, 7}; /* nn.PixelShuffle(2) */
    float y[8];
    CHECK_OK(dnnl->upsample_forward(op, x, y));
    lmn_kt_check_close(y, want, 8, 0, "dnnl pixel shuffle x2 on 1x2");
    lmn_free(x);
    dnnl->op_destroy(op);
    if (producer) dnnl->op_destroy(producer);
}

static void test_bad_params(lmn_backend *dnnl)
{
    lmn_act_desc out;
    lmn_op *op = NULL;
    lmn_upsample_params p = upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 3);
    const lmn_act_desc in = lmn_act_dense(1, 8, 3, 3);
    CHECK(dnnl->upsample_create(dnnl, &p, &in, &op, &out) == LMN_ERR_SHAPE);
    p = upsample(LMN_UPSAMPLE_NEAREST, -1);
    CHECK(dnnl->upsample_create(dnnl, &p, &in, &op, &out) == LMN_ERR_ARG);
    p = upsample(LMN_UPSAMPLE_NEAREST, 2);
    const lmn_act_desc deep = lmn_act_dense3d(1, 8, 2, 3, 3);
    CHECK(dnnl->upsample_create(dnnl, &p, &deep, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
}

int main(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    lmn_backend *dnnl = lmn_kt_backend("dnnl");
    const upsample_case cases[] = {
        {2, 3, 5, 7, upsample(LMN_UPSAMPLE_NEAREST, 2), false},
        {2, 5, 5, 7, upsample(LMN_UPSAMPLE_NEAREST, 2), true},
        {3, 16, 4, 3, upsample(LMN_UPSAMPLE_NEAREST, 3), true},
        {2, 20, 3, 5, upsample(LMN_UPSAMPLE_NEAREST, 3), false},
        {2, 7, 6, 5, upsample(LMN_UPSAMPLE_NEAREST, 1), true},
        {2, 12, 5, 7, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2), false},
        {2, 20, 5, 3, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2), true},
        {3, 64, 3, 4, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 2), true},
        {2, 18, 4, 5, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 3), false},
        {2, 36, 3, 3, upsample(LMN_UPSAMPLE_PIXEL_SHUFFLE, 3), true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(ref, dnnl, &cases[i], 5000 + 10 * i);
    test_pixel_shuffle_values(dnnl);
    test_bad_params(dnnl);
    lmn_backend_destroy(ref);
    lmn_backend_destroy(dnnl);
    return lmn_test_summary("test_dnnl_upsample");
}
