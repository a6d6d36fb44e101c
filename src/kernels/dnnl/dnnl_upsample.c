/* 2-D upsampling on oneDNN.
 *
 * Nearest runs oneDNN's resampling primitive (nearest, integer factor r):
 * its index rule round((o + 0.5) / r - 0.5) equals floor(o / r) for an
 * integer r, which is PyTorch's nn.Upsample(mode='nearest'). The output
 * keeps the input's layout family (nChw16c in, nChw16c out), like pooling.
 *
 * Pixel shuffle has no oneDNN primitive, and it cannot be a reorder of a
 * blocked layout either: it moves channels into space, so a 16-channel
 * block of the input ends up spread over r*r pixels of 16/(r*r) channels.
 * It therefore works on dense NCHW: the input is reordered to a dense copy
 * (no copy when it is dense already), a plain OpenMP gather writes the
 * output, and the op reports a dense output; the next dnnl layer reorders
 * into the layout it prefers. Backward is the mirror: a gather into a dense
 * dx, reordered into the input's layout. */
#include "core/memory.h"
#include "kernels/dnnl/dnnl_internal.h"

typedef struct upsample_op {
    lmn_op base;
    lmn_layout out_layout;
    lmn_upsample_params p;
    lmn_act_desc in, out; /* logical shapes (layouts as reported) */
    /* nearest: oneDNN resampling */
    dnnl_primitive_t forward, backward;
    dnnl_memory_t src, dst, diff_dst, diff_src;
    /* pixel shuffle: caller's input layout <-> dense */
    lmn_dnnl_convert x_dense, dx_dense;
} upsample_op;

static void upsample_destroy(lmn_op *base)
{
    upsample_op *op = (upsample_op *)base;
    lmn_dnnl_primitive_free(op->forward);
    lmn_dnnl_primitive_free(op->backward);
    dnnl_memory_t mems[] = {op->src, op->dst, op->diff_dst, op->diff_src};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++) lmn_dnnl_memory_free(mems[i]);
    lmn_dnnl_convert_free(&op->x_dense);
    lmn_dnnl_convert_free(&op->dx_dense);
    lmn_free(op);
}

static lmn_status check_params(const lmn_upsample_params *p, const lmn_act_desc *in)
{
    const int r = p->factor;
    if (p->kind != LMN_UPSAMPLE_NEAREST && p->kind != LMN_UPSAMPLE_PIXEL_SHUFFLE)
        return lmn_fail(LMN_ERR_ARG, "upsample: unknown upsampling kind %d", (int)p->kind);
    if (in->d != 0)
        return lmn_fail(LMN_ERR_SHAPE, "upsample: input [%d,%d,%d,%d] is 3-D (depth %d); "
                        "upsampling is 2-D only", in->n, in->c, in->h, in->w, in->d);
    if (r < 1 || (long long)in->h * r > 1 << 30 || (long long)in->w * r > 1 << 30)
        return lmn_fail(LMN_ERR_ARG, "upsample: factor %d on a %dx%d input: the factor must be "
                        ">= 1 and the output at most 2^30 per side", r, in->h, in->w);
    if (p->kind == LMN_UPSAMPLE_PIXEL_SHUFFLE && in->c % (r * r) != 0)
        return lmn_fail(LMN_ERR_SHAPE,
                        "upsample: pixel shuffle by %d needs input channels divisible by %d, got "
                        "%d; give the previous layer a multiple of %d channels",
                        r, r * r, in->c, r * r);
    return LMN_OK;
}

