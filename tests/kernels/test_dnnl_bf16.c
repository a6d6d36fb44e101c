/* dnnl ops created under train.precision bf16 against the fp32 ref
 * backend, every layer type, 2-D and 3-D:
 *   - conv2d, conv3d and linear (bf16 inputs, fp32 accumulation) within
 *     1e-2 of the largest reference value, forward, backward data and
 *     backward weights, from dense fp32 and from blocked bf16 inputs;
 *   - the convolutions write bf16 activations and give dx in their input's
 *     element type (bf16 from a bf16 producer, fp32 for an fp32 input);
 *     linear layers write fp32;
 *   - they really round: their outputs differ from dnnl fp32's by more
 *     than fp32 noise, while their weight gradients carry fp32 mantissas
 *     (written in fp32, not widened from bf16);
 *   - the conv's and the linear layer's conversions of x and dy, shared
 *     between their primitives, give the bits of fresh conversions;
 *   - pooling and batch norm keep their input's element type: on fp32
 *     inputs they stay fp32 (within 1e-4 of ref); on bf16 inputs they write
 *     bf16 within bf16 rounding of ref on the same (rounded) inputs, batch
 *     norm's statistics and parameter gradients in fp32 (within 1e-4 and
 *     1e-2); upsampling stays fp32;
 *   - the ref backend refuses bf16, naming train.precision.
 * Exits 77 (skipped) on a CPU without native bf16, after checking that
 * dnnl refuses bf16 there. */
#include <stdio.h>
#include <string.h>

#define LMN_DNNL_TOLERANCE 1e-2
#include "test_dnnl_common.h"

#define FP32_TOLERANCE 1e-4

static lmn_backend *bf16_backend(void)
{
    lmn_backend *be = lmn_kt_backend("dnnl");
    CHECK_OK(lmn_backend_set_precision(be, LMN_PRECISION_BF16));
    return be;
}

static lmn_conv2d_params conv2d(int k, int kernel, int stride, int pad, bool bias, bool relu)
{
    lmn_conv2d_params p = {.out_channels = k, .kernel_h = kernel, .kernel_w = kernel,
                           .stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad,
                           .bias = bias, .fuse_relu = relu};
    return p;
}

static void conv2d_case(lmn_backend *ref, lmn_backend *bf16, int n, int c, int h, int w,
                        lmn_conv2d_params p, bool blocked, uint64_t seed)
{
    char name[120];
    snprintf(name, sizeof name, "conv2d N=%d C=%d %dx%d K=%d k=%d s=%d blocked=%d", n, c, h, w,
             p.out_channels, p.kernel_h, p.stride_h, blocked);
    lmn_op *producer = NULL;
    lmn_dt_op_pair o = {.ref_in = lmn_act_dense(n, c, h, w)};
    o.dnnl_in = blocked ? lmn_dt_blocked_desc(bf16, n, c, h, w, &producer) : o.ref_in;
    o.ref_op = lmn_kt_conv(ref, &p, &o.ref_in, &o.ref_out);
    o.dnnl_op = lmn_kt_conv(bf16, &p, &o.dnnl_in, &o.dnnl_out);
    if (o.ref_op && o.dnnl_op)
        lmn_dt_compare_conv(ref, bf16, &o, lmn_kt_conv_weights(&p, &o.ref_in),
                            p.bias ? (size_t)p.out_channels : 0, seed, name);
    lmn_dt_op_pair_destroy(ref, bf16, &o, producer);
}

