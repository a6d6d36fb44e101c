/* Reference 2-D upsampling over dense NCHW, written as scatters from each
 * input element to the outputs it becomes (the dnnl backend gathers, so the
 * two are independent implementations):
 *   nearest:       in[n][c][h][w]         -> out[n][c][h*r+i][w*r+j]
 *   pixel shuffle: in[n][c*r*r+i*r+j][h][w] -> out[n][c][h*r+i][w*r+j]
 * Backward is the transpose: nearest sums each r x r block of dy, pixel
 * shuffle applies the inverse permutation. */
#include "kernels/ref/ref_internal.h"

static const char *const upsample_name = "ref upsample";

lmn_status lmn_ref_upsample_create(lmn_backend *be, const lmn_upsample_params *p,
                                   const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out)
{
    *op = NULL;
    LMN_TRY(lmn_ref_check_input(in, upsample_name));
    const int r = p->factor;
    if (p->kind != LMN_UPSAMPLE_NEAREST && p->kind != LMN_UPSAMPLE_PIXEL_SHUFFLE)
        return lmn_fail(LMN_ERR_ARG, "%s: unknown upsampling kind %d", upsample_name,
                        (int)p->kind);
    if (r < 1 || (long long)in->h * r > 1 << 30 || (long long)in->w * r > 1 << 30)
        return lmn_fail(LMN_ERR_ARG, "%s: factor %d on a %dx%d input: the factor must be >= 1 "
                        "and the output at most 2^30 per side", upsample_name, r, in->h, in->w);
    int out_c = in->c;
    if (p->kind == LMN_UPSAMPLE_PIXEL_SHUFFLE) {
        if (in->c % (r * r) != 0)
            return lmn_fail(LMN_ERR_SHAPE,
                            "%s: pixel shuffle by %d needs input channels divisible by %d, "
                            "got %d; give the previous layer a multiple of %d channels",
                            upsample_name, r, r * r, in->c, r * r);
        out_c = in->c / (r * r);
    }
    const lmn_act_desc result = lmn_act_dense(in->n, out_c, in->h * r, in->w * r);
    LMN_TRY(lmn_ref_new_op(LMN_REF_UPSAMPLE, in, &result, op));
    (*op)->p.upsample = *p;
    *out = result;
    return LMN_OK;
}

/* Offset in the output of pixel (h*r + i, w*r + j) of output channel oc. */
static size_t out_at(const lmn_op *op, int n, int oc, int h, int i, int w, int j)
{
    const int r = op->p.upsample.factor;
    return (((size_t)n * op->out.c + oc) * op->out.h + (size_t)h * r + i) * op->out.w +
           (size_t)w * r + j;
}

/* The output channel that input channel c feeds. */
static int target_channel(const lmn_op *op, int c)
{
    const int r = op->p.upsample.factor;
    return op->p.upsample.kind == LMN_UPSAMPLE_NEAREST ? c : c / (r * r);
}

/* Whether input channel c feeds sub-pixel (i, j) of each r x r block. */
static bool feeds(const lmn_op *op, int c, int i, int j)
{
    const int r = op->p.upsample.factor;
    return op->p.upsample.kind == LMN_UPSAMPLE_NEAREST || c % (r * r) == i * r + j;
}

/* Walks every input element and the output pixels it becomes: forward
 * copies the element into them (from = x, to = y), backward sums them into
 * it (from = dy, to = dx). One walk keeps the two passes exact transposes.
 * Every output pixel comes from exactly one input element, so no two
 * threads write the same element in either direction. */
static void walk_pairs(const lmn_op *op, bool backward, const float *from, float *to)
{
    const int N = op->in.n, C = op->in.c, H = op->in.h, W = op->in.w;
    const int r = op->p.upsample.factor;

#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++) {
                    const size_t at = (((size_t)n * C + c) * H + h) * W + w;
                    double sum = 0.0;
                    for (int i = 0; i < r; i++)
                        for (int j = 0; j < r; j++) {
                            if (!feeds(op, c, i, j)) continue;
                            const size_t out = out_at(op, n, target_channel(op, c), h, i, w, j);
                            if (backward)
                                sum += from[out];
                            else
                                to[out] = from[at];
                        }
                    if (backward) to[at] = (float)sum;
                }
}

lmn_status lmn_ref_upsample_forward(lmn_op *op, const float *x, float *y)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_UPSAMPLE, upsample_name));
    LMN_TRY(lmn_ref_require(x, upsample_name, "x"));
    LMN_TRY(lmn_ref_require(y, upsample_name, "y"));
    walk_pairs(op, false, x, y);
    return LMN_OK;
}

lmn_status lmn_ref_upsample_backward(lmn_op *op, const float *dy, float *dx)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_UPSAMPLE, upsample_name));
    LMN_TRY(lmn_ref_require(dy, upsample_name, "dy"));
    LMN_TRY(lmn_ref_require(dx, upsample_name, "dx"));
    walk_pairs(op, true, dy, dx);
    return LMN_OK;
}
