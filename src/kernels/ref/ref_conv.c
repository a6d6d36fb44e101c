/* Reference 2-D and 3-D convolution (cross-correlation, as in PyTorch's
 * Conv2d / Conv3d): direct loops over dense NCDHW activations and OIDHW
 * weights. A 2-D convolution is the 3-D one with a depth-1 kernel over a
 * depth-1 input (NCHW and OIHW are NCDHW and OIDHW with D = 1), so there is
 * one implementation. Each output (or gradient) element is owned by one
 * thread with a double accumulator, so results do not depend on the thread
 * count. */
#include <stdbool.h>

#include "kernels/ref/ref_internal.h"

static const char *conv_name(lmn_ref_op_kind kind)
{
    return kind == LMN_REF_CONV2D ? "ref conv2d" : "ref conv3d";
}

/* The 2-D params as a depth-1 window. */
static lmn_conv3d_params as_conv3d(const lmn_conv2d_params *p)
{
    const lmn_conv3d_params q = {
        .out_channels = p->out_channels, .kernel_d = 1, .kernel_h = p->kernel_h,
        .kernel_w = p->kernel_w, .stride_d = 1, .stride_h = p->stride_h,
        .stride_w = p->stride_w, .pad_d = 0, .pad_h = p->pad_h, .pad_w = p->pad_w,
        .bias = p->bias, .fuse_relu = p->fuse_relu};
    return q;
}

/* kind says which interface (2-D or 3-D) the op is created for. */
static lmn_status conv_create(lmn_ref_op_kind kind, const lmn_conv3d_params *p,
                              const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out)
{
    const char *name = conv_name(kind);
    *op = NULL;
    LMN_TRY(kind == LMN_REF_CONV2D ? lmn_ref_check_input(in, name)
                                   : lmn_ref_check_input3d(in, name));
    if (p->out_channels <= 0)
        return lmn_fail(LMN_ERR_ARG, "%s: out_channels = %d must be positive", name,
                        p->out_channels);
    int out_d = 0, out_h = 0, out_w = 0;
    LMN_TRY(lmn_ref_window_axis(name, "d", lmn_ref_depth(in), p->kernel_d, p->stride_d,
                                p->pad_d, &out_d));
    LMN_TRY(lmn_ref_window_axis(name, "h", in->h, p->kernel_h, p->stride_h, p->pad_h, &out_h));
    LMN_TRY(lmn_ref_window_axis(name, "w", in->w, p->kernel_w, p->stride_w, p->pad_w, &out_w));
    const lmn_act_desc result = lmn_ref_dense_like(in, p->out_channels, out_d, out_h, out_w);
    LMN_TRY(lmn_ref_new_op(kind, in, &result, op));
    (*op)->p.conv = *p;
    *out = result;
    return LMN_OK;
}

lmn_status lmn_ref_conv2d_create(lmn_backend *be, const lmn_conv2d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out)
{
    const lmn_conv3d_params as_3d = as_conv3d(p);
    return conv_create(LMN_REF_CONV2D, &as_3d, in, op, out);
}

lmn_status lmn_ref_conv3d_create(lmn_backend *be, const lmn_conv3d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out)
{
    return conv_create(LMN_REF_CONV3D, p, in, op, out);
}

/* Input coordinate read by output position `o` at kernel tap `k`. */
static int input_coord(int o, int k, int stride, int pad) { return o * stride - pad + k; }

/* The output position whose tap `k` reads input coordinate `i`, if any. */
static bool output_coord(int i, int k, int stride, int pad, int out_len, int *o)
{
    const int shifted = i + pad - k;
    if (shifted < 0 || shifted % stride != 0) return false;
    *o = shifted / stride;
    return *o < out_len;
}

/* Sizes of one op, named once so the loops below stay readable. */
typedef struct conv_dims {
    int N, C, D, H, W; /* input */
    int O, OD, OH, OW; /* output */
    int KD, KH, KW;    /* kernel */
} conv_dims;

static conv_dims dims_of(const lmn_op *op)
{
    const lmn_conv3d_params *p = &op->p.conv;
    const conv_dims s = {op->in.n,  op->in.c,  lmn_ref_depth(&op->in),  op->in.h,
                         op->in.w,  op->out.c, lmn_ref_depth(&op->out), op->out.h,
                         op->out.w, p->kernel_d, p->kernel_h,           p->kernel_w};
    return s;
}

static size_t x_at(const conv_dims *s, int n, int c, int d, int h, int w)
{
    return ((((size_t)n * s->C + c) * s->D + d) * s->H + h) * s->W + w;
}

