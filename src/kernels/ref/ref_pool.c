/* Reference 2-D pooling over dense NCHW. Max pooling ignores padded
 * positions and records, per output, the winning position inside its input
 * plane (int32, ih * W + iw) in the workspace. Average pooling divides by
 * the full window, padding included (PyTorch count_include_pad=True). */
#include <stdint.h>
#include <string.h>

#include "kernels/ref/ref_internal.h"

static const char *const pool_name = "ref pool2d";

lmn_status lmn_ref_pool2d_create(lmn_backend *be, const lmn_pool2d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                 size_t *workspace_bytes)
{
    *op = NULL;
    LMN_TRY(lmn_ref_check_input(in, pool_name));
    if (p->kind != LMN_POOL_MAX && p->kind != LMN_POOL_AVG)
        return lmn_fail(LMN_ERR_ARG, "%s: unknown pooling kind %d", pool_name, (int)p->kind);
    int out_h = 0, out_w = 0;
    LMN_TRY(lmn_ref_window_axis(pool_name, "h", in->h, p->kernel_h, p->stride_h, p->pad_h,
                                &out_h));
    LMN_TRY(lmn_ref_window_axis(pool_name, "w", in->w, p->kernel_w, p->stride_w, p->pad_w,
                                &out_w));
    /* Beyond half a kernel a window could lie entirely in the padding. */
    if (2 * p->pad_h > p->kernel_h || 2 * p->pad_w > p->kernel_w)
        return lmn_fail(LMN_ERR_ARG,
                        "%s: padding %dx%d exceeds half of the kernel %dx%d; reduce the padding",
                        pool_name, p->pad_h, p->pad_w, p->kernel_h, p->kernel_w);
    const lmn_act_desc result = lmn_act_dense(in->n, in->c, out_h, out_w);
    LMN_TRY(lmn_ref_new_op(LMN_REF_POOL2D, in, &result, op));
    (*op)->p.pool = *p;
    *out = result;
    *workspace_bytes = p->kind == LMN_POOL_MAX ? result.floats * sizeof(int32_t) : 0;
    return LMN_OK;
}

/* The clipped window [begin, end) of output position o along one axis. */
static void window(int o, int kernel, int stride, int pad, int in_len, int *begin, int *end)
{
    const int start = o * stride - pad;
    *begin = start < 0 ? 0 : start;
    *end = start + kernel > in_len ? in_len : start + kernel;
}

static void max_pool_plane(const lmn_pool2d_params *p, const float *x, int H, int W, float *y,
                           int OH, int OW, int32_t *argmax)
{
    for (int oh = 0; oh < OH; oh++) {
        int h0, h1, w0, w1;
        window(oh, p->kernel_h, p->stride_h, p->pad_h, H, &h0, &h1);
        for (int ow = 0; ow < OW; ow++) {
            window(ow, p->kernel_w, p->stride_w, p->pad_w, W, &w0, &w1);
            int best = h0 * W + w0;
            for (int ih = h0; ih < h1; ih++)
                for (int iw = w0; iw < w1; iw++)
                    if (x[ih * W + iw] > x[best]) best = ih * W + iw;
            y[oh * OW + ow] = x[best];
            if (argmax) argmax[oh * OW + ow] = best;
        }
    }
}

static void avg_pool_plane(const lmn_pool2d_params *p, const float *x, int H, int W, float *y,
                           int OH, int OW)
{
    const double area = (double)p->kernel_h * p->kernel_w;
    for (int oh = 0; oh < OH; oh++) {
        int h0, h1, w0, w1;
        window(oh, p->kernel_h, p->stride_h, p->pad_h, H, &h0, &h1);
        for (int ow = 0; ow < OW; ow++) {
            window(ow, p->kernel_w, p->stride_w, p->pad_w, W, &w0, &w1);
            double sum = 0.0;
            for (int ih = h0; ih < h1; ih++)
                for (int iw = w0; iw < w1; iw++) sum += x[ih * W + iw];
            y[oh * OW + ow] = (float)(sum / area);
        }
    }
}

lmn_status lmn_ref_pool2d_forward(lmn_op *op, const float *x, float *y, void *workspace)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_POOL2D, pool_name));
    LMN_TRY(lmn_ref_require(x, pool_name, "x"));
    LMN_TRY(lmn_ref_require(y, pool_name, "y"));
    const lmn_pool2d_params *p = &op->p.pool;
    const int planes = op->in.n * op->in.c;
    const int H = op->in.h, W = op->in.w, OH = op->out.h, OW = op->out.w;
    int32_t *argmax = workspace; /* NULL in inference: positions not needed */

#pragma omp parallel for schedule(static)
    for (int plane = 0; plane < planes; plane++) {
        const float *xp = x + (size_t)plane * H * W;
        float *yp = y + (size_t)plane * OH * OW;
        if (p->kind == LMN_POOL_MAX)
            max_pool_plane(p, xp, H, W, yp, OH, OW,
                           argmax ? argmax + (size_t)plane * OH * OW : NULL);
        else
            avg_pool_plane(p, xp, H, W, yp, OH, OW);
    }
    return LMN_OK;
}

/* Backward scatters into dx one plane per thread, so no two threads touch
 * the same element and the summation order is fixed. */
lmn_status lmn_ref_pool2d_backward(lmn_op *op, const float *dy, const void *workspace,
                                   float *dx)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_POOL2D, pool_name));
    LMN_TRY(lmn_ref_require(dy, pool_name, "dy"));
    LMN_TRY(lmn_ref_require(dx, pool_name, "dx"));
    const lmn_pool2d_params *p = &op->p.pool;
    if (p->kind == LMN_POOL_MAX)
        LMN_TRY(lmn_ref_require(workspace, pool_name,
                                "workspace (max positions written by the training forward)"));
    const int planes = op->in.n * op->in.c;
    const int H = op->in.h, W = op->in.w, OH = op->out.h, OW = op->out.w;
    const int32_t *argmax = workspace;
    const float inv_area = 1.0f / (float)(p->kernel_h * p->kernel_w);

#pragma omp parallel for schedule(static)
    for (int plane = 0; plane < planes; plane++) {
        float *dxp = dx + (size_t)plane * H * W;
        const float *dyp = dy + (size_t)plane * OH * OW;
        memset(dxp, 0, (size_t)H * W * sizeof(float));
        for (int oh = 0; oh < OH; oh++) {
            for (int ow = 0; ow < OW; ow++) {
                const float g = dyp[oh * OW + ow];
                if (p->kind == LMN_POOL_MAX) {
                    dxp[argmax[(size_t)plane * OH * OW + oh * OW + ow]] += g;
                    continue;
                }
                int h0, h1, w0, w1;
                window(oh, p->kernel_h, p->stride_h, p->pad_h, H, &h0, &h1);
                window(ow, p->kernel_w, p->stride_w, p->pad_w, W, &w0, &w1);
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) dxp[ih * W + iw] += g * inv_area;
            }
        }
    }
    return LMN_OK;
}
