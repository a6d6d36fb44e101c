/* The element-wise kernels over activations of either element type
 * (kernels.h: convolutions under bf16 write bf16 activations). Values are
 * widened to fp32 by a shift, computed in fp32 and rounded back to nearest
 * even, as oneDNN rounds, so a bf16 add is the fp32 add of the same values
 * rounded once. */
#include "core/bf16.h"
#include "kernels/elementwise.h"

/* A bf16 buffer of `floats` floats holds twice as many values. */
static size_t values_of(size_t floats) { return 2 * floats; }

void lmn_act_relu_forward(lmn_elem_type elem, const float *x, float *y, size_t floats)
{
    if (elem == LMN_ELEM_F32) {
        lmn_relu_forward(x, y, floats);
        return;
    }
    const uint16_t *in = (const uint16_t *)x;
    uint16_t *out = (uint16_t *)y;
    const size_t count = values_of(floats);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) out[i] = lmn_bf16_to_float(in[i]) > 0.0f ? in[i] : 0;
}

void lmn_act_relu_backward(lmn_elem_type elem, const float *y, const float *dy, float *dx,
                           size_t floats)
{
    if (elem == LMN_ELEM_F32) {
        lmn_relu_backward(y, dy, dx, floats);
        return;
    }
    const uint16_t *out = (const uint16_t *)y, *grad = (const uint16_t *)dy;
    uint16_t *result = (uint16_t *)dx;
    const size_t count = values_of(floats);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) result[i] = lmn_bf16_to_float(out[i]) > 0.0f ? grad[i] : 0;
}

static void add_bf16(const float *a, const float *b, float *y, size_t floats, bool relu)
{
    const uint16_t *left = (const uint16_t *)a, *right = (const uint16_t *)b;
    uint16_t *out = (uint16_t *)y;
    const size_t count = values_of(floats);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) {
        const float sum = lmn_bf16_to_float(left[i]) + lmn_bf16_to_float(right[i]);
        out[i] = lmn_float_to_bf16(relu && !(sum > 0.0f) ? 0.0f : sum);
    }
}

void lmn_act_add_forward(lmn_elem_type elem, const float *a, const float *b, float *y,
                         size_t floats)
{
    if (elem == LMN_ELEM_F32)
        lmn_add_forward(a, b, y, floats);
    else
        add_bf16(a, b, y, floats, false);
}

void lmn_act_add_relu_forward(lmn_elem_type elem, const float *a, const float *b, float *y,
                              size_t floats)
{
    if (elem == LMN_ELEM_F32)
        lmn_add_relu_forward(a, b, y, floats);
    else
        add_bf16(a, b, y, floats, true);
}

void lmn_act_accumulate(lmn_elem_type elem, float *y, const float *x, size_t floats)
{
    if (elem == LMN_ELEM_F32) {
        lmn_accumulate(y, x, floats);
        return;
    }
    uint16_t *sum = (uint16_t *)y;
    const uint16_t *addend = (const uint16_t *)x;
    const size_t count = values_of(floats);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) sum[i] = lmn_float_to_bf16(lmn_bf16_to_float(sum[i]) + lmn_bf16_to_float(addend[i]));
}

void lmn_act_leaky_relu_forward(lmn_elem_type elem, const float *x, float *y, size_t floats,
                                float slope)
{
    if (elem == LMN_ELEM_F32) {
        lmn_leaky_relu_forward(x, y, floats, slope);
        return;
    }
    const uint16_t *in = (const uint16_t *)x;
    uint16_t *out = (uint16_t *)y;
    const size_t count = values_of(floats);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) {
        const float value = lmn_bf16_to_float(in[i]);
        out[i] = value > 0.0f ? in[i] : lmn_float_to_bf16(slope * value);
    }
}

void lmn_act_leaky_relu_backward(lmn_elem_type elem, const float *x, const float *dy, float *dx,
                                 size_t floats, float slope)
{
    if (elem == LMN_ELEM_F32) {
        lmn_leaky_relu_backward(x, dy, dx, floats, slope);
        return;
    }
    const uint16_t *in = (const uint16_t *)x, *grad = (const uint16_t *)dy;
    uint16_t *result = (uint16_t *)dx;
    const size_t count = values_of(floats);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++)
        result[i] = lmn_bf16_to_float(in[i]) > 0.0f ? grad[i] : lmn_float_to_bf16(slope * lmn_bf16_to_float(grad[i]));
}

/* Scaling is its own backward (dx = factor * dy). */
void lmn_act_scale(lmn_elem_type elem, const float *x, float *y, size_t floats, float factor)
{
    if (elem == LMN_ELEM_F32) {
        lmn_scale_forward(x, y, floats, factor);
        return;
    }
    const uint16_t *in = (const uint16_t *)x;
    uint16_t *out = (uint16_t *)y;
    const size_t count = values_of(floats);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) out[i] = lmn_float_to_bf16(factor * lmn_bf16_to_float(in[i]));
}