static void conv3d_case(lmn_backend *ref, lmn_backend *bf16, int n, int c, int d,
                        lmn_conv3d_params p, bool blocked, uint64_t seed)
{
    char name[120];
    snprintf(name, sizeof name, "conv3d N=%d C=%d %d^3 K=%d k=%d s=%d blocked=%d", n, c, d,
             p.out_channels, p.kernel_d, p.stride_d, blocked);
    lmn_op *producer = NULL;
    lmn_dt_op_pair o = {.ref_in = lmn_act_dense3d(n, c, d, d, d)};
    o.dnnl_in = blocked ? lmn_dt_blocked_desc3d(bf16, n, c, d, d, d, &producer) : o.ref_in;
    o.ref_op = lmn_kt_conv3d(ref, &p, &o.ref_in, &o.ref_out);
    o.dnnl_op = lmn_kt_conv3d(bf16, &p, &o.dnnl_in, &o.dnnl_out);
    if (o.ref_op && o.dnnl_op)
        lmn_dt_compare_conv(ref, bf16, &o, lmn_kt_conv3d_weights(&p, &o.ref_in),
                            p.bias ? (size_t)p.out_channels : 0, seed, name);
    lmn_dt_op_pair_destroy(ref, bf16, &o, producer);
}

typedef struct linear_run {
    float *y, *dx, *dw, *db;
} linear_run;

static linear_run run_linear(lmn_backend *be, const lmn_linear_params *p, const lmn_act_desc *in,
                             const float *x, const float *w, const float *b, const float *dy)
{
    const size_t features = (size_t)in->c * in->h * in->w;
    const size_t outputs = (size_t)in->n * p->out_features;
    linear_run r = {lmn_dt_junk(outputs), lmn_dt_junk(in->floats),
                    lmn_dt_junk(features * p->out_features), lmn_dt_junk(p->out_features)};
    lmn_act_desc out;
    lmn_op *op = lmn_kt_linear(be, p, in, &out);
    if (!op) return r;
    CHECK_OK(be->linear_forward(op, x, w, b, r.y));
    CHECK_OK(be->linear_backward_data(op, dy, w, r.dx));
    CHECK_OK(be->linear_backward_weights(op, x, dy, r.dw, p->bias ? r.db : NULL));
    be->op_destroy(op);
    return r;
}

static void free_linear_run(linear_run *r)
{
    lmn_free(r->y);
    lmn_free(r->dx);
    lmn_free(r->dw);
    lmn_free(r->db);
}

static void linear_case(lmn_backend *ref, lmn_backend *bf16, int n, int features, int out,
                        bool bias, bool relu, uint64_t seed)
{
    char name[96];
    snprintf(name, sizeof name, "linear N=%d %d->%d bias=%d relu=%d", n, features, out, bias,
             relu);
    const lmn_linear_params p = {.out_features = out, .bias = bias, .fuse_relu = relu};
    const lmn_act_desc in = lmn_act_dense(n, features, 1, 1);
    const size_t n_w = (size_t)out * features;
    float *x = lmn_kt_random(in.floats, seed), *w = lmn_kt_random(n_w, seed + 1);
    float *b = lmn_kt_random((size_t)out, seed + 2);
    float *dy = lmn_kt_random((size_t)n * out, seed + 3);
    linear_run want = run_linear(ref, &p, &in, x, w, b, dy);
    linear_run got = run_linear(bf16, &p, &in, x, w, b, dy);
    lmn_dt_check(got.y, want.y, (size_t)n * out, "forward", name);
    lmn_dt_check(got.dx, want.dx, in.floats, "backward data", name);
    lmn_dt_check(got.dw, want.dw, n_w, "backward weights", name);
    if (bias) lmn_dt_check(got.db, want.db, (size_t)out, "backward bias", name);
    free_linear_run(&want);
    free_linear_run(&got);
    float *buffers[] = {x, w, b, dy};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
}

/* Entries whose low 16 bits are set: none in a bf16 value widened to fp32. */
static size_t fp32_mantissas(const float *x, size_t count)
{
    size_t found = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        found += (bits & 0xffffu) != 0;
    }
    return found;
}

/* The same conv on dnnl fp32 and dnnl bf16: the bf16 forward must show
 * rounding (else it silently ran fp32), its dw fp32 mantissas. */
