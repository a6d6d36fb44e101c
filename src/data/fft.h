/* Small complex FFTs of power-of-two sizes (radix-2, in place), enough to
 * make the synthetic Gaussian random fields (data/grf.h) without a new
 * dependency. Data are interleaved (re, im) doubles.
 *
 * Convention: forward X[k] = sum_j x[j] e^(-2 pi i j k / n); inverse uses
 * e^(+2 pi i j k / n) and divides by n, so inverse(forward(x)) = x. */
#ifndef LMN_DATA_FFT_H
#define LMN_DATA_FFT_H

#include <stdbool.h>

#include "core/status.h"

enum { LMN_FFT_MAX = 4096 };

typedef struct lmn_fft {
    int n;
    double *twiddles; /* n / 2 pairs (cos, sin) of 2 pi k / n */
} lmn_fft;

/* Prepares transforms of n points; n a power of two in 1..LMN_FFT_MAX.
 * Free with lmn_fft_free. Errors: LMN_ERR_ARG for another n; LMN_ERR_NOMEM. */
lmn_status lmn_fft_create(int n, lmn_fft *out);
void lmn_fft_free(lmn_fft *fft);

/* One transform of fft->n complex values at data (2n doubles). */
void lmn_fft_1d(const lmn_fft *fft, double *data, bool inverse);

/* The 3-D transform of an n x n x n complex array stored row-major
 * (z, y, x), in place. */
void lmn_fft_3d(const lmn_fft *fft, double *data, bool inverse);

#endif
