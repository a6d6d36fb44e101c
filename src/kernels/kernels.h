/* Compute kernels: one interface, two implementations.
 *
 * A backend (lmn_backend) builds "ops" for layers with learnable or
 * layout-dependent work: convolution, pooling, batch normalization, fully
 * connected. `ref` is plain loops (the test oracle); `dnnl` is oneDNN.
 *
 * Activations are described by lmn_act_desc: a logical NCHW shape plus a
 * backend-chosen memory layout. `layout == NULL` means dense NCHW (the
 * only layout the ref backend produces). The dnnl backend may produce
 * blocked layouts (nChw16c, ...) so consecutive layers avoid reorders.
 *
 * The contract of every op:
 *   - it is created for a given input desc and reports its output desc;
 *   - forward reads x in the input desc's layout, writes y in the output
 *     desc's layout;
 *   - backward reads dy in the output layout and writes dx in the input
 *     layout; weight gradients are OVERWRITTEN (not accumulated);
 *   - any reorder it needs internally is its own business;
 *   - parameters are always dense: conv weights OIHW, linear weights
 *     [out][in] (PyTorch order), biases / BN scale and shift [C];
 *   - layouts an op reports stay valid until the op is destroyed.
 *
 * Element-wise kernels (ReLU, residual add, dropout) and losses do not
 * depend on the layout (padding stays zero through them) and have a single
 * implementation in kernels/elementwise.h and kernels/loss.h. */
#ifndef LMN_KERNELS_KERNELS_H
#define LMN_KERNELS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

typedef struct lmn_layout lmn_layout; /* backend-defined */
typedef struct lmn_op lmn_op;         /* backend-defined */
typedef struct lmn_backend lmn_backend;

typedef struct lmn_act_desc {
    int n, c, h, w;           /* logical shape; a [N,K] matrix is h = w = 1 */
    const lmn_layout *layout; /* NULL: dense NCHW */
    size_t floats;            /* floats to allocate for this activation */
} lmn_act_desc;

/* A dense NCHW desc of the given shape. */
lmn_act_desc lmn_act_dense(int n, int c, int h, int w);

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

typedef struct lmn_batchnorm_params {
    float epsilon;  /* added to the variance, e.g. 1e-5 */
    bool fuse_relu; /* forward writes relu(bn(x)) */
} lmn_batchnorm_params;

typedef struct lmn_linear_params {
    int out_features; /* in_features = c * h * w of the (dense) input */
    bool bias;
    bool fuse_relu;
} lmn_linear_params;

/* Fused ReLU: forward applies max(0, .) to its output. backward receives
 * dy ALREADY masked by the caller (relu_backward on the stored output), so
 * backward is the same with or without fusion. */

struct lmn_backend {
    const char *name; /* "ref" or "dnnl" */
    void *impl;       /* engine, stream, ... */

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

    /* --- batch normalization (per channel over N, H, W) ---------------- */
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
     * shape required. Either layout may be NULL (dense NCHW). */
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

/* Constructors of the two implementations (used by lmn_backend_create). */
lmn_status lmn_backend_create_ref(lmn_backend **out);
lmn_status lmn_backend_create_dnnl(lmn_backend **out);

#endif