static void test_bf16_is_real(lmn_backend *fp32, lmn_backend *bf16)
{
    const lmn_conv2d_params p = conv2d(32, 3, 1, 1, true, false);
    const lmn_act_desc in = lmn_act_dense(4, 16, 8, 8);
    const size_t weights = lmn_kt_conv_weights(&p, &in);
    lmn_act_desc out32, out16;
    lmn_op *op32 = lmn_kt_conv(fp32, &p, &in, &out32);
    lmn_op *op16 = lmn_kt_conv(bf16, &p, &in, &out16);
    if (!op32 || !op16) return;
    float *x = lmn_kt_random(in.floats, 91), *w = lmn_kt_random(weights, 92);
    float *b = lmn_kt_random(32, 93), *dy = lmn_kt_random(out32.floats, 94);
    float *y32 = lmn_dt_junk(out32.floats), *y16 = lmn_dt_junk(out16.floats);
    float *dw = lmn_dt_junk(weights), *db = lmn_dt_junk(32);
    CHECK_OK(fp32->conv2d_forward(op32, x, w, b, y32));
    CHECK_OK(bf16->conv2d_forward(op16, x, w, b, y16));
    float *dense32 = lmn_dt_to_dense(fp32, y32, &out32), *dense16 = lmn_dt_to_dense(bf16, y16, &out16);
    const double diff = lmn_test_max_rel_diff(dense16, dense32, lmn_act_elements(&out32));
    CHECK_MSG(diff > 1e-5 && diff < 1e-2, "bf16 conv vs fp32 conv: relative difference %.3g, "
              "expected bf16 rounding (1e-5 .. 1e-2)", diff);
    float *dy16 = lmn_dt_from_dense(bf16, dy, &out16);
    CHECK_OK(bf16->conv2d_backward_weights(op16, x, dy16, dw, db));
    CHECK_MSG(fp32_mantissas(dw, weights) > weights / 2, "bf16 conv dw: only %zu of %zu entries "
              "carry fp32 mantissa bits", fp32_mantissas(dw, weights), weights);
    float *buffers[] = {x, w, b, dy, y32, y16, dw, db, dense32, dense16, dy16};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    fp32->op_destroy(op32);
    bf16->op_destroy(op16);
}

static bool bitwise_equal(const float *a, const float *b, size_t count)
{
    return memcmp(a, b, count * sizeof *a) == 0;
}

/* The bf16 conv converts x once for forward and backward weights, dy once
 * for backward weights and backward data (same pointer within a step):
 * the shared copies give bit for bit the gradients of converting afresh
 * (a copy of the buffer at another address), and they are really shared
 * (new data written behind the op's back after the first conversion does
 * not reach the second consumer). */
