/* Batch normalization on oneDNN (2-D or 3-D), in the input's layout (the output has the
 * same layout, so BN between convs costs no reorder).
 *
 * gamma / beta are separate [C] arrays at the interface: oneDNN 2.6 takes
 * them as separate SCALE / SHIFT arguments (dnnl_use_scale |
 * dnnl_use_shift). The fused ReLU uses dnnl_fuse_norm_relu in the forwards
 * and the backward: the training forward writes the ReLU mask into an
 * op-owned workspace and the backward applies it to dy in the same pass
 * as the batch-norm gradient (kernels.h), instead of a separate masking
 * pass over dy before it. */
#include "core/memory.h"
#include "kernels/dnnl/dnnl_internal.h"

typedef struct batchnorm_op {
    lmn_op base;
    lmn_layout out_layout;
    dnnl_primitive_t train, infer, backward;
    /* data: src / dst / diff_dst / diff_src; per channel: mean, variance,
     * scale, shift, diff_scale, diff_shift */
    dnnl_memory_t src, dst, diff_dst, diff_src;
    dnnl_memory_t mean, variance, scale, shift, diff_scale, diff_shift;
    dnnl_memory_t relu_mask; /* NULL without fused ReLU */
    void *relu_mask_data;
    /* oneDNN's backward insists on a SHIFT argument it does not use; the
     * interface does not pass beta there. */
    float *unused_shift;
} batchnorm_op;

static void batchnorm_destroy(lmn_op *base)
{
    batchnorm_op *op = (batchnorm_op *)base;
    lmn_dnnl_primitive_free(op->train);
    lmn_dnnl_primitive_free(op->infer);
    lmn_dnnl_primitive_free(op->backward);
    dnnl_memory_t mems[] = {op->src,      op->dst,        op->diff_dst,   op->diff_src,
                            op->mean,     op->variance,   op->scale,      op->shift,
                            op->diff_scale, op->diff_shift, op->relu_mask};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++) lmn_dnnl_memory_free(mems[i]);
    lmn_free(op->relu_mask_data);
    lmn_free(op->unused_shift);
    lmn_free(op);
}

static lmn_status batchnorm_pd(lmn_dnnl *dnnl, dnnl_prop_kind_t kind, unsigned flags,
                               float epsilon, const dnnl_memory_desc_t *data,
                               const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd)
{
    dnnl_batch_normalization_desc_t desc;
    if (kind == dnnl_backward)
        LMN_DNNL_TRY(dnnl_batch_normalization_backward_desc_init(&desc, kind, data, data,
                                                                 epsilon, flags),
                     "describing the batchnorm backward");
    else
        LMN_DNNL_TRY(dnnl_batch_normalization_forward_desc_init(&desc, kind, data, epsilon,
                                                                flags),
                     "describing the batchnorm forward");
    LMN_DNNL_TRY(dnnl_primitive_desc_create(pd, &desc, NULL, dnnl->engine, hint),
                 "choosing a batchnorm primitive");
    return LMN_OK;
}

static lmn_status batchnorm_memories(batchnorm_op *op, const dnnl_memory_desc_t *data,
                                     int channels)
{
    lmn_dnnl *dnnl = op->base.dnnl;
    dnnl_memory_desc_t per_channel;
    const dnnl_dims_t dims = {channels};
    LMN_DNNL_TRY(dnnl_memory_desc_init_by_tag(&per_channel, 1, dims, dnnl_f32, dnnl_a),
                 "describing batchnorm statistics");
    dnnl_memory_t *data_mems[] = {&op->src, &op->dst, &op->diff_dst, &op->diff_src};
    for (size_t i = 0; i < sizeof data_mems / sizeof *data_mems; i++)
        LMN_TRY(lmn_dnnl_memory(dnnl, data, data_mems[i]));
    dnnl_memory_t *channel_mems[] = {&op->mean,  &op->variance,   &op->scale,
                                     &op->shift, &op->diff_scale, &op->diff_shift};
    for (size_t i = 0; i < sizeof channel_mems / sizeof *channel_mems; i++)
        LMN_TRY(lmn_dnnl_memory(dnnl, &per_channel, channel_mems[i]));
    return lmn_alloc_floats(&op->unused_shift, (size_t)channels, "dnnl batchnorm shift");
}

