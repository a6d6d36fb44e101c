/* Losses: hand values (uniform logits give log K, MSE / MAE by hand),
 * numerical stability, correct counts, gradient scaling, and gradients
 * against finite differences of the returned batch sum. */
#include "kernel_testing.h"
#include "kernels/loss.h"

enum { N = 4, K = 5 };

typedef enum loss_kind { XENT, MSE, MAE } loss_kind;

typedef struct loss_case {
    loss_kind kind;
    float *out;
    const int32_t *labels;
    const float *target;
} loss_case;

static double loss_objective(void *ctx)
{
    loss_case *t = ctx;
    switch (t->kind) {
    case XENT: return lmn_softmax_xent(t->out, t->labels, N, K, 1.0f, NULL, NULL);
    case MSE: return lmn_mse_loss(t->out, t->target, N, K, 1.0f, NULL);
    case MAE: return lmn_mae_loss(t->out, t->target, N, K, 1.0f, NULL);
    }
    return NAN;
}

static void test_xent_values(void)
{
    float logits[N * K], dout[N * K];
    const int32_t labels[N] = {0, 4, 2, 1};
    for (int i = 0; i < N * K; i++) logits[i] = 3.0f;
    int64_t correct = -1;
    const double loss = lmn_softmax_xent(logits, labels, N, K, 0.5f, dout, &correct);
    CHECK_CLOSE(loss, N * log((double)K), 1e-6);
    for (int row = 0; row < N; row++) {
        double sum = 0.0;
        for (int j = 0; j < K; j++) {
            sum += dout[row * K + j];
            /* (softmax - onehot) * grad_scale */
            CHECK_CLOSE(dout[row * K + j], 0.5 * (1.0 / K - (j == labels[row])), 1e-6);
        }
        CHECK_CLOSE(sum, 0.0, 1e-6);
    }

    /* Huge logits: log-sum-exp must not overflow. */
    const float big[2 * 2] = {1000, 0, 1000, 0};
    const int32_t big_labels[2] = {0, 1};
    const double big_loss = lmn_softmax_xent(big, big_labels, 2, 2, 1.0f, NULL, &correct);
    CHECK(isfinite(big_loss));
    CHECK_CLOSE(big_loss, 1000.0, 1e-6);
    CHECK(correct == 1);

    /* Arg-max hits: rows 0 and 2 right, row 1 wrong. */
    const float three[3 * 3] = {5, 1, 2, 0, 0, 9, -1, -2, 3};
    const int32_t three_labels[3] = {0, 1, 2};
    lmn_softmax_xent(three, three_labels, 3, 3, 1.0f, NULL, &correct);
    CHECK(correct == 2);

    /* An out-of-range label yields NaN rather than an out-of-bounds read. */
    const int32_t bad[1] = {3};
    CHECK(isnan(lmn_softmax_xent(three, bad, 1, 3, 1.0f, NULL, NULL)));
}

static void test_regression_values(void)
{
    const float y[4] = {1, 2, 3, 3}, t[4] = {0, 0, 1, 5};
    float dout[4];
    /* rows: (1 + 4) / 2 + (4 + 4) / 2 */
    CHECK_CLOSE(lmn_mse_loss(y, t, 2, 2, 0.5f, dout), 6.5, 1e-9);
    const float mse_grad[4] = {0.5f, 1.0f, 1.0f, -1.0f}; /* 2 (y - t) / K * 0.5 */
    lmn_kt_check_close(dout, mse_grad, 4, 1e-6, "mse gradient");
    /* rows: (1 + 2) / 2 + (2 + 2) / 2 */
    CHECK_CLOSE(lmn_mae_loss(y, t, 2, 2, 2.0f, dout), 3.5, 1e-9);
    const float mae_grad[4] = {1, 1, 1, -1}; /* sign / K * 2 */
    lmn_kt_check_close(dout, mae_grad, 4, 1e-6, "mae gradient");
    const float same[2] = {7, -7};
    CHECK(lmn_mae_loss(same, same, 1, 2, 1.0f, dout) == 0.0);
    CHECK(dout[0] == 0.0f && dout[1] == 0.0f); /* subgradient 0 at 0 */
}

static void test_gradients(void)
{
    const int32_t labels[N] = {1, 0, 4, 2};
    float *target = lmn_kt_random(N * K, 5);
    float *out = lmn_kt_zeros(N * K), *dout = lmn_kt_zeros(N * K);
    lmn_kt_fill_uniform(out, N * K, 6, -3.0f, 3.0f);
    loss_case t = {.kind = XENT, .out = out, .labels = labels, .target = target};

    lmn_softmax_xent(out, labels, N, K, 1.0f, dout, NULL);
    lmn_kt_check_grad(loss_objective, &t, out, N * K, dout, 1e-3f, 1e-2, "xent dout");
    t.kind = MSE;
    lmn_mse_loss(out, target, N, K, 1.0f, dout);
    lmn_kt_check_grad(loss_objective, &t, out, N * K, dout, 1e-3f, 1e-2, "mse dout");
    t.kind = MAE; /* |out - target| >= 0.5 everywhere, so no kink within eps */
    for (int i = 0; i < N * K; i++) out[i] = target[i] + (i % 2 ? 0.5f : -0.7f);
    lmn_mae_loss(out, target, N, K, 1.0f, dout);
    lmn_kt_check_grad(loss_objective, &t, out, N * K, dout, 1e-3f, 1e-2, "mae dout");

    /* grad_scale only scales the gradient, never the returned loss. */
    float *scaled = lmn_kt_zeros(N * K);
    const double plain = lmn_mse_loss(out, target, N, K, 1.0f, dout);
    CHECK_CLOSE(lmn_mse_loss(out, target, N, K, 0.125f, scaled), plain, 1e-12);
    for (int i = 0; i < N * K; i++) dout[i] *= 0.125f;
    lmn_kt_check_close(scaled, dout, N * K, 1e-6, "grad_scale");

    lmn_free(target), lmn_free(out), lmn_free(dout), lmn_free(scaled);
}

int main(void)
{
    test_xent_values();
    test_regression_values();
    test_gradients();
    return lmn_test_summary("kernels_test_loss");
}
