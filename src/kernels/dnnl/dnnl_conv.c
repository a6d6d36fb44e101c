/* 2-D and 3-D convolution on oneDNN (one implementation: the 3-D op is
 * the 2-D one with a depth axis; oneDNN takes 5-D descs the same way).
 *
 * The forward primitive chooses its activation layouts (format_tag_any);
 * its dst layout becomes the op's output layout, so the next layer reads
 * it without a reorder. An input in another layout is reordered into an
 * op-owned scratch. The backward primitives use the forward one's src/dst
 * layouts where oneDNN has fast kernels for them (see best_backward_pd), so
 * dy and dx usually need no conversion. Weights are dense OIHW at the
 * interface and reordered to each primitive's format at every call (they
 * are small next to the activations, and change at every step anyway).
 * 3-D weights are dense OIDHW, 3-D activations NCDHW or blocked (nCdhw16c,
 * nCdhw8c, ... as the primitive prefers).
 *
 * Under bf16 (lmn_backend.precision) the primitives read bf16 src, weights
 * and diff_dst, write bf16 dst, diff_src in the input's element type (bf16
 * from a bf16 producer, f32 for the network input) and f32 diff_weights
 * (oneDNN accumulates in f32). An fp32 input (the network's, or a layer
 * that computes in fp32) is rounded to bf16 by the reorder that brings it
 * into the primitive's layout; bf16 activations from the layer before pass
 * through. The optimizer and the reductions only ever see f32.
 *
 * Each conversion into bf16 is a full pass over the tensor, so the op
 * converts a tensor once where two primitives want it in the same layout:
 * backward weights reuses the forward's bf16 copy of x, and backward data
 * the bf16 copy of dy that backward weights made (the network calls
 * backward weights first). The copy is reused only for the same pointer
 * (kernels.h: x and dy are unchanged between the calls of one step).
 *
 * bf16 weight gradients of 2-D convolutions whose activations are nChw16c
 * bf16 on both sides come from lamina's own kernel (conv_wgrad_bf16.h:
 * oneDNN 2.6's is its slowest bf16 kernel); no oneDNN primitive is made
 * for them. */
#include <omp.h>

#include "core/memory.h"
#include "kernels/conv_wgrad_bf16.h"
#include "kernels/dnnl/dnnl_internal.h"

typedef struct conv_op {
    lmn_op base;
    lmn_layout out_layout;
    bool bias;
    const char *name; /* "conv2d" or "conv3d", for messages */
    dnnl_primitive_t forward, backward_data, backward_weights;
    /* caller's layouts (input, output, OIHW) <-> each primitive's own */
    lmn_dnnl_convert x_forward, w_forward;
    lmn_dnnl_convert dy_backward_data, w_backward_data, dx_backward_data;
    lmn_dnnl_convert x_backward_weights, dy_backward_weights, dw_backward_weights;
    /* shared conversions: true when the second consumer wants the first
     * one's internal layout; *_source is the caller's pointer whose copy
     * the first consumer's scratch holds (NULL: none valid) */
    bool x_shared, dy_shared;
    const float *x_source, *dy_source;
    /* true: weight gradients from lmn_wgrad_bf16, backward_weights NULL */
    bool own_wgrad;
    lmn_wgrad_bf16_shape wgrad;
    /* primitive arguments, re-pointed at every call */
    dnnl_memory_t src, weights, bias_mem, dst;
    dnnl_memory_t bd_diff_dst, bd_weights, bd_diff_src;
    dnnl_memory_t bw_src, bw_diff_dst, bw_diff_weights, bw_diff_bias;
} conv_op;

