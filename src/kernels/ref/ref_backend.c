/* The reference backend: plain loops over dense NCHW / NCDHW, the oracle the dnnl
 * backend is tested against. This file holds the backend table, layouts
 * (only dense exists here) and the helpers the op files share. */
#include <string.h>

#include "core/memory.h"
#include "kernels/ref/ref_internal.h"

lmn_status lmn_ref_check_dense(const lmn_act_desc *in, const char *what)
{
    if (!in) return lmn_fail(LMN_ERR_ARG, "%s: input desc is NULL", what);
    if (in->layout)
        return lmn_fail(LMN_ERR_ARG,
                        "%s: the ref backend only handles dense NCHW / NCDHW inputs (layout "
                        "NULL); reorder the activation to dense first",
                        what);
    if (in->n <= 0 || in->c <= 0 || in->h <= 0 || in->w <= 0 || in->d < 0)
        return lmn_fail(LMN_ERR_SHAPE, "%s: input shape %dx%dx%dx%d (depth %d) must be positive",
                        what, in->n, in->c, in->h, in->w, in->d);
    return LMN_OK;
}

lmn_status lmn_ref_check_input(const lmn_act_desc *in, const char *what)
{
    LMN_TRY(lmn_ref_check_dense(in, what));
    if (in->d != 0)
        return lmn_fail(LMN_ERR_SHAPE,
                        "%s: input is 3-D (depth %d) but this op is 2-D; use the 3-D op or "
                        "fold the depth into another axis first",
                        what, in->d);
    return LMN_OK;
}

lmn_status lmn_ref_check_input3d(const lmn_act_desc *in, const char *what)
{
    LMN_TRY(lmn_ref_check_dense(in, what));
    if (in->d <= 0)
        return lmn_fail(LMN_ERR_SHAPE,
                        "%s: input [%d,%d,%d,%d] is 2-D (depth 0) but this op is 3-D; give "
                        "it an NCDHW activation (lmn_act_dense3d)",
                        what, in->n, in->c, in->h, in->w);
    return LMN_OK;
}

lmn_status lmn_ref_new_op(lmn_ref_op_kind kind, const lmn_act_desc *in, const lmn_act_desc *out,
                          lmn_op **op)
{
    void *mem = NULL;
    LMN_TRY(lmn_alloc_bytes(&mem, sizeof(lmn_op), "ref op"));
    lmn_op *created = mem;
    created->kind = kind;
    created->in = *in;
    created->out = *out;
    *op = created;
    return LMN_OK;
}

lmn_status lmn_ref_check_op(const lmn_op *op, lmn_ref_op_kind kind, const char *what)
{
    if (!op) return lmn_fail(LMN_ERR_ARG, "%s: op is NULL", what);
    if (op->kind != kind)
        return lmn_fail(LMN_ERR_ARG, "%s: op was created for a different layer type", what);
    return LMN_OK;
}

lmn_status lmn_ref_require(const void *ptr, const char *what, const char *buffer)
{
    if (!ptr) return lmn_fail(LMN_ERR_ARG, "%s: buffer '%s' is NULL", what, buffer);
    return LMN_OK;
}

int lmn_ref_window_output(int in, int kernel, int stride, int pad)
{
    const int span = in + 2 * pad - kernel;
    /* C division truncates toward zero, so a negative span must not reach it. */
    return span < 0 ? 0 : span / stride + 1;
}

lmn_status lmn_ref_window_axis(const char *what, const char *axis, int in, int kernel,
                               int stride, int pad, int *out)
{
    if (kernel <= 0 || stride <= 0 || pad < 0)
        return lmn_fail(LMN_ERR_ARG,
                        "%s: kernel_%s = %d, stride_%s = %d, pad_%s = %d: kernel and stride "
                        "must be positive, padding non-negative",
                        what, axis, kernel, axis, stride, axis, pad);
    *out = lmn_ref_window_output(in, kernel, stride, pad);
    if (*out <= 0)
        return lmn_fail(LMN_ERR_SHAPE,
                        "%s: output %s (%d + 2*%d - %d)/%d + 1 is empty: the kernel is larger "
                        "than the padded input; use a smaller kernel or more padding",
                        what, axis, in, pad, kernel, stride);
    return LMN_OK;
}