static size_t y_at(const conv_dims *s, int n, int o, int d, int h, int w)
{
    return ((((size_t)n * s->O + o) * s->OD + d) * s->OH + h) * s->OW + w;
}

static size_t w_at(const conv_dims *s, int o, int c, int kd, int kh, int kw)
{
    return ((((size_t)o * s->C + c) * s->KD + kd) * s->KH + kh) * s->KW + kw;
}

/* sum plus, over c and the taps, x * w for one output element. */
static double output_sum(const lmn_conv3d_params *p, const conv_dims *s, const float *x,
                         const float *w, int n, int o, int od, int oh, int ow, double sum)
{
    for (int c = 0; c < s->C; c++) {
        for (int kd = 0; kd < s->KD; kd++) {
            const int id = input_coord(od, kd, p->stride_d, p->pad_d);
            if (id < 0 || id >= s->D) continue;
            for (int kh = 0; kh < s->KH; kh++) {
                const int ih = input_coord(oh, kh, p->stride_h, p->pad_h);
                if (ih < 0 || ih >= s->H) continue;
                for (int kw = 0; kw < s->KW; kw++) {
                    const int iw = input_coord(ow, kw, p->stride_w, p->pad_w);
                    if (iw < 0 || iw >= s->W) continue;
                    sum += (double)x[x_at(s, n, c, id, ih, iw)] * w[w_at(s, o, c, kd, kh, kw)];
                }
            }
        }
    }
    return sum;
}

static lmn_status conv_forward(lmn_op *op, lmn_ref_op_kind kind, const float *x,
                               const float *w, const float *b, float *y)
{
    const char *name = conv_name(kind);
    LMN_TRY(lmn_ref_check_op(op, kind, name));
    LMN_TRY(lmn_ref_require(x, name, "x"));
    LMN_TRY(lmn_ref_require(w, name, "w"));
    LMN_TRY(lmn_ref_require(y, name, "y"));
    const lmn_conv3d_params *p = &op->p.conv;
    if (p->bias) LMN_TRY(lmn_ref_require(b, name, "b"));
    const conv_dims s = dims_of(op);

#pragma omp parallel for collapse(3) schedule(static)
    for (int n = 0; n < s.N; n++) {
        for (int o = 0; o < s.O; o++) {
            for (int od = 0; od < s.OD; od++) {
                for (int oh = 0; oh < s.OH; oh++) {
                    for (int ow = 0; ow < s.OW; ow++) {
                        double sum = output_sum(p, &s, x, w, n, o, od, oh, ow,
                                                p->bias ? b[o] : 0.0);
                        if (p->fuse_relu && sum < 0.0) sum = 0.0;
                        y[y_at(&s, n, o, od, oh, ow)] = (float)sum;
                    }
                }
            }
        }
    }
    return LMN_OK;
}

lmn_status lmn_ref_conv2d_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                  float *y)
{
    return conv_forward(op, LMN_REF_CONV2D, x, w, b, y);
}

lmn_status lmn_ref_conv3d_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                  float *y)
{
    return conv_forward(op, LMN_REF_CONV3D, x, w, b, y);
}

/* sum over every (output, tap) pair that read input element (n, c, id, ih,
 * iw) of dy * w: gathering keeps each dx element owned by one thread. */
static double input_grad(const lmn_conv3d_params *p, const conv_dims *s, const float *dy,
                         const float *w, int n, int c, int id, int ih, int iw)
{
    double sum = 0.0;
    for (int kd = 0; kd < s->KD; kd++) {
        int od = 0;
        if (!output_coord(id, kd, p->stride_d, p->pad_d, s->OD, &od)) continue;
        for (int kh = 0; kh < s->KH; kh++) {
            int oh = 0;
            if (!output_coord(ih, kh, p->stride_h, p->pad_h, s->OH, &oh)) continue;
            for (int kw = 0; kw < s->KW; kw++) {
                int ow = 0;
                if (!output_coord(iw, kw, p->stride_w, p->pad_w, s->OW, &ow)) continue;
                for (int o = 0; o < s->O; o++)
                    sum += (double)dy[y_at(s, n, o, od, oh, ow)] * w[w_at(s, o, c, kd, kh, kw)];
            }
        }
    }
    return sum;
}