static void test_shared_conversions(lmn_backend *bf16)
{
    const lmn_conv2d_params p = conv2d(32, 3, 1, 1, true, false);
    const lmn_act_desc in = lmn_act_dense(4, 16, 8, 8);
    const size_t weights = lmn_kt_conv_weights(&p, &in);
    lmn_act_desc out;
    lmn_op *op = lmn_kt_conv(bf16, &p, &in, &out);
    if (!op) return;
    float *x = lmn_kt_random(in.floats, 95), *w = lmn_kt_random(weights, 96);
    float *b = lmn_kt_random(32, 97), *dy = lmn_kt_random(out.floats, 98);
    float *x_copy = lmn_kt_zeros(in.floats), *dy_copy = lmn_kt_zeros(out.floats);
    memcpy(x_copy, x, in.floats * sizeof *x);
    memcpy(dy_copy, dy, out.floats * sizeof *dy);
    float *y = lmn_dt_junk(out.floats), *dx_shared = lmn_dt_junk(in.floats);
    float *dx_fresh = lmn_dt_junk(in.floats), *dw_shared = lmn_dt_junk(weights);
    float *dw_fresh = lmn_dt_junk(weights), *db = lmn_dt_junk(32);
    CHECK_OK(bf16->conv2d_forward(op, x, w, b, y));
    CHECK_OK(bf16->conv2d_backward_weights(op, x, dy, dw_shared, db));
    CHECK_OK(bf16->conv2d_backward_data(op, dy, w, dx_shared));
    CHECK_OK(bf16->conv2d_backward_weights(op, x_copy, dy_copy, dw_fresh, db));
    CHECK_OK(bf16->conv2d_backward_data(op, dy_copy, w, dx_fresh));
    CHECK_MSG(bitwise_equal(dw_shared, dw_fresh, weights), "bf16 conv dw: the forward's copy "
              "of x gives other bits than converting x again");
    CHECK_MSG(bitwise_equal(dx_shared, dx_fresh, in.floats), "bf16 conv dx: the backward "
              "weights' copy of dy gives other bits than converting dy again");
    CHECK_OK(bf16->conv2d_forward(op, x, w, b, y));
    lmn_kt_fill_uniform(x, in.floats, 99, -1.0f, 1.0f);
    CHECK_OK(bf16->conv2d_backward_weights(op, x, dy, dw_fresh, db));
    CHECK_MSG(bitwise_equal(dw_shared, dw_fresh, weights), "bf16 conv: backward weights "
              "converted x again instead of reusing the forward's copy");
    float *buffers[] = {x, w, b, dy, x_copy, dy_copy, y, dx_shared, dx_fresh, dw_shared,
                        dw_fresh, db};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    bf16->op_destroy(op);
}

/* The same for the bf16 linear layer (its own rounding scratch). */
static void test_shared_linear_rounding(lmn_backend *bf16)
{
    const lmn_linear_params p = {.out_features = 24, .bias = true};
    const lmn_act_desc in = lmn_act_dense(8, 40, 1, 1);
    lmn_act_desc out;
    lmn_op *op = lmn_kt_linear(bf16, &p, &in, &out);
    if (!op) return;
    const size_t weights = 24 * 40;
    float *x = lmn_kt_random(in.floats, 101), *w = lmn_kt_random(weights, 102);
    float *b = lmn_kt_random(24, 103), *dy = lmn_kt_random(out.floats, 104);
    float *x_copy = lmn_kt_zeros(in.floats), *dy_copy = lmn_kt_zeros(out.floats);
    memcpy(x_copy, x, in.floats * sizeof *x);
    memcpy(dy_copy, dy, out.floats * sizeof *dy);
    float *y = lmn_dt_junk(out.floats), *dx_shared = lmn_dt_junk(in.floats);
    float *dx_fresh = lmn_dt_junk(in.floats), *dw_shared = lmn_dt_junk(weights);
    float *dw_fresh = lmn_dt_junk(weights), *db = lmn_dt_junk(24);
    CHECK_OK(bf16->linear_forward(op, x, w, b, y));
    CHECK_OK(bf16->linear_backward_weights(op, x, dy, dw_shared, db));
    CHECK_OK(bf16->linear_backward_data(op, dy, w, dx_shared));
    CHECK_OK(bf16->linear_backward_weights(op, x_copy, dy_copy, dw_fresh, db));
    CHECK_OK(bf16->linear_backward_data(op, dy_copy, w, dx_fresh));
    CHECK_MSG(bitwise_equal(dw_shared, dw_fresh, weights), "bf16 linear dw: the forward's "
              "copy of x gives other bits than rounding x again");
    CHECK_MSG(bitwise_equal(dx_shared, dx_fresh, in.floats), "bf16 linear dx: the shared copy "
              "of dy gives other bits than rounding dy again");
    CHECK_OK(bf16->linear_forward(op, x, w, b, y));
    lmn_kt_fill_uniform(x, in.floats, 105, -1.0f, 1.0f);
    CHECK_OK(bf16->linear_backward_weights(op, x, dy, dw_fresh, db));
    CHECK_MSG(bitwise_equal(dw_shared, dw_fresh, weights), "bf16 linear: backward weights "
              "rounded x again instead of reusing the forward's copy");
    float *buffers[] = {x, w, b, dy, x_copy, dy_copy, y, dx_shared, dx_fresh, dw_shared,
                        dw_fresh, db};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    bf16->op_destroy(op);
}

