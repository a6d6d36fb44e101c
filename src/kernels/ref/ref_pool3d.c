/* Reference 3-D pooling over dense NCDHW, the 2-D rules one dimension up:
 * max pooling ignores padded positions and records, per output, the
 * winning position inside its input volume (int32, (id * H + ih) * W + iw)
 * in the workspace; average pooling divides by the full window, padding
 * included (PyTorch count_include_pad=True). */
#include <stdint.h>
#include <string.h>

#include "kernels/ref/ref_internal.h"

static const char *const pool_name = "ref pool3d";

lmn_status lmn_ref_pool3d_create(lmn_backend *be, const lmn_pool3d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                 size_t *workspace_bytes)
{
    *op = NULL;
    *workspace_bytes = 0;
    LMN_TRY(lmn_ref_check_input3d(in, pool_name));
    if (p->kind != LMN_POOL_MAX && p->kind != LMN_POOL_AVG)
        return lmn_fail(LMN_ERR_ARG, "%s: unknown pooling kind %d", pool_name, (int)p->kind);
    int out_d = 0, out_h = 0, out_w = 0;
    LMN_TRY(lmn_ref_window_axis(pool_name, "d", in->d, p->kernel_d, p->stride_d, p->pad_d,
                                &out_d));
    LMN_TRY(lmn_ref_window_axis(pool_name, "h", in->h, p->kernel_h, p->stride_h, p->pad_h,
                                &out_h));
    LMN_TRY(lmn_ref_window_axis(pool_name, "w", in->w, p->kernel_w, p->stride_w, p->pad_w,
                                &out_w));
    /* Beyond half a kernel a window could lie entirely in the padding. */
    if (2 * p->pad_d > p->kernel_d || 2 * p->pad_h > p->kernel_h || 2 * p->pad_w > p->kernel_w)
        return lmn_fail(LMN_ERR_ARG,
                        "%s: padding %dx%dx%d exceeds half of the kernel %dx%dx%d; reduce the "
                        "padding",
                        pool_name, p->pad_d, p->pad_h, p->pad_w, p->kernel_d, p->kernel_h,
                        p->kernel_w);
    const lmn_act_desc result = lmn_act_dense3d(in->n, in->c, out_d, out_h, out_w);
    LMN_TRY(lmn_ref_new_op(LMN_REF_POOL3D, in, &result, op));
    (*op)->p.pool3d = *p;
    *out = result;
    *workspace_bytes = p->kind == LMN_POOL_MAX ? result.floats * sizeof(int32_t) : 0;
    return LMN_OK;
}

/* The clipped window [begin, end) of output position o along one axis. */
typedef struct span {
    int begin, end;
} span;

static span window(int o, int kernel, int stride, int pad, int in_len)
{
    const int start = o * stride - pad;
    span s = {start < 0 ? 0 : start, start + kernel > in_len ? in_len : start + kernel};
    return s;
}

/* The three clipped windows of output (od, oh, ow). */
typedef struct box {
    span d, h, w;
} box;

static box window_box(const lmn_pool3d_params *p, const lmn_act_desc *in, int od, int oh,
                      int ow)
{
    box b = {window(od, p->kernel_d, p->stride_d, p->pad_d, in->d),
             window(oh, p->kernel_h, p->stride_h, p->pad_h, in->h),
             window(ow, p->kernel_w, p->stride_w, p->pad_w, in->w)};
    return b;
}