static lmn_status relu_mask(batchnorm_op *op, const_dnnl_primitive_desc_t train)
{
    const dnnl_memory_desc_t *ws = lmn_dnnl_pd_md(train, dnnl_query_workspace_md);
    const size_t bytes = ws ? dnnl_memory_desc_get_size(ws) : 0;
    if (bytes == 0) return LMN_OK;
    LMN_TRY(lmn_alloc_bytes(&op->relu_mask_data, bytes, "dnnl batchnorm relu mask"));
    LMN_TRY(lmn_dnnl_memory(op->base.dnnl, ws, &op->relu_mask));
    return lmn_dnnl_bind(op->relu_mask, op->relu_mask_data);
}

static lmn_status batchnorm_setup(batchnorm_op *op, const lmn_batchnorm_params *p,
                                  const lmn_act_desc *in, lmn_act_desc *out)
{
    if (!(p->epsilon > 0.0f))
        return lmn_fail(LMN_ERR_ARG, "batchnorm: epsilon must be positive (got %g)",
                        (double)p->epsilon);
    dnnl_memory_desc_t data;
    LMN_TRY(lmn_dnnl_act_md(in, &data));
    lmn_dnnl *dnnl = op->base.dnnl;
    const unsigned affine = dnnl_use_scale | dnnl_use_shift;
    const unsigned relu = p->fuse_relu ? dnnl_fuse_norm_relu : 0u;
    dnnl_primitive_desc_t train = NULL, infer = NULL, backward = NULL;
    lmn_status st = batchnorm_pd(dnnl, dnnl_forward_training, affine | relu, p->epsilon, &data,
                                 NULL, &train);
    if (st == LMN_OK)
        st = batchnorm_pd(dnnl, dnnl_forward_inference, affine | relu | dnnl_use_global_stats,
                          p->epsilon, &data, NULL, &infer);
    if (st == LMN_OK)
        st = batchnorm_pd(dnnl, dnnl_backward, affine | relu, p->epsilon, &data, train,
                          &backward);
    if (st == LMN_OK) st = batchnorm_memories(op, &data, in->c);
    if (st == LMN_OK) st = relu_mask(op, train);
    if (st == LMN_OK) st = lmn_dnnl_primitive(train, &op->train, "creating batchnorm forward");
    if (st == LMN_OK) st = lmn_dnnl_primitive(infer, &op->infer, "creating batchnorm inference");
    if (st == LMN_OK)
        st = lmn_dnnl_primitive(backward, &op->backward, "creating batchnorm backward");
    if (st == LMN_OK) lmn_dnnl_describe_act(&data, &op->out_layout, out);
    lmn_dnnl_pd_free(train);
    lmn_dnnl_pd_free(infer);
    lmn_dnnl_pd_free(backward);
    return st;
}

lmn_status lmn_dnnl_batchnorm_create(lmn_backend *be, const lmn_batchnorm_params *p,
                                     const lmn_act_desc *in, lmn_op **out_op, lmn_act_desc *out)
{
    *out_op = NULL;
    batchnorm_op *op = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&op, sizeof *op, "dnnl batchnorm op"));
    op->base.dnnl = (lmn_dnnl *)be->impl;
    op->base.destroy = batchnorm_destroy;
    lmn_status st = batchnorm_setup(op, p, in, out);
    if (st != LMN_OK) {
        batchnorm_destroy(&op->base);
        return lmn_fail_context(st, "batchnorm on input [%d,%d,%d,%d] (depth %d)", in->n, in->c,
                                in->h, in->w, in->d);
    }
    *out_op = &op->base;
    return LMN_OK;
}