static void pool_case(lmn_backend *ref, lmn_backend *bf16, lmn_pool_kind kind, bool three_d,
                      uint64_t seed)
{
    const char *name = three_d ? "pool3d" : "pool2d";
    lmn_op *producer = NULL;
    lmn_dt_op_pair o = {.ref_in = three_d ? lmn_act_dense3d(2, 16, 6, 6, 6)
                                          : lmn_act_dense(2, 16, 9, 9)};
    o.dnnl_in = three_d ? lmn_dt_blocked_desc3d(bf16, 2, 16, 6, 6, 6, &producer)
                        : lmn_dt_blocked_desc(bf16, 2, 16, 9, 9, &producer);
    size_t ref_ws = 0, dnnl_ws = 0;
    if (three_d) {
        const lmn_pool3d_params p = lmn_kt_pool3d_params(kind, 2, 2, 2, 2, 0);
        o.ref_op = lmn_kt_pool3d(ref, &p, &o.ref_in, &o.ref_out, &ref_ws);
        o.dnnl_op = lmn_kt_pool3d(bf16, &p, &o.dnnl_in, &o.dnnl_out, &dnnl_ws);
    } else {
        const lmn_pool2d_params p = {.kind = kind, .kernel_h = 3, .kernel_w = 3, .stride_h = 2,
                                     .stride_w = 2, .pad_h = 1, .pad_w = 1};
        o.ref_op = lmn_kt_pool(ref, &p, &o.ref_in, &o.ref_out, &ref_ws);
        o.dnnl_op = lmn_kt_pool(bf16, &p, &o.dnnl_in, &o.dnnl_out, &dnnl_ws);
    }
    if (o.ref_op && o.dnnl_op)
        lmn_dt_compare_pool(ref, bf16, &o, kind, ref_ws, dnnl_ws, seed, name);
    lmn_dt_op_pair_destroy(ref, bf16, &o, producer);
}

static void check_fp32(const float *got, const float *want, size_t count, const char *what)
{
    const double err = lmn_test_max_rel_diff(got, want, count);
    CHECK_MSG(err <= FP32_TOLERANCE, "%s under bf16: relative difference %.3g (must stay fp32)",
              what, err);
}

/* Batch norm under bf16 computes its statistics in fp32 (ALGORITHMS.md 13). */
static void batchnorm_case(lmn_backend *ref, lmn_backend *bf16, const lmn_act_desc *in)
{
    const lmn_batchnorm_params p = {.epsilon = 1e-5f};
    lmn_act_desc ref_out, out;
    lmn_op *ref_op = lmn_kt_batchnorm(ref, &p, in, &ref_out);
    lmn_op *op = lmn_kt_batchnorm(bf16, &p, in, &out);
    if (!ref_op || !op) return;
    const size_t c = (size_t)in->c, count = in->floats;
    float *x = lmn_kt_random(count, 71), *dy = lmn_kt_random(count, 72);
    float *gamma = lmn_kt_random(c, 73), *beta = lmn_kt_random(c, 74);
    float *y[2], *mean[2], *var[2], *dx[2], *dgamma[2], *dbeta[2];
    lmn_backend *bes[2] = {ref, bf16};
    lmn_op *ops[2] = {ref_op, op};
    for (int k = 0; k < 2; k++) {
        y[k] = lmn_dt_junk(count), dx[k] = lmn_dt_junk(count);
        mean[k] = lmn_dt_junk(c), var[k] = lmn_dt_junk(c);
        dgamma[k] = lmn_dt_junk(c), dbeta[k] = lmn_dt_junk(c);
        CHECK_OK(bes[k]->batchnorm_forward_train(ops[k], x, gamma, beta, y[k], mean[k], var[k]));
        CHECK_OK(bes[k]->batchnorm_backward(ops[k], x, dy, gamma, mean[k], var[k], dx[k],
                                            dgamma[k], dbeta[k]));
    }
    check_fp32(y[1], y[0], count, "batchnorm forward");
    check_fp32(mean[1], mean[0], c, "batchnorm mean");
    check_fp32(var[1], var[0], c, "batchnorm variance");
    check_fp32(dx[1], dx[0], count, "batchnorm dx");
    check_fp32(dgamma[1], dgamma[0], c, "batchnorm dgamma");
    for (int k = 0; k < 2; k++) {
        float *owned[] = {y[k], mean[k], var[k], dx[k], dgamma[k], dbeta[k]};
        for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) lmn_free(owned[i]);
    }
    float *buffers[] = {x, dy, gamma, beta};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    ref->op_destroy(ref_op);
    bf16->op_destroy(op);
}

