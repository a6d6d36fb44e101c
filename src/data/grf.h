/* Synthetic CosmoFlow-like volumes: Gaussian random fields whose parameters
 * are the regression targets (data.name: grf-cubes).
 *
 * A sample is C channels of an S x S x S cube (S a power of two). Its
 * parameters are drawn per sample:
 *   A      amplitude, log-uniform in config.amplitude   -> target log A
 *   n      spectral slope, uniform in config.slope      -> target n
 *   rho    channel correlation, uniform in config.correlation
 *   gamma  growth across channels, uniform in config.growth
 * From C + 1 independent real Gaussian fields g_0 .. g_C, each with power
 * spectrum
 *   P(k) = A (|k| / k_p)^(-n),  k_p = S / 4,  P(0) = 0,
 * (k = integer wave vector, components in [-S/2, S/2); E|DFT(g)(k)|^2 = S^3 P(k),
 * so Var g = mean over k of P(k)), channel c is
 *   x_c = D_c (sqrt(rho) g_0 + sqrt(1 - rho) g_(c+1)),  D_c = exp(-gamma c / (C - 1)).
 * Every parameter can be read off a sample: A and n from the power at and
 * around k_p, rho from the correlation between channels, gamma from the
 * ratio of the channels' amplitudes. With C = 1 the sample is g_0 alone and
 * only (log A, n) are targets.
 *
 * Targets are normalized to mean 0, variance 1 over the prior: a parameter
 * u uniform in [lo, hi] (log A: log uniform) becomes
 * (u - (lo + hi) / 2) / ((hi - lo) / sqrt(12)); a range with lo == hi gives
 * a constant 0. Predicting the mean therefore scores an MSE of 1.
 *
 * Everything is a function of (seed, split, sample index) through the
 * counter-based RNG, so a sample is the same on every rank and thread.
 * Samples are generated on gather (ceil((C + 1) / 2) complex 3-D FFTs each;
 * nothing is cached), so memory does not grow with the sample count. */
#ifndef LMN_DATA_GRF_H
#define LMN_DATA_GRF_H

#include <stdint.h>

#include "data/dataset.h"

typedef struct lmn_grf_config {
    int channels;          /* C, 1..LMN_MAX_CHANNELS - 1 */
    int size;              /* S, a power of two in 4..256 */
    double amplitude[2];   /* A range, 0 < lo <= hi */
    double slope[2];       /* n range */
    double correlation[2]; /* rho range, within [0, 1] */
    double growth[2];      /* gamma range, >= 0 */
} lmn_grf_config;

enum { LMN_GRF_MAX_TARGETS = 4 };

/* The defaults: 4 channels of 32^3, A in [0.5, 2], n in [0.5, 2.5], rho in
 * [0.1, 0.9], gamma in [0, 1]. */
lmn_grf_config lmn_grf_default_config(void);

/* Targets per sample: 4, or 2 for one channel. */
int lmn_grf_target_count(const lmn_grf_config *config);

/* A set of `count` cubes; split 0 (training) and 1 (test) draw different
 * samples from the same seed. Errors: LMN_ERR_CONFIG for a bad config (the
 * message names the key under data.), LMN_ERR_ARG for a bad count. */
lmn_status lmn_dataset_grf_cubes(const lmn_grf_config *config, int64_t count, uint64_t seed,
                                 int split, lmn_dataset **out);

/* The raw parameters (A, n, rho, gamma) of sample `index` of a grf-cubes
 * set (for tests and analysis). */
void lmn_grf_sample_parameters(const lmn_dataset *ds, uint32_t index, double parameters[4]);

#endif
