/* Reference batch normalization: normalized statistics, inference with
 * given statistics, fused ReLU, and gradients (through the batch
 * statistics) against finite differences. */
#include <string.h>

#include "kernel_testing.h"
#include "kernels/elementwise.h"

typedef struct bn_case {
    lmn_backend *be;
    lmn_op *op;
    lmn_act_desc in;
    float *x, *gamma, *beta, *y, *r, *mean, *var;
} bn_case;

/* sum(bn_train(x) * R): the statistics move with x, as in training. */
static double bn_objective(void *ctx)
{
    bn_case *t = ctx;
    CHECK_OK(t->be->batchnorm_forward_train(t->op, t->x, t->gamma, t->beta, t->y, t->mean,
                                            t->var));
    return lmn_kt_dot(t->y, t->r, t->in.floats);
}

/* Mean and biased variance of channel c of a dense NCHW tensor. */
static void channel_stats(const lmn_act_desc *d, const float *x, int c, double *mean,
                          double *var)
{
    const size_t plane = (size_t)d->h * d->w, count = (size_t)d->n * plane;
    double sum = 0.0, squares = 0.0;
    for (int n = 0; n < d->n; n++)
        for (size_t i = 0; i < plane; i++) sum += x[((size_t)n * d->c + c) * plane + i];
    *mean = sum / (double)count;
    for (int n = 0; n < d->n; n++)
        for (size_t i = 0; i < plane; i++) {
            const double diff = x[((size_t)n * d->c + c) * plane + i] - *mean;
            squares += diff * diff;
        }
    *var = squares / (double)count;
}

static void test_training_statistics(lmn_backend *be)
{
    lmn_batchnorm_params p = {.epsilon = 1e-5f};
    lmn_act_desc in = lmn_act_dense(4, 3, 5, 3), out;
    lmn_op *op = lmn_kt_batchnorm(be, &p, &in, &out);
    CHECK(out.n == 4 && out.c == 3 && out.h == 5 && out.w == 3 && out.layout == NULL);
    float *x = lmn_kt_zeros(in.floats), *y = lmn_kt_zeros(in.floats);
    lmn_kt_fill_uniform(x, in.floats, 11, 2.0f, 6.0f); /* mean ~4, far from 0 */
    const float gamma[3] = {1, 2, 0.5f}, beta[3] = {0, -1, 3};
    float mean[3], var[3];
    CHECK_OK(be->batchnorm_forward_train(op, x, gamma, beta, y, mean, var));
    for (int c = 0; c < 3; c++) {
        double xm, xv, ym, yv;
        channel_stats(&in, x, c, &xm, &xv);
        CHECK_CLOSE(mean[c], xm, 1e-6);
        CHECK_CLOSE(var[c], xv, 1e-6);
        channel_stats(&in, y, c, &ym, &yv);
        /* y has mean beta and standard deviation gamma (up to epsilon). */
        CHECK_CLOSE(ym, beta[c], 1e-5);
        CHECK_CLOSE(yv, (double)gamma[c] * gamma[c], 1e-3);
    }

    /* Inference with the batch's own statistics reproduces training. */
    float *y_infer = lmn_kt_zeros(in.floats);
    CHECK_OK(be->batchnorm_forward_infer(op, x, gamma, beta, mean, var, y_infer));
    lmn_kt_check_close(y_infer, y, in.floats, 1e-6, "infer with batch stats == train");
    lmn_free(x), lmn_free(y), lmn_free(y_infer);
    be->op_destroy(op);
}

static void test_inference_hand_computed(lmn_backend *be)
{
    lmn_batchnorm_params p = {.epsilon = 0.0f};
    lmn_act_desc in = lmn_act_dense(1, 2, 1, 2), out;
    lmn_op *op = lmn_kt_batchnorm(be, &p, &in, &out);
    const float x[4] = {3, -1, 10, 0};
    const float gamma[2] = {2, 1}, beta[2] = {1, 0}, mean[2] = {1, 5}, var[2] = {4, 25};
    /* c0: 2 * (x - 1) / 2 + 1 = x; c1: (x - 5) / 5 */
    const float want[4] = {3, -1, 1, -1};
    float y[4];
    CHECK_OK(be->batchnorm_forward_infer(op, x, gamma, beta, mean, var, y));
    lmn_kt_check_close(y, want, 4, 1e-6, "bn inference by hand");
    be->op_destroy(op);

    p.fuse_relu = true;
    op = lmn_kt_batchnorm(be, &p, &in, &out);
    const float want_relu[4] = {3, 0, 1, 0};
    CHECK_OK(be->batchnorm_forward_infer(op, x, gamma, beta, mean, var, y));
    lmn_kt_check_close(y, want_relu, 4, 1e-6, "bn inference with fused relu");
    be->op_destroy(op);
}

