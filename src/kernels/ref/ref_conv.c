/* Reference 2-D convolution (cross-correlation, as in PyTorch): direct
 * loops over dense NCHW activations and OIHW weights. Each output element
 * is computed by one thread with a double accumulator, so results do not
 * depend on the thread count. */
#include <stdbool.h>

#include "kernels/ref/ref_internal.h"

static const char *const conv_name = "ref conv2d";

lmn_status lmn_ref_conv2d_create(lmn_backend *be, const lmn_conv2d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out)
{
    *op = NULL;
    LMN_TRY(lmn_ref_check_input(in, conv_name));
    if (p->out_channels <= 0)
        return lmn_fail(LMN_ERR_ARG, "%s: out_channels = %d must be positive", conv_name,
                        p->out_channels);
    int out_h = 0, out_w = 0;
    LMN_TRY(lmn_ref_window_axis(conv_name, "h", in->h, p->kernel_h, p->stride_h, p->pad_h,
                                &out_h));
    LMN_TRY(lmn_ref_window_axis(conv_name, "w", in->w, p->kernel_w, p->stride_w, p->pad_w,
                                &out_w));
    const lmn_act_desc result = lmn_act_dense(in->n, p->out_channels, out_h, out_w);
    LMN_TRY(lmn_ref_new_op(LMN_REF_CONV2D, in, &result, op));
    (*op)->p.conv = *p;
    *out = result;
    return LMN_OK;
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

lmn_status lmn_ref_conv2d_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                  float *y)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_CONV2D, conv_name));
    LMN_TRY(lmn_ref_require(x, conv_name, "x"));
    LMN_TRY(lmn_ref_require(w, conv_name, "w"));
    LMN_TRY(lmn_ref_require(y, conv_name, "y"));
    const lmn_conv2d_params *p = &op->p.conv;
    if (p->bias) LMN_TRY(lmn_ref_require(b, conv_name, "b"));
    const int N = op->in.n, C = op->in.c, H = op->in.h, W = op->in.w;
    const int O = op->out.c, OH = op->out.h, OW = op->out.w;
    const int KH = p->kernel_h, KW = p->kernel_w;

#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < O; o++) {
            for (int oh = 0; oh < OH; oh++) {
                for (int ow = 0; ow < OW; ow++) {
                    double sum = p->bias ? b[o] : 0.0;
                    for (int c = 0; c < C; c++) {
                        for (int kh = 0; kh < KH; kh++) {
                            const int ih = input_coord(oh, kh, p->stride_h, p->pad_h);
                            if (ih < 0 || ih >= H) continue;
                            for (int kw = 0; kw < KW; kw++) {
                                const int iw = input_coord(ow, kw, p->stride_w, p->pad_w);
                                if (iw < 0 || iw >= W) continue;
                                sum += (double)x[(((size_t)n * C + c) * H + ih) * W + iw] *
                                       w[(((size_t)o * C + c) * KH + kh) * KW + kw];
                            }
                        }
                    }
                    if (p->fuse_relu && sum < 0.0) sum = 0.0;
                    y[(((size_t)n * O + o) * OH + oh) * OW + ow] = (float)sum;
                }
            }
        }
    }
    return LMN_OK;
}

/* dx gathers, for each input element, every (output, tap) pair that read
 * it; gathering keeps each dx element owned by one thread. */
lmn_status lmn_ref_conv2d_backward_data(lmn_op *op, const float *dy, const float *w, float *dx)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_CONV2D, conv_name));
    LMN_TRY(lmn_ref_require(dy, conv_name, "dy"));
    LMN_TRY(lmn_ref_require(w, conv_name, "w"));
    LMN_TRY(lmn_ref_require(dx, conv_name, "dx"));
    const lmn_conv2d_params *p = &op->p.conv;
    const int N = op->in.n, C = op->in.c, H = op->in.h, W = op->in.w;
    const int O = op->out.c, OH = op->out.h, OW = op->out.w;
    const int KH = p->kernel_h, KW = p->kernel_w;

#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
            for (int ih = 0; ih < H; ih++) {
                for (int iw = 0; iw < W; iw++) {
                    double sum = 0.0;
                    for (int kh = 0; kh < KH; kh++) {
                        int oh = 0;
                        if (!output_coord(ih, kh, p->stride_h, p->pad_h, OH, &oh)) continue;
                        for (int kw = 0; kw < KW; kw++) {
                            int ow = 0;
                            if (!output_coord(iw, kw, p->stride_w, p->pad_w, OW, &ow)) continue;
                            for (int o = 0; o < O; o++)
                                sum += (double)dy[(((size_t)n * O + o) * OH + oh) * OW + ow] *
                                       w[(((size_t)o * C + c) * KH + kh) * KW + kw];
                        }
                    }
                    dx[(((size_t)n * C + c) * H + ih) * W + iw] = (float)sum;
                }
            }
        }
    }
    return LMN_OK;
}

lmn_status lmn_ref_conv2d_backward_weights(lmn_op *op, const float *x, const float *dy,
                                           float *dw, float *db)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_CONV2D, conv_name));
    LMN_TRY(lmn_ref_require(x, conv_name, "x"));
    LMN_TRY(lmn_ref_require(dy, conv_name, "dy"));
    LMN_TRY(lmn_ref_require(dw, conv_name, "dw"));
    const lmn_conv2d_params *p = &op->p.conv;
    const int N = op->in.n, C = op->in.c, H = op->in.h, W = op->in.w;
    const int O = op->out.c, OH = op->out.h, OW = op->out.w;
    const int KH = p->kernel_h, KW = p->kernel_w;

#pragma omp parallel for collapse(2) schedule(static)
    for (int o = 0; o < O; o++) {
        for (int c = 0; c < C; c++) {
            for (int kh = 0; kh < KH; kh++) {
                for (int kw = 0; kw < KW; kw++) {
                    double sum = 0.0;
                    for (int n = 0; n < N; n++) {
                        for (int oh = 0; oh < OH; oh++) {
                            const int ih = input_coord(oh, kh, p->stride_h, p->pad_h);
                            if (ih < 0 || ih >= H) continue;
                            for (int ow = 0; ow < OW; ow++) {
                                const int iw = input_coord(ow, kw, p->stride_w, p->pad_w);
                                if (iw < 0 || iw >= W) continue;
                                sum += (double)dy[(((size_t)n * O + o) * OH + oh) * OW + ow] *
                                       x[(((size_t)n * C + c) * H + ih) * W + iw];
                            }
                        }
                    }
                    dw[(((size_t)o * C + c) * KH + kh) * KW + kw] = (float)sum;
                }
            }
        }
    }

    if (p->bias && db) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < O; o++) {
            double sum = 0.0;
            for (int n = 0; n < N; n++)
                for (size_t i = 0; i < (size_t)OH * OW; i++)
                    sum += dy[((size_t)n * O + o) * OH * OW + i];
            db[o] = (float)sum;
        }
    }
    return LMN_OK;
}
