/* 2-D max / average pooling on oneDNN, in the input's layout.
 *
 * The output keeps the input's layout family (oneDNN picks the dst format
 * matching src), so pooling between convs costs no reorder. Max pooling in
 * training records the argmax positions in a caller-owned workspace;
 * with a NULL workspace forward runs an inference primitive instead. */
#include "core/memory.h"
#include "kernels/dnnl/dnnl_internal.h"

typedef struct pool_op {
    lmn_op base;
    lmn_layout out_layout;
    bool has_workspace;
    dnnl_primitive_t train, infer, backward;
    dnnl_memory_t src, dst, workspace, diff_dst, diff_src, backward_workspace;
} pool_op;

static void pool_destroy(lmn_op *base)
{
    pool_op *op = (pool_op *)base;
    lmn_dnnl_primitive_free(op->train);
    lmn_dnnl_primitive_free(op->infer);
    lmn_dnnl_primitive_free(op->backward);
    dnnl_memory_t mems[] = {op->src,      op->dst,      op->workspace,
                            op->diff_dst, op->diff_src, op->backward_workspace};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++) lmn_dnnl_memory_free(mems[i]);
    lmn_free(op);
}

typedef struct pool_geometry {
    dnnl_alg_kind_t alg;
    dnnl_dims_t dst_dims, strides, kernel, padding;
} pool_geometry;

static lmn_status pool_geometry_init(const lmn_pool2d_params *p, const lmn_act_desc *in,
                                     pool_geometry *g)
{
    if ((p->kind != LMN_POOL_MAX && p->kind != LMN_POOL_AVG) || p->kernel_h <= 0 || p->kernel_w <= 0 || p->stride_h <= 0 || p->stride_w <= 0 ||
        p->pad_h < 0 || p->pad_w < 0 || 2 * p->pad_h > p->kernel_h || 2 * p->pad_w > p->kernel_w)
        return lmn_fail(LMN_ERR_ARG, "pool2d: invalid params (kernel %dx%d, stride %dx%d, "
                        "pad %dx%d; padding may be at most half the kernel)",
                        p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h,
                        p->pad_w);
    if (in->h + 2 * p->pad_h < p->kernel_h || in->w + 2 * p->pad_w < p->kernel_w)
        return lmn_fail(LMN_ERR_SHAPE, "pool2d: window %dx%d larger than the padded input "
                        "%dx%d", p->kernel_h, p->kernel_w, in->h, in->w);
    g->alg = p->kind == LMN_POOL_MAX ? dnnl_pooling_max : dnnl_pooling_avg_include_padding;
    g->dst_dims[0] = in->n;
    g->dst_dims[1] = in->c;
    g->dst_dims[2] = (in->h + 2 * p->pad_h - p->kernel_h) / p->stride_h + 1;
    g->dst_dims[3] = (in->w + 2 * p->pad_w - p->kernel_w) / p->stride_w + 1;
    g->strides[0] = p->stride_h;
    g->strides[1] = p->stride_w;
    g->kernel[0] = p->kernel_h;
    g->kernel[1] = p->kernel_w;
    g->padding[0] = p->pad_h;
    g->padding[1] = p->pad_w;
    return LMN_OK;
}

static lmn_status forward_pd(lmn_dnnl *dnnl, dnnl_prop_kind_t kind, const pool_geometry *g,
                             const dnnl_memory_desc_t *src, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t dst;
    LMN_DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst, 4, g->dst_dims, dnnl_f32,
                                              dnnl_format_tag_any),
                 "describing the pool2d output");
    dnnl_pooling_desc_t desc;
    LMN_DNNL_TRY(dnnl_pooling_forward_desc_init(&desc, kind, g->alg, src, &dst, g->strides,
                                                g->kernel, g->padding, g->padding),
                 "describing the pool2d forward");
    LMN_DNNL_TRY(dnnl_primitive_desc_create(pd, &desc, NULL, dnnl->engine, NULL),
                 "choosing a pool2d forward");
    return LMN_OK;
}

static lmn_status backward_pd(lmn_dnnl *dnnl, const pool_geometry *g,
                              const dnnl_memory_desc_t *src, const_dnnl_primitive_desc_t hint,
                              dnnl_primitive_desc_t *pd)
{
    dnnl_pooling_desc_t desc;
    LMN_DNNL_TRY(dnnl_pooling_backward_desc_init(&desc, g->alg, src,
                                                 lmn_dnnl_pd_md(hint, dnnl_query_dst_md),
                                                 g->strides, g->kernel, g->padding, g->padding),
                 "describing the pool2d backward");
    LMN_DNNL_TRY(dnnl_primitive_desc_create(pd, &desc, NULL, dnnl->engine, hint),
                 "choosing a pool2d backward");
    return LMN_OK;
}

