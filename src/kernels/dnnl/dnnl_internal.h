/* Private to the oneDNN backend: shared state, the layout and op types,
 * and helpers used by the per-op files (dnnl_conv.c, dnnl_pool.c, ...).
 *
 * Layouts: an lmn_layout wraps the dnnl_memory_desc_t an op chose for its
 * output (blocked, e.g. nChw16c). An op owns the layout it reports. When
 * the chosen memory is byte-for-byte dense NCHW (e.g. [N,64,1,1] in
 * nChw16c) the op reports layout NULL instead, so dense-only consumers
 * (linear, the ref backend) accept it without a reorder. */
#ifndef LMN_KERNELS_DNNL_INTERNAL_H
#define LMN_KERNELS_DNNL_INTERNAL_H

#include <oneapi/dnnl/dnnl.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernels/kernels.h"

struct lmn_layout {
    dnnl_memory_desc_t md;
};

/* Backend-wide oneDNN objects. Ops keep a pointer to this; the backend
 * must outlive its ops. */
typedef struct lmn_dnnl_reorder_entry lmn_dnnl_reorder_entry;
typedef struct lmn_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    /* Small cache for lmn_backend.reorder (see dnnl_backend.c). */
    lmn_dnnl_reorder_entry *reorder_cache;
    int reorder_cache_size;
    unsigned long reorder_clock;
    /* Scratch shared by the ops' own kernels (ops run one at a time). */
    void *workspace;
    size_t workspace_bytes;
} lmn_dnnl;

/* Every dnnl op starts with this header; op_destroy dispatches on it. */
struct lmn_op {
    lmn_dnnl *dnnl;
    void (*destroy)(lmn_op *op);
};

/* Turns a failed oneDNN call into an lmn_status with the call's text. */
lmn_status lmn_dnnl_check(dnnl_status_t status, const char *call, const char *context);
#define LMN_DNNL_TRY(call, context) LMN_TRY(lmn_dnnl_check((call), #call, (context)))

/* --- memory descriptors ---------------------------------------------- */

/* Dense NCHW f32 desc of the act desc's logical shape (NCDHW when d > 0). */
lmn_status lmn_dnnl_dense_md(const lmn_act_desc *desc, dnnl_memory_desc_t *md);
/* The desc's actual memory desc: its layout's md, or dense for NULL.
 * Fails when the layout's dims disagree with the logical shape. */
lmn_status lmn_dnnl_act_md(const lmn_act_desc *desc, dnnl_memory_desc_t *md);
/* True when every element lies at its dense NCHW (NCDHW for 5-D) offset
 * and there is no padding (so the buffer can be read as dense). */
bool lmn_dnnl_md_is_dense_nchw(const dnnl_memory_desc_t *md);
/* True when a buffer written with a can be read with b. */
bool lmn_dnnl_md_same_memory(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);
/* Fills *out for an activation in memory desc md, pointing its layout at
 * storage (or NULL when md is dense NCHW). */
void lmn_dnnl_describe_act(const dnnl_memory_desc_t *md, lmn_layout *storage, lmn_act_desc *out);
/* Floats to allocate for md (rounded up: md may hold bf16). */
size_t lmn_dnnl_md_floats(const dnnl_memory_desc_t *md);
/* md's layout with another element type (f32 <-> bf16). */
dnnl_memory_desc_t lmn_dnnl_md_with_type(const dnnl_memory_desc_t *md, dnnl_data_type_t type);
/* The type ops created on be multiply in: dnnl_bf16 under LMN_PRECISION_BF16,
 * else dnnl_f32. It is also the type of the activations the convolutions
 * write (kernels.h). */
dnnl_data_type_t lmn_dnnl_compute_type(const lmn_backend *be);

/* --- sliding windows (convolution, pooling) ------------------------------ */

/* Kernel, stride and padding of a 2-D or 3-D window, spatial axes in
 * oneDNN order (h, w in 2-D; d, h, w in 3-D). */
typedef struct lmn_dnnl_window {
    const char *name; /* "conv2d", "pool3d", ...: names the op in messages */
    int spatial;      /* 2 or 3 */
    int kernel[3], stride[3], pad[3];
} lmn_dnnl_window;

/* The window of 2-D or 3-D params: any struct with kernel_h, stride_h,
 * pad_h, ... fields (lmn_conv2d_params, lmn_pool3d_params, ...). */
#define LMN_DNNL_WINDOW_2D(op_name, p)                                                        \
    {.name = (op_name), .spatial = 2, .kernel = {(p)->kernel_h, (p)->kernel_w},               \
     .stride = {(p)->stride_h, (p)->stride_w}, .pad = {(p)->pad_h, (p)->pad_w}}