/* Binds the buffers every batchnorm call uses. */
static lmn_status bind_common(batchnorm_op *op, const float *x, const float *gamma,
                              const float *mean, const float *var)
{
    LMN_TRY(lmn_dnnl_bind(op->src, x));
    LMN_TRY(lmn_dnnl_bind(op->scale, gamma));
    LMN_TRY(lmn_dnnl_bind(op->mean, mean));
    return lmn_dnnl_bind(op->variance, var);
}

lmn_status lmn_dnnl_batchnorm_forward_train(lmn_op *base, const float *x, const float *gamma,
                                            const float *beta, float *y, float *mean,
                                            float *var)
{
    batchnorm_op *op = (batchnorm_op *)base;
    LMN_TRY(bind_common(op, x, gamma, mean, var));
    LMN_TRY(lmn_dnnl_bind(op->shift, beta));
    LMN_TRY(lmn_dnnl_bind(op->dst, y));
    dnnl_exec_arg_t args[7] = {{DNNL_ARG_SRC, op->src},     {DNNL_ARG_DST, op->dst},
                               {DNNL_ARG_SCALE, op->scale}, {DNNL_ARG_SHIFT, op->shift},
                               {DNNL_ARG_MEAN, op->mean},   {DNNL_ARG_VARIANCE, op->variance},
                               {DNNL_ARG_WORKSPACE, op->relu_mask}};
    return lmn_dnnl_execute(base->dnnl, op->train, op->relu_mask ? 7 : 6, args,
                            "running batchnorm forward (training)");
}

lmn_status lmn_dnnl_batchnorm_forward_infer(lmn_op *base, const float *x, const float *gamma,
                                            const float *beta, const float *mean,
                                            const float *var, float *y)
{
    batchnorm_op *op = (batchnorm_op *)base;
    LMN_TRY(bind_common(op, x, gamma, mean, var));
    LMN_TRY(lmn_dnnl_bind(op->shift, beta));
    LMN_TRY(lmn_dnnl_bind(op->dst, y));
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, op->src},     {DNNL_ARG_DST, op->dst},
                               {DNNL_ARG_SCALE, op->scale}, {DNNL_ARG_SHIFT, op->shift},
                               {DNNL_ARG_MEAN, op->mean},   {DNNL_ARG_VARIANCE, op->variance}};
    return lmn_dnnl_execute(base->dnnl, op->infer, 6, args,
                            "running batchnorm forward (inference)");
}

lmn_status lmn_dnnl_batchnorm_backward(lmn_op *base, const float *x, const float *dy,
                                       const float *gamma, const float *mean, const float *var,
                                       float *dx, float *dgamma, float *dbeta)
{
    batchnorm_op *op = (batchnorm_op *)base;
    LMN_TRY(bind_common(op, x, gamma, mean, var));
    LMN_TRY(lmn_dnnl_bind(op->diff_dst, dy));
    LMN_TRY(lmn_dnnl_bind(op->diff_src, dx));
    LMN_TRY(lmn_dnnl_bind(op->diff_scale, dgamma));
    LMN_TRY(lmn_dnnl_bind(op->diff_shift, dbeta));
    LMN_TRY(lmn_dnnl_bind(op->shift, op->unused_shift));
    dnnl_exec_arg_t args[10] = {{DNNL_ARG_SRC, op->src},
                                {DNNL_ARG_SHIFT, op->shift},
                                {DNNL_ARG_DIFF_DST, op->diff_dst},
                                {DNNL_ARG_SCALE, op->scale},
                                {DNNL_ARG_MEAN, op->mean},
                                {DNNL_ARG_VARIANCE, op->variance},
                                {DNNL_ARG_DIFF_SRC, op->diff_src},
                                {DNNL_ARG_DIFF_SCALE, op->diff_scale},
                                {DNNL_ARG_DIFF_SHIFT, op->diff_shift},
                                {DNNL_ARG_WORKSPACE, op->relu_mask}};
    return lmn_dnnl_execute(base->dnnl, op->backward, op->relu_mask ? 10 : 9, args,
                            "running batchnorm backward");
}
