/* dnnl pool3d equals the ref pool3d within 1e-4 (forward, inference
 * forward, backward; max with its workspace, average with padding
 * counted) on odd 3-D shapes with strides 1 and 2, padding 0 and 1,
 * non-cubic windows, batches > 1 and several channel counts, from dense
 * and from blocked (nCdhw16c) inputs. */
#include <stdio.h>

#include "test_dnnl_common.h"

typedef struct pool3d_case {
    int n, c, d, h, w;
    lmn_pool3d_params p;
    bool blocked_input;
} pool3d_case;

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const pool3d_case *t, uint64_t seed)
{
    char name[160];
    snprintf(name, sizeof name,
             "%s N=%d C=%d %dx%dx%d k=%dx%dx%d s=%dx%dx%d p=%dx%dx%d blocked=%d",
             t->p.kind == LMN_POOL_MAX ? "max" : "avg", t->n, t->c, t->d, t->h, t->w,
             t->p.kernel_d, t->p.kernel_h, t->p.kernel_w, t->p.stride_d, t->p.stride_h,
             t->p.stride_w, t->p.pad_d, t->p.pad_h, t->p.pad_w, t->blocked_input);
    lmn_op *producer = NULL;
    const lmn_act_desc ref_in = lmn_act_dense3d(t->n, t->c, t->d, t->h, t->w);
    const lmn_act_desc dnnl_in =
        t->blocked_input ? lmn_dt_blocked_desc3d(dnnl, t->n, t->c, t->d, t->h, t->w, &producer)
                         : ref_in;
    lmn_act_desc ref_out, dnnl_out;
    size_t ref_ws = 0, dnnl_ws = 0;
    lmn_op *ref_op = lmn_kt_pool3d(ref, &t->p, &ref_in, &ref_out, &ref_ws);
    lmn_op *dnnl_op = lmn_kt_pool3d(dnnl, &t->p, &dnnl_in, &dnnl_out, &dnnl_ws);
    if (!ref_op || !dnnl_op) return;
    CHECK(dnnl_out.n == ref_out.n && dnnl_out.c == ref_out.c && dnnl_out.d == ref_out.d &&
          dnnl_out.h == ref_out.h && dnnl_out.w == ref_out.w);
    CHECK((dnnl_ws > 0) == (t->p.kind == LMN_POOL_MAX));
    if (dnnl_in.layout && dnnl_out.layout) CHECK(dnnl_out.floats >= ref_out.floats);

    float *x = lmn_kt_random(ref_in.floats, seed);
    float *dy = lmn_kt_random(ref_out.floats, seed + 1);
    float *x_dnnl = lmn_dt_from_dense(dnnl, x, &dnnl_in);
    float *dy_dnnl = lmn_dt_from_dense(dnnl, dy, &dnnl_out);
    void *ref_workspace = NULL, *dnnl_workspace = NULL;
    CHECK_OK(lmn_alloc_bytes(&ref_workspace, ref_ws, "test workspace"));
    CHECK_OK(lmn_alloc_bytes(&dnnl_workspace, dnnl_ws, "test workspace"));

    float *y_ref = lmn_kt_zeros(ref_out.floats), *y_dnnl = lmn_dt_junk(dnnl_out.floats);
    CHECK_OK(ref->pool3d_forward(ref_op, x, y_ref, ref_workspace));
    CHECK_OK(dnnl->pool3d_forward(dnnl_op, x_dnnl, y_dnnl, dnnl_workspace));
    float *y_dense = lmn_dt_to_dense(dnnl, y_dnnl, &dnnl_out);
    lmn_dt_check(y_dense, y_ref, ref_out.floats, "forward", name);
    lmn_dt_check_padding(dnnl, y_dnnl, &dnnl_out, "forward", name);

    float *y_infer = lmn_dt_junk(dnnl_out.floats);
    CHECK_OK(dnnl->pool3d_forward(dnnl_op, x_dnnl, y_infer, NULL));
    float *y_infer_dense = lmn_dt_to_dense(dnnl, y_infer, &dnnl_out);
    lmn_dt_check(y_infer_dense, y_ref, ref_out.floats, "inference forward", name);

    float *dx_ref = lmn_kt_zeros(ref_in.floats), *dx_dnnl = lmn_dt_junk(dnnl_in.floats);
    CHECK_OK(ref->pool3d_backward(ref_op, dy, ref_workspace, dx_ref));
    CHECK_OK(dnnl->pool3d_backward(dnnl_op, dy_dnnl, dnnl_workspace, dx_dnnl));
    float *dx_dense = lmn_dt_to_dense(dnnl, dx_dnnl, &dnnl_in);
    lmn_dt_check(dx_dense, dx_ref, ref_in.floats, "backward", name);
    lmn_dt_check_padding(dnnl, dx_dnnl, &dnnl_in, "backward", name);
    if (t->p.kind == LMN_POOL_MAX)
        CHECK(dnnl->pool3d_backward(dnnl_op, dy_dnnl, NULL, dx_dnnl) == LMN_ERR_ARG);

    float *buffers[] = {x, dy, x_dnnl, dy_dnnl, y_ref, y_dnnl, y_dense, y_infer,
                        y_infer_dense, dx_ref, dx_dnnl, dx_dense};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    lmn_free(ref_workspace);
    lmn_free(dnnl_workspace);
    ref->op_destroy(ref_op);
    dnnl->op_destroy(dnnl_op);
    if (producer) dnnl->op_destroy(producer);
}

