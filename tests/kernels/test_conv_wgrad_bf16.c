/* lamina's bf16 weight-gradient kernel (kernels/conv_wgrad_bf16.h):
 *   - dw and db equal the exact sums (double) of the same bf16 values to
 *     f32 summation accuracy, over strides 1-2, kernels 1x1 to 5x5 (kernel
 *     widths that fill 1, 2 and 3 columns of the register block), padding
 *     0-2, odd batches (an image without a partner), one image, non-square
 *     inputs and 16-48 channels;
 *   - 1, 2 and 3 threads (3 with fewer pairs than threads) agree, and the
 *     same call twice gives the same bits;
 *   - shapes it cannot take are refused;
 *   - in the dnnl backend under bf16, a convolution fed by a convolution
 *     (nChw16c bf16 on both sides, where the kernel is used) gives the
 *     exact weight and bias gradients of its bf16 inputs.
 * Exits 77 (skipped) on a CPU without native bf16. */
#include "kernel_testing.h"
#include "kernels/conv_wgrad_bf16.h"

static uint16_t to_bf16(float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

static float widen(uint16_t v)
{
    const uint32_t bits = (uint32_t)v << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element (n, c, y, x) of an nChw16c tensor with `channels` channels. */
static size_t blocked_at(int channels, int h, int w, int n, int c, int y, int x)
{
    return ((((size_t)n * (channels / 16) + c / 16) * h + y) * w + x) * 16 + c % 16;
}

static uint16_t *random_bf16(size_t count, uint64_t seed)
{
    float *values = lmn_kt_random(count, seed);
    uint16_t *out = NULL;
    CHECK_OK(lmn_alloc_bytes((void **)&out, count * sizeof *out, "bf16 test tensor"));
    for (size_t i = 0; i < count; i++) out[i] = to_bf16(values[i]);
    lmn_free(values);
    return out;
}

/* The exact dw (OIHW) and db of bf16 x and dy, summed in double. */
static void exact_gradients(const lmn_wgrad_bf16_shape *s, const uint16_t *x, const uint16_t *dy,
                            float *dw, float *db)
{
    for (int o = 0; o < s->oc; o++) {
        double bias = 0.0;
        for (int n = 0; n < s->n; n++)
            for (int y = 0; y < s->oh; y++)
                for (int z = 0; z < s->ow; z++)
                    bias += widen(dy[blocked_at(s->oc, s->oh, s->ow, n, o, y, z)]);
        db[o] = (float)bias;
        for (int c = 0; c < s->c; c++)
            for (int ky = 0; ky < s->kh; ky++)
                for (int kx = 0; kx < s->kw; kx++) {
                    double sum = 0.0;
                    for (int n = 0; n < s->n; n++)
                        for (int y = 0; y < s->oh; y++)
                            for (int z = 0; z < s->ow; z++) {
                                const int iy = y * s->sh + ky - s->ph, ix = z * s->sw + kx - s->pw;
                                if (iy < 0 || ix < 0 || iy >= s->h || ix >= s->w) continue;
                                sum += (double)widen(x[blocked_at(s->c, s->h, s->w, n, c, iy, ix)]) *
                                       widen(dy[blocked_at(s->oc, s->oh, s->ow, n, o, y, z)]);
                            }
                    dw[(((size_t)o * s->c + c) * s->kh + ky) * s->kw + kx] = (float)sum;
                }
    }
}

static lmn_wgrad_bf16_shape shape_of(int n, int c, int h, int w, int oc, int kh, int kw,
                                     int stride, int pad)
{
    lmn_wgrad_bf16_shape s = {.n = n, .c = c, .h = h, .w = w, .oc = oc, .kh = kh, .kw = kw,
                              .sh = stride, .sw = stride, .ph = pad, .pw = pad};
    s.oh = (h + 2 * pad - kh) / stride + 1;
    s.ow = (w + 2 * pad - kw) / stride + 1;
    return s;
}

static void run_kernel(const lmn_wgrad_bf16_shape *s, const uint16_t *x, const uint16_t *dy,
                       float *dw, float *db, int threads)
{
    void *workspace = NULL;
    CHECK_OK(lmn_alloc_bytes(&workspace, lmn_wgrad_bf16_workspace_bytes(s, threads), "workspace"));
    lmn_wgrad_bf16(s, x, dy, dw, db, workspace, threads);
    lmn_free(workspace);
}

static void kernel_case(const lmn_wgrad_bf16_shape *s, uint64_t seed)
{
    char what[160];
    snprintf(what, sizeof what, "n%d c%d %dx%d -> oc%d, kernel %dx%d stride %d pad %d", s->n,
             s->c, s->h, s->w, s->oc, s->kh, s->kw, s->sh, s->ph);
    CHECK_MSG(lmn_wgrad_bf16_fits(s), "%s: refused", what);
    const size_t xs = (size_t)s->n * s->c * s->h * s->w, ys = (size_t)s->n * s->oc * s->oh * s->ow;
    const size_t ws = (size_t)s->oc * s->c * s->kh * s->kw;
    uint16_t *x = random_bf16(xs, seed), *dy = random_bf16(ys, seed + 1);
    float *want_dw = lmn_kt_zeros(ws), *want_db = lmn_kt_zeros((size_t)s->oc);
    exact_gradients(s, x, dy, want_dw, want_db);
    float *first_dw = NULL;
    for (int threads = 1; threads <= 3; threads++) {
        float *dw = lmn_kt_random(ws, seed + 2), *db = lmn_kt_random((size_t)s->oc, seed + 3);
        run_kernel(s, x, dy, dw, db, threads);
        char line[220];
        snprintf(line, sizeof line, "%s, %d thread(s): dw", what, threads);
        lmn_kt_check_close(dw, want_dw, ws, 1e-5, line);
        snprintf(line, sizeof line, "%s, %d thread(s): db", what, threads);
        lmn_kt_check_close(db, want_db, (size_t)s->oc, 1e-5, line);
        float *again = lmn_kt_zeros(ws);
        run_kernel(s, x, dy, again, NULL, threads);
        CHECK_MSG(memcmp(again, dw, ws * sizeof *dw) == 0, "%s, %d thread(s): not repeatable",
                  what, threads);
        lmn_free(again);
        lmn_free(db);
        if (!first_dw) first_dw = dw;
        else lmn_free(dw);
    }
    lmn_free(first_dw);
    lmn_free(want_dw);
    lmn_free(want_db);
    lmn_free(x);
    lmn_free(dy);
}

static void test_kernel(void)
{
    const lmn_wgrad_bf16_shape cases[] = {
        shape_of(5, 16, 7, 9, 32, 3, 3, 1, 1),  /* odd batch, non-square */
        shape_of(4, 32, 8, 8, 16, 3, 3, 2, 1),  /* stride 2 */
        shape_of(3, 16, 6, 6, 16, 1, 1, 1, 0),  /* 1x1: one column of the block */
        shape_of(2, 16, 9, 9, 16, 5, 5, 2, 2),  /* 5 columns: a block of 3 and one of 2 */
        shape_of(2, 16, 5, 6, 48, 2, 4, 1, 0),  /* 2x4 kernel, 48 outputs */
        shape_of(1, 16, 4, 4, 16, 3, 3, 1, 0),  /* one image */
        shape_of(6, 16, 11, 11, 16, 3, 3, 2, 0) /* stride 2 with a column left over */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) kernel_case(&cases[i], 100 + 10 * i);
}

static void test_refusals(void)
{
    lmn_wgrad_bf16_shape s = shape_of(2, 16, 8, 8, 16, 3, 3, 1, 1);
    CHECK(lmn_wgrad_bf16_fits(&s));
    s.c = 24; /* not a multiple of 16 */
    CHECK(!lmn_wgrad_bf16_fits(&s));
    s = shape_of(2, 16, 8, 8, 8, 3, 3, 1, 1);
    CHECK(!lmn_wgrad_bf16_fits(&s));
    s = shape_of(2, 16, 8, 8, 16, 3, 3, 1, 1);
    s.oh = 7; /* not the window's output */
    CHECK(!lmn_wgrad_bf16_fits(&s));
    s = shape_of(2, 16, 2, 2, 16, 5, 5, 1, 1);
    CHECK(!lmn_wgrad_bf16_fits(&s)); /* kernel larger than the padded input */
}

/* Dense fp32 copy of an activation (widening bf16). */
static float *dense_copy(lmn_backend *be, const lmn_act_desc *desc, const float *data)
{
    const lmn_act_desc dense = lmn_act_dense(desc->n, desc->c, desc->h, desc->w);
    float *out = lmn_kt_zeros(dense.floats);
    CHECK_OK(be->reorder(be, desc, data, &dense, out));
    return out;
}

/* conv A (16 -> 16) feeds conv B (16 -> 32, stride 2, bias): B's x and dy
 * are nChw16c bf16, so B's weight gradient comes from the kernel. */
static void test_in_backend(lmn_backend *bf16)
{
    const lmn_act_desc in = lmn_act_dense(3, 16, 10, 10);
    const lmn_conv2d_params pa = {.out_channels = 16, .kernel_h = 3, .kernel_w = 3,
                                  .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
    const lmn_conv2d_params pb = {.out_channels = 32, .kernel_h = 3, .kernel_w = 3,
                                  .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                                  .bias = true};
    lmn_act_desc mid, out;
    lmn_op *a = lmn_kt_conv(bf16, &pa, &in, &mid);
    lmn_op *b = lmn_kt_conv(bf16, &pb, &mid, &out);
    CHECK(mid.elem == LMN_ELEM_BF16 && out.elem == LMN_ELEM_BF16);
    float *x = lmn_kt_random(in.floats, 7), *wa = lmn_kt_random(lmn_kt_conv_weights(&pa, &in), 8);
    const size_t wb_count = lmn_kt_conv_weights(&pb, &mid);
    float *wb = lmn_kt_random(wb_count, 9), *bb = lmn_kt_random(32, 10);
    float *y_mid = lmn_kt_zeros(mid.floats), *y_out = lmn_kt_zeros(out.floats);
    CHECK_OK(bf16->conv2d_forward(a, x, wa, NULL, y_mid));
    CHECK_OK(bf16->conv2d_forward(b, y_mid, wb, bb, y_out));
    /* dy in B's output layout (rounded to bf16 on the way in) */
    const lmn_act_desc dense_out = lmn_act_dense(out.n, out.c, out.h, out.w);
    float *dy_dense = lmn_kt_random(dense_out.floats, 11), *dy = lmn_kt_zeros(out.floats);
    CHECK_OK(bf16->reorder(bf16, &dense_out, dy_dense, &out, dy));
    float *dw = lmn_kt_zeros(wb_count), *db = lmn_kt_zeros(32);
    CHECK_OK(bf16->conv2d_backward_weights(b, y_mid, dy, dw, db));

    /* the exact sums of the bf16 values B read */
    float *x_mid = dense_copy(bf16, &mid, y_mid), *g = dense_copy(bf16, &out, dy);
    const lmn_wgrad_bf16_shape s = shape_of(mid.n, mid.c, mid.h, mid.w, 32, 3, 3, 2, 1);
    float *want_dw = lmn_kt_zeros(wb_count), *want_db = lmn_kt_zeros(32);
    for (int o = 0; o < 32; o++) {
        double bias = 0.0;
        for (size_t i = 0; i < (size_t)out.n; i++)
            for (int p = 0; p < out.h * out.w; p++)
                bias += g[(i * 32 + (size_t)o) * (size_t)(out.h * out.w) + (size_t)p];
        want_db[o] = (float)bias;
        for (int c = 0; c < 16; c++)
            for (int k = 0; k < 9; k++) {
                double sum = 0.0;
                for (int n = 0; n < s.n; n++)
                    for (int y = 0; y < s.oh; y++)
                        for (int z = 0; z < s.ow; z++) {
                            const int iy = 2 * y + k / 3 - 1, ix = 2 * z + k % 3 - 1;
                            if (iy < 0 || ix < 0 || iy >= s.h || ix >= s.w) continue;
                            sum += (double)x_mid[(((size_t)n * 16 + c) * s.h + iy) * s.w + ix] *
                                   g[(((size_t)n * 32 + o) * s.oh + y) * s.ow + z];
                        }
                want_dw[((size_t)o * 16 + c) * 9 + k] = (float)sum;
            }
    }
    lmn_kt_check_close(dw, want_dw, wb_count, 1e-5, "conv fed by a conv under bf16: dw");
    lmn_kt_check_close(db, want_db, 32, 1e-5, "conv fed by a conv under bf16: db");
    float *buffers[] = {x, wa, wb, bb, y_mid, y_out, dy_dense, dy, dw, db, x_mid, g, want_dw, want_db};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    bf16->op_destroy(a);
    bf16->op_destroy(b);
}

int main(void)
{
    test_refusals();
    const char *isa = NULL;
    if (!lmn_dnnl_native_bf16(&isa)) {
        SKIP("no native bf16 on this CPU (oneDNN ISA %s)", isa ? isa : "?");
        return lmn_test_summary("test_conv_wgrad_bf16");
    }
    test_kernel();
    lmn_backend *bf16 = lmn_kt_backend("dnnl");
    CHECK_OK(lmn_backend_set_precision(bf16, LMN_PRECISION_BF16));
    test_in_backend(bf16);
    lmn_backend_destroy(bf16);
    return lmn_test_summary("test_conv_wgrad_bf16");
}