static lmn_status pool_memories(pool_op *op, const dnnl_memory_desc_t *src,
                                const_dnnl_primitive_desc_t train)
{
    lmn_dnnl *dnnl = op->base.dnnl;
    const dnnl_memory_desc_t *dst = lmn_dnnl_pd_md(train, dnnl_query_dst_md);
    LMN_TRY(lmn_dnnl_memory(dnnl, src, &op->src));
    LMN_TRY(lmn_dnnl_memory(dnnl, dst, &op->dst));
    LMN_TRY(lmn_dnnl_memory(dnnl, src, &op->diff_src));
    LMN_TRY(lmn_dnnl_memory(dnnl, dst, &op->diff_dst));
    if (!op->has_workspace) return LMN_OK;
    const dnnl_memory_desc_t *ws = lmn_dnnl_pd_md(train, dnnl_query_workspace_md);
    LMN_TRY(lmn_dnnl_memory(dnnl, ws, &op->workspace));
    return lmn_dnnl_memory(dnnl, ws, &op->backward_workspace);
}

static lmn_status pool_setup(pool_op *op, const lmn_pool2d_params *p, const lmn_act_desc *in,
                             lmn_act_desc *out, size_t *workspace_bytes)
{
    pool_geometry g;
    dnnl_memory_desc_t src;
    LMN_TRY(pool_geometry_init(p, in, &g));
    LMN_TRY(lmn_dnnl_act_md(in, &src));
    lmn_dnnl *dnnl = op->base.dnnl;
    dnnl_primitive_desc_t train = NULL, infer = NULL, backward = NULL;
    lmn_status st = forward_pd(dnnl, dnnl_forward_training, &g, &src, &train);
    if (st == LMN_OK) st = forward_pd(dnnl, dnnl_forward_inference, &g, &src, &infer);
    if (st == LMN_OK) st = backward_pd(dnnl, &g, &src, train, &backward);
    if (st == LMN_OK) {
        const dnnl_memory_desc_t *ws = lmn_dnnl_pd_md(train, dnnl_query_workspace_md);
        *workspace_bytes = ws ? dnnl_memory_desc_get_size(ws) : 0;
        op->has_workspace = *workspace_bytes > 0;
        st = pool_memories(op, &src, train);
    }
    if (st == LMN_OK) st = lmn_dnnl_primitive(train, &op->train, "creating pool2d forward");
    if (st == LMN_OK) st = lmn_dnnl_primitive(infer, &op->infer, "creating pool2d inference");
    if (st == LMN_OK) st = lmn_dnnl_primitive(backward, &op->backward, "creating pool2d backward");
    if (st == LMN_OK)
        lmn_dnnl_describe_act(lmn_dnnl_pd_md(train, dnnl_query_dst_md), &op->out_layout, out);
    lmn_dnnl_pd_free(train);
    lmn_dnnl_pd_free(infer);
    lmn_dnnl_pd_free(backward);
    return st;
}

lmn_status lmn_dnnl_pool2d_create(lmn_backend *be, const lmn_pool2d_params *p,
                                  const lmn_act_desc *in, lmn_op **out_op, lmn_act_desc *out,
                                  size_t *workspace_bytes)
{
    *out_op = NULL;
    *workspace_bytes = 0;
    pool_op *op = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&op, sizeof *op, "dnnl pool2d op"));
    op->base.dnnl = (lmn_dnnl *)be->impl;
    op->base.destroy = pool_destroy;
    lmn_status st = pool_setup(op, p, in, out, workspace_bytes);
    if (st != LMN_OK) {
        pool_destroy(&op->base);
        *workspace_bytes = 0;
        return lmn_fail_context(st, "%s pool2d %dx%d on input [%d,%d,%d,%d]",
                                p->kind == LMN_POOL_MAX ? "max" : "avg", p->kernel_h,
                                p->kernel_w, in->n, in->c, in->h, in->w);
    }
    *out_op = &op->base;
    return LMN_OK;
}

lmn_status lmn_dnnl_pool2d_forward(lmn_op *base, const float *x, float *y, void *workspace)
{
    pool_op *op = (pool_op *)base;
    LMN_TRY(lmn_dnnl_bind(op->src, x));
    LMN_TRY(lmn_dnnl_bind(op->dst, y));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, op->src},
                               {DNNL_ARG_DST, op->dst},
                               {DNNL_ARG_WORKSPACE, op->workspace}};
    if (op->has_workspace && workspace) {
        LMN_TRY(lmn_dnnl_bind(op->workspace, workspace));
        return lmn_dnnl_execute(base->dnnl, op->train, 3, args, "running pool2d forward");
    }
    return lmn_dnnl_execute(base->dnnl, op->infer, 2, args, "running pool2d forward");
}

lmn_status lmn_dnnl_pool2d_backward(lmn_op *base, const float *dy, const void *workspace,
                                    float *dx)
{
    pool_op *op = (pool_op *)base;
    if (op->has_workspace && !workspace)
        return lmn_fail(LMN_ERR_ARG, "max pool2d backward needs the workspace written by the "
                        "training forward (got NULL)");
    LMN_TRY(lmn_dnnl_bind(op->diff_dst, dy));
    LMN_TRY(lmn_dnnl_bind(op->diff_src, dx));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, op->diff_dst},
                               {DNNL_ARG_DIFF_SRC, op->diff_src},
                               {DNNL_ARG_WORKSPACE, op->backward_workspace}};
    if (op->has_workspace) LMN_TRY(lmn_dnnl_bind(op->backward_workspace, workspace));
    return lmn_dnnl_execute(base->dnnl, op->backward, op->has_workspace ? 3 : 2, args,
                            "running pool2d backward");
}