static void conv_destroy(lmn_op *base)
{
    conv_op *op = (conv_op *)base;
    lmn_dnnl_primitive_free(op->forward);
    lmn_dnnl_primitive_free(op->backward_data);
    lmn_dnnl_primitive_free(op->backward_weights);
    lmn_dnnl_convert *converts[] = {&op->x_forward,           &op->w_forward,
                                    &op->dy_backward_data,    &op->w_backward_data,
                                    &op->dx_backward_data,    &op->x_backward_weights,
                                    &op->dy_backward_weights, &op->dw_backward_weights};
    for (size_t i = 0; i < sizeof converts / sizeof *converts; i++)
        lmn_dnnl_convert_free(converts[i]);
    dnnl_memory_t mems[] = {op->src, op->weights, op->bias_mem, op->dst,
                            op->bd_diff_dst, op->bd_weights, op->bd_diff_src,
                            op->bw_src, op->bw_diff_dst, op->bw_diff_weights,
                            op->bw_diff_bias};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++) lmn_dnnl_memory_free(mems[i]);
    lmn_free(op);
}

/* Both parameter structs in one shape. */
typedef struct conv_spec {
    lmn_dnnl_window window;
    int out_channels;
    bool bias, fuse_relu;
    dnnl_data_type_t compute; /* of src, weights, diff_dst: f32 or bf16 */
} conv_spec;

static conv_spec spec_2d(const lmn_conv2d_params *p)
{
    conv_spec s = {.window = LMN_DNNL_WINDOW_2D("conv2d", p), .out_channels = p->out_channels,
                   .bias = p->bias, .fuse_relu = p->fuse_relu};
    return s;
}

static conv_spec spec_3d(const lmn_conv3d_params *p)
{
    conv_spec s = {.window = LMN_DNNL_WINDOW_3D("conv3d", p), .out_channels = p->out_channels,
                   .bias = p->bias, .fuse_relu = p->fuse_relu};
    return s;
}

/* Geometry shared by the three primitive descriptors. */
typedef struct conv_geometry {
    int ndims; /* 4 (NCHW) or 5 (NCDHW) */
    dnnl_data_type_t compute; /* the spec's; also dst's */
    dnnl_data_type_t input;   /* the caller's x and dx */
    dnnl_dims_t src_dims, weights_dims, bias_dims, dst_dims;
    dnnl_dims_t strides, padding;
} conv_geometry;

static lmn_status conv_geometry_init(const conv_spec *p, const lmn_act_desc *in,
                                     conv_geometry *g)
{
    const lmn_dnnl_window *w = &p->window;
    if (p->out_channels <= 0 || !lmn_dnnl_window_valid(w)) {
        char text[160];
        return lmn_fail(LMN_ERR_ARG, "%s: invalid params (out_channels %d, %s)", w->name,
                        p->out_channels, lmn_dnnl_window_text(w, text, sizeof text));
    }
    LMN_TRY(lmn_dnnl_window_geometry(w, in, g->src_dims + 2, g->dst_dims + 2, g->strides,
                                     g->padding));
    g->ndims = w->spatial + 2;
    g->compute = p->compute;
    g->input = in->elem == LMN_ELEM_BF16 ? dnnl_bf16 : dnnl_f32;
    g->src_dims[0] = in->n;
    g->src_dims[1] = in->c;
    g->weights_dims[0] = p->out_channels;
    g->weights_dims[1] = in->c;
    for (int a = 0; a < w->spatial; a++) g->weights_dims[2 + a] = w->kernel[a];
    g->dst_dims[0] = in->n;
    g->dst_dims[1] = p->out_channels;
    g->bias_dims[0] = p->out_channels;
    return LMN_OK;
}

static lmn_status md_typed(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims,
                           dnnl_data_type_t type, dnnl_format_tag_t tag)
{
    LMN_DNNL_TRY(dnnl_memory_desc_init_by_tag(md, ndims, dims, type, tag),
                 "describing a convolution tensor");
    return LMN_OK;
}

static lmn_status md_tag(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims,
                         dnnl_format_tag_t tag)
{
    return md_typed(md, ndims, dims, dnnl_f32, tag);
}

