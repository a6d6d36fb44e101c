/* Element-wise kernels: ReLU, leaky ReLU and residual scaling (values,
 * aliasing, zero padding kept, gradients against finite differences), add,
 * accumulate (with aliasing), and
 * dropout (reproducible masks, rate 0 identity, kept fraction, scaling,
 * thread-count independence, backward); the bf16 activation kernels
 * (lmn_act_*): each value is the fp32 kernel's result on the widened
 * inputs rounded to nearest even, bit for bit, ties and NaN included, and
 * the f32 element type is the fp32 kernel itself. */
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

/* bf16 bits <-> float, independently of the kernels under test. */
static float widen(uint16_t bits)
{
    const uint32_t wide = (uint32_t)bits << 16;
    float value;
    memcpy(&value, &wide, sizeof value);
    return value;
}

/* Round to nearest even by exhaustive reasoning on the two neighbours. */
static uint16_t nearest_bf16(float value)
{
    if (isnan(value)) return 0x7fc0;
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    const uint16_t down = (uint16_t)(bits >> 16), up = (uint16_t)(down + 1);
    const double below = fabs((double)value - widen(down)), above = fabs((double)widen(up) - value);
    if (below < above) return down;
    if (above < below) return up;
    return (down & 1u) ? up : down;
}

enum { BF16_VALUES = 4096 }; /* 2048 floats of bf16 pairs */

/* Random bf16 values with exact ties for the adds: pairs a, b whose sum
 * lies half way between two bf16 numbers, and signed zeros. */
static void bf16_inputs(uint16_t *a, uint16_t *b, uint64_t seed)
{
    float *r = lmn_kt_random(2 * BF16_VALUES, seed);
    for (int i = 0; i < BF16_VALUES; i++) {
        a[i] = nearest_bf16(4.0f * r[i]);
        b[i] = nearest_bf16(4.0f * r[BF16_VALUES + i]);
    }
    a[0] = 0x3f80, b[0] = 0x3b80; /* 1 + 2^-8: a tie, rounds to 1 (even) */
    a[1] = 0x3f81, b[1] = 0x3b80; /* 1+2^-7 + 2^-8: a tie, rounds up to even */
    a[2] = 0x8000, b[2] = 0x0000; /* -0 + 0 */
    a[3] = 0x7fc0, b[3] = 0x3f80; /* NaN + 1 */
    lmn_free(r);
}

static void check_bf16(const uint16_t *got, const uint16_t *want, const char *what)
{
    int wrong = 0;
    for (int i = 0; i < BF16_VALUES; i++) wrong += got[i] != want[i];
    CHECK_MSG(wrong == 0, "%s: %d of %d bf16 values differ from the rounded fp32 result", what,
              wrong, BF16_VALUES);
}

static void test_bf16_kernels(void)
{
    static uint16_t a[BF16_VALUES], b[BF16_VALUES], got[BF16_VALUES], want[BF16_VALUES];
    const size_t floats = BF16_VALUES / 2;
    bf16_inputs(a, b, 90);
    lmn_act_add_forward(LMN_ELEM_BF16, (float *)a, (float *)b, (float *)got, floats);
    for (int i = 0; i < BF16_VALUES; i++) want[i] = nearest_bf16(widen(a[i]) + widen(b[i]));
    check_bf16(got, want, "bf16 add");
    CHECK(got[0] == 0x3f80 && got[1] == 0x3f82);
    lmn_act_add_relu_forward(LMN_ELEM_BF16, (float *)a, (float *)b, (float *)got, floats);
    for (int i = 0; i < BF16_VALUES; i++) {
        const float sum = widen(a[i]) + widen(b[i]);
        want[i] = sum > 0.0f ? nearest_bf16(sum) : 0;
    }
    check_bf16(got, want, "bf16 add + relu");
    memcpy(got, a, sizeof a);
    lmn_act_accumulate(LMN_ELEM_BF16, (float *)got, (float *)b, floats);
    for (int i = 0; i < BF16_VALUES; i++) want[i] = nearest_bf16(widen(a[i]) + widen(b[i]));
    check_bf16(got, want, "bf16 accumulate");
    lmn_act_relu_forward(LMN_ELEM_BF16, (float *)a, (float *)got, floats);
    for (int i = 0; i < BF16_VALUES; i++) want[i] = widen(a[i]) > 0.0f ? a[i] : 0;
    check_bf16(got, want, "bf16 relu");
    CHECK(got[2] == 0); /* -0 becomes +0, as the fp32 relu writes 0.0f */
    lmn_act_relu_backward(LMN_ELEM_BF16, (float *)a, (float *)b, (float *)got, floats);
    for (int i = 0; i < BF16_VALUES; i++) want[i] = widen(a[i]) > 0.0f ? b[i] : 0;
    check_bf16(got, want, "bf16 relu backward");
    lmn_act_relu_backward(LMN_ELEM_BF16, (float *)a, (float *)b, (float *)b, floats);
    check_bf16(b, want, "bf16 relu backward in place");
}

static void test_bf16_scaling_kernels(void)
{
    static uint16_t x[BF16_VALUES], dy[BF16_VALUES], got[BF16_VALUES], want[BF16_VALUES];
    const size_t floats = BF16_VALUES / 2;
    const float slope = 0.01f, factor = 0.1f;
    bf16_inputs(x, dy, 91);
    lmn_act_leaky_relu_forward(LMN_ELEM_BF16, (float *)x, (float *)got, floats, slope);
    for (int i = 0; i < BF16_VALUES; i++)
        want[i] = widen(x[i]) > 0.0f ? x[i] : nearest_bf16(slope * widen(x[i]));
    check_bf16(got, want, "bf16 leaky relu");
    lmn_act_leaky_relu_backward(LMN_ELEM_BF16, (float *)x, (float *)dy, (float *)got, floats,
                                slope);
    for (int i = 0; i < BF16_VALUES; i++)
        want[i] = widen(x[i]) > 0.0f ? dy[i] : nearest_bf16(slope * widen(dy[i]));
    check_bf16(got, want, "bf16 leaky relu backward");
    lmn_act_scale(LMN_ELEM_BF16, (float *)x, (float *)got, floats, factor);
    for (int i = 0; i < BF16_VALUES; i++) want[i] = nearest_bf16(factor * widen(x[i]));
    check_bf16(got, want, "bf16 scale");
    lmn_act_scale(LMN_ELEM_BF16, (float *)x, (float *)x, floats, factor); /* in place */
    check_bf16(x, want, "bf16 scale in place");
}

/* LMN_ELEM_F32 is the fp32 kernel, bit for bit. */
static void test_f32_dispatch(void)
{
    enum { N = 1000 };
    float *a = lmn_kt_random(N, 95), *b = lmn_kt_random(N, 96);
    float got[N], want[N];
    lmn_act_add_relu_forward(LMN_ELEM_F32, a, b, got, N);
    lmn_add_relu_forward(a, b, want, N);
    CHECK(memcmp(got, want, sizeof got) == 0);
    lmn_act_relu_backward(LMN_ELEM_F32, a, b, got, N);
    lmn_relu_backward(a, b, want, N);
    CHECK(memcmp(got, want, sizeof got) == 0);
    memcpy(got, a, sizeof got), memcpy(want, a, sizeof want);
    lmn_act_accumulate(LMN_ELEM_F32, got, b, N);
    lmn_accumulate(want, b, N);
    CHECK(memcmp(got, want, sizeof got) == 0);
    lmn_free(a), lmn_free(b);
}

int main(void)
{
    test_bf16_kernels();
    test_bf16_scaling_kernels();
    test_f32_dispatch();
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