#define LMN_DNNL_WINDOW_3D(op_name, p)                                                        \
    {.name = (op_name), .spatial = 3,                                                         \
     .kernel = {(p)->kernel_d, (p)->kernel_h, (p)->kernel_w},                                 \
     .stride = {(p)->stride_d, (p)->stride_h, (p)->stride_w},                                 \
     .pad = {(p)->pad_d, (p)->pad_h, (p)->pad_w}}

/* "3x3" / "3x3x3": one of the window's axis triples, for messages. */
const char *lmn_dnnl_axes_text(const int *v, int spatial, char *buf, size_t size);
/* "kernel 3x3, stride 1x1, pad 1x1", for messages. */
const char *lmn_dnnl_window_text(const lmn_dnnl_window *w, char *buf, size_t size);
/* True when kernel and stride are positive and padding non-negative. */
bool lmn_dnnl_window_valid(const lmn_dnnl_window *w);
/* Fills, for the window's spatial axes, the input's extents (in_dims), the
 * output's (out_dims), and strides / padding as oneDNN takes them. Fails
 * with LMN_ERR_SHAPE when the input's rank is not the window's (depth 0 for
 * 2-D, > 0 for 3-D) or the kernel does not fit the padded input. */
lmn_status lmn_dnnl_window_geometry(const lmn_dnnl_window *w, const lmn_act_desc *in,
                                    dnnl_dim_t *in_dims, dnnl_dim_t *out_dims,
                                    dnnl_dim_t *strides, dnnl_dim_t *padding);

/* --- memory objects and execution --------------------------------------- */

/* The backend's shared scratch, grown to at least `bytes` (64-byte
 * aligned; contents undefined). Ops reserve it when created, so a step
 * does not allocate. */
lmn_status lmn_dnnl_workspace(lmn_dnnl *dnnl, size_t bytes, void **out);

/* A memory object without a buffer; point it with lmn_dnnl_bind. */
lmn_status lmn_dnnl_memory(lmn_dnnl *dnnl, const dnnl_memory_desc_t *md, dnnl_memory_t *mem);
lmn_status lmn_dnnl_bind(dnnl_memory_t mem, const void *data);
lmn_status lmn_dnnl_execute(lmn_dnnl *dnnl, dnnl_primitive_t prim, int nargs,
                            const dnnl_exec_arg_t *args, const char *what);
/* Creates a primitive from pd (the pd stays owned by the caller). */
lmn_status lmn_dnnl_primitive(const_dnnl_primitive_desc_t pd, dnnl_primitive_t *prim,
                              const char *what);
/* True when oneDNN chose its slow reference implementation for pd. */
bool lmn_dnnl_pd_is_reference(const_dnnl_primitive_desc_t pd);
/* The pd's memory desc for `what` (dnnl_query_src_md, ...). */
const dnnl_memory_desc_t *lmn_dnnl_pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what);

/* --- layout conversions inside an op -------------------------------------
 * A conversion moves data between the layout the caller uses (`user`) and
 * the one a primitive wants (`internal`). When both are the same memory it
 * is a no-op and no scratch is allocated. */
typedef struct lmn_dnnl_convert {
    dnnl_primitive_t reorder; /* NULL: layouts agree, pass pointers through */
    dnnl_memory_t from, to;
    float *scratch; /* holds the internal-layout copy; taken at first use */
    size_t scratch_floats;
    dnnl_memory_t scratch_side; /* from or to: the one bound to scratch */
} lmn_dnnl_convert;

/* Prepares a conversion for data flowing user -> internal (an input). */
lmn_status lmn_dnnl_convert_input(lmn_dnnl *dnnl, const dnnl_memory_desc_t *user,
                                  const dnnl_memory_desc_t *internal, lmn_dnnl_convert *cv);
/* Prepares a conversion for data flowing internal -> user (an output). */
lmn_status lmn_dnnl_convert_output(lmn_dnnl *dnnl, const dnnl_memory_desc_t *internal,
                                   const dnnl_memory_desc_t *user, lmn_dnnl_convert *cv);
/* Input: returns in *internal the data in the internal layout (user itself
 * or the scratch, after reordering into it). */
lmn_status lmn_dnnl_convert_in(lmn_dnnl *dnnl, lmn_dnnl_convert *cv, const float *user,
                               const float **internal);
/* Input, for the second of two primitives that want the same conversion
 * of a tensor (the first called lmn_dnnl_convert_in and set *source to
 * user): reuses cv's scratch when it holds `user`, else converts `user`
 * into it. Clears *source: a copy is reused once. */
lmn_status lmn_dnnl_convert_again(lmn_dnnl *dnnl, lmn_dnnl_convert *cv, const float **source,
                                  const float *user, const float **internal);
/* Output: sets *target to where the primitive should write (user itself
 * or the scratch). */
