/* Reference 2-D and 3-D pooling over dense NCDHW; a 2-D pool is the 3-D
 * one with a depth-1 window over a depth-1 input (NCHW is NCDHW with
 * D = 1), so there is one implementation. Max pooling ignores padded
 * positions and records, per output, the winning position inside its input
 * volume (int32, (id * H + ih) * W + iw; ih * W + iw in 2-D) in the
 * workspace. Average pooling divides by the full window, padding included
 * (PyTorch count_include_pad=True). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ref/ref_internal.h"

static const char *pool_name(lmn_ref_op_kind kind)
{
    return kind == LMN_REF_POOL2D ? "ref pool2d" : "ref pool3d";
}

/* The 2-D params as a depth-1 window. */
static lmn_pool3d_params as_pool3d(const lmn_pool2d_params *p)
{
    const lmn_pool3d_params q = {.kind = p->kind, .kernel_d = 1, .kernel_h = p->kernel_h,
                                 .kernel_w = p->kernel_w, .stride_d = 1,
                                 .stride_h = p->stride_h, .stride_w = p->stride_w, .pad_d = 0,
                                 .pad_h = p->pad_h, .pad_w = p->pad_w};
    return q;
}

/* "2x2" for a 2-D op, "1x2x2" for a 3-D one: messages speak of what the
 * caller gave. */
static const char *axes_text(lmn_ref_op_kind kind, int d, int h, int w, char *buf, size_t size)
{
    if (kind == LMN_REF_POOL2D)
        snprintf(buf, size, "%dx%d", h, w);
    else
        snprintf(buf, size, "%dx%dx%d", d, h, w);
    return buf;
}

/* Beyond half a kernel a window could lie entirely in the padding. */
static lmn_status check_padding(lmn_ref_op_kind kind, const lmn_pool3d_params *p)
{
    if (2 * p->pad_d <= p->kernel_d && 2 * p->pad_h <= p->kernel_h && 2 * p->pad_w <= p->kernel_w)
        return LMN_OK;
    char pad[48], kernel[48];
    return lmn_fail(LMN_ERR_ARG, "%s: padding %s exceeds half of the kernel %s; reduce the padding",
                    pool_name(kind), axes_text(kind, p->pad_d, p->pad_h, p->pad_w, pad, sizeof pad),
                    axes_text(kind, p->kernel_d, p->kernel_h, p->kernel_w, kernel, sizeof kernel));
}

/* kind says which interface (2-D or 3-D) the op is created for. */
static lmn_status pool_create(lmn_ref_op_kind kind, const lmn_pool3d_params *p,
                              const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                              size_t *workspace_bytes)
{
    const char *name = pool_name(kind);
    *op = NULL;
    *workspace_bytes = 0;
    LMN_TRY(kind == LMN_REF_POOL2D ? lmn_ref_check_input(in, name)
                                   : lmn_ref_check_input3d(in, name));
    if (p->kind != LMN_POOL_MAX && p->kind != LMN_POOL_AVG)
        return lmn_fail(LMN_ERR_ARG, "%s: unknown pooling kind %d", name, (int)p->kind);
    int out_d = 0, out_h = 0, out_w = 0;
    LMN_TRY(lmn_ref_window_axis(name, "d", lmn_ref_depth(in), p->kernel_d, p->stride_d,
                                p->pad_d, &out_d));
    LMN_TRY(lmn_ref_window_axis(name, "h", in->h, p->kernel_h, p->stride_h, p->pad_h, &out_h));
    LMN_TRY(lmn_ref_window_axis(name, "w", in->w, p->kernel_w, p->stride_w, p->pad_w, &out_w));
    LMN_TRY(check_padding(kind, p));
    const lmn_act_desc result = lmn_ref_dense_like(in, in->c, out_d, out_h, out_w);
    LMN_TRY(lmn_ref_new_op(kind, in, &result, op));
    (*op)->p.pool = *p;
    *out = result;
    *workspace_bytes = p->kind == LMN_POOL_MAX ? result.floats * sizeof(int32_t) : 0;
    return LMN_OK;
}

lmn_status lmn_ref_pool2d_create(lmn_backend *be, const lmn_pool2d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                 size_t *workspace_bytes)
{
    const lmn_pool3d_params as_3d = as_pool3d(p);
    return pool_create(LMN_REF_POOL2D, &as_3d, in, op, out, workspace_bytes);
}

