/* Compute kernels: one interface, two implementations.
 *
 * A backend (lmn_backend) builds "ops" for layers with learnable or
 * layout-dependent work: convolution and pooling (2-D and 3-D),
 * upsampling, batch normalization, fully connected. `ref` is plain loops
 * (the test oracle); `dnnl` is oneDNN.
 *
 * Activations are described by lmn_act_desc: a logical NCHW shape (NCDHW
 * when d > 0) plus a backend-chosen memory layout. `layout == NULL` means
 * dense NCHW / NCDHW (the only layouts the ref backend produces). The dnnl
 * backend may produce blocked layouts (nChw16c, nCdhw16c, ...) so
 * consecutive layers avoid reorders.
 *
 * The contract of every op:
 *   - it is created for a given input desc and reports its output desc;
 *   - forward reads x in the input desc's layout, writes y in the output
 *     desc's layout;
 *   - backward reads dy in the output layout and writes dx in the input
 *     layout; weight gradients are OVERWRITTEN (not accumulated);
 *   - any reorder it needs internally is its own business;
 *   - x, dy and the parameters must not change in memory between an op's
 *     forward and its backward calls of the same step: an op may keep its
 *     own converted copy of a buffer, recognised by its address, instead
 *     of converting it again (the dnnl convolutions and linear layers
 *     under bf16);
 *   - parameters are always dense: conv weights OIHW (OIDHW in 3-D),
 *     linear weights [out][in] (PyTorch order), biases / BN scale and
 *     shift [C];
 *   - layouts an op reports stay valid until the op is destroyed.
 *
 * Element-wise kernels (ReLU, leaky ReLU, scaling, residual add, dropout)
 * and losses do not depend on the layout (padding stays zero through them)
 * and have a single implementation in kernels/elementwise.h and
 * kernels/loss.h. */
#ifndef LMN_KERNELS_KERNELS_H
#define LMN_KERNELS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

typedef struct lmn_layout lmn_layout; /* backend-defined */

/* The arithmetic of the ops a backend creates (ALGORITHMS.md 13). Under
 * BF16 the dnnl convolutions (2-D, 3-D) and linear layers round their
 * inputs and weights to bf16 inside the op, multiply in bf16 and accumulate
 * in fp32, and write fp32 weight gradients. The convolutions write their
 * activations in bf16 (lmn_act_desc.elem), as autocast does: batch norm,
 * pooling, the element-wise layers but dropout (kernels/elementwise.h) then
 * read and write bf16 (batch norm's statistics and parameters stay fp32),
 * and the next convolution reads them without a conversion pass. Gradients of activations take their
 * activation's element type. Linear layers write fp32 (the loss reads
 * them); parameters, their gradients and everything the optimizer and the
 * reductions see stay fp32. */
typedef enum lmn_precision { LMN_PRECISION_FP32, LMN_PRECISION_BF16 } lmn_precision;
typedef struct lmn_op lmn_op;         /* backend-defined */
typedef struct lmn_backend lmn_backend;

/* The element type of an activation buffer. Buffers are float * at this
 * interface either way; a BF16 buffer holds two bf16 values per float. */
typedef enum lmn_elem_type { LMN_ELEM_F32 = 0, LMN_ELEM_BF16 } lmn_elem_type;

typedef struct lmn_act_desc {
    int n, c, h, w;           /* logical shape; a [N,K] matrix is h = w = 1 */
    const lmn_layout *layout; /* NULL: dense NCHW (NCDHW when d > 0), fp32 */
    size_t floats;            /* floats to allocate for this activation */
    /* Depth of a 3-D (NCDHW) activation; 0 means 2-D NCHW, so zero-
     * initialized descs stay 2-D. 2-D ops reject d > 0 and 3-D ops d == 0. */
    int d;
    /* F32 unless the layout says otherwise (zero-initialized descs are F32);
     * only the dnnl backend under BF16 produces BF16 activations. */
    lmn_elem_type elem;
} lmn_act_desc;

/* A dense NCHW desc of the given shape. */
lmn_act_desc lmn_act_dense(int n, int c, int h, int w);
/* A dense NCDHW desc (floats = n*c*d*h*w); d must be >= 1. */
lmn_act_desc lmn_act_dense3d(int n, int c, int d, int h, int w);
/* Elements of the logical tensor: n*c*h*w, times d when d > 0. */
size_t lmn_act_elements(const lmn_act_desc *desc);

typedef struct lmn_conv2d_params {
    int out_channels;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;      /* symmetric zero padding */
    bool bias;             /* b is NULL when false */
    bool fuse_relu;        /* forward writes relu(conv(x) + b) */
} lmn_conv2d_params;

