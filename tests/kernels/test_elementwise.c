/* Element-wise kernels: ReLU, leaky ReLU and residual scaling (values,
 * aliasing, zero padding kept, gradients against finite differences), add,
 * accumulate (with aliasing), and
 * dropout (reproducible masks, rate 0 identity, kept fraction, scaling,
 * thread-count independence, backward). */
#include <omp.h>
#include <string.h>

#include "kernel_testing.h"
#include "kernels/elementwise.h"

static void test_relu(void)
{
    float x[5] = {-2, -0.0f, 0.5f, 3, -1e-9f};
    const float want[5] = {0, 0, 0.5f, 3, 0};
    float y[5];
    lmn_relu_forward(x, y, 5);
    lmn_kt_check_close(y, want, 5, 0, "relu forward");
    lmn_relu_forward(x, x, 5); /* in place */
    lmn_kt_check_close(x, want, 5, 0, "relu forward in place");

    float dy[5] = {1, 2, 3, 4, 5};
    const float want_dx[5] = {0, 0, 3, 4, 0};
    float dx[5];
    lmn_relu_backward(y, dy, dx, 5);
    lmn_kt_check_close(dx, want_dx, 5, 0, "relu backward");
    lmn_relu_backward(y, dy, dy, 5);
    lmn_kt_check_close(dy, want_dx, 5, 0, "relu backward in place");
}

static void test_add_accumulate(void)
{
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30}, y[3];
    const float sum[3] = {11, 22, 33}, twice[3] = {22, 44, 66};
    lmn_add_forward(a, b, y, 3);
    lmn_kt_check_close(y, sum, 3, 0, "add");
    lmn_add_forward(a, b, a, 3); /* y aliases a */
    lmn_kt_check_close(a, sum, 3, 0, "add in place");
    lmn_accumulate(y, a, 3);
    lmn_kt_check_close(y, twice, 3, 0, "accumulate");
}

enum { BIG = 100003 }; /* odd and above one dropout chunk */

/* add + relu in one pass == add, then relu, bit for bit (signed zeros, a
 * NaN and values that cancel included), also in place. */
static void test_add_relu(void)
{
    float *a = lmn_kt_random(BIG, 31), *b = lmn_kt_random(BIG, 32);
    float *fused = lmn_kt_zeros(BIG), *two_pass = lmn_kt_zeros(BIG);
    a[0] = -0.0f;
    b[0] = 0.0f;
    a[1] = 0.25f;
    b[1] = -0.25f;
    a[2] = NAN;
    lmn_add_relu_forward(a, b, fused, BIG);
    lmn_add_forward(a, b, two_pass, BIG);
    lmn_relu_forward(two_pass, two_pass, BIG);
    CHECK_MSG(memcmp(fused, two_pass, BIG * sizeof(float)) == 0,
              "add + relu differs from add then relu");
    lmn_add_relu_forward(a, b, a, BIG); /* y aliases a */
    CHECK_MSG(memcmp(a, two_pass, BIG * sizeof(float)) == 0, "add + relu in place differs");
    lmn_free(a);
    lmn_free(b);
    lmn_free(fused);
    lmn_free(two_pass);
}

static double kept_fraction(const uint8_t *mask, size_t count)
{
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) kept += mask[i];
    return (double)kept / (double)count;
}