/* Batch norm on a bf16 activation (a bf16 conv's output, blocked): y and
 * dx in bf16, the statistics and the parameter gradients in fp32. */
static void batchnorm_bf16_case(lmn_backend *ref, lmn_backend *bf16)
{
    const lmn_batchnorm_params p = {.epsilon = 1e-5f, .fuse_relu = true};
    lmn_op *producer = NULL, *ref_op = NULL, *op = NULL;
    const lmn_act_desc ref_in = lmn_act_dense(4, 16, 6, 6);
    const lmn_act_desc in = lmn_dt_blocked_desc(bf16, 4, 16, 6, 6, &producer);
    lmn_act_desc ref_out, out;
    CHECK(in.elem == LMN_ELEM_BF16);
    ref_op = lmn_kt_batchnorm(ref, &p, &ref_in, &ref_out);
    op = lmn_kt_batchnorm(bf16, &p, &in, &out);
    if (ref_op && op) {
        CHECK(out.elem == LMN_ELEM_BF16 && bf16->same_layout(&out, &in));
        const size_t c = 16, count = ref_in.floats;
        float *x = lmn_kt_random(count, 91), *dy = lmn_kt_random(count, 92);
        float *gamma = lmn_kt_random(c, 93), *beta = lmn_kt_random(c, 94);
        float *x_bf16 = lmn_dt_input(bf16, &x, &in), *dy_bf16 = lmn_dt_input(bf16, &dy, &out);
        float *y[2], *mean[2], *var[2], *dx[2], *dgamma[2], *dbeta[2];
        for (int k = 0; k < 2; k++) {
            y[k] = lmn_dt_junk(count), dx[k] = lmn_dt_junk(count);
            mean[k] = lmn_dt_junk(c), var[k] = lmn_dt_junk(c);
            dgamma[k] = lmn_dt_junk(c), dbeta[k] = lmn_dt_junk(c);
        }
        CHECK_OK(ref->batchnorm_forward_train(ref_op, x, gamma, beta, y[0], mean[0], var[0]));
        CHECK_OK(ref->batchnorm_backward(ref_op, x, dy, gamma, mean[0], var[0], dx[0], dgamma[0],
                                         dbeta[0]));
        CHECK_OK(bf16->batchnorm_forward_train(op, x_bf16, gamma, beta, y[1], mean[1], var[1]));
        CHECK_OK(bf16->batchnorm_backward(op, x_bf16, dy_bf16, gamma, mean[1], var[1], dx[1],
                                          dgamma[1], dbeta[1]));
        lmn_dt_check_act(bf16, y[1], &out, y[0], "bf16 batchnorm forward", "batchnorm");
        lmn_dt_check_act(bf16, dx[1], &in, dx[0], "bf16 batchnorm dx", "batchnorm");
        check_fp32(mean[1], mean[0], c, "bf16 batchnorm mean");
        check_fp32(var[1], var[0], c, "bf16 batchnorm variance");
        lmn_dt_check(dgamma[1], dgamma[0], c, "bf16 batchnorm dgamma", "batchnorm");
        lmn_dt_check(dbeta[1], dbeta[0], c, "bf16 batchnorm dbeta", "batchnorm");
        for (int k = 0; k < 2; k++) {
            float *owned[] = {y[k], mean[k], var[k], dx[k], dgamma[k], dbeta[k]};
            for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) lmn_free(owned[i]);
        }
        float *buffers[] = {x, dy, gamma, beta, x_bf16, dy_bf16};
        for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    }
    if (ref_op) ref->op_destroy(ref_op);
    if (op) bf16->op_destroy(op);
    if (producer) bf16->op_destroy(producer);
}

