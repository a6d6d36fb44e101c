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
    lmn_dt_op_pair o = {.ref_in = lmn_act_dense3d(t->n, t->c, t->d, t->h, t->w)};
    o.dnnl_in = t->blocked_input
                    ? lmn_dt_blocked_desc3d(dnnl, t->n, t->c, t->d, t->h, t->w, &producer)
                    : o.ref_in;
    size_t ref_ws = 0, dnnl_ws = 0;
    o.ref_op = lmn_kt_pool3d(ref, &t->p, &o.ref_in, &o.ref_out, &ref_ws);
    o.dnnl_op = lmn_kt_pool3d(dnnl, &t->p, &o.dnnl_in, &o.dnnl_out, &dnnl_ws);
    if (o.ref_op && o.dnnl_op)
        lmn_dt_compare_pool(ref, dnnl, &o, t->p.kind, ref_ws, dnnl_ws, seed, name);
    lmn_dt_op_pair_destroy(ref, dnnl, &o, producer);
}

static void test_bad_params(lmn_backend *dnnl)
{
    const lmn_act_desc in = lmn_act_dense3d(1, 2, 4, 6, 6);
    lmn_act_desc out;
    size_t ws;
    lmn_op *op = NULL;
    lmn_pool3d_params p = lmn_kt_pool3d_params(LMN_POOL_MAX, 2, 2, 2, 2, 2);
    CHECK(dnnl->pool3d_create(dnnl, &p, &in, &op, &out, &ws) == LMN_ERR_ARG);
    p = lmn_kt_pool3d_params(LMN_POOL_AVG, 5, 3, 3, 1, 0);
    CHECK(dnnl->pool3d_create(dnnl, &p, &in, &op, &out, &ws) == LMN_ERR_SHAPE);
    const lmn_act_desc flat = lmn_act_dense(1, 2, 6, 6);
    p = lmn_kt_pool3d_params(LMN_POOL_AVG, 2, 2, 2, 2, 0);
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
        {3, 5, 7, 7, 7, lmn_kt_pool3d_params(LMN_POOL_MAX, 2, 2, 2, 2, 0), false},
        {2, 5, 7, 5, 6, lmn_kt_pool3d_params(LMN_POOL_MAX, 2, 2, 2, 2, 0), true},
        {2, 16, 5, 5, 5, lmn_kt_pool3d_params(LMN_POOL_MAX, 3, 3, 3, 2, 1), true},
        {2, 20, 5, 7, 6, lmn_kt_pool3d_params(LMN_POOL_MAX, 3, 2, 3, 1, 1), true},
        {3, 5, 7, 7, 5, lmn_kt_pool3d_params(LMN_POOL_AVG, 3, 3, 3, 2, 1), false},
        {2, 17, 5, 5, 5, lmn_kt_pool3d_params(LMN_POOL_AVG, 3, 3, 3, 1, 1), true},
        {2, 20, 4, 4, 4, lmn_kt_pool3d_params(LMN_POOL_AVG, 4, 4, 4, 1, 0), true},
        {2, 6, 3, 7, 5, lmn_kt_pool3d_params(LMN_POOL_AVG, 1, 3, 2, 1, 0), false},
        {4, 3, 5, 6, 9, lmn_kt_pool3d_params(LMN_POOL_AVG, 2, 2, 3, 2, 1), true},
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
