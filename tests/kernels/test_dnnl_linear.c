/* dnnl linear equals the ref linear (forward with bias / fused ReLU,
 * backward data, backward weights) on odd sizes, including a [N,C,H,W]
 * input flattened as C*H*W features; blocked inputs are refused. */
#include <stdio.h>

#include "test_dnnl_common.h"

typedef struct linear_case {
    int n, c, h, w, out;
    bool bias, fuse_relu;
} linear_case;

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const linear_case *t, uint64_t seed)
{
    char name[96];
    snprintf(name, sizeof name, "N=%d in=%dx%dx%d out=%d bias=%d relu=%d", t->n, t->c, t->h,
             t->w, t->out, t->bias, t->fuse_relu);
    const lmn_linear_params p = {.out_features = t->out, .bias = t->bias,
                                 .fuse_relu = t->fuse_relu};
    const lmn_act_desc in = lmn_act_dense(t->n, t->c, t->h, t->w);
    lmn_act_desc ref_out, dnnl_out;
    lmn_op *ref_op = lmn_kt_linear(ref, &p, &in, &ref_out);
    lmn_op *dnnl_op = lmn_kt_linear(dnnl, &p, &in, &dnnl_out);
    if (!ref_op || !dnnl_op) return;
    CHECK(dnnl_out.layout == NULL && dnnl_out.n == t->n && dnnl_out.c == t->out &&
          dnnl_out.h == 1 && dnnl_out.w == 1 && dnnl_out.floats == ref_out.floats);

    const size_t features = (size_t)t->c * t->h * t->w, n_w = (size_t)t->out * features;
    float *x = lmn_kt_random(in.floats, seed), *w = lmn_kt_random(n_w, seed + 1);
    float *b = t->bias ? lmn_kt_random((size_t)t->out, seed + 2) : NULL;
    float *dy = lmn_kt_random(ref_out.floats, seed + 3);

    float *y_ref = lmn_kt_zeros(ref_out.floats), *y_dnnl = lmn_kt_random(ref_out.floats, 5);
    CHECK_OK(ref->linear_forward(ref_op, x, w, b, y_ref));
    CHECK_OK(dnnl->linear_forward(dnnl_op, x, w, b, y_dnnl));
    lmn_dt_check(y_dnnl, y_ref, ref_out.floats, "forward", name);

    float *dx_ref = lmn_kt_zeros(in.floats), *dx_dnnl = lmn_kt_random(in.floats, 6);
    CHECK_OK(ref->linear_backward_data(ref_op, dy, w, dx_ref));
    CHECK_OK(dnnl->linear_backward_data(dnnl_op, dy, w, dx_dnnl));
    lmn_dt_check(dx_dnnl, dx_ref, in.floats, "backward data", name);

    float *dw_ref = lmn_kt_zeros(n_w), *dw_dnnl = lmn_kt_random(n_w, 7);
    float *db_ref = lmn_kt_zeros((size_t)t->out), *db_dnnl = lmn_kt_random((size_t)t->out, 8);
    CHECK_OK(ref->linear_backward_weights(ref_op, x, dy, dw_ref, t->bias ? db_ref : NULL));
    CHECK_OK(dnnl->linear_backward_weights(dnnl_op, x, dy, dw_dnnl, t->bias ? db_dnnl : NULL));
    lmn_dt_check(dw_dnnl, dw_ref, n_w, "backward weights", name);
    if (t->bias) lmn_dt_check(db_dnnl, db_ref, (size_t)t->out, "backward bias", name);

    float *buffers[] = {x, w, b, dy, y_ref, y_dnnl, dx_ref, dx_dnnl, dw_ref, dw_dnnl, db_ref,
                        db_dnnl};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    ref->op_destroy(ref_op);
    dnnl->op_destroy(dnnl_op);
}

static void test_blocked_input_refused(lmn_backend *dnnl)
{
    lmn_op *producer = NULL;
    const lmn_act_desc in = lmn_dt_blocked_desc(dnnl, 2, 5, 4, 4, &producer);
    const lmn_linear_params p = {.out_features = 3};
    lmn_act_desc out;
    lmn_op *op = NULL;
    if (in.layout) CHECK(dnnl->linear_create(dnnl, &p, &in, &op, &out) == LMN_ERR_ARG);
    CHECK(op == NULL);
    if (producer) dnnl->op_destroy(producer);
}

int main(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    lmn_backend *dnnl = lmn_kt_backend("dnnl");
    const linear_case cases[] = {
        {3, 5, 2, 2, 7, true, false},   {3, 5, 2, 2, 7, false, true},
        {4, 33, 1, 1, 1, true, true},   {5, 16, 7, 7, 13, true, false},
        {1, 11, 1, 1, 10, false, false}, {16, 64, 1, 1, 10, true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(ref, dnnl, &cases[i], 4000 + 10 * i);
    test_blocked_input_refused(dnnl);
    lmn_backend_destroy(ref);
    lmn_backend_destroy(dnnl);
    return lmn_test_summary("test_dnnl_linear");
}
