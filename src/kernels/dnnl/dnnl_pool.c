/* 2-D and 3-D max / average pooling on oneDNN, in the input's layout
 * (one implementation; the 3-D op takes 5-D descs, NCDHW or nCdhw16c, ...).
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
    const char *name; /* "pool2d" or "pool3d", for messages */
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

/* Both parameter structs in one shape. */
typedef struct pool_spec {
    lmn_dnnl_window window;
    lmn_pool_kind kind;
} pool_spec;

static pool_spec spec_2d(const lmn_pool2d_params *p)
{
    pool_spec s = {.window = LMN_DNNL_WINDOW_2D("pool2d", p), .kind = p->kind};
    return s;
}

static pool_spec spec_3d(const lmn_pool3d_params *p)
{
    pool_spec s = {.window = LMN_DNNL_WINDOW_3D("pool3d", p), .kind = p->kind};
    return s;
}

typedef struct pool_geometry {
    int ndims; /* 4 (NCHW) or 5 (NCDHW) */
    dnnl_alg_kind_t alg;
    dnnl_dims_t dst_dims, strides, kernel, padding;
} pool_geometry;

/* Beyond half a kernel a window could lie entirely in the padding. */
static bool padding_within_half_kernel(const lmn_dnnl_window *w)
{
    bool within = true;
    for (int a = 0; a < w->spatial; a++) within = within && 2 * w->pad[a] <= w->kernel[a];
    return within;
}

static lmn_status pool_geometry_init(const pool_spec *p, const lmn_act_desc *in,
                                     pool_geometry *g)
{
    const lmn_dnnl_window *w = &p->window;
    const bool known_kind = p->kind == LMN_POOL_MAX || p->kind == LMN_POOL_AVG;
    if (!known_kind || !lmn_dnnl_window_valid(w) || !padding_within_half_kernel(w)) {
        char text[160];
        return lmn_fail(LMN_ERR_ARG, "%s: invalid params (%s; padding may be at most half the "
                        "kernel)", w->name, lmn_dnnl_window_text(w, text, sizeof text));
    }
    dnnl_dims_t in_dims;
    LMN_TRY(lmn_dnnl_window_geometry(w, in, in_dims, g->dst_dims + 2, g->strides, g->padding));
    g->ndims = w->spatial + 2;
    g->alg = p->kind == LMN_POOL_MAX ? dnnl_pooling_max : dnnl_pooling_avg_include_padding;
    g->dst_dims[0] = in->n;
    g->dst_dims[1] = in->c;
    for (int a = 0; a < w->spatial; a++) g->kernel[a] = w->kernel[a];
    return LMN_OK;
}

static lmn_status forward_pd(lmn_dnnl *dnnl, dnnl_prop_kind_t kind, const pool_geometry *g,
                             const dnnl_memory_desc_t *src, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t dst;
    /* The output keeps the input's element type (bf16 stays bf16). */
    LMN_DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst, g->ndims, g->dst_dims, src->data_type,
                                              dnnl_format_tag_any),
                 "describing the pooling output");
    dnnl_pooling_desc_t desc;
    LMN_DNNL_TRY(dnnl_pooling_forward_desc_init(&desc, kind, g->alg, src, &dst, g->strides,
                                                g->kernel, g->padding, g->padding),
                 "describing the pooling forward");
    LMN_DNNL_TRY(dnnl_primitive_desc_create(pd, &desc, NULL, dnnl->engine, NULL),
                 "choosing a pooling forward");
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
                 "describing the pooling backward");
    LMN_DNNL_TRY(dnnl_primitive_desc_create(pd, &desc, NULL, dnnl->engine, hint),
                 "choosing a pooling backward");
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