typedef enum lmn_pool_kind { LMN_POOL_MAX, LMN_POOL_AVG } lmn_pool_kind;

/* Average pooling divides by the full window, padding included (PyTorch's
 * default count_include_pad=True). Global average pooling is a window of
 * the whole input with no padding. */
typedef struct lmn_pool2d_params {
    lmn_pool_kind kind;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
} lmn_pool2d_params;

/* 3-D convolution over NCDHW; weights are dense OIDHW. Same contract as
 * conv2d otherwise. */
typedef struct lmn_conv3d_params {
    int out_channels;
    int kernel_d, kernel_h, kernel_w;
    int stride_d, stride_h, stride_w;
    int pad_d, pad_h, pad_w; /* symmetric zero padding */
    bool bias;               /* b is NULL when false */
    bool fuse_relu;          /* forward writes relu(conv(x) + b) */
} lmn_conv3d_params;

/* 3-D pooling over NCDHW; average counts padding, like pool2d. */
typedef struct lmn_pool3d_params {
    lmn_pool_kind kind;
    int kernel_d, kernel_h, kernel_w;
    int stride_d, stride_h, stride_w;
    int pad_d, pad_h, pad_w;
} lmn_pool3d_params;

/* 2-D upsampling by an integer factor r >= 1 (input 2-D, d == 0):
 *   NEAREST: [N,C,H,W] -> [N,C,rH,rW], out[c][h][w] = in[c][h/r][w/r]
 *            (PyTorch nn.Upsample(mode='nearest', scale_factor=r));
 *   PIXEL_SHUFFLE: [N,C*r*r,H,W] -> [N,C,rH,rW],
 *            out[c][h*r+i][w*r+j] = in[c*r*r + i*r + j][h][w]
 *            (PyTorch nn.PixelShuffle(r)); the input's C must divide by r*r. */
typedef enum lmn_upsample_kind {
    LMN_UPSAMPLE_NEAREST,
    LMN_UPSAMPLE_PIXEL_SHUFFLE
} lmn_upsample_kind;

typedef struct lmn_upsample_params {
    lmn_upsample_kind kind;
    int factor;
} lmn_upsample_params;

typedef struct lmn_batchnorm_params {
    float epsilon;  /* added to the variance, e.g. 1e-5 */
    /* forward writes relu(bn(x)); backward takes the gradient of that
     * output UNMASKED and applies the ReLU mask of the op's latest
     * training forward itself (in the same pass as the batch-norm
     * gradient; a dy already masked gives the same result) */
    bool fuse_relu;
} lmn_batchnorm_params;

typedef struct lmn_linear_params {
    int out_features; /* in_features = c * h * w of the (dense) input */
    bool bias;
    bool fuse_relu;
} lmn_linear_params;

/* Fused ReLU: forward applies max(0, .) to its output. backward receives
 * dy ALREADY masked by the caller (relu_backward on the stored output), so
 * backward is the same with or without fusion -- except batch norm, whose
 * backward applies the mask itself (lmn_batchnorm_params.fuse_relu). */

struct lmn_backend {
    const char *name; /* "ref" or "dnnl" */
    void *impl;       /* engine, stream, ... */
    /* Of the ops created from now on (existing ops keep theirs); set it
     * with lmn_backend_set_precision. Zero (FP32) after creation. */
    lmn_precision precision;