/* The fused ReLU is an eltwise post-op on the forward primitive. */
static lmn_status relu_attr(bool fuse_relu, dnnl_primitive_attr_t *attr)
{
    *attr = NULL;
    if (!fuse_relu) return LMN_OK;
    dnnl_post_ops_t post_ops = NULL;
    LMN_DNNL_TRY(dnnl_primitive_attr_create(attr), "creating convolution attributes");
    dnnl_status_t s = dnnl_post_ops_create(&post_ops);
    if (s == dnnl_success) s = dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_relu,
                                                             0.0f, 0.0f);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, post_ops);
    if (post_ops) dnnl_post_ops_destroy(post_ops);
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return lmn_dnnl_check(s, "dnnl_post_ops_append_eltwise", "fusing relu into a convolution");
}

static lmn_status forward_pd(lmn_dnnl *dnnl, const conv_spec *p, const conv_geometry *g,
                             dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t src, weights, bias, dst;
    LMN_TRY(md_typed(&src, g->ndims, g->src_dims, g->compute, dnnl_format_tag_any));
    LMN_TRY(md_typed(&weights, g->ndims, g->weights_dims, g->compute, dnnl_format_tag_any));
    LMN_TRY(md_tag(&bias, 1, g->bias_dims, dnnl_a));
    LMN_TRY(md_typed(&dst, g->ndims, g->dst_dims, g->compute, dnnl_format_tag_any));
    dnnl_convolution_desc_t desc;
    LMN_DNNL_TRY(dnnl_convolution_forward_desc_init(
                     &desc, dnnl_forward_training, dnnl_convolution_direct, &src, &weights,
                     p->bias ? &bias : NULL, &dst, g->strides, g->padding, g->padding),
                 "describing the convolution forward");
    dnnl_primitive_attr_t attr;
    LMN_TRY(relu_attr(p->fuse_relu, &attr));
    dnnl_status_t s = dnnl_primitive_desc_create(pd, &desc, attr, dnnl->engine, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return lmn_dnnl_check(s, "dnnl_primitive_desc_create", "choosing a convolution forward");
}

/* The backward primitives first try the forward's activation layouts (no
 * conversion at all). oneDNN has jit kernels for those in the common
 * cases; where it would fall back to its slow reference code (few input
 * channels, where the forward reads plain NCHW) the activations are left to
 * oneDNN ("any") and converted instead. */
typedef lmn_status (*backward_pd_fn)(lmn_dnnl *dnnl, bool bias, const conv_geometry *g,
                                     const_dnnl_primitive_desc_t hint,
                                     const dnnl_memory_desc_t *src,
                                     const dnnl_memory_desc_t *dst, dnnl_primitive_desc_t *pd);

static lmn_status backward_data_pd(lmn_dnnl *dnnl, bool bias, const conv_geometry *g,
                                   const_dnnl_primitive_desc_t hint,
                                   const dnnl_memory_desc_t *diff_src,
                                   const dnnl_memory_desc_t *diff_dst, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t weights;
    LMN_TRY(md_typed(&weights, g->ndims, g->weights_dims, g->compute, dnnl_format_tag_any));
    /* dx leaves in the caller's element type, whatever the compute type. */
    const dnnl_memory_desc_t diff_src_typed = lmn_dnnl_md_with_type(diff_src, g->input);
    dnnl_convolution_desc_t desc;
    LMN_DNNL_TRY(dnnl_convolution_backward_data_desc_init(
                     &desc, dnnl_convolution_direct, &diff_src_typed, &weights, diff_dst,
                     g->strides, g->padding, g->padding),
                 "describing the convolution backward data");
    LMN_DNNL_TRY(dnnl_primitive_desc_create(pd, &desc, NULL, dnnl->engine, hint),
                 "choosing a convolution backward data");
    return LMN_OK;
}

static lmn_status backward_weights_pd(lmn_dnnl *dnnl, bool bias, const conv_geometry *g,
                                      const_dnnl_primitive_desc_t hint,
                                      const dnnl_memory_desc_t *src,
                                      const dnnl_memory_desc_t *diff_dst,
                                      dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t diff_weights, diff_bias;
    LMN_TRY(md_tag(&diff_weights, g->ndims, g->weights_dims, dnnl_format_tag_any));
    LMN_TRY(md_tag(&diff_bias, 1, g->bias_dims, dnnl_a));
    dnnl_convolution_desc_t desc;
    LMN_DNNL_TRY(dnnl_convolution_backward_weights_desc_init(
                     &desc, dnnl_convolution_direct, src, &diff_weights,
                     bias ? &diff_bias : NULL, diff_dst, g->strides, g->padding, g->padding),
                 "describing the convolution backward weights");
    LMN_DNNL_TRY(dnnl_primitive_desc_create(pd, &desc, NULL, dnnl->engine, hint),
                 "choosing a convolution backward weights");
    return LMN_OK;
}

static lmn_status best_backward_pd(backward_pd_fn make, lmn_dnnl *dnnl, bool bias,
                                   const conv_geometry *g, const_dnnl_primitive_desc_t hint,
                                   dnnl_primitive_desc_t *pd)
{
    /* dy enters in the forward's dst layout and type, x in its src's. */
    LMN_TRY(make(dnnl, bias, g, hint, lmn_dnnl_pd_md(hint, dnnl_query_src_md),
                 lmn_dnnl_pd_md(hint, dnnl_query_dst_md), pd));
    if (!lmn_dnnl_pd_is_reference(*pd)) return LMN_OK;
    dnnl_memory_desc_t src_any, dst_any;
    LMN_TRY(md_typed(&src_any, g->ndims, g->src_dims, g->compute, dnnl_format_tag_any));
    LMN_TRY(md_typed(&dst_any, g->ndims, g->dst_dims, g->compute, dnnl_format_tag_any));
    dnnl_primitive_desc_t alternative = NULL;
    if (make(dnnl, bias, g, hint, &src_any, &dst_any, &alternative) != LMN_OK) {
        lmn_clear_error(); /* keep the working reference primitive */
        return LMN_OK;
    }
    if (lmn_dnnl_pd_is_reference(alternative)) {
        lmn_dnnl_pd_free(alternative);
        return LMN_OK;
    }
    lmn_dnnl_pd_free(*pd);
    *pd = alternative;
    return LMN_OK;
}

static lmn_status setup_forward(conv_op *op, const_dnnl_primitive_desc_t pd,
                                const dnnl_memory_desc_t *in_md,
                                const dnnl_memory_desc_t *dense_weights)
{
    lmn_dnnl *dnnl = op->base.dnnl;
    const dnnl_memory_desc_t *src = lmn_dnnl_pd_md(pd, dnnl_query_src_md);
    const dnnl_memory_desc_t *weights = lmn_dnnl_pd_md(pd, dnnl_query_weights_md);
    LMN_TRY(lmn_dnnl_primitive(pd, &op->forward, "creating the convolution forward"));
    LMN_TRY(lmn_dnnl_convert_input(dnnl, in_md, src, &op->x_forward));
    LMN_TRY(lmn_dnnl_convert_input(dnnl, dense_weights, weights, &op->w_forward));
    LMN_TRY(lmn_dnnl_memory(dnnl, src, &op->src));
    LMN_TRY(lmn_dnnl_memory(dnnl, weights, &op->weights));
    LMN_TRY(lmn_dnnl_memory(dnnl, lmn_dnnl_pd_md(pd, dnnl_query_dst_md), &op->dst));
    if (!op->bias) return LMN_OK;
    return lmn_dnnl_memory(dnnl, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
                           &op->bias_mem);
}

static lmn_status setup_backward_data(conv_op *op, const_dnnl_primitive_desc_t pd,
                                      const dnnl_memory_desc_t *in_md,
                                      const dnnl_memory_desc_t *out_md,
                                      const dnnl_memory_desc_t *dense_weights)
{
    lmn_dnnl *dnnl = op->base.dnnl;
    const dnnl_memory_desc_t *diff_src = lmn_dnnl_pd_md(pd, dnnl_query_diff_src_md);
    const dnnl_memory_desc_t *diff_dst = lmn_dnnl_pd_md(pd, dnnl_query_diff_dst_md);
    const dnnl_memory_desc_t *weights = lmn_dnnl_pd_md(pd, dnnl_query_weights_md);
    LMN_TRY(lmn_dnnl_primitive(pd, &op->backward_data, "creating the convolution backward data"));
    LMN_TRY(lmn_dnnl_convert_input(dnnl, out_md, diff_dst, &op->dy_backward_data));
    LMN_TRY(lmn_dnnl_convert_input(dnnl, dense_weights, weights, &op->w_backward_data));
    LMN_TRY(lmn_dnnl_convert_output(dnnl, diff_src, in_md, &op->dx_backward_data));
    LMN_TRY(lmn_dnnl_memory(dnnl, diff_dst, &op->bd_diff_dst));
    LMN_TRY(lmn_dnnl_memory(dnnl, weights, &op->bd_weights));
    return lmn_dnnl_memory(dnnl, diff_src, &op->bd_diff_src);
}

static lmn_status setup_backward_weights(conv_op *op, const_dnnl_primitive_desc_t pd,
                                         const dnnl_memory_desc_t *in_md,
                                         const dnnl_memory_desc_t *out_md,
                                         const dnnl_memory_desc_t *dense_weights)
{
    lmn_dnnl *dnnl = op->base.dnnl;
    const dnnl_memory_desc_t *src = lmn_dnnl_pd_md(pd, dnnl_query_src_md);
    const dnnl_memory_desc_t *diff_dst = lmn_dnnl_pd_md(pd, dnnl_query_diff_dst_md);
    const dnnl_memory_desc_t *diff_weights = lmn_dnnl_pd_md(pd, dnnl_query_diff_weights_md);
    LMN_TRY(lmn_dnnl_primitive(pd, &op->backward_weights,
                               "creating the convolution backward weights"));
    LMN_TRY(lmn_dnnl_convert_input(dnnl, in_md, src, &op->x_backward_weights));
    LMN_TRY(lmn_dnnl_convert_input(dnnl, out_md, diff_dst, &op->dy_backward_weights));
    LMN_TRY(lmn_dnnl_convert_output(dnnl, diff_weights, dense_weights, &op->dw_backward_weights));
    LMN_TRY(lmn_dnnl_memory(dnnl, src, &op->bw_src));
    LMN_TRY(lmn_dnnl_memory(dnnl, diff_dst, &op->bw_diff_dst));
    LMN_TRY(lmn_dnnl_memory(dnnl, diff_weights, &op->bw_diff_weights));
    if (!op->bias) return LMN_OK;
    return lmn_dnnl_memory(dnnl, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 1),
                           &op->bw_diff_bias);
}

