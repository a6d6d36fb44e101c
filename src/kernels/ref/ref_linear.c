/* Reference fully connected layer: y[N][out] = x[N][in] W^T + b with W
 * stored [out][in] (PyTorch order); the input is read as a dense
 * [N][c*h*w] matrix. Each output element is one double dot product. */
#include "kernels/ref/ref_internal.h"

static const char *const linear_name = "ref linear";

lmn_status lmn_ref_linear_create(lmn_backend *be, const lmn_linear_params *p,
                                 const lmn_act_desc *in, lmn_op **op, lmn_act_desc *out)
{
    *op = NULL;
    LMN_TRY(lmn_ref_check_input(in, linear_name));
    if (p->out_features <= 0)
        return lmn_fail(LMN_ERR_ARG, "%s: out_features = %d must be positive", linear_name,
                        p->out_features);
    const lmn_act_desc result = lmn_act_dense(in->n, p->out_features, 1, 1);
    LMN_TRY(lmn_ref_new_op(LMN_REF_LINEAR, in, &result, op));
    (*op)->p.linear = *p;
    *out = result;
    return LMN_OK;
}

static int in_features(const lmn_op *op) { return op->in.c * op->in.h * op->in.w; }

lmn_status lmn_ref_linear_forward(lmn_op *op, const float *x, const float *w, const float *b,
                                  float *y)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_LINEAR, linear_name));
    LMN_TRY(lmn_ref_require(x, linear_name, "x"));
    LMN_TRY(lmn_ref_require(w, linear_name, "w"));
    LMN_TRY(lmn_ref_require(y, linear_name, "y"));
    const lmn_linear_params *p = &op->p.linear;
    if (p->bias) LMN_TRY(lmn_ref_require(b, linear_name, "b"));
    const int N = op->in.n, I = in_features(op), O = p->out_features;

#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < O; o++) {
            double sum = p->bias ? b[o] : 0.0;
            for (int i = 0; i < I; i++) sum += (double)x[(size_t)n * I + i] * w[(size_t)o * I + i];
            if (p->fuse_relu && sum < 0.0) sum = 0.0;
            y[(size_t)n * O + o] = (float)sum;
        }
    }
    return LMN_OK;
}

/* dx[n][i] = sum_o dy[n][o] W[o][i] */
lmn_status lmn_ref_linear_backward_data(lmn_op *op, const float *dy, const float *w, float *dx)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_LINEAR, linear_name));
    LMN_TRY(lmn_ref_require(dy, linear_name, "dy"));
    LMN_TRY(lmn_ref_require(w, linear_name, "w"));
    LMN_TRY(lmn_ref_require(dx, linear_name, "dx"));
    const int N = op->in.n, I = in_features(op), O = op->p.linear.out_features;

#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < I; i++) {
            double sum = 0.0;
            for (int o = 0; o < O; o++) sum += (double)dy[(size_t)n * O + o] * w[(size_t)o * I + i];
            dx[(size_t)n * I + i] = (float)sum;
        }
    }
    return LMN_OK;
}

/* dW[o][i] = sum_n dy[n][o] x[n][i], db[o] = sum_n dy[n][o] */
lmn_status lmn_ref_linear_backward_weights(lmn_op *op, const float *x, const float *dy,
                                           float *dw, float *db)
{
    LMN_TRY(lmn_ref_check_op(op, LMN_REF_LINEAR, linear_name));
    LMN_TRY(lmn_ref_require(x, linear_name, "x"));
    LMN_TRY(lmn_ref_require(dy, linear_name, "dy"));
    LMN_TRY(lmn_ref_require(dw, linear_name, "dw"));
    const int N = op->in.n, I = in_features(op), O = op->p.linear.out_features;

#pragma omp parallel for schedule(static)
    for (int o = 0; o < O; o++) {
        for (int i = 0; i < I; i++) {
            double sum = 0.0;
            for (int n = 0; n < N; n++) sum += (double)dy[(size_t)n * O + o] * x[(size_t)n * I + i];
            dw[(size_t)o * I + i] = (float)sum;
        }
        if (op->p.linear.bias && db) {
            double bias_sum = 0.0;
            for (int n = 0; n < N; n++) bias_sum += dy[(size_t)n * O + o];
            db[o] = (float)bias_sum;
        }
    }
    return LMN_OK;
}