int lmn_ref_depth(const lmn_act_desc *desc) { return desc->d > 0 ? desc->d : 1; }

lmn_act_desc lmn_ref_dense_like(const lmn_act_desc *in, int c, int d, int h, int w)
{
    return in->d > 0 ? lmn_act_dense3d(in->n, c, d, h, w) : lmn_act_dense(in->n, c, h, w);
}

void lmn_ref_op_destroy(lmn_op *op)
{
    if (op) lmn_free(op->relu_mask);
    lmn_free(op);
}

static bool same_shape(const lmn_act_desc *a, const lmn_act_desc *b)
{
    return a->n == b->n && a->c == b->c && a->d == b->d && a->h == b->h && a->w == b->w;
}

static lmn_status ref_reorder(lmn_backend *be, const lmn_act_desc *from, const float *src,
                              const lmn_act_desc *to, float *dst)
{
    if (!from || !to || !src || !dst)
        return lmn_fail(LMN_ERR_ARG, "ref reorder: NULL desc or buffer");
    if (from->layout || to->layout)
        return lmn_fail(LMN_ERR_ARG,
                        "ref reorder: only dense NCHW / NCDHW (layout NULL) is known to the ref "
                        "backend; a blocked layout must be reordered by its own backend");
    if (!same_shape(from, to))
        return lmn_fail(LMN_ERR_SHAPE,
                        "ref reorder: shapes %dx%dx%dx%d (depth %d) and %dx%dx%dx%d (depth %d) "
                        "differ",
                        from->n, from->c, from->h, from->w, from->d, to->n, to->c, to->h, to->w,
                        to->d);
    const size_t count = lmn_act_elements(from);
    if (src != dst) memmove(dst, src, count * sizeof(float));
    return LMN_OK;
}

static bool ref_same_layout(const lmn_act_desc *a, const lmn_act_desc *b)
{
    return a->layout == NULL && b->layout == NULL;
}

static void ref_destroy(lmn_backend *be) { lmn_free(be); }

lmn_status lmn_backend_create_ref(lmn_backend **out)
{
    void *mem = NULL;
    *out = NULL;
    LMN_TRY(lmn_alloc_bytes(&mem, sizeof(lmn_backend), "ref backend"));
    lmn_backend *be = mem;
    be->name = "ref";
    be->impl = NULL;
    be->conv2d_create = lmn_ref_conv2d_create;
    be->conv2d_forward = lmn_ref_conv2d_forward;
    be->conv2d_backward_data = lmn_ref_conv2d_backward_data;
    be->conv2d_backward_weights = lmn_ref_conv2d_backward_weights;
    be->pool2d_create = lmn_ref_pool2d_create;
    be->pool2d_forward = lmn_ref_pool2d_forward;
    be->pool2d_backward = lmn_ref_pool2d_backward;
    be->conv3d_create = lmn_ref_conv3d_create;
    be->conv3d_forward = lmn_ref_conv3d_forward;
    be->conv3d_backward_data = lmn_ref_conv3d_backward_data;
    be->conv3d_backward_weights = lmn_ref_conv3d_backward_weights;
    be->pool3d_create = lmn_ref_pool3d_create;
    be->pool3d_forward = lmn_ref_pool3d_forward;
    be->pool3d_backward = lmn_ref_pool3d_backward;
    be->upsample_create = lmn_ref_upsample_create;
    be->upsample_forward = lmn_ref_upsample_forward;
    be->upsample_backward = lmn_ref_upsample_backward;
    be->batchnorm_create = lmn_ref_batchnorm_create;
    be->batchnorm_forward_train = lmn_ref_batchnorm_forward_train;
    be->batchnorm_forward_infer = lmn_ref_batchnorm_forward_infer;
    be->batchnorm_backward = lmn_ref_batchnorm_backward;
    be->linear_create = lmn_ref_linear_create;
    be->linear_forward = lmn_ref_linear_forward;
    be->linear_backward_data = lmn_ref_linear_backward_data;
    be->linear_backward_weights = lmn_ref_linear_backward_weights;
    be->reorder = ref_reorder;
    be->same_layout = ref_same_layout;
    be->op_destroy = lmn_ref_op_destroy;
    be->destroy = ref_destroy;
    *out = be;
    return LMN_OK;
}