static void test_dropout_masks(void)
{
    float *x = lmn_kt_random(BIG, 1), *y = lmn_kt_zeros(BIG), *y2 = lmn_kt_zeros(BIG);
    uint8_t *m1 = NULL, *m2 = NULL, *m3 = NULL;
    CHECK_OK(lmn_alloc_bytes((void **)&m1, BIG, "mask"));
    CHECK_OK(lmn_alloc_bytes((void **)&m2, BIG, "mask"));
    CHECK_OK(lmn_alloc_bytes((void **)&m3, BIG, "mask"));

    lmn_dropout_forward(x, y, m1, BIG, 0.3f, 42, 7);
    CHECK_CLOSE(kept_fraction(m1, BIG), 0.7, 0.01);
    size_t wrong = 0;
    for (size_t i = 0; i < BIG; i++)
        wrong += m1[i] ? fabsf(y[i] - x[i] / 0.7f) > 1e-6f : y[i] != 0.0f;
    CHECK_MSG(wrong == 0, "%zu kept elements not scaled by 1/(1-rate) or dropped not zero", wrong);

    /* Element i uses word i of the stream (seed, stream). */
    wrong = 0;
    for (size_t i = 0; i < BIG; i += 997) {
        lmn_rng rng = lmn_rng_make(42, 7);
        lmn_rng_seek(&rng, i);
        wrong += m1[i] != (lmn_rng_uniform(&rng) >= 0.3f);
    }
    CHECK_MSG(wrong == 0, "%zu mask entries do not follow word i of the stream", wrong);

    /* Same identifiers, any thread count: the same mask. */
    const int saved = omp_get_max_threads();
    omp_set_num_threads(3);
    lmn_dropout_forward(x, y2, m2, BIG, 0.3f, 42, 7);
    omp_set_num_threads(saved);
    CHECK(memcmp(m1, m2, BIG) == 0);
    CHECK(memcmp(y, y2, BIG * sizeof(float)) == 0);

    /* Another stream or seed: another mask. */
    lmn_dropout_forward(x, y2, m3, BIG, 0.3f, 42, 8);
    CHECK(memcmp(m1, m3, BIG) != 0);
    lmn_dropout_forward(x, y2, m3, BIG, 0.3f, 43, 7);
    CHECK(memcmp(m1, m3, BIG) != 0);

    /* rate 0 keeps everything unchanged. */
    lmn_dropout_forward(x, y2, m3, BIG, 0.0f, 42, 7);
    CHECK(kept_fraction(m3, BIG) == 1.0);
    CHECK(memcmp(x, y2, BIG * sizeof(float)) == 0);

    lmn_dropout_forward(x, y2, m3, BIG, 0.9f, 5, 5);
    CHECK_CLOSE(kept_fraction(m3, BIG), 0.1, 0.01);

    lmn_free(x), lmn_free(y), lmn_free(y2), lmn_free(m1), lmn_free(m2), lmn_free(m3);
}

typedef struct dropout_case {
    float *x, *y, *r;
    uint8_t *mask;
    size_t count;
} dropout_case;

static double dropout_objective(void *ctx)
{
    dropout_case *t = ctx;
    lmn_dropout_forward(t->x, t->y, t->mask, t->count, 0.4f, 9, 3);
    return lmn_kt_dot(t->y, t->r, t->count);
}

static void test_dropout_backward(void)
{
    dropout_case t = {.count = 257};
    t.x = lmn_kt_random(t.count, 2);
    t.y = lmn_kt_zeros(t.count);
    t.r = lmn_kt_random(t.count, 3);
    CHECK_OK(lmn_alloc_bytes((void **)&t.mask, t.count, "mask"));
    float *dx = lmn_kt_zeros(t.count);
    dropout_objective(&t);
    lmn_dropout_backward(t.r, t.mask, dx, t.count, 0.4f);
    lmn_kt_check_grad(dropout_objective, &t, t.x, t.count, dx, 1e-3f, 1e-3, "dropout dx");
    lmn_free(t.x), lmn_free(t.y), lmn_free(t.r), lmn_free(t.mask), lmn_free(dx);
}