    /* --- 2-D convolution --------------------------------------------- */
    lmn_status (*conv2d_create)(lmn_backend *be, const lmn_conv2d_params *p,
                                const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
    lmn_status (*conv2d_forward)(lmn_op *op, const float *x, const float *w, const float *b,
                                 float *y);
    lmn_status (*conv2d_backward_data)(lmn_op *op, const float *dy, const float *w, float *dx);
    /* db may be NULL when the conv has no bias. */
    lmn_status (*conv2d_backward_weights)(lmn_op *op, const float *x, const float *dy,
                                          float *dw, float *db);

    /* --- pooling ------------------------------------------------------ */
    lmn_status (*pool2d_create)(lmn_backend *be, const lmn_pool2d_params *p,
                                const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                size_t *workspace_bytes);
    /* workspace (workspace_bytes, may be 0) is written by forward in
     * training and read by backward (max pool positions). */
    lmn_status (*pool2d_forward)(lmn_op *op, const float *x, float *y, void *workspace);
    lmn_status (*pool2d_backward)(lmn_op *op, const float *dy, const void *workspace,
                                  float *dx);

    /* --- 3-D convolution (NCDHW activations, OIDHW weights) ------------ */
    lmn_status (*conv3d_create)(lmn_backend *be, const lmn_conv3d_params *p,
                                const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
    lmn_status (*conv3d_forward)(lmn_op *op, const float *x, const float *w, const float *b,
                                 float *y);
    lmn_status (*conv3d_backward_data)(lmn_op *op, const float *dy, const float *w, float *dx);
    /* db may be NULL when the conv has no bias. */
    lmn_status (*conv3d_backward_weights)(lmn_op *op, const float *x, const float *dy,
                                          float *dw, float *db);

    /* --- 3-D pooling (same workspace contract as pool2d) ----------------- */
    lmn_status (*pool3d_create)(lmn_backend *be, const lmn_pool3d_params *p,
                                const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                size_t *workspace_bytes);
    lmn_status (*pool3d_forward)(lmn_op *op, const float *x, float *y, void *workspace);
    lmn_status (*pool3d_backward)(lmn_op *op, const float *dy, const void *workspace,
                                  float *dx);

    /* --- 2-D upsampling (nearest, pixel shuffle); no parameters --------- */
    lmn_status (*upsample_create)(lmn_backend *be, const lmn_upsample_params *p,
                                  const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
    lmn_status (*upsample_forward)(lmn_op *op, const float *x, float *y);
    lmn_status (*upsample_backward)(lmn_op *op, const float *dy, float *dx);

    /* --- batch normalization (per channel over N, [D,] H, W; 2-D or 3-D) */
    lmn_status (*batchnorm_create)(lmn_backend *be, const lmn_batchnorm_params *p,
                                   const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
    /* Training: normalizes with the batch statistics and returns them in
     * mean[C] and var[C] (biased variance, the one used to normalize). */
    lmn_status (*batchnorm_forward_train)(lmn_op *op, const float *x, const float *gamma,
                                          const float *beta, float *y, float *mean,
                                          float *var);
    /* Inference: normalizes with the given (running) statistics. */
    lmn_status (*batchnorm_forward_infer)(lmn_op *op, const float *x, const float *gamma,
                                          const float *beta, const float *mean,
                                          const float *var, float *y);
    /* Gradients for the training-mode forward with the saved mean / var. */
    lmn_status (*batchnorm_backward)(lmn_op *op, const float *x, const float *dy,
                                     const float *gamma, const float *mean, const float *var,
                                     float *dx, float *dgamma, float *dbeta);

    /* --- fully connected: y[N][out] = x[N][in] W^T + b ----------------- */
    /* The input must be dense (layout NULL); the output is dense. */
    lmn_status (*linear_create)(lmn_backend *be, const lmn_linear_params *p,
                                const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
    lmn_status (*linear_forward)(lmn_op *op, const float *x, const float *w, const float *b,
                                 float *y);
    lmn_status (*linear_backward_data)(lmn_op *op, const float *dy, const float *w, float *dx);
    lmn_status (*linear_backward_weights)(lmn_op *op, const float *x, const float *dy,
                                          float *dw, float *db);

    /* --- layouts --------------------------------------------------------- */
    /* Copies src (layout of from) into dst (layout of to); same logical
     * shape required (d included). Either layout may be NULL (dense NCHW,
     * or NCDHW for d > 0). */
    lmn_status (*reorder)(lmn_backend *be, const lmn_act_desc *from, const float *src,
                          const lmn_act_desc *to, float *dst);
    /* True when both descs describe the same memory layout. */
    bool (*same_layout)(const lmn_act_desc *a, const lmn_act_desc *b);

    void (*op_destroy)(lmn_op *op);
    void (*destroy)(lmn_backend *be);
};

/* Creates a backend by name ("ref", "dnnl"). Free with lmn_backend_destroy. */
lmn_status lmn_backend_create(const char *name, lmn_backend **out);
void lmn_backend_destroy(lmn_backend *be);
/* Names of the compiled-in backends, NULL-terminated. */
const char *const *lmn_backend_names(void);

/* Sets the precision of the ops `be` creates from now on. BF16 is refused
 * (LMN_ERR_CONFIG, naming train.precision) by the ref backend, which is the
 * fp32 oracle the bf16 kernels are tested against, and by dnnl on a CPU
 * without native bf16 (where oneDNN would emulate it slower than fp32). */
lmn_status lmn_backend_set_precision(lmn_backend *be, lmn_precision precision);
/* "fp32" or "bf16". */
const char *lmn_precision_name(lmn_precision precision);
/* True when oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX);
 * *isa (may be NULL) receives oneDNN's name of the ISA it uses. Honours
 * DNNL_MAX_CPU_ISA, so a capable CPU can be made to look like one without. */
bool lmn_dnnl_native_bf16(const char **isa);

/* Constructors of the two implementations (used by lmn_backend_create). */
lmn_status lmn_backend_create_ref(lmn_backend **out);
lmn_status lmn_backend_create_dnnl(lmn_backend **out);

#endif