lmn_status lmn_dnnl_convert_target(lmn_dnnl_convert *cv, float *user, float **target);
/* Output: copies the scratch into user when a reorder is needed. */
lmn_status lmn_dnnl_convert_out(lmn_dnnl *dnnl, lmn_dnnl_convert *cv, float *user);
void lmn_dnnl_convert_free(lmn_dnnl_convert *cv);

void lmn_dnnl_primitive_free(dnnl_primitive_t prim);
void lmn_dnnl_pd_free(dnnl_primitive_desc_t pd);
void lmn_dnnl_memory_free(dnnl_memory_t mem);

/* --- op constructors (fill the backend's table) --------------------------- */

lmn_status lmn_dnnl_conv2d_create(lmn_backend *be, const lmn_conv2d_params *p,
                                  const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_dnnl_conv2d_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                   float *y);
lmn_status lmn_dnnl_conv2d_backward_data(lmn_op *op, const float *dy, const float *w,
                                         float *dx);
lmn_status lmn_dnnl_conv2d_backward_weights(lmn_op *op, const float *x, const float *dy,
                                            float *dw, float *db);

lmn_status lmn_dnnl_pool2d_create(lmn_backend *be, const lmn_pool2d_params *p,
                                  const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                  size_t *workspace_bytes);
lmn_status lmn_dnnl_pool2d_forward(lmn_op *op, const float *x, float *y, void *workspace);
lmn_status lmn_dnnl_pool2d_backward(lmn_op *op, const float *dy, const void *workspace,
                                    float *dx);

lmn_status lmn_dnnl_conv3d_create(lmn_backend *be, const lmn_conv3d_params *p,
                                  const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_dnnl_conv3d_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                   float *y);
lmn_status lmn_dnnl_conv3d_backward_data(lmn_op *op, const float *dy, const float *w, float *dx);
lmn_status lmn_dnnl_conv3d_backward_weights(lmn_op *op, const float *x, const float *dy, float *dw,
                                            float *db);

lmn_status lmn_dnnl_pool3d_create(lmn_backend *be, const lmn_pool3d_params *p,
                                  const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out,
                                  size_t *workspace_bytes);
lmn_status lmn_dnnl_pool3d_forward(lmn_op *op, const float *x, float *y, void *workspace);
lmn_status lmn_dnnl_pool3d_backward(lmn_op *op, const float *dy, const void *workspace, float *dx);

lmn_status lmn_dnnl_upsample_create(lmn_backend *be, const lmn_upsample_params *p,
                                    const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_dnnl_upsample_forward(lmn_op *op, const float *x, float *y);
lmn_status lmn_dnnl_upsample_backward(lmn_op *op, const float *dy, float *dx);

lmn_status lmn_dnnl_batchnorm_create(lmn_backend *be, const lmn_batchnorm_params *p,
                                     const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_dnnl_batchnorm_forward_train(lmn_op *op, const float *x, const float *gamma,
                                            const float *beta, float *y, float *mean,
                                            float *var);
lmn_status lmn_dnnl_batchnorm_forward_infer(lmn_op *op, const float *x, const float *gamma,
                                            const float *beta, const float *mean,
                                            const float *var, float *y);
lmn_status lmn_dnnl_batchnorm_backward(lmn_op *op, const float *x, const float *dy,
                                       const float *gamma, const float *mean, const float *var,
                                       float *dx, float *dgamma, float *dbeta);

lmn_status lmn_dnnl_linear_create(lmn_backend *be, const lmn_linear_params *p,
                                  const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out);
lmn_status lmn_dnnl_linear_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                   float *y);
lmn_status lmn_dnnl_linear_backward_data(lmn_op *op, const float *dy, const float *w,
                                         float *dx);
lmn_status lmn_dnnl_linear_backward_weights(lmn_op *op, const float *x, const float *dy,
                                            float *dw, float *db);

/* The bf16 fully connected layer (dnnl_linear_bf16.c), behind the linear
 * op when it is created under bf16: inner products on bf16 x, w and dy with
 * f32 y, dx, dw and db. */
typedef struct lmn_dnnl_linear_bf16 lmn_dnnl_linear_bf16;
lmn_status lmn_dnnl_linear_bf16_create(lmn_dnnl *dnnl, int batch, int in, int out, bool bias,
                                       lmn_dnnl_linear_bf16 **result);
lmn_status lmn_dnnl_linear_bf16_forward(lmn_dnnl_linear_bf16 *l, const float *x, const float *w,
                                        const float *b, float *y);
lmn_status lmn_dnnl_linear_bf16_backward_data(lmn_dnnl_linear_bf16 *l, const float *dy,
                                              const float *w, float *dx);
lmn_status lmn_dnnl_linear_bf16_backward_weights(lmn_dnnl_linear_bf16 *l, const float *x,
                                                 const float *dy, float *dw, float *db);
void lmn_dnnl_linear_bf16_free(lmn_dnnl_linear_bf16 *l);

#endif