static lmn_pool3d_params pool3d(lmn_pool_kind kind, int kd, int kh, int kw, int s, int pad)
{
    lmn_pool3d_params p = {.kind = kind, .kernel_d = kd, .kernel_h = kh, .kernel_w = kw,
                           .stride_d = s, .stride_h = s, .stride_w = s, .pad_d = pad,
                           .pad_h = pad, .pad_w = pad};
    return p;
}

static void test_bad_params(lmn_backend *dnnl)
{
    const lmn_act_desc in = lmn_act_dense3d(1, 2, 4, 6, 6);
    lmn_act_desc out;
    size_t ws;
    lmn_op *op = NULL;
    lmn_pool3d_params p = pool3d(LMN_POOL_MAX, 2, 2, 2, 2, 2);
    CHECK(dnnl->pool3d_create(dnnl, &p, &in, &op, &out, &ws) == LMN_ERR_ARG);
    p = pool3d(LMN_POOL_AVG, 5, 3, 3, 1, 0);
    CHECK(dnnl->pool3d_create(dnnl, &p, &in, &op, &out, &ws) == LMN_ERR_SHAPE);
    const lmn_act_desc flat = lmn_act_dense(1, 2, 6, 6);
    p = pool3d(LMN_POOL_AVG, 2, 2, 2, 2, 0);
    CHECK(dnnl->pool3d_create(dnnl, &p, &flat, &op, &out, &ws) == LMN_ERR_SHAPE);
    const lmn_pool2d_params p2 = {.kind = LMN_POOL_MAX, .kernel_h = 2, .kernel_w = 2,
                                  .stride_h = 2, .stride_w = 2};
    CHECK(dnnl->pool2d_create(dnnl, &p2, &in, &op, &out, &ws) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
}

int main(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    lmn_backend *dnnl = lmn_kt_backend("dnnl");
    pool3d_case cases[] = {
        {3, 5, 7, 7, 7, pool3d(LMN_POOL_MAX, 2, 2, 2, 2, 0), false},
        {2, 5, 7, 5, 6, pool3d(LMN_POOL_MAX, 2, 2, 2, 2, 0), true},
        {2, 16, 5, 5, 5, pool3d(LMN_POOL_MAX, 3, 3, 3, 2, 1), true},
        {2, 20, 5, 7, 6, pool3d(LMN_POOL_MAX, 3, 2, 3, 1, 1), true},
        {3, 5, 7, 7, 5, pool3d(LMN_POOL_AVG, 3, 3, 3, 2, 1), false},
        {2, 17, 5, 5, 5, pool3d(LMN_POOL_AVG, 3, 3, 3, 1, 1), true},
        {2, 20, 4, 4, 4, pool3d(LMN_POOL_AVG, 4, 4, 4, 1, 0), true},
        {2, 6, 3, 7, 5, pool3d(LMN_POOL_AVG, 1, 3, 2, 1, 0), false},
        {4, 3, 5, 6, 9, pool3d(LMN_POOL_AVG, 2, 2, 3, 2, 1), true},
    };
    cases[3].p.stride_w = 2; /* mixed strides and padding per axis */
    cases[3].p.pad_h = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(ref, dnnl, &cases[i], 4000 + 10 * i);
    test_bad_params(dnnl);
    lmn_backend_destroy(ref);
    lmn_backend_destroy(dnnl);
    return lmn_test_summary("test_dnnl_pool3d");
}
