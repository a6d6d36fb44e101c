/* dnnl pool2d equals the ref pool2d (forward and backward, max with its
 * workspace and average with padding counted) on odd shapes, from dense
 * and from blocked inputs; the output keeps the input's layout. */
#include <stdio.h>

#include "test_dnnl_common.h"

typedef struct pool_case {
    int n, c, h, w;
    lmn_pool2d_params p;
    bool blocked_input;
} pool_case;

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const pool_case *t, uint64_t seed)
{
    char name[128];
    snprintf(name, sizeof name, "%s N=%d C=%d %dx%d k=%dx%d s=%dx%d p=%dx%d blocked=%d",
             t->p.kind == LMN_POOL_MAX ? "max" : "avg", t->n, t->c, t->h, t->w, t->p.kernel_h,
             t->p.kernel_w, t->p.stride_h, t->p.stride_w, t->p.pad_h, t->p.pad_w,
             t->blocked_input);
    lmn_op *producer = NULL;
    lmn_dt_op_pair o = {.ref_in = lmn_act_dense(t->n, t->c, t->h, t->w)};
    o.dnnl_in = t->blocked_input
                    ? lmn_dt_blocked_desc(dnnl, t->n, t->c, t->h, t->w, &producer)
                    : o.ref_in;
    size_t ref_ws = 0, dnnl_ws = 0;
    o.ref_op = lmn_kt_pool(ref, &t->p, &o.ref_in, &o.ref_out, &ref_ws);
    o.dnnl_op = lmn_kt_pool(dnnl, &t->p, &o.dnnl_in, &o.dnnl_out, &dnnl_ws);
    if (o.ref_op && o.dnnl_op)
        lmn_dt_compare_pool(ref, dnnl, &o, t->p.kind, ref_ws, dnnl_ws, seed, name);
    lmn_dt_op_pair_destroy(ref, dnnl, &o, producer);
}

static lmn_pool2d_params pool(lmn_pool_kind kind, int kh, int kw, int s, int pad)
{
    lmn_pool2d_params p = {.kind = kind, .kernel_h = kh, .kernel_w = kw, .stride_h = s,
                           .stride_w = s, .pad_h = pad, .pad_w = pad};
    return p;
}

/* Global average pooling of a 16-channel-multiple blocked input yields
 * [N,C,1,1], byte-identical to dense: reported as dense, so a linear layer
 * accepts it directly. */
static void test_global_pool_is_dense(lmn_backend *dnnl)
{
    lmn_op *producer = NULL;
    const lmn_act_desc in = lmn_dt_blocked_desc(dnnl, 2, 32, 8, 8, &producer);
    const lmn_pool2d_params p = pool(LMN_POOL_AVG, 8, 8, 1, 0);
    lmn_act_desc out;
    size_t ws = 1;
    lmn_op *op = lmn_kt_pool(dnnl, &p, &in, &out, &ws);
    CHECK(ws == 0);
    CHECK(out.layout == NULL);
    CHECK(out.floats == 2 * 32);
    const lmn_linear_params lp = {.out_features = 3};
    lmn_act_desc linear_out;
    lmn_op *linear = lmn_kt_linear(dnnl, &lp, &out, &linear_out);
    if (linear) dnnl->op_destroy(linear);
    if (op) dnnl->op_destroy(op);
    if (producer) dnnl->op_destroy(producer);
}

static void test_bad_params(lmn_backend *dnnl)
{
    const lmn_act_desc in = lmn_act_dense(1, 2, 6, 6);
    lmn_act_desc out;
    size_t ws;
    lmn_op *op = NULL;
    lmn_pool2d_params p = pool(LMN_POOL_MAX, 2, 2, 2, 2);
    CHECK(dnnl->pool2d_create(dnnl, &p, &in, &op, &out, &ws) == LMN_ERR_ARG);
    p = pool(LMN_POOL_AVG, 9, 9, 1, 0);
    CHECK(dnnl->pool2d_create(dnnl, &p, &in, &op, &out, &ws) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
}

int main(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    lmn_backend *dnnl = lmn_kt_backend("dnnl");
    pool_case cases[] = {
        {3, 5, 11, 11, pool(LMN_POOL_MAX, 2, 2, 2, 0), false},
        {3, 5, 11, 11, pool(LMN_POOL_MAX, 2, 2, 2, 0), true},
        {2, 16, 9, 9, pool(LMN_POOL_MAX, 3, 3, 2, 1), true},
        {2, 20, 7, 10, pool(LMN_POOL_MAX, 3, 2, 1, 1), true},
        {3, 5, 11, 11, pool(LMN_POOL_AVG, 3, 3, 2, 1), false},
        {2, 17, 9, 9, pool(LMN_POOL_AVG, 3, 3, 1, 1), true},
        {2, 20, 8, 8, pool(LMN_POOL_AVG, 8, 8, 1, 0), true},
        {2, 6, 7, 5, pool(LMN_POOL_AVG, 7, 5, 1, 0), false},
        {4, 3, 6, 9, pool(LMN_POOL_AVG, 2, 3, 2, 1), true},
    };
    cases[3].p.stride_w = 2;
    cases[3].p.pad_w = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(ref, dnnl, &cases[i], 2000 + 10 * i);
    test_global_pool_is_dense(dnnl);
    test_bad_params(dnnl);
    lmn_backend_destroy(ref);
    lmn_backend_destroy(dnnl);
    return lmn_test_summary("test_dnnl_pool");
}