/* True when `first` converts into the layout the second primitive wants
 * for the same tensor; the second's own scratch is then never used and is
 * released. */
static bool same_conversion(const lmn_dnnl_convert *first, const_dnnl_primitive_desc_t first_pd,
                            const_dnnl_primitive_desc_t second_pd, dnnl_query_t what,
                            lmn_dnnl_convert *second)
{
    if (!first->reorder || !second->reorder) return false;
    if (!dnnl_memory_desc_equal(lmn_dnnl_pd_md(first_pd, what), lmn_dnnl_pd_md(second_pd, what)))
        return false;
    lmn_dnnl_convert_free(second);
    return true;
}

/* True (and *shape filled) when lamina's bf16 weight-gradient kernel
 * reads this convolution's x and dy as they are (2-D, bf16, both in
 * nChw16c, on a CPU with AVX512-BF16) and beats oneDNN's: not on 1x1
 * windows, where oneDNN's is a plain GEMM and the kernel's packing of
 * every input pixel costs more than it saves (bench_wgrad_bf16). */
static bool own_wgrad_shape(const conv_geometry *g, const dnnl_memory_desc_t *in_md,
                            const dnnl_memory_desc_t *out_md, lmn_wgrad_bf16_shape *shape)
{
    if (g->ndims != 4 || g->compute != dnnl_bf16 || !lmn_dnnl_native_bf16(NULL)) return false;
    if (g->weights_dims[2] * g->weights_dims[3] == 1) return false;
    dnnl_memory_desc_t x_blocked, dy_blocked;
    if (md_typed(&x_blocked, 4, g->src_dims, dnnl_bf16, dnnl_aBcd16b) != LMN_OK ||
        md_typed(&dy_blocked, 4, g->dst_dims, dnnl_bf16, dnnl_aBcd16b) != LMN_OK) {
        lmn_clear_error();
        return false;
    }
    if (!dnnl_memory_desc_equal(in_md, &x_blocked) || !dnnl_memory_desc_equal(out_md, &dy_blocked))
        return false;
    *shape = (lmn_wgrad_bf16_shape){
        .n = (int)g->src_dims[0], .c = (int)g->src_dims[1], .h = (int)g->src_dims[2],
        .w = (int)g->src_dims[3], .oc = (int)g->dst_dims[1], .oh = (int)g->dst_dims[2],
        .ow = (int)g->dst_dims[3], .kh = (int)g->weights_dims[2], .kw = (int)g->weights_dims[3],
        .sh = (int)g->strides[0], .sw = (int)g->strides[1], .ph = (int)g->padding[0],
        .pw = (int)g->padding[1]};
    return lmn_wgrad_bf16_fits(shape);
}

