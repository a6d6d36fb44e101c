/* Reference batch normalization per channel over (N, H, W) of dense NCHW,
 * or over (N, D, H, W) of dense NCDHW.
 * One thread owns one channel; statistics and gradient sums use double
 * accumulators and two passes (mean first, then centred squares). */
#include <math.h>

#include "core/memory.h"
#include "kernels/ref/ref_internal.h"

static const char *const bn_name = "ref batchnorm";

lmn_status lmn_ref_batchnorm_create(lmn_backend *be, const lmn_batchnorm_params *p,
                                    const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out)
{
    *op = NULL;
    LMN_TRY(lmn_ref_check_dense(in, bn_name));
    if (!(p->epsilon >= 0.0f))
        return lmn_fail(LMN_ERR_ARG, "%s: epsilon = %g must be >= 0", bn_name,
                        (double)p->epsilon);
    lmn_act_desc result = lmn_act_dense(in->n, in->c, in->h, in->w);
    if (in->d > 0) result = lmn_act_dense3d(in->n, in->c, in->d, in->h, in->w);
    LMN_TRY(lmn_ref_new_op(LMN_REF_BATCHNORM, in, &result, op));
    (*op)->p.bn = *p;
    *out = result;
    if (!p->fuse_relu) return LMN_OK;
    const lmn_status status = lmn_alloc_bytes((void **)&(*op)->relu_mask, in->floats,
                                              "ref batchnorm relu mask");
    if (status != LMN_OK) {
        lmn_ref_op_destroy(*op);
        *op = NULL;
    }
    return status;
}

/* Elements of one channel in one sample: H * W, times D for NCDHW. */
static size_t spatial_size(const lmn_act_desc *d)
{
    return (size_t)d->h * d->w * (size_t)(d->d > 0 ? d->d : 1);
}

/* Address of element i (0 <= i < N * spatial) of channel c. */
static size_t channel_index(const lmn_act_desc *d, int c, size_t i)
{
    const size_t plane = spatial_size(d);
    const size_t n = i / plane;
    return (n * d->c + c) * plane + i % plane;
}

static size_t channel_count(const lmn_act_desc *d) { return (size_t)d->n * spatial_size(d); }

/* y = gamma * (x - mean) / sqrt(var + eps) + beta on one channel; with a
 * fused ReLU, mask (NULL in inference) records where y > 0. */
static void normalize_channel(const lmn_op *op, int c, const float *x, double gamma,
                              double beta, double mean, double var, float *y, uint8_t *mask)
{
    const double inv_std = 1.0 / sqrt(var + op->p.bn.epsilon);
    const size_t count = channel_count(&op->in);
    for (size_t i = 0; i < count; i++) {
        const size_t at = channel_index(&op->in, c, i);
        double v = gamma * ((double)x[at] - mean) * inv_std + beta;
        if (op->p.bn.fuse_relu && v < 0.0) v = 0.0;
        y[at] = (float)v;
        if (mask) mask[at] = y[at] > 0.0f;
    }
}

static lmn_status check_buffers(const float *x, const float *gamma, const float *beta,
                                const float *y)
{
    LMN_TRY(lmn_ref_require(x, bn_name, "x"));
    LMN_TRY(lmn_ref_require(gamma, bn_name, "gamma"));
    LMN_TRY(lmn_ref_require(beta, bn_name, "beta"));
    return lmn_ref_require(y, bn_name, "y");
}

lmn_status lmn_ref_batchnorm_forward_train(lmn_op *op, const float *x, const float *gamma,
                                           const float *beta, float *y, float *mean, float *var)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_BATCHNORM, bn_name));
    LMN_TRY(check_buffers(x, gamma, beta, y));
    LMN_TRY(lmn_ref_require(mean, bn_name, "mean"));
    LMN_TRY(lmn_ref_require(var, bn_name, "var"));
    const size_t count = channel_count(&op->in);

#pragma omp parallel for schedule(static)
    for (int c = 0; c < op->in.c; c++) {
        double sum = 0.0;
        for (size_t i = 0; i < count; i++) sum += x[channel_index(&op->in, c, i)];
        const double mu = sum / (double)count;
        double squares = 0.0;
        for (size_t i = 0; i < count; i++) {
            const double d = x[channel_index(&op->in, c, i)] - mu;
            squares += d * d;
        }
        const double sigma2 = squares / (double)count; /* biased: what normalizes */
        normalize_channel(op, c, x, gamma[c], beta[c], mu, sigma2, y, op->relu_mask);
        mean[c] = (float)mu;
        var[c] = (float)sigma2;
    }
    return LMN_OK;
}

lmn_status lmn_ref_batchnorm_forward_infer(lmn_op *op, const float *x, const float *gamma,
                                           const float *beta, const float *mean,
                                           const float *var, float *y)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_BATCHNORM, bn_name));
    LMN_TRY(check_buffers(x, gamma, beta, y));
    LMN_TRY(lmn_ref_require(mean, bn_name, "mean"));
    LMN_TRY(lmn_ref_require(var, bn_name, "var"));

#pragma omp parallel for schedule(static)
    for (int c = 0; c < op->in.c; c++)
        normalize_channel(op, c, x, gamma[c], beta[c], mean[c], var[c], y, NULL);
    return LMN_OK;
}

/* dy through the fused ReLU's mask (kernels.h), if any. */
static inline double masked(const lmn_op *op, const float *dy, size_t at)
{
    return !op->relu_mask || op->relu_mask[at] ? (double)dy[at] : 0.0;
}

/* With xhat = (x - mean) / sigma and M elements per channel:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma / (M sigma) * (M dy - dbeta - xhat * dgamma). */
lmn_status lmn_ref_batchnorm_backward(lmn_op *op, const float *x, const float *dy,
                                      const float *gamma, const float *mean, const float *var,
                                      float *dx, float *dgamma, float *dbeta)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_BATCHNORM, bn_name));
    LMN_TRY(lmn_ref_require(x, bn_name, "x"));
    LMN_TRY(lmn_ref_require(dy, bn_name, "dy"));
    LMN_TRY(lmn_ref_require(gamma, bn_name, "gamma"));
    LMN_TRY(lmn_ref_require(mean, bn_name, "mean"));
    LMN_TRY(lmn_ref_require(var, bn_name, "var"));
    LMN_TRY(lmn_ref_require(dx, bn_name, "dx"));
    LMN_TRY(lmn_ref_require(dgamma, bn_name, "dgamma"));
    LMN_TRY(lmn_ref_require(dbeta, bn_name, "dbeta"));
    const size_t count = channel_count(&op->in);
    const double m = (double)count;

#pragma omp parallel for schedule(static)
    for (int c = 0; c < op->in.c; c++) {
        const double inv_std = 1.0 / sqrt((double)var[c] + op->p.bn.epsilon);
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (size_t i = 0; i < count; i++) {
            const size_t at = channel_index(&op->in, c, i);
            const double g = masked(op, dy, at);
            sum_dy += g;
            sum_dy_xhat += g * ((double)x[at] - mean[c]) * inv_std;
        }
        const double scale = (double)gamma[c] * inv_std / m;
        for (size_t i = 0; i < count; i++) {
            const size_t at = channel_index(&op->in, c, i);
            const double xhat = ((double)x[at] - mean[c]) * inv_std;
            dx[at] = (float)(scale * (m * masked(op, dy, at) - sum_dy - xhat * sum_dy_xhat));
        }
        dgamma[c] = (float)sum_dy_xhat;
        dbeta[c] = (float)sum_dy;
    }
    return LMN_OK;
}