lmn_status lmn_ref_pool3d_create(lmn_backend *be, const lmn_pool3d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                 size_t *workspace_bytes)
{
    return pool_create(LMN_REF_POOL3D, p, in, op, out, workspace_bytes);
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
    box b = {window(od, p->kernel_d, p->stride_d, p->pad_d, lmn_ref_depth(in)),
             window(oh, p->kernel_h, p->stride_h, p->pad_h, in->h),
             window(ow, p->kernel_w, p->stride_w, p->pad_w, in->w)};
    return b;
}

/* Floats in one (n, c) volume of a desc: D*H*W (H*W in 2-D). */
static size_t volume_of(const lmn_act_desc *desc)
{
    return (size_t)lmn_ref_depth(desc) * desc->h * desc->w;
}

/* One (n, c) volume: x is [D][H][W], y is [OD][OH][OW]. */
static void pool_volume(const lmn_op *op, const float *x, float *y, int32_t *argmax)
{
    const lmn_pool3d_params *p = &op->p.pool;
    const int H = op->in.h, W = op->in.w;
    const double volume = (double)p->kernel_d * p->kernel_h * p->kernel_w;
    size_t at = 0;
    for (int od = 0; od < lmn_ref_depth(&op->out); od++) {
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

static lmn_status pool_forward(lmn_op *op, lmn_ref_op_kind kind, const float *x, float *y,
                               void *workspace)
{
    const char *name = pool_name(kind);
    LMN_TRY(lmn_ref_check_op(op, kind, name));
    LMN_TRY(lmn_ref_require(x, name, "x"));
    LMN_TRY(lmn_ref_require(y, name, "y"));
    const int volumes = op->in.n * op->in.c;
    const size_t in_volume = volume_of(&op->in), out_volume = volume_of(&op->out);
    int32_t *argmax = workspace; /* NULL in inference: positions not needed */

#pragma omp parallel for schedule(static)
    for (int v = 0; v < volumes; v++)
        pool_volume(op, x + (size_t)v * in_volume, y + (size_t)v * out_volume,
                    argmax ? argmax + (size_t)v * out_volume : NULL);
    return LMN_OK;
}

lmn_status lmn_ref_pool2d_forward(lmn_op *op, const float *x, float *y, void *workspace)
{
    return pool_forward(op, LMN_REF_POOL2D, x, y, workspace);
}

lmn_status lmn_ref_pool3d_forward(lmn_op *op, const float *x, float *y, void *workspace)
{
    return pool_forward(op, LMN_REF_POOL3D, x, y, workspace);
}

/* Scatters one volume's gradient into its (zeroed) dx volume. */
static void unpool_volume(const lmn_op *op, const float *dy, const int32_t *argmax, float *dx)
{
    const lmn_pool3d_params *p = &op->p.pool;
    const int H = op->in.h, W = op->in.w;
    const float inv_volume = 1.0f / (float)(p->kernel_d * p->kernel_h * p->kernel_w);
    size_t at = 0;
    for (int od = 0; od < lmn_ref_depth(&op->out); od++) {
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
static lmn_status pool_backward(lmn_op *op, lmn_ref_op_kind kind, const float *dy,
                                const void *workspace, float *dx)
{
    const char *name = pool_name(kind);
    LMN_TRY(lmn_ref_check_op(op, kind, name));
    LMN_TRY(lmn_ref_require(dy, name, "dy"));
    LMN_TRY(lmn_ref_require(dx, name, "dx"));
    if (op->p.pool.kind == LMN_POOL_MAX)
        LMN_TRY(lmn_ref_require(workspace, name,
                                "workspace (max positions written by the training forward)"));
    const int volumes = op->in.n * op->in.c;
    const size_t in_volume = volume_of(&op->in), out_volume = volume_of(&op->out);
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

lmn_status lmn_ref_pool2d_backward(lmn_op *op, const float *dy, const void *workspace,
                                   float *dx)
{
    return pool_backward(op, LMN_REF_POOL2D, dy, workspace, dx);
}

lmn_status lmn_ref_pool3d_backward(lmn_op *op, const float *dy, const void *workspace,
                                   float *dx)
{
    return pool_backward(op, LMN_REF_POOL3D, dy, workspace, dx);
}