static lmn_status conv_backward_data(lmn_op *op, lmn_ref_op_kind kind, const float *dy,
                                     const float *w, float *dx)
{
    const char *name = conv_name(kind);
    LMN_TRY(lmn_ref_check_op(op, kind, name));
    LMN_TRY(lmn_ref_require(dy, name, "dy"));
    LMN_TRY(lmn_ref_require(w, name, "w"));
    LMN_TRY(lmn_ref_require(dx, name, "dx"));
    const lmn_conv3d_params *p = &op->p.conv;
    const conv_dims s = dims_of(op);

#pragma omp parallel for collapse(3) schedule(static)
    for (int n = 0; n < s.N; n++)
        for (int c = 0; c < s.C; c++)
            for (int id = 0; id < s.D; id++)
                for (int ih = 0; ih < s.H; ih++)
                    for (int iw = 0; iw < s.W; iw++)
                        dx[x_at(&s, n, c, id, ih, iw)] =
                            (float)input_grad(p, &s, dy, w, n, c, id, ih, iw);
    return LMN_OK;
}

lmn_status lmn_ref_conv2d_backward_data(lmn_op *op, const float *dy, const float *w, float *dx)
{
    return conv_backward_data(op, LMN_REF_CONV2D, dy, w, dx);
}

lmn_status lmn_ref_conv3d_backward_data(lmn_op *op, const float *dy, const float *w, float *dx)
{
    return conv_backward_data(op, LMN_REF_CONV3D, dy, w, dx);
}

/* sum over the batch and the outputs of dy * x for one weight tap. */
static double weight_grad(const lmn_conv3d_params *p, const conv_dims *s, const float *x,
                          const float *dy, int o, int c, int kd, int kh, int kw)
{
    double sum = 0.0;
    for (int n = 0; n < s->N; n++) {
        for (int od = 0; od < s->OD; od++) {
            const int id = input_coord(od, kd, p->stride_d, p->pad_d);
            if (id < 0 || id >= s->D) continue;
            for (int oh = 0; oh < s->OH; oh++) {
                const int ih = input_coord(oh, kh, p->stride_h, p->pad_h);
                if (ih < 0 || ih >= s->H) continue;
                for (int ow = 0; ow < s->OW; ow++) {
                    const int iw = input_coord(ow, kw, p->stride_w, p->pad_w);
                    if (iw < 0 || iw >= s->W) continue;
                    sum += (double)dy[y_at(s, n, o, od, oh, ow)] * x[x_at(s, n, c, id, ih, iw)];
                }
            }
        }
    }
    return sum;
}

static void bias_grad(const conv_dims *s, const float *dy, float *db)
{
    const size_t volume = (size_t)s->OD * s->OH * s->OW;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < s->O; o++) {
        double sum = 0.0;
        for (int n = 0; n < s->N; n++)
            for (size_t i = 0; i < volume; i++) sum += dy[((size_t)n * s->O + o) * volume + i];
        db[o] = (float)sum;
    }
}

static lmn_status conv_backward_weights(lmn_op *op, lmn_ref_op_kind kind, const float *x,
                                        const float *dy, float *dw, float *db)
{
    const char *name = conv_name(kind);
    LMN_TRY(lmn_ref_check_op(op, kind, name));
    LMN_TRY(lmn_ref_require(x, name, "x"));
    LMN_TRY(lmn_ref_require(dy, name, "dy"));
    LMN_TRY(lmn_ref_require(dw, name, "dw"));
    const lmn_conv3d_params *p = &op->p.conv;
    const conv_dims s = dims_of(op);

#pragma omp parallel for collapse(3) schedule(static)
    for (int o = 0; o < s.O; o++)
        for (int c = 0; c < s.C; c++)
            for (int kd = 0; kd < s.KD; kd++)
                for (int kh = 0; kh < s.KH; kh++)
                    for (int kw = 0; kw < s.KW; kw++)
                        dw[w_at(&s, o, c, kd, kh, kw)] =
                            (float)weight_grad(p, &s, x, dy, o, c, kd, kh, kw);

    if (p->bias && db) bias_grad(&s, dy, db);
    return LMN_OK;
}

lmn_status lmn_ref_conv2d_backward_weights(lmn_op *op, const float *x, const float *dy,
                                           float *dw, float *db)
{
    return conv_backward_weights(op, LMN_REF_CONV2D, x, dy, dw, db);
}

lmn_status lmn_ref_conv3d_backward_weights(lmn_op *op, const float *x, const float *dy,
                                           float *dw, float *db)
{
    return conv_backward_weights(op, LMN_REF_CONV3D, x, dy, dw, db);
}
