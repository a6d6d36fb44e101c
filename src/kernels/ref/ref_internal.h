/* Private to the reference backend: the op record shared by its files and
 * the functions lmn_backend_create_ref wires into the lmn_backend table. */
#ifndef LMN_KERNELS_REF_INTERNAL_H
#define LMN_KERNELS_REF_INTERNAL_H

#include <stdint.h>

#include "kernels/kernels.h"

typedef enum lmn_ref_op_kind {
    LMN_REF_CONV2D,
    LMN_REF_POOL2D,
    LMN_REF_BATCHNORM,
    LMN_REF_LINEAR,
    LMN_REF_CONV3D,
    LMN_REF_POOL3D,
    LMN_REF_UPSAMPLE
} lmn_ref_op_kind;

/* Every ref op remembers what it was created for; all tensors are dense.
 * Convolution and pooling keep 3-D params for both kinds: a 2-D op is the
 * 3-D one with a depth-1 window over a depth-1 input (see lmn_ref_depth). */
struct lmn_op {
    lmn_ref_op_kind kind;
    lmn_act_desc in, out;
    union {
        lmn_conv3d_params conv;
        lmn_pool3d_params pool;
        lmn_batchnorm_params bn;
        lmn_linear_params linear;
        lmn_upsample_params upsample;
    } p;
    /* Batch norm with a fused ReLU: 1 where the latest training forward's
     * output is positive (its backward applies it); NULL otherwise. */
    uint8_t *relu_mask;
};

/* --- helpers shared by the ref files (ref_backend.c) -------------------- */

/* Checks that an input desc is a positive dense shape, 2-D or 3-D ("what"
 * names the op). */
lmn_status lmn_ref_check_dense(const lmn_act_desc *in, const char *what);
/* lmn_ref_check_dense plus: the input is 2-D (d == 0). */
lmn_status lmn_ref_check_input(const lmn_act_desc *in, const char *what);
/* lmn_ref_check_dense plus: the input is 3-D (d > 0). */
lmn_status lmn_ref_check_input3d(const lmn_act_desc *in, const char *what);
/* Allocates an op of `kind` for in/out (freed by lmn_ref_op_destroy). */
lmn_status lmn_ref_new_op(lmn_ref_op_kind kind, const lmn_act_desc *in, const lmn_act_desc *out,
                          lmn_op **op);
/* Fails with LMN_ERR_ARG unless op exists and is of `kind`. */
lmn_status lmn_ref_check_op(const lmn_op *op, lmn_ref_op_kind kind, const char *what);
/* Fails with LMN_ERR_ARG naming `buffer` when ptr is NULL. */
lmn_status lmn_ref_require(const void *ptr, const char *what, const char *buffer);
/* Sliding-window output length (in + 2 pad - kernel) / stride + 1, or 0
 * when the window does not fit even once. */
int lmn_ref_window_output(int in, int kernel, int stride, int pad);
/* Validates kernel/stride/pad of one spatial axis and computes its output
 * length; fails with LMN_ERR_SHAPE when it would be empty. */
lmn_status lmn_ref_window_axis(const char *what, const char *axis, int in, int kernel,
                               int stride, int pad, int *out);
/* Depth of an activation as the 3-D loops see it: 1 for a 2-D one. */
int lmn_ref_depth(const lmn_act_desc *desc);
/* A dense desc of shape [in->n, c, d, h, w], 2-D (d dropped, must be 1)
 * when `in` is 2-D: the output of an op keeps its input's rank. */
lmn_act_desc lmn_ref_dense_like(const lmn_act_desc *in, int c, int d, int h, int w);
void lmn_ref_op_destroy(lmn_op *op);

/* --- the op functions (ref_conv.c and ref_pool.c: 2-D and 3-D; ref_upsample.c,
 * ref_batchnorm.c, ref_linear.c) */

lmn_status lmn_ref_conv2d_create(lmn_backend *be, const lmn_conv2d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_ref_conv2d_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                  float *y);
lmn_status lmn_ref_conv2d_backward_data(lmn_op *op, const float *dy, const float *w, float *dx);
lmn_status lmn_ref_conv2d_backward_weights(lmn_op *op, const float *x, const float *dy,
                                           float *dw, float *db);

lmn_status lmn_ref_pool2d_create(lmn_backend *be, const lmn_pool2d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                 size_t *workspace_bytes);
lmn_status lmn_ref_pool2d_forward(lmn_op *op, const float *x, float *y, void *workspace);
lmn_status lmn_ref_pool2d_backward(lmn_op *op, const float *dy, const void *workspace,
                                   float *dx);

lmn_status lmn_ref_conv3d_create(lmn_backend *be, const lmn_conv3d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_ref_conv3d_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                  float *y);
lmn_status lmn_ref_conv3d_backward_data(lmn_op *op, const float *dy, const float *w, float *dx);
lmn_status lmn_ref_conv3d_backward_weights(lmn_op *op, const float *x, const float *dy, float *dw,
                                           float *db);

lmn_status lmn_ref_pool3d_create(lmn_backend *be, const lmn_pool3d_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                 size_t *workspace_bytes);
lmn_status lmn_ref_pool3d_forward(lmn_op *op, const float *x, float *y, void *workspace);
lmn_status lmn_ref_pool3d_backward(lmn_op *op, const float *dy, const void *workspace, float *dx);

lmn_status lmn_ref_upsample_create(lmn_backend *be, const lmn_upsample_params *p,
                                   const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_ref_upsample_forward(lmn_op *op, const float *x, float *y);
lmn_status lmn_ref_upsample_backward(lmn_op *op, const float *dy, float *dx);

lmn_status lmn_ref_batchnorm_create(lmn_backend *be, const lmn_batchnorm_params *p,
                                    const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_ref_batchnorm_forward_train(lmn_op *op, const float *x, const float *gamma,
                                           const float *beta, float *y, float *mean, float *var);
lmn_status lmn_ref_batchnorm_forward_infer(lmn_op *op, const float *x, const float *gamma,
                                           const float *beta, const float *mean,
                                           const float *var, float *y);
lmn_status lmn_ref_batchnorm_backward(lmn_op *op, const float *x, const float *dy,
                                      const float *gamma, const float *mean, const float *var,
                                      float *dx, float *dgamma, float *dbeta);

lmn_status lmn_ref_linear_create(lmn_backend *be, const lmn_linear_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_ref_linear_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                  float *y);
lmn_status lmn_ref_linear_backward_data(lmn_op *op, const float *dy, const float *w, float *dx);
lmn_status lmn_ref_linear_backward_weights(lmn_op *op, const float *x, const float *dy,
                                           float *dw, float *db);

#endif