/* Element types: convs write bf16 and give dx in their input's type,
 * linear layers write fp32, pooling keeps its input's type. */
static void test_element_types(lmn_backend *bf16)
{
    lmn_op *producer = NULL;
    const lmn_act_desc blocked = lmn_dt_blocked_desc(bf16, 2, 16, 8, 8, &producer);
    const lmn_act_desc dense = lmn_act_dense(2, 3, 8, 8);
    const lmn_conv2d_params p = conv2d(16, 3, 1, 1, false, false);
    lmn_act_desc out_from_dense, out_from_bf16, pooled, pooled_fp32, linear_out;
    lmn_op *from_dense = lmn_kt_conv(bf16, &p, &dense, &out_from_dense);
    lmn_op *from_bf16 = lmn_kt_conv(bf16, &p, &blocked, &out_from_bf16);
    CHECK(blocked.elem == LMN_ELEM_BF16);
    CHECK(out_from_dense.elem == LMN_ELEM_BF16 && out_from_bf16.elem == LMN_ELEM_BF16);
    CHECK(out_from_bf16.floats * 2 == lmn_dt_capacity(&out_from_bf16));
    const lmn_pool2d_params pool = {.kind = LMN_POOL_MAX, .kernel_h = 2, .kernel_w = 2,
                                    .stride_h = 2, .stride_w = 2};
    size_t ws = 0;
    lmn_op *pool_bf16 = lmn_kt_pool(bf16, &pool, &blocked, &pooled, &ws);
    lmn_op *pool_fp32 = lmn_kt_pool(bf16, &pool, &dense, &pooled_fp32, &ws);
    CHECK(pooled.elem == LMN_ELEM_BF16 && pooled_fp32.elem == LMN_ELEM_F32);
    const lmn_linear_params lp = {.out_features = 4};
    const lmn_act_desc matrix = lmn_act_dense(2, 30, 1, 1);
    lmn_op *linear = lmn_kt_linear(bf16, &lp, &matrix, &linear_out);
    CHECK(linear_out.elem == LMN_ELEM_F32 && linear_out.layout == NULL);
    lmn_op *ops[] = {from_dense, from_bf16, pool_bf16, pool_fp32, linear, producer};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (ops[i]) bf16->op_destroy(ops[i]);
}

static void upsample_case(lmn_backend *ref, lmn_backend *bf16, lmn_upsample_kind kind)
{
    const lmn_upsample_params p = {.kind = kind, .factor = 2};
    const lmn_act_desc in = lmn_act_dense(2, 16, 5, 5);
    lmn_act_desc ref_out, out;
    lmn_op *ref_op = lmn_kt_upsample(ref, &p, &in, &ref_out);
    lmn_op *op = lmn_kt_upsample(bf16, &p, &in, &out);
    if (!ref_op || !op) return;
    float *x = lmn_kt_random(in.floats, 81), *dy = lmn_kt_random(ref_out.floats, 82);
    float *y_ref = lmn_dt_junk(ref_out.floats), *y = lmn_dt_junk(out.floats);
    float *dx_ref = lmn_dt_junk(in.floats), *dx = lmn_dt_junk(in.floats);
    float *dy_dnnl = lmn_dt_from_dense(bf16, dy, &out);
    CHECK_OK(ref->upsample_forward(ref_op, x, y_ref));
    CHECK_OK(bf16->upsample_forward(op, x, y));
    CHECK_OK(ref->upsample_backward(ref_op, dy, dx_ref));
    CHECK_OK(bf16->upsample_backward(op, dy_dnnl, dx));
    float *y_dense = lmn_dt_to_dense(bf16, y, &out);
    check_fp32(y_dense, y_ref, ref_out.floats, "upsample forward");
    check_fp32(dx, dx_ref, in.floats, "upsample backward");
    float *buffers[] = {x, dy, y_ref, y, dx_ref, dx, dy_dnnl, y_dense};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    ref->op_destroy(ref_op);
    bf16->op_destroy(op);
}