static lmn_status reserve_wgrad_workspace(conv_op *op)
{
    void *unused;
    return lmn_dnnl_workspace(op->base.dnnl,
                              lmn_wgrad_bf16_workspace_bytes(&op->wgrad, omp_get_max_threads()),
                              &unused);
}

/* Builds the three primitives; the pds are only needed here. */
static lmn_status conv_setup(conv_op *op, const conv_spec *p, const lmn_act_desc *in,
                             lmn_act_desc *out)
{
    conv_geometry g;
    dnnl_memory_desc_t in_md, dense_weights;
    LMN_TRY(conv_geometry_init(p, in, &g));
    LMN_TRY(lmn_dnnl_act_md(in, &in_md));
    LMN_TRY(md_tag(&dense_weights, g.ndims, g.weights_dims,
                   g.ndims == 5 ? dnnl_oidhw : dnnl_oihw));
    dnnl_primitive_desc_t fwd = NULL, bwd_data = NULL, bwd_weights = NULL;
    lmn_status st = forward_pd(op->base.dnnl, p, &g, &fwd);
    const dnnl_memory_desc_t *out_md = fwd ? lmn_dnnl_pd_md(fwd, dnnl_query_dst_md) : NULL;
    op->own_wgrad = st == LMN_OK && own_wgrad_shape(&g, &in_md, out_md, &op->wgrad);
    if (st == LMN_OK)
        st = best_backward_pd(backward_data_pd, op->base.dnnl, p->bias, &g, fwd, &bwd_data);
    if (st == LMN_OK && !op->own_wgrad)
        st = best_backward_pd(backward_weights_pd, op->base.dnnl, p->bias, &g, fwd,
                              &bwd_weights);
    if (st == LMN_OK) st = setup_forward(op, fwd, &in_md, &dense_weights);
    if (st == LMN_OK) st = setup_backward_data(op, bwd_data, &in_md, out_md, &dense_weights);
    if (st == LMN_OK && op->own_wgrad) st = reserve_wgrad_workspace(op);
    else if (st == LMN_OK)
        st = setup_backward_weights(op, bwd_weights, &in_md, out_md, &dense_weights);
    if (st == LMN_OK) {
        lmn_dnnl_describe_act(out_md, &op->out_layout, out);
        op->x_shared = !op->own_wgrad && same_conversion(&op->x_forward, fwd, bwd_weights,
                                                         dnnl_query_src_md,
                                                         &op->x_backward_weights);
        op->dy_shared = !op->own_wgrad &&
                        same_conversion(&op->dy_backward_weights, bwd_weights, bwd_data,
                                        dnnl_query_diff_dst_md, &op->dy_backward_data);
    }
    lmn_dnnl_pd_free(fwd);
    lmn_dnnl_pd_free(bwd_data);
    lmn_dnnl_pd_free(bwd_weights);
    return st;
}

