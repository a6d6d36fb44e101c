#include "data/fft.h"

#include <math.h>
#include <string.h>

#include "core/memory.h"

static const double TWO_PI = 6.283185307179586;

lmn_status lmn_fft_create(int n, lmn_fft *out)
{
    *out = (lmn_fft){0};
    if (n < 1 || n > LMN_FFT_MAX || (n & (n - 1)) != 0)
        return lmn_fail(LMN_ERR_ARG, "an FFT of %d points: need a power of two in 1..%d", n,
                        LMN_FFT_MAX);
    const int half = n > 1 ? n / 2 : 1;
    LMN_TRY(lmn_alloc_bytes((void **)&out->twiddles, (size_t)half * 2 * sizeof(double),
                            "FFT twiddles"));
    for (int k = 0; k < n / 2; k++) {
        const double angle = TWO_PI * (double)k / (double)n;
        out->twiddles[2 * k] = cos(angle);
        out->twiddles[2 * k + 1] = sin(angle);
    }
    out->n = n;
    return LMN_OK;
}

void lmn_fft_free(lmn_fft *fft)
{
    lmn_free(fft->twiddles);
    *fft = (lmn_fft){0};
}

static void bit_reverse(double *data, int n)
{
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            const double re = data[2 * i], im = data[2 * i + 1];
            data[2 * i] = data[2 * j];
            data[2 * i + 1] = data[2 * j + 1];
            data[2 * j] = re;
            data[2 * j + 1] = im;
        }
    }
}

void lmn_fft_1d(const lmn_fft *fft, double *data, bool inverse)
{
    const int n = fft->n;
    bit_reverse(data, n);
    const double sign = inverse ? 1.0 : -1.0;
    for (int length = 2; length <= n; length <<= 1) {
        const int half = length / 2, stride = n / length;
        for (int start = 0; start < n; start += length)
            for (int j = 0; j < half; j++) {
                const double wr = fft->twiddles[2 * j * stride];
                const double wi = sign * fft->twiddles[2 * j * stride + 1];
                double *u = data + 2 * (start + j), *v = data + 2 * (start + j + half);
                const double vr = v[0] * wr - v[1] * wi, vi = v[0] * wi + v[1] * wr;
                v[0] = u[0] - vr;
                v[1] = u[1] - vi;
                u[0] += vr;
                u[1] += vi;
            }
    }
    if (inverse) {
        const double scale = 1.0 / (double)n;
        for (int i = 0; i < 2 * n; i++) data[i] *= scale;
    }
}

/* Transforms along the middle axis of an [outer][n][inner] complex array:
 * every butterfly acts on `inner` contiguous values at once, which keeps
 * the strided axes cache-friendly and lets the compiler vectorize. */
static void transform_blocks(const lmn_fft *fft, double *data, size_t outer, size_t inner,
                             bool inverse)
{
    const size_t n = (size_t)fft->n, block = 2 * inner;
    const double sign = inverse ? 1.0 : -1.0;
    for (size_t o = 0; o < outer; o++) {
        double *a = data + o * n * block;
        for (size_t i = 1, j = 0; i < n; i++) {
            size_t bit = n >> 1;
            for (; j & bit; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j)
                for (size_t e = 0; e < block; e++) {
                    const double swap = a[i * block + e];
                    a[i * block + e] = a[j * block + e];
                    a[j * block + e] = swap;
                }
        }
        for (size_t length = 2; length <= n; length <<= 1) {
            const size_t half = length / 2, stride = n / length;
            for (size_t first = 0; first < n; first += length)
                for (size_t j = 0; j < half; j++) {
                    const double wr = fft->twiddles[2 * j * stride];
                    const double wi = sign * fft->twiddles[2 * j * stride + 1];
                    double *u = a + (first + j) * block, *v = a + (first + j + half) * block;
                    for (size_t e = 0; e < block; e += 2) {
                        const double vr = v[e] * wr - v[e + 1] * wi, vi = v[e] * wi + v[e + 1] * wr;
                        v[e] = u[e] - vr;
                        v[e + 1] = u[e + 1] - vi;
                        u[e] += vr;
                        u[e + 1] += vi;
                    }
                }
        }
        if (inverse) {
            const double scale = 1.0 / (double)n;
            for (size_t e = 0; e < n * block; e++) a[e] *= scale;
        }
    }
}

void lmn_fft_3d(const lmn_fft *fft, double *data, bool inverse)
{
    const size_t n = (size_t)fft->n, plane = n * n;
    for (size_t row = 0; row < plane; row++) lmn_fft_1d(fft, data + 2 * row * n, inverse);
    transform_blocks(fft, data, n, n, inverse);     /* along y: [z][y][x] */
    transform_blocks(fft, data, 1, plane, inverse); /* along z: [1][z][y x] */
}