static lmn_status pool_setup(pool_op *op, const pool_spec *p, const lmn_act_desc *in,
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
    if (st == LMN_OK) st = lmn_dnnl_primitive(train, &op->train, "creating pooling forward");
    if (st == LMN_OK) st = lmn_dnnl_primitive(infer, &op->infer, "creating pooling inference");
    if (st == LMN_OK) st = lmn_dnnl_primitive(backward, &op->backward, "creating pooling backward");
    if (st == LMN_OK)
        lmn_dnnl_describe_act(lmn_dnnl_pd_md(train, dnnl_query_dst_md), &op->out_layout, out);
    lmn_dnnl_pd_free(train);
    lmn_dnnl_pd_free(infer);
    lmn_dnnl_pd_free(backward);
    return st;
}

static lmn_status pool_create(lmn_backend *be, const pool_spec *p, const lmn_act_desc *in,
                              lmn_op **out_op, lmn_act_desc *out, size_t *workspace_bytes)
{
    *out_op = NULL;
    *workspace_bytes = 0;
    pool_op *op = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&op, sizeof *op, "dnnl pooling op"));
    op->base.dnnl = (lmn_dnnl *)be->impl;
    op->base.destroy = pool_destroy;
    op->name = p->window.name;
    lmn_status st = pool_setup(op, p, in, out, workspace_bytes);
    if (st != LMN_OK) {
        pool_destroy(&op->base);
        *workspace_bytes = 0;
        char k[40];
        return lmn_fail_context(st, "%s %s %s on input [%d,%d,%d,%d] (depth %d)",
                                p->kind == LMN_POOL_MAX ? "max" : "avg", p->window.name,
                                lmn_dnnl_axes_text(p->window.kernel, p->window.spatial, k,
                                                   sizeof k),
                                in->n, in->c, in->h, in->w, in->d);
    }
    *out_op = &op->base;
    return LMN_OK;
}

lmn_status lmn_dnnl_pool2d_create(lmn_backend *be, const lmn_pool2d_params *p,
                                  const lmn_act_desc *in, lmn_op **out_op, lmn_act_desc *out,
                                  size_t *workspace_bytes)
{
    const pool_spec spec = spec_2d(p);
    return pool_create(be, &spec, in, out_op, out, workspace_bytes);
}

lmn_status lmn_dnnl_pool3d_create(lmn_backend *be, const lmn_pool3d_params *p,
                                  const lmn_act_desc *in, lmn_op **out_op, lmn_act_desc *out,
                                  size_t *workspace_bytes)
{
    const pool_spec spec = spec_3d(p);
    return pool_create(be, &spec, in, out_op, out, workspace_bytes);
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
        return lmn_dnnl_execute(base->dnnl, op->train, 3, args, "running pooling forward");
    }
    return lmn_dnnl_execute(base->dnnl, op->infer, 2, args, "running pooling forward");
}

lmn_status lmn_dnnl_pool2d_backward(lmn_op *base, const float *dy, const void *workspace,
                                    float *dx)
{
    pool_op *op = (pool_op *)base;
    if (op->has_workspace && !workspace)
        return lmn_fail(LMN_ERR_ARG, "max %s backward needs the workspace written by the "
                        "training forward (got NULL)", op->name);
    LMN_TRY(lmn_dnnl_bind(op->diff_dst, dy));
    LMN_TRY(lmn_dnnl_bind(op->diff_src, dx));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, op->diff_dst},
                               {DNNL_ARG_DIFF_SRC, op->diff_src},
                               {DNNL_ARG_WORKSPACE, op->backward_workspace}};
    if (op->has_workspace) LMN_TRY(lmn_dnnl_bind(op->backward_workspace, workspace));
    return lmn_dnnl_execute(base->dnnl, op->backward, op->has_workspace ? 3 : 2, args,
                            "running pooling backward");
}

/* The 3-D entry points: the same primitives, created from 5-D descs. */
lmn_status lmn_dnnl_pool3d_forward(lmn_op *op, const float *x, float *y, void *workspace)
{
    return lmn_dnnl_pool2d_forward(op, x, y, workspace);
}

lmn_status lmn_dnnl_pool3d_backward(lmn_op *op, const float *dy, const void *workspace,
                                    float *dx)
{
    return lmn_dnnl_pool2d_backward(op, dy, workspace, dx);
}