static lmn_status conv_create(lmn_backend *be, const conv_spec *p, const lmn_act_desc *in,
                              lmn_op **out_op, lmn_act_desc *out)
{
    *out_op = NULL;
    conv_op *op = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&op, sizeof *op, "dnnl convolution op"));
    op->base.dnnl = (lmn_dnnl *)be->impl;
    op->base.destroy = conv_destroy;
    op->bias = p->bias;
    op->name = p->window.name;
    conv_spec spec = *p;
    spec.compute = lmn_dnnl_compute_type(be);
    lmn_status st = conv_setup(op, &spec, in, out);
    if (st != LMN_OK) {
        conv_destroy(&op->base);
        char k[40];
        return lmn_fail_context(st, "%s %s -> %d channels on input [%d,%d,%d,%d] (depth %d)",
                                p->window.name,
                                lmn_dnnl_axes_text(p->window.kernel, p->window.spatial, k,
                                                   sizeof k),
                                p->out_channels, in->n, in->c, in->h, in->w, in->d);
    }
    *out_op = &op->base;
    return LMN_OK;
}

lmn_status lmn_dnnl_conv2d_create(lmn_backend *be, const lmn_conv2d_params *p,
                                  const lmn_act_desc *in, lmn_op **out_op, lmn_act_desc *out)
{
    const conv_spec spec = spec_2d(p);
    return conv_create(be, &spec, in, out_op, out);
}