/* One (n, c) volume: x is [D][H][W], y is [OD][OH][OW]. */
static void pool_volume(const lmn_op *op, const float *x, float *y, int32_t *argmax)
{
    const lmn_pool3d_params *p = &op->p.pool3d;
    const int H = op->in.h, W = op->in.w;
    const double volume = (double)p->kernel_d * p->kernel_h * p->kernel_w;
    size_t at = 0;
    for (int od = 0; od < op->out.d; od++) {
        for (int oh = 0; oh < op->out.h; oh++) {
            for (int ow = 0; ow < op->out.w; ow++, at++) {
                const box b = window_box(p, &op->in, od, oh, ow);
                int best = (b.d.begin * H + b.h.begin) * W + b.w.begin;
                double sum = 0.0;
                for (int id = b.d.begin; id < b.d.end; id++) {
                    for (int ih = b.h.begin; ih < b.h.end; ih++) {
                        for (int iw = b.w.begin; iw < b.w.end; iw++) {
                            const int i = (id * H + ih) * W + iw;
                            sum += x[i];
                            if (x[i] > x[best]) best = i;
                        }
                    }
                }
                if (p->kind == LMN_POOL_MAX) {
                    y[at] = x[best];
                    if (argmax) argmax[at] = best;
                } else {
                    y[at] = (float)(sum / volume);
                }
            }
        }
    }
}

lmn_status lmn_ref_pool3d_forward(lmn_op *op, const float *x, float *y, void *workspace)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_POOL3D, pool_name));
    LMN_TRY(lmn_ref_require(x, pool_name, "x"));
    LMN_TRY(lmn_ref_require(y, pool_name, "y"));
    const int volumes = op->in.n * op->in.c;
    const size_t in_volume = (size_t)op->in.d * op->in.h * op->in.w;
    const size_t out_volume = (size_t)op->out.d * op->out.h * op->out.w;
    int32_t *argmax = workspace; /* NULL in inference: positions not needed */

#pragma omp parallel for schedule(static)
    for (int v = 0; v < volumes; v++)
        pool_volume(op, x + (size_t)v * in_volume, y + (size_t)v * out_volume,
                    argmax ? argmax + (size_t)v * out_volume : NULL);
    return LMN_OK;
}

/* Scatters one volume's gradient into its (zeroed) dx volume. */
static void unpool_volume(const lmn_op *op, const float *dy, const int32_t *argmax, float *dx)
{
    const lmn_pool3d_params *p = &op->p.pool3d;
    const int H = op->in.h, W = op->in.w;
    const float inv_volume = 1.0f / (float)(p->kernel_d * p->kernel_h * p->kernel_w);
    size_t at = 0;
    for (int od = 0; od < op->out.d; od++) {
        for (int oh = 0; oh < op->out.h; oh++) {
            for (int ow = 0; ow < op->out.w; ow++, at++) {
                if (p->kind == LMN_POOL_MAX) {
                    dx[argmax[at]] += dy[at];
                    continue;
                }
                const box b = window_box(p, &op->in, od, oh, ow);
                for (int id = b.d.begin; id < b.d.end; id++)
                    for (int ih = b.h.begin; ih < b.h.end; ih++)
                        for (int iw = b.w.begin; iw < b.w.end; iw++)
                            dx[(id * H + ih) * W + iw] += dy[at] * inv_volume;
            }
        }
    }
}

/* One volume per thread: no two threads touch the same dx element and the
 * summation order is fixed. */
lmn_status lmn_ref_pool3d_backward(lmn_op *op, const float *dy, const void *workspace,
                                   float *dx)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_POOL3D, pool_name));
    LMN_TRY(lmn_ref_require(dy, pool_name, "dy"));
    LMN_TRY(lmn_ref_require(dx, pool_name, "dx"));
    if (op->p.pool3d.kind == LMN_POOL_MAX)
        LMN_TRY(lmn_ref_require(workspace, pool_name,
                                "workspace (max positions written by the training forward)"));
    const int volumes = op->in.n * op->in.c;
    const size_t in_volume = (size_t)op->in.d * op->in.h * op->in.w;
    const size_t out_volume = (size_t)op->out.d * op->out.h * op->out.w;
    const int32_t *argmax = workspace;

#pragma omp parallel for schedule(static)
    for (int v = 0; v < volumes; v++) {
        float *dxv = dx + (size_t)v * in_volume;
        memset(dxv, 0, in_volume * sizeof(float));
        unpool_volume(op, dy + (size_t)v * out_volume,
                      argmax ? argmax + (size_t)v * out_volume : NULL, dxv);
    }
    return LMN_OK;
}