/* Smallest |gamma (x - mean) / sqrt(var + eps) + beta| of the last forward. */
static double min_abs_preactivation(const bn_case *t, float epsilon)
{
    const size_t plane = (size_t)t->in.h * t->in.w;
    double smallest = INFINITY;
    for (size_t i = 0; i < t->in.floats; i++) {
        const size_t c = i / plane % (size_t)t->in.c;
        const double pre = t->gamma[c] * (t->x[i] - t->mean[c]) / sqrt(t->var[c] + epsilon) +
                           t->beta[c];
        smallest = fmin(smallest, fabs(pre));
    }
    return smallest;
}

static void check_gradients(lmn_backend *be, lmn_act_desc in, bool fuse_relu, uint64_t seed,
                            const char *name)
{
    lmn_batchnorm_params p = {.epsilon = 1e-3f, .fuse_relu = fuse_relu};
    bn_case t = {.be = be, .in = in};
    lmn_act_desc out;
    t.op = lmn_kt_batchnorm(be, &p, &in, &out);
    if (!t.op) return;
    const size_t c = (size_t)in.c;
    t.x = lmn_kt_random(in.floats, seed);
    t.gamma = lmn_kt_zeros(c);
    lmn_kt_fill_uniform(t.gamma, c, seed + 1, 0.5f, 1.5f);
    t.beta = lmn_kt_random(c, seed + 2);
    t.r = lmn_kt_random(in.floats, seed + 3);
    t.y = lmn_kt_zeros(in.floats);
    t.mean = lmn_kt_zeros(c);
    t.var = lmn_kt_zeros(c);
    float *dy = lmn_kt_zeros(in.floats), *dx = lmn_kt_zeros(in.floats);
    float *dgamma = lmn_kt_zeros(c), *dbeta = lmn_kt_zeros(c);

    bn_objective(&t);
    /* Finite differences are only valid away from the ReLU kink. */
    if (fuse_relu)
        CHECK_MSG(min_abs_preactivation(&t, p.epsilon) > 0.02,
                  "%s: pick another seed, an output is too close to the ReLU kink", name);
    if (fuse_relu)
        lmn_relu_backward(t.y, t.r, dy, in.floats);
    else
        memcpy(dy, t.r, in.floats * sizeof(float));
    CHECK_OK(be->batchnorm_backward(t.op, t.x, dy, t.gamma, t.mean, t.var, dx, dgamma, dbeta));

    char what[128];
    snprintf(what, sizeof what, "%s: dx", name);
    lmn_kt_check_grad(bn_objective, &t, t.x, in.floats, dx, 1e-3f, 1e-2, what);
    snprintf(what, sizeof what, "%s: dgamma", name);
    lmn_kt_check_grad(bn_objective, &t, t.gamma, c, dgamma, 1e-3f, 1e-2, what);
    snprintf(what, sizeof what, "%s: dbeta", name);
    lmn_kt_check_grad(bn_objective, &t, t.beta, c, dbeta, 1e-3f, 1e-2, what);

    lmn_free(t.x), lmn_free(t.gamma), lmn_free(t.beta), lmn_free(t.r), lmn_free(t.y);
    lmn_free(t.mean), lmn_free(t.var), lmn_free(dy), lmn_free(dx), lmn_free(dgamma);
    lmn_free(dbeta);
    be->op_destroy(t.op);
}

static void test_errors(lmn_backend *be)
{
    lmn_batchnorm_params p = {.epsilon = -1.0f};
    lmn_act_desc in = lmn_act_dense(2, 2, 2, 2), out;
    lmn_op *op = NULL;
    CHECK(be->batchnorm_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    p.epsilon = 1e-5f;
    in.c = 0;
    CHECK(be->batchnorm_create(be, &p, &in, &op, &out) == LMN_ERR_SHAPE);
    CHECK(op == NULL);
}

int main(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create_ref(&be));
    if (!be) return lmn_test_summary("kernels_test_ref_batchnorm");
    test_training_statistics(be);
    test_inference_hand_computed(be);
    check_gradients(be, lmn_act_dense(3, 2, 3, 2), false, 21, "bn 3x2x3x2");
    check_gradients(be, lmn_act_dense(5, 3, 1, 1), false, 31, "bn after linear 5x3");
    check_gradients(be, lmn_act_dense(2, 3, 3, 3), true, 111, "bn fused relu");
    test_errors(be);
    lmn_backend_destroy(be);
    return lmn_test_summary("kernels_test_ref_batchnorm");
}