static void test_refusals(lmn_backend *ref)
{
    CHECK(lmn_backend_set_precision(ref, LMN_PRECISION_BF16) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "train.precision") != NULL);
    CHECK(ref->precision == LMN_PRECISION_FP32);
    CHECK_OK(lmn_backend_set_precision(ref, LMN_PRECISION_FP32));
}

static void test_layers(lmn_backend *ref, lmn_backend *bf16)
{
    conv2d_case(ref, bf16, 2, 16, 9, 9, conv2d(32, 3, 1, 1, true, true), true, 100);
    conv2d_case(ref, bf16, 3, 3, 10, 13, conv2d(16, 5, 1, 2, true, false), false, 110);
    conv2d_case(ref, bf16, 2, 16, 8, 8, conv2d(32, 1, 2, 0, false, false), true, 120);
    conv2d_case(ref, bf16, 2, 5, 11, 11, conv2d(7, 3, 2, 1, false, true), false, 130);
    conv3d_case(ref, bf16, 2, 4, 6, lmn_kt_conv3d_params(16, 3, 3, 3, 1, 1, true, false),
                false, 200);
    conv3d_case(ref, bf16, 1, 16, 7, lmn_kt_conv3d_params(16, 3, 3, 3, 2, 1, false, true),
                true, 210);
    linear_case(ref, bf16, 3, 20, 7, false, false, 300);
    linear_case(ref, bf16, 4, 33, 10, true, true, 310);
    linear_case(ref, bf16, 16, 800, 500, true, false, 320);
    pool_case(ref, bf16, LMN_POOL_MAX, false, 400);
    pool_case(ref, bf16, LMN_POOL_AVG, false, 410);
    pool_case(ref, bf16, LMN_POOL_MAX, true, 420);
    const lmn_act_desc bn2d = lmn_act_dense(4, 16, 6, 6), bn3d = lmn_act_dense3d(2, 8, 4, 4, 4);
    batchnorm_case(ref, bf16, &bn2d);
    batchnorm_case(ref, bf16, &bn3d);
    batchnorm_bf16_case(ref, bf16);
    upsample_case(ref, bf16, LMN_UPSAMPLE_NEAREST);
    upsample_case(ref, bf16, LMN_UPSAMPLE_PIXEL_SHUFFLE);
}

int main(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    lmn_backend *fp32 = lmn_kt_backend("dnnl");
    test_refusals(ref);
    const char *isa = NULL;
    if (!lmn_dnnl_native_bf16(&isa)) {
        CHECK(lmn_backend_set_precision(fp32, LMN_PRECISION_BF16) == LMN_ERR_CONFIG);
        CHECK(strstr(lmn_last_error(), "train.precision") != NULL);
        SKIP("no native bf16 on this CPU (oneDNN ISA %s)", isa ? isa : "?");
    } else {
        lmn_backend *bf16 = bf16_backend();
        test_layers(ref, bf16);
        test_element_types(bf16);
        test_bf16_is_real(fp32, bf16);
        test_shared_conversions(bf16);
        test_shared_linear_rounding(bf16);
        lmn_backend_destroy(bf16);
    }
    lmn_backend_destroy(ref);
    lmn_backend_destroy(fp32);
    return lmn_test_summary("test_dnnl_bf16");
}