lmn_status lmn_dnnl_conv3d_create(lmn_backend *be, const lmn_conv3d_params *p,
                                  const lmn_act_desc *in, lmn_op **out_op, lmn_act_desc *out)
{
    const conv_spec spec = spec_3d(p);
    return conv_create(be, &spec, in, out_op, out);
}

lmn_status lmn_dnnl_conv2d_forward(lmn_op *base, const float *x, const float *w, const float *b,
                                   float *y)
{
    conv_op *op = (conv_op *)base;
    lmn_dnnl *dnnl = base->dnnl;
    const float *src, *weights;
    LMN_TRY(lmn_dnnl_convert_in(dnnl, &op->x_forward, x, &src));
    op->x_source = op->x_shared ? x : NULL;
    op->dy_source = NULL;
    LMN_TRY(lmn_dnnl_convert_in(dnnl, &op->w_forward, w, &weights));
    LMN_TRY(lmn_dnnl_bind(op->src, src));
    LMN_TRY(lmn_dnnl_bind(op->weights, weights));
    LMN_TRY(lmn_dnnl_bind(op->dst, y));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, op->src},
                               {DNNL_ARG_WEIGHTS, op->weights},
                               {DNNL_ARG_DST, op->dst},
                               {DNNL_ARG_BIAS, op->bias_mem}};
    if (op->bias) LMN_TRY(lmn_dnnl_bind(op->bias_mem, b));
    return lmn_dnnl_execute(dnnl, op->forward, op->bias ? 4 : 3, args,
                            "running convolution forward");
}

