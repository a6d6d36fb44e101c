/* Layout-independent element-wise kernels: every element is independent,
 * so each loop is a plain OpenMP parallel SIMD loop. */
#include "kernels/elementwise.h"

#include "core/rng.h"

void lmn_relu_forward(const float *x, float *y, size_t count)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void lmn_relu_backward(const float *y, const float *dy, float *dx, size_t count)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void lmn_add_forward(const float *a, const float *b, float *y, size_t count)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] = a[i] + b[i];
}

void lmn_add_relu_forward(const float *a, const float *b, float *y, size_t count)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) {
        const float sum = a[i] + b[i];
        y[i] = sum > 0.0f ? sum : 0.0f;
    }
}

void lmn_leaky_relu_forward(const float *x, float *y, size_t count, float slope)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

void lmn_leaky_relu_backward(const float *x, const float *dy, float *dx, size_t count,
                             float slope)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
}

void lmn_scale_forward(const float *x, float *y, size_t count, float factor)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] = factor * x[i];
}

void lmn_scale_backward(const float *dy, float *dx, size_t count, float factor)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) dx[i] = factor * dy[i];
}

void lmn_accumulate(float *y, const float *x, size_t count)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] += x[i];
}

/* Elements drawn per seek: each chunk jumps to its first word of the stream
 * and reads on sequentially, so element i always uses word i whatever the
 * thread count. */
enum { DROPOUT_CHUNK = 4096 };

void lmn_dropout_forward(const float *x, float *y, uint8_t *mask, size_t count, float rate,
                         uint64_t seed, uint64_t stream)
{
    const float scale = 1.0f / (1.0f - rate);
    const size_t chunks = (count + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;

#pragma omp parallel for schedule(static)
    for (size_t chunk = 0; chunk < chunks; chunk++) {
        const size_t begin = chunk * DROPOUT_CHUNK;
        const size_t end = begin + DROPOUT_CHUNK < count ? begin + DROPOUT_CHUNK : count;
        lmn_rng rng = lmn_rng_make(seed, stream);
        lmn_rng_seek(&rng, begin);
        for (size_t i = begin; i < end; i++) {
            const uint8_t keep = lmn_rng_uniform(&rng) >= rate;
            mask[i] = keep;
            y[i] = keep ? x[i] * scale : 0.0f;
        }
    }
}

void lmn_dropout_backward(const float *dy, const uint8_t *mask, float *dx, size_t count,
                          float rate)
{
    const float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