static lmn_status nearest_setup(upsample_op *op, const dnnl_memory_desc_t *src,
                                lmn_act_desc *out)
{
    lmn_dnnl *dnnl = op->base.dnnl;
    const float factors[2] = {(float)op->p.factor, (float)op->p.factor};
    const dnnl_dims_t dst_dims = {op->in.n, op->in.c, (dnnl_dim_t)op->in.h * op->p.factor,
                                  (dnnl_dim_t)op->in.w * op->p.factor};
    dnnl_memory_desc_t dst_any;
    LMN_DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst_dims, dnnl_f32,
                                              dnnl_format_tag_any),
                 "describing the upsample output");
    dnnl_resampling_desc_t fwd_desc, bwd_desc;
    LMN_DNNL_TRY(dnnl_resampling_forward_desc_init(&fwd_desc, dnnl_forward_training,
                                                   dnnl_resampling_nearest, factors, src,
                                                   &dst_any),
                 "describing the nearest upsample forward");
    dnnl_primitive_desc_t fwd = NULL, bwd = NULL;
    LMN_DNNL_TRY(dnnl_primitive_desc_create(&fwd, &fwd_desc, NULL, dnnl->engine, NULL),
                 "choosing a nearest upsample forward");
    const dnnl_memory_desc_t *dst = lmn_dnnl_pd_md(fwd, dnnl_query_dst_md);
    lmn_status st = lmn_dnnl_check(
        dnnl_resampling_backward_desc_init(&bwd_desc, dnnl_resampling_nearest, factors, src, dst),
        "dnnl_resampling_backward_desc_init", "describing the nearest upsample backward");
    if (st == LMN_OK)
        st = lmn_dnnl_check(dnnl_primitive_desc_create(&bwd, &bwd_desc, NULL, dnnl->engine, fwd),
                            "dnnl_primitive_desc_create", "choosing a nearest upsample backward");
    if (st == LMN_OK) st = lmn_dnnl_primitive(fwd, &op->forward, "creating upsample forward");
    if (st == LMN_OK) st = lmn_dnnl_primitive(bwd, &op->backward, "creating upsample backward");
    if (st == LMN_OK) st = lmn_dnnl_memory(dnnl, src, &op->src);
    if (st == LMN_OK) st = lmn_dnnl_memory(dnnl, dst, &op->dst);
    if (st == LMN_OK)
        st = lmn_dnnl_memory(dnnl, lmn_dnnl_pd_md(bwd, dnnl_query_diff_src_md), &op->diff_src);
    if (st == LMN_OK)
        st = lmn_dnnl_memory(dnnl, lmn_dnnl_pd_md(bwd, dnnl_query_diff_dst_md), &op->diff_dst);
    if (st == LMN_OK) lmn_dnnl_describe_act(dst, &op->out_layout, out);
    lmn_dnnl_pd_free(fwd);
    lmn_dnnl_pd_free(bwd);
    return st;
}

static lmn_status shuffle_setup(upsample_op *op, const dnnl_memory_desc_t *src,
                                lmn_act_desc *out)
{
    const int r = op->p.factor;
    const lmn_act_desc dense_in = lmn_act_dense(op->in.n, op->in.c, op->in.h, op->in.w);
    dnnl_memory_desc_t dense;
    LMN_TRY(lmn_dnnl_dense_md(&dense_in, &dense));
    LMN_TRY(lmn_dnnl_convert_input(op->base.dnnl, src, &dense, &op->x_dense));
    LMN_TRY(lmn_dnnl_convert_output(op->base.dnnl, &dense, src, &op->dx_dense));
    *out = lmn_act_dense(op->in.n, op->in.c / (r * r), op->in.h * r, op->in.w * r);
    return LMN_OK;
}

lmn_status lmn_dnnl_upsample_create(lmn_backend *be, const lmn_upsample_params *p,
                                    const lmn_act_desc *in, lmn_op **out_op, lmn_act_desc *out)
{
    *out_op = NULL;
    LMN_TRY(check_params(p, in));
    dnnl_memory_desc_t src;
    LMN_TRY(lmn_dnnl_act_md(in, &src));
    upsample_op *op = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&op, sizeof *op, "dnnl upsample op"));
    op->base.dnnl = (lmn_dnnl *)be->impl;
    op->base.destroy = upsample_destroy;
    op->p = *p;
    op->in = *in;
    lmn_status st = p->kind == LMN_UPSAMPLE_NEAREST ? nearest_setup(op, &src, out)
                                                    : shuffle_setup(op, &src, out);
    if (st != LMN_OK) {
        upsample_destroy(&op->base);
        return lmn_fail_context(st, "%s upsample by %d on input [%d,%d,%d,%d]",
                                p->kind == LMN_UPSAMPLE_NEAREST ? "nearest" : "pixel-shuffle",
                                p->factor, in->n, in->c, in->h, in->w);
    }
    op->out = *out;
    *out_op = &op->base;
    return LMN_OK;
}

