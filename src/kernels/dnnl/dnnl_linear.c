/* Fully connected layer on oneDNN's sgemm (row-major), dense in and out.
 *
 * At the sizes of the target nets (N=64: 3136->512, 512->10, 2 threads)
 * dnnl_sgemm with the bias pre-filled into y ran as fast as the plain-format
 * inner-product primitive (which ends in the same gemm) in all three passes,
 * and takes the [out][in] weights as they are. Under bf16 the op delegates
 * to inner-product primitives (dnnl_linear_bf16.c); the fused ReLU and
 * the bias check stay here for both. */
#include "core/memory.h"
#include "kernels/dnnl/dnnl_internal.h"

typedef struct linear_op {
    lmn_op base;
    int batch, in, out;
    bool bias, fuse_relu;
    lmn_dnnl_linear_bf16 *bf16; /* NULL under fp32 */
} linear_op;

static void linear_destroy(lmn_op *base)
{
    lmn_dnnl_linear_bf16_free(((linear_op *)base)->bf16);
    lmn_free(base);
}

lmn_status lmn_dnnl_linear_create(lmn_backend *be, const lmn_linear_params *p,
                                  const lmn_act_desc *in, lmn_op **out_op, lmn_act_desc *out)
{
    *out_op = NULL;
    if (p->out_features <= 0)
        return lmn_fail(LMN_ERR_ARG, "linear: out_features must be positive (got %d)",
                        p->out_features);
    if (in->d != 0)
        return lmn_fail(LMN_ERR_SHAPE, "linear: input [%d,%d,%d,%d] is 3-D (depth %d); "
                        "flatten it to [N, C*D*H*W, 1, 1] first", in->n, in->c, in->h, in->w,
                        in->d);
    dnnl_memory_desc_t in_md;
    LMN_TRY(lmn_dnnl_act_md(in, &in_md));
    if (!lmn_dnnl_md_is_dense_nchw(&in_md))
        return lmn_fail(LMN_ERR_ARG, "linear: input [%d,%d,%d,%d] must be dense NCHW; reorder "
                        "it with the backend's reorder first", in->n, in->c, in->h, in->w);
    linear_op *op = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&op, sizeof *op, "dnnl linear op"));
    op->base.dnnl = (lmn_dnnl *)be->impl;
    op->base.destroy = linear_destroy;
    op->batch = in->n;
    op->in = in->c * in->h * in->w;
    op->out = p->out_features;
    op->bias = p->bias;
    op->fuse_relu = p->fuse_relu;
    if (be->precision == LMN_PRECISION_BF16) {
        const lmn_status st = lmn_dnnl_linear_bf16_create(op->base.dnnl, op->batch, op->in,
                                                          op->out, op->bias, &op->bf16);
        if (st != LMN_OK) {
            linear_destroy(&op->base);
            return lmn_fail_context(st, "bf16 linear %d -> %d on batch %d", op->in, op->out,
                                    op->batch);
        }
    }
    *out = lmn_act_dense(in->n, p->out_features, 1, 1);
    *out_op = &op->base;
    return LMN_OK;
}

static lmn_status sgemm(char transa, char transb, int m, int n, int k, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc)
{
    LMN_DNNL_TRY(dnnl_sgemm(transa, transb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc),
                 "running a linear layer's matrix product");
    return LMN_OK;
}

lmn_status lmn_dnnl_linear_forward(lmn_op *base, const float *x, const float *w, const float *b,
                                   float *y)
{
    linear_op *op = (linear_op *)base;
    const size_t outputs = (size_t)op->batch * (size_t)op->out;
    if (op->bf16) {
        LMN_TRY(lmn_dnnl_linear_bf16_forward(op->bf16, x, w, b, y));
    } else {
        /* y = b (broadcast over rows), then y += x W^T in one sgemm pass. */
        if (op->bias)
            for (int row = 0; row < op->batch; row++)
                for (int j = 0; j < op->out; j++) y[(size_t)row * op->out + j] = b[j];
        LMN_TRY(sgemm('N', 'T', op->batch, op->out, op->in, x, op->in, w, op->in,
                      op->bias ? 1.0f : 0.0f, y, op->out));
    }
    if (op->fuse_relu)
        for (size_t i = 0; i < outputs; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    return LMN_OK;
}

lmn_status lmn_dnnl_linear_backward_data(lmn_op *base, const float *dy, const float *w,
                                         float *dx)
{
    linear_op *op = (linear_op *)base;
    if (op->bf16) return lmn_dnnl_linear_bf16_backward_data(op->bf16, dy, w, dx);
    /* dx[N][in] = dy[N][out] W[out][in] */
    return sgemm('N', 'N', op->batch, op->in, op->out, dy, op->out, w, op->in, 0.0f, dx, op->in);
}

lmn_status lmn_dnnl_linear_backward_weights(lmn_op *base, const float *x, const float *dy,
                                            float *dw, float *db)
{
    linear_op *op = (linear_op *)base;
    if (op->bias && !db)
        return lmn_fail(LMN_ERR_ARG, "linear backward weights: the layer has a bias, db must "
                        "not be NULL");
    if (op->bf16) return lmn_dnnl_linear_bf16_backward_weights(op->bf16, x, dy, dw, db);
    /* dw[out][in] = dy^T[out][N] x[N][in] */
    LMN_TRY(sgemm('T', 'N', op->out, op->in, op->batch, dy, op->out, x, op->in, 0.0f, dw,
                  op->in));
    if (!op->bias) return LMN_OK;
    for (int j = 0; j < op->out; j++) db[j] = 0.0f;
    for (int row = 0; row < op->batch; row++)
        for (int j = 0; j < op->out; j++) db[j] += dy[(size_t)row * op->out + j];
    return LMN_OK;
}
