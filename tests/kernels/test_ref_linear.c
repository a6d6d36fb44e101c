/* Reference fully connected layer: hand-computed forward (with bias and
 * fused ReLU), flattening of a 4-D input, errors, and gradients against
 * finite differences of sum(y * R). */
#include <string.h>

#include "kernel_testing.h"
#include "kernels/elementwise.h"

typedef struct linear_case {
    lmn_backend *be;
    lmn_op *op;
    lmn_linear_params p;
    lmn_act_desc in, out;
    float *x, *w, *b, *y, *r;
} linear_case;

static double linear_objective(void *ctx)
{
    linear_case *t = ctx;
    CHECK_OK(t->be->linear_forward(t->op, t->x, t->w, t->b, t->y));
    return lmn_kt_dot(t->y, t->r, t->out.floats);
}

static void test_hand_computed(lmn_backend *be)
{
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const float w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f}; /* [out][in] */
    const float b[2] = {1, -1};
    float y[4];
    lmn_linear_params p = {.out_features = 2, .bias = true};
    lmn_act_desc in = lmn_act_dense(2, 3, 1, 1), out;
    lmn_op *op = lmn_kt_linear(be, &p, &in, &out);
    CHECK(out.n == 2 && out.c == 2 && out.h == 1 && out.w == 1 && out.floats == 4);
    const float want[4] = {-1, 2, -1, 6.5f};
    CHECK_OK(be->linear_forward(op, x, w, b, y));
    lmn_kt_check_close(y, want, 4, 1e-6, "linear with bias");
    be->op_destroy(op);

    p.fuse_relu = true;
    op = lmn_kt_linear(be, &p, &in, &out);
    const float want_relu[4] = {0, 2, 0, 6.5f};
    CHECK_OK(be->linear_forward(op, x, w, b, y));
    lmn_kt_check_close(y, want_relu, 4, 1e-6, "linear with fused relu");
    be->op_destroy(op);

    /* A [1][3][1][2] input is flattened to c*h*w = 6 features. */
    p = (lmn_linear_params){.out_features = 1};
    in = lmn_act_dense(1, 3, 1, 2);
    op = lmn_kt_linear(be, &p, &in, &out);
    const float ones[6] = {1, 1, 1, 1, 1, 1};
    CHECK_OK(be->linear_forward(op, x, ones, NULL, y));
    CHECK_CLOSE(y[0], 21.0, 1e-6);
    be->op_destroy(op);
}

static void test_errors(lmn_backend *be)
{
    lmn_linear_params p = {.out_features = 0, .bias = true};
    lmn_act_desc in = lmn_act_dense(2, 3, 1, 1), out;
    lmn_op *op = NULL;
    CHECK(be->linear_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    p.out_features = 2;
    in.layout = (const lmn_layout *)&p; /* any non-dense layout */
    CHECK(be->linear_create(be, &p, &in, &op, &out) == LMN_ERR_ARG);
    CHECK(op == NULL);
    in.layout = NULL;
    op = lmn_kt_linear(be, &p, &in, &out);
    float x[6] = {0}, w[6] = {0}, y[4];
    CHECK(be->linear_forward(op, x, w, NULL, y) == LMN_ERR_ARG); /* bias is on */
    be->op_destroy(op);
}

/* Smallest |x W^T + b| of the unfused layer (the fused ReLU's kink). */
static double min_abs_preactivation(const linear_case *t)
{
    double smallest = INFINITY;
    const int in_features = t->in.c * t->in.h * t->in.w;
    for (int n = 0; n < t->in.n; n++)
        for (int o = 0; o < t->p.out_features; o++) {
            double sum = t->p.bias ? t->b[o] : 0.0;
            for (int i = 0; i < in_features; i++)
                sum += (double)t->x[n * in_features + i] * t->w[o * in_features + i];
            smallest = fmin(smallest, fabs(sum));
        }
    return smallest;
}

static void check_gradients(lmn_backend *be, lmn_act_desc in, lmn_linear_params p,
                            uint64_t seed, const char *name)
{
    linear_case t = {.be = be, .p = p, .in = in};
    t.op = lmn_kt_linear(be, &t.p, &t.in, &t.out);
    if (!t.op) return;
    const size_t nw = (size_t)p.out_features * in.c * in.h * in.w, nb = (size_t)p.out_features;
    t.x = lmn_kt_random(in.floats, seed);
    t.w = lmn_kt_random(nw, seed + 1);
    t.b = p.bias ? lmn_kt_random(nb, seed + 2) : NULL;
    t.r = lmn_kt_random(t.out.floats, seed + 3);
    t.y = lmn_kt_zeros(t.out.floats);
    float *dy = lmn_kt_zeros(t.out.floats), *dx = lmn_kt_zeros(in.floats);
    float *dw = lmn_kt_zeros(nw), *db = lmn_kt_zeros(nb);

    linear_objective(&t);
    if (p.fuse_relu) {
        CHECK_MSG(min_abs_preactivation(&t) > 0.01,
                  "%s: pick another seed, an output is too close to the ReLU kink", name);
        lmn_relu_backward(t.y, t.r, dy, t.out.floats);
    } else {
        memcpy(dy, t.r, t.out.floats * sizeof(float));
    }
    CHECK_OK(be->linear_backward_data(t.op, dy, t.w, dx));
    CHECK_OK(be->linear_backward_weights(t.op, t.x, dy, dw, p.bias ? db : NULL));

    char what[128];
    snprintf(what, sizeof what, "%s: dx", name);
    lmn_kt_check_grad(linear_objective, &t, t.x, in.floats, dx, 1e-3f, 1e-2, what);
    snprintf(what, sizeof what, "%s: dw", name);
    lmn_kt_check_grad(linear_objective, &t, t.w, nw, dw, 1e-3f, 1e-2, what);
    if (p.bias) {
        snprintf(what, sizeof what, "%s: db", name);
        lmn_kt_check_grad(linear_objective, &t, t.b, nb, db, 1e-3f, 1e-2, what);
    }

    lmn_free(t.x), lmn_free(t.w), lmn_free(t.b), lmn_free(t.r), lmn_free(t.y);
    lmn_free(dy), lmn_free(dx), lmn_free(dw), lmn_free(db);
    be->op_destroy(t.op);
}

int main(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create_ref(&be));
    if (!be) return lmn_test_summary("kernels_test_ref_linear");
    test_hand_computed(be);
    test_errors(be);
    check_gradients(be, lmn_act_dense(3, 4, 1, 1), (lmn_linear_params){5, true, false}, 1,
                    "linear 4->5 bias");
    check_gradients(be, lmn_act_dense(2, 2, 3, 2), (lmn_linear_params){3, false, false}, 11,
                    "linear flattening 2x3x2->3");
    check_gradients(be, lmn_act_dense(4, 6, 1, 1), (lmn_linear_params){3, true, true}, 21,
                    "linear fused relu");
    lmn_backend_destroy(be);
    return lmn_test_summary("kernels_test_ref_linear");
}