/* out[n][c][oh][ow] = in[n][c*r*r + (oh%r)*r + ow%r][oh/r][ow/r], one output
 * row per iteration (dense NCHW on both sides). */
static void shuffle_gather(const upsample_op *op, const float *x, float *y)
{
    const int r = op->p.factor, C = op->in.c, H = op->in.h, W = op->in.w;
    const int OC = op->out.c, OH = op->out.h, OW = op->out.w;
    const long long rows = (long long)op->in.n * OC * OH;
#pragma omp parallel for schedule(static)
    for (long long row = 0; row < rows; row++) {
        const int oh = (int)(row % OH), oc = (int)(row / OH % OC), n = (int)(row / OH / OC);
        const int i = oh % r, h = oh / r;
        float *out_row = y + (size_t)row * OW;
        for (int ow = 0; ow < OW; ow++) {
            const int c = oc * r * r + i * r + ow % r;
            out_row[ow] = x[(((size_t)n * C + c) * H + h) * W + ow / r];
        }
    }
}

/* The transpose: dx[n][c][h][w] = dy[n][c/(r*r)][h*r + i][w*r + j] with
 * (i, j) = ((c % (r*r)) / r, c % r), one input row per iteration. */
static void unshuffle_gather(const upsample_op *op, const float *dy, float *dx)
{
    const int r = op->p.factor, C = op->in.c, H = op->in.h, W = op->in.w;
    const int OC = op->out.c, OH = op->out.h, OW = op->out.w;
    const long long rows = (long long)op->in.n * C * H;
#pragma omp parallel for schedule(static)
    for (long long row = 0; row < rows; row++) {
        const int h = (int)(row % H), c = (int)(row / H % C), n = (int)(row / H / C);
        const int sub = c % (r * r), i = sub / r, j = sub % r;
        const float *dy_row = dy + (((size_t)n * OC + c / (r * r)) * OH + (size_t)h * r + i) * OW;
        float *dx_row = dx + (size_t)row * W;
        for (int w = 0; w < W; w++) dx_row[w] = dy_row[(size_t)w * r + j];
    }
}

lmn_status lmn_dnnl_upsample_forward(lmn_op *base, const float *x, float *y)
{
    upsample_op *op = (upsample_op *)base;
    if (!x || !y) return lmn_fail(LMN_ERR_ARG, "upsample forward: x or y is NULL");
    if (op->p.kind == LMN_UPSAMPLE_PIXEL_SHUFFLE) {
        const float *dense = NULL;
        LMN_TRY(lmn_dnnl_convert_in(base->dnnl, &op->x_dense, x, &dense));
        shuffle_gather(op, dense, y);
        return LMN_OK;
    }
    LMN_TRY(lmn_dnnl_bind(op->src, x));
    LMN_TRY(lmn_dnnl_bind(op->dst, y));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, op->src}, {DNNL_ARG_DST, op->dst}};
    return lmn_dnnl_execute(base->dnnl, op->forward, 2, args, "running upsample forward");
}

lmn_status lmn_dnnl_upsample_backward(lmn_op *base, const float *dy, float *dx)
{
    upsample_op *op = (upsample_op *)base;
    if (!dy || !dx) return lmn_fail(LMN_ERR_ARG, "upsample backward: dy or dx is NULL");
    if (op->p.kind == LMN_UPSAMPLE_PIXEL_SHUFFLE) {
        float *gathered;
        LMN_TRY(lmn_dnnl_convert_target(&op->dx_dense, dx, &gathered));
        unshuffle_gather(op, dy, gathered);
        return lmn_dnnl_convert_out(base->dnnl, &op->dx_dense, dx);
    }
    LMN_TRY(lmn_dnnl_bind(op->diff_dst, dy));
    LMN_TRY(lmn_dnnl_bind(op->diff_src, dx));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_DIFF_DST, op->diff_dst},
                               {DNNL_ARG_DIFF_SRC, op->diff_src}};
    return lmn_dnnl_execute(base->dnnl, op->backward, 2, args, "running upsample backward");
}