static void test_leaky_relu(void)
{
    float x[6] = {-2, 0, 0.5f, 3, -1e-9f, -0.25f};
    const float want[6] = {-0.2f, 0, 0.5f, 3, -1e-10f, -0.025f};
    float y[6];
    lmn_leaky_relu_forward(x, y, 6, 0.1f);
    lmn_kt_check_close(y, want, 6, 1e-7, "leaky relu forward");
    float dy[6] = {1, 2, 3, 4, 5, 6};
    const float want_dx[6] = {0.1f, 0.2f, 3, 4, 0.5f, 0.6f}; /* x = 0 takes the slope */
    float dx[6];
    lmn_leaky_relu_backward(x, dy, dx, 6, 0.1f);
    lmn_kt_check_close(dx, want_dx, 6, 1e-7, "leaky relu backward (from the input x)");
    lmn_leaky_relu_backward(x, dy, dy, 6, 0.1f); /* dx aliases dy */
    lmn_kt_check_close(dy, want_dx, 6, 1e-7, "leaky relu backward in place");
    lmn_leaky_relu_forward(x, x, 6, 0.1f);
    lmn_kt_check_close(x, want, 6, 1e-7, "leaky relu forward in place");
    /* slope 0 is ReLU; padding (x = 0, dy = 0) stays zero */
    const float zeros[4] = {0, 0, 0, 0};
    float pad[4] = {0, 0, 0, 0}, out[4] = {1, 1, 1, 1};
    lmn_leaky_relu_forward(pad, out, 4, 0.3f);
    lmn_kt_check_close(out, zeros, 4, 0, "leaky relu keeps padding zero");
    lmn_leaky_relu_backward(pad, pad, out, 4, 0.3f);
    lmn_kt_check_close(out, zeros, 4, 0, "leaky relu backward keeps padding zero");
}

static void test_scale(void)
{
    float x[4] = {1, -2, 0, 0.5f}, y[4];
    const float want[4] = {0.2f, -0.4f, 0, 0.1f};
    lmn_scale_forward(x, y, 4, 0.2f);
    lmn_kt_check_close(y, want, 4, 1e-7, "scale forward");
    lmn_scale_backward(x, y, 4, 0.2f); /* dx = factor * dy */
    lmn_kt_check_close(y, want, 4, 1e-7, "scale backward");
    lmn_scale_forward(x, x, 4, 0.2f);
    lmn_kt_check_close(x, want, 4, 1e-7, "scale forward in place");
    float dy[4] = {1, -2, 0, 0.5f};
    lmn_scale_backward(dy, dy, 4, 0.2f);
    lmn_kt_check_close(dy, want, 4, 1e-7, "scale backward in place");
}

/* Gradients of sum(f(x) * R) against central differences (x kept away
 * from the leaky ReLU kink, so a 1e-3 step never crosses it). */
typedef struct pointwise_case {
    float *x, *y, *r;
    size_t count;
    int op; /* 0: leaky relu, 1: scale */
} pointwise_case;

static double pointwise_objective(void *ctx)
{
    pointwise_case *t = ctx;
    if (t->op == 0)
        lmn_leaky_relu_forward(t->x, t->y, t->count, 0.2f);
    else
        lmn_scale_forward(t->x, t->y, t->count, -0.7f);
    return lmn_kt_dot(t->y, t->r, t->count);
}

static void test_pointwise_gradients(void)
{
    enum { COUNT = 257 };
    for (int op = 0; op < 2; op++) {
        pointwise_case t = {lmn_kt_random(COUNT, 40 + op), lmn_kt_zeros(COUNT),
                            lmn_kt_random(COUNT, 50 + op), COUNT, op};
        for (size_t i = 0; i < COUNT; i++)
            if (fabsf(t.x[i]) < 0.01f) t.x[i] = 0.5f;
        float *dx = lmn_kt_zeros(COUNT);
        if (op == 0)
            lmn_leaky_relu_backward(t.x, t.r, dx, COUNT, 0.2f);
        else
            lmn_scale_backward(t.r, dx, COUNT, -0.7f);
        lmn_kt_check_grad(pointwise_objective, &t, t.x, COUNT, dx, 1e-3f, 1e-3,
                          op == 0 ? "leaky relu gradient" : "scale gradient");
        lmn_free(t.x), lmn_free(t.y), lmn_free(t.r), lmn_free(dx);
    }
}

int main(void)
{
    test_relu();
    test_leaky_relu();
    test_scale();
    test_pointwise_gradients();
    test_add_accumulate();
    test_add_relu();
    test_dropout_masks();
    test_dropout_backward();
    return lmn_test_summary("kernels_test_elementwise");
}