lmn_status lmn_dnnl_conv2d_backward_data(lmn_op *base, const float *dy, const float *w,
                                         float *dx)
{
    conv_op *op = (conv_op *)base;
    lmn_dnnl *dnnl = base->dnnl;
    const float *diff_dst, *weights;
    if (op->dy_shared)
        LMN_TRY(lmn_dnnl_convert_again(dnnl, &op->dy_backward_weights, &op->dy_source, dy,
                                       &diff_dst));
    else
        LMN_TRY(lmn_dnnl_convert_in(dnnl, &op->dy_backward_data, dy, &diff_dst));
    LMN_TRY(lmn_dnnl_convert_in(dnnl, &op->w_backward_data, w, &weights));
    LMN_TRY(lmn_dnnl_bind(op->bd_diff_dst, diff_dst));
    LMN_TRY(lmn_dnnl_bind(op->bd_weights, weights));
    float *diff_src;
    LMN_TRY(lmn_dnnl_convert_target(&op->dx_backward_data, dx, &diff_src));
    LMN_TRY(lmn_dnnl_bind(op->bd_diff_src, diff_src));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, op->bd_diff_dst},
                               {DNNL_ARG_WEIGHTS, op->bd_weights},
                               {DNNL_ARG_DIFF_SRC, op->bd_diff_src}};
    LMN_TRY(lmn_dnnl_execute(dnnl, op->backward_data, 3, args,
                             "running convolution backward data"));
    return lmn_dnnl_convert_out(dnnl, &op->dx_backward_data, dx);
}

lmn_status lmn_dnnl_conv2d_backward_weights(lmn_op *base, const float *x, const float *dy,
                                            float *dw, float *db)
{
    conv_op *op = (conv_op *)base;
    lmn_dnnl *dnnl = base->dnnl;
    if (op->bias && !db)
        return lmn_fail(LMN_ERR_ARG, "%s backward weights: the conv has a bias, db must "
                        "not be NULL", op->name);
    if (op->own_wgrad) {
        const int threads = omp_get_max_threads();
        void *workspace;
        LMN_TRY(lmn_dnnl_workspace(dnnl, lmn_wgrad_bf16_workspace_bytes(&op->wgrad, threads),
                                   &workspace));
        lmn_wgrad_bf16(&op->wgrad, (const uint16_t *)x, (const uint16_t *)dy, dw, db, workspace,
                       threads);
        return LMN_OK;
    }
    const float *src, *diff_dst;
    if (op->x_shared)
        LMN_TRY(lmn_dnnl_convert_again(dnnl, &op->x_forward, &op->x_source, x, &src));
    else
        LMN_TRY(lmn_dnnl_convert_in(dnnl, &op->x_backward_weights, x, &src));
    LMN_TRY(lmn_dnnl_convert_in(dnnl, &op->dy_backward_weights, dy, &diff_dst));
    op->dy_source = op->dy_shared ? dy : NULL;
    LMN_TRY(lmn_dnnl_bind(op->bw_src, src));
    LMN_TRY(lmn_dnnl_bind(op->bw_diff_dst, diff_dst));
    float *diff_weights;
    LMN_TRY(lmn_dnnl_convert_target(&op->dw_backward_weights, dw, &diff_weights));
    LMN_TRY(lmn_dnnl_bind(op->bw_diff_weights, diff_weights));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, op->bw_src},
                               {DNNL_ARG_DIFF_DST, op->bw_diff_dst},
                               {DNNL_ARG_DIFF_WEIGHTS, op->bw_diff_weights},
                               {DNNL_ARG_DIFF_BIAS, op->bw_diff_bias}};
    if (op->bias) LMN_TRY(lmn_dnnl_bind(op->bw_diff_bias, db));
    LMN_TRY(lmn_dnnl_execute(dnnl, op->backward_weights, op->bias ? 4 : 3, args,
                             "running convolution backward weights"));
    return lmn_dnnl_convert_out(dnnl, &op->dw_backward_weights, dw);
}

/* The 3-D entry points: the same primitives, created from 5-D descs. */
lmn_status lmn_dnnl_conv3d_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                   float *y)
{
    return lmn_dnnl_conv2d_forward(op, x, w, b, y);
}

lmn_status lmn_dnnl_conv3d_backward_data(lmn_op *op, const float *dy, const float *w,
                                         float *dx)
{
    return lmn_dnnl_conv2d_backward_data(op, dy, w, dx);
}

lmn_status lmn_dnnl_conv3d_backward_weights(lmn_op *op, const float *x, const float *dy,
                                            float *dw, float *db)
{
    return lmn_dnnl_conv2d_backward_weights(op, x, dy, dw, db);
}
