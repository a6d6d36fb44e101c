/* Synthetic CosmoFlow-like cubes: the FFT against a naive DFT and its
 * round trip, determinism and shapes, normalized targets, and that every
 * parameter is recoverable from the field (spectrum slope and amplitude,
 * channel correlation, growth). Prints the generation time per cube. */
#include <math.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "core/timer.h"
#include "data/dataset.h"
#include "data/fft.h"
#include "data/grf.h"
#include "test.h"

static void test_fft_against_dft(void)
{
    enum { N = 16 };
    lmn_fft fft;
    CHECK_OK(lmn_fft_create(N, &fft));
    double data[2 * N], original[2 * N];
    lmn_rng rng = lmn_rng_make(3, 0);
    for (int j = 0; j < 2 * N; j++) original[j] = data[j] = lmn_rng_normal(&rng);
    lmn_fft_1d(&fft, data, false);
    double worst = 0.0;
    for (int k = 0; k < N; k++) {
        double re = 0.0, im = 0.0;
        for (int j = 0; j < N; j++) {
            const double angle = -6.283185307179586 * j * k / N;
            re += original[2 * j] * cos(angle) - original[2 * j + 1] * sin(angle);
            im += original[2 * j] * sin(angle) + original[2 * j + 1] * cos(angle);
        }
        worst = fmax(worst, fmax(fabs(re - data[2 * k]), fabs(im - data[2 * k + 1])));
    }
    CHECK_MSG(worst < 1e-12, "FFT differs from the DFT by %g", worst);
    lmn_fft_1d(&fft, data, true);
    for (int j = 0; j < 2 * N; j++) CHECK_CLOSE(data[j], original[j], 1e-13);
    lmn_fft_free(&fft);
    CHECK(lmn_fft_create(12, &fft) == LMN_ERR_ARG);
}

static void test_fft_3d(void)
{
    enum { N = 8, VALUES = 2 * N * N * N };
    lmn_fft fft;
    CHECK_OK(lmn_fft_create(N, &fft));
    double *data = malloc(VALUES * sizeof *data), *original = malloc(VALUES * sizeof *data);
    /* A plane wave exp(2 pi i (1 z + 2 y + 3 x) / N) transforms to N^3 at (1, 2, 3). */
    for (int z = 0; z < N; z++)
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                const double angle = 6.283185307179586 * (1 * z + 2 * y + 3 * x) / N;
                const int at = (z * N + y) * N + x;
                data[2 * at] = cos(angle);
                data[2 * at + 1] = sin(angle);
            }
    lmn_fft_3d(&fft, data, false);
    double off_peak = 0.0;
    for (int at = 0; at < N * N * N; at++)
        if (at != (1 * N + 2) * N + 3) off_peak = fmax(off_peak, hypot(data[2 * at], data[2 * at + 1]));
    CHECK_CLOSE(data[2 * ((1 * N + 2) * N + 3)], N * N * N, 1e-10);
    CHECK(off_peak < 1e-9);
    lmn_rng rng = lmn_rng_make(5, 0);
    for (int j = 0; j < VALUES; j++) original[j] = data[j] = lmn_rng_normal(&rng);
    lmn_fft_3d(&fft, data, false);
    lmn_fft_3d(&fft, data, true);
    double worst = 0.0;
    for (int j = 0; j < VALUES; j++) worst = fmax(worst, fabs(data[j] - original[j]));
    CHECK_MSG(worst < 1e-12, "3-D round trip error %g", worst);
    free(data);
    free(original);
    lmn_fft_free(&fft);
}

static lmn_dataset *make(lmn_grf_config config, int64_t count, int split)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_grf_cubes(&config, count, 11, split, &ds));
    return ds;
}

static void test_shapes_and_determinism(void)
{
    lmn_grf_config config = lmn_grf_default_config();
    config.size = 8;
    lmn_dataset *train = make(config, 100, 0), *test = make(config, 100, 1);
    if (!train || !test) return;
    CHECK(train->channels == 4 && train->depth == 8 && train->height == 8 && train->width == 8);
    CHECK(lmn_dataset_sample_size(train) == 4 * 512 && lmn_dataset_target_size(train) == 4);
    CHECK(train->has_targets && !train->image_targets);
    char shape[64];
    lmn_dataset_describe_shape(train, shape, sizeof shape);
    CHECK(strcmp(shape, "4 x 8 x 8 x 8") == 0);
    const uint32_t indices[3] = {5, 6, 5};
    float a[3 * 2048], b[3 * 2048], c[2048], targets[12], targets_test[12];
    CHECK_OK(lmn_dataset_gather(train, indices, 3, 1, 0, a, NULL));
    CHECK_OK(lmn_dataset_gather(train, indices, 3, 2, 7, b, NULL));
    CHECK(memcmp(a, b, sizeof a) == 0);               /* a function of the index only */
    CHECK(memcmp(a, a + 2 * 2048, 2048 * sizeof(float)) == 0);
    CHECK(memcmp(a, a + 2048, 2048 * sizeof(float)) != 0);
    CHECK_OK(lmn_dataset_gather(test, indices, 1, 1, 0, c, NULL));
    CHECK(memcmp(a, c, sizeof c) != 0);               /* the test split differs */
    CHECK_OK(lmn_dataset_gather_targets(train, indices, 3, targets));
    CHECK_OK(lmn_dataset_gather_targets(test, indices, 3, targets_test));
    CHECK(memcmp(targets, targets + 8, 4 * sizeof(float)) == 0);
    CHECK(memcmp(targets, targets_test, 4 * sizeof(float)) != 0);
    /* Targets are the parameters, normalized over the prior. */
    double p[4];
    lmn_grf_sample_parameters(train, 5, p);
    CHECK_CLOSE(targets[0], (log(p[0]) - 0.5 * (log(0.5) + log(2.0))) / ((log(2.0) - log(0.5)) / sqrt(12.0)), 1e-5);
    CHECK_CLOSE(targets[1], (p[1] - 1.5) / (2.0 / sqrt(12.0)), 1e-5);
    CHECK_CLOSE(targets[2], (p[2] - 0.5) / (0.8 / sqrt(12.0)), 1e-5);
    CHECK_CLOSE(targets[3], (p[3] - 0.5) / (1.0 / sqrt(12.0)), 1e-5);
    lmn_dataset_free(train);
    lmn_dataset_free(test);

    /* Over many samples the normalized targets have mean 0 and variance 1. */
    lmn_dataset *big = make(config, 4000, 0);
    if (!big) return;
    uint32_t *all = malloc(4000 * sizeof *all);
    float *values = malloc(4000 * 4 * sizeof *values);
    for (uint32_t i = 0; i < 4000; i++) all[i] = i;
    CHECK_OK(lmn_dataset_gather_targets(big, all, 4000, values));
    for (int j = 0; j < 4; j++) {
        double sum = 0.0, squares = 0.0;
        for (int i = 0; i < 4000; i++) {
            sum += values[i * 4 + j];
            squares += (double)values[i * 4 + j] * values[i * 4 + j];
        }
        CHECK_MSG(fabs(sum / 4000) < 0.06, "target %d mean %g", j, sum / 4000);
        CHECK_MSG(fabs(squares / 4000 - 1.0) < 0.06, "target %d variance %g", j, squares / 4000);
    }
    free(all);
    free(values);
    lmn_dataset_free(big);

    config.size = 12;
    lmn_dataset *bad = NULL;
    CHECK(lmn_dataset_grf_cubes(&config, 10, 1, 0, &bad) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "data.shape") != NULL);
    config = lmn_grf_default_config();
    config.correlation[1] = 1.5;
    CHECK(lmn_dataset_grf_cubes(&config, 10, 1, 0, &bad) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "data.grf_correlation") != NULL);
}

/* Power of one channel binned by integer |k|, averaged over samples:
 * E|DFT|^2 / S^3 estimates P(k) (see data/grf.h). */
static void binned_power(const lmn_dataset *ds, int samples, int size, double *power, int bins)
{
    const size_t voxels = (size_t)size * size * size;
    double *field = malloc(2 * voxels * sizeof *field);
    double *count = calloc((size_t)bins, sizeof *count);
    float *values = malloc(voxels * sizeof *values);
    lmn_fft fft;
    CHECK_OK(lmn_fft_create(size, &fft));
    memset(power, 0, (size_t)bins * sizeof *power);
    for (int s = 0; s < samples; s++) {
        const uint32_t index = (uint32_t)s;
        CHECK_OK(lmn_dataset_gather(ds, &index, 1, 1, 0, values, NULL));
        for (size_t i = 0; i < voxels; i++) {
            field[2 * i] = values[i];
            field[2 * i + 1] = 0.0;
        }
        lmn_fft_3d(&fft, field, false);
        size_t at = 0;
        for (int z = 0; z < size; z++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++, at++) {
                    const int kz = z < size / 2 ? z : z - size, ky = y < size / 2 ? y : y - size;
                    const int kx = x < size / 2 ? x : x - size;
                    const int bin = (int)lround(sqrt((double)(kx * kx + ky * ky + kz * kz)));
                    if (bin >= bins) continue;
                    power[bin] += (field[2 * at] * field[2 * at] + field[2 * at + 1] * field[2 * at + 1]) / (double)voxels;
                    count[bin] += 1.0;
                }
    }
    for (int b = 0; b < bins; b++) power[b] = count[b] > 0 ? power[b] / count[b] : 0.0;
    lmn_fft_free(&fft);
    free(field);
    free(count);
    free(values);
}

/* With A and n fixed, the measured spectrum has slope -n and value A at
 * the pivot k = S / 4. */
static void test_spectrum_recovered(double slope)
{
    enum { SIZE = 32, BINS = 14 };
    lmn_grf_config config = lmn_grf_default_config();
    config.channels = 1;
    config.size = SIZE;
    config.amplitude[0] = config.amplitude[1] = 1.7;
    config.slope[0] = config.slope[1] = slope;
    lmn_dataset *ds = make(config, 8, 0);
    if (!ds) return;
    CHECK(lmn_dataset_target_size(ds) == 2);
    double power[BINS];
    binned_power(ds, 8, SIZE, power, BINS);
    /* Least squares of log P on log k over k = 3..13. */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int n = 0;
    for (int k = 3; k < BINS; k++, n++) {
        const double x = log((double)k), y = log(power[k]);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    const double fitted = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const double at_pivot = exp((sy - fitted * sx) / n + fitted * log(SIZE / 4.0));
    printf("slope %.2f: fitted %.3f, P(k_p) %.3f (A = 1.7)\n", slope, -fitted, at_pivot);
    CHECK_MSG(fabs(-fitted - slope) < 0.1, "slope %g recovered as %g", slope, -fitted);
    CHECK_MSG(fabs(at_pivot / 1.7 - 1.0) < 0.1, "amplitude 1.7 recovered as %g", at_pivot);
    lmn_dataset_free(ds);
}

/* Channel statistics give rho (correlation of the first two channels once
 * the growth factor is divided out) and gamma (variance ratio). */
static void test_channel_parameters(void)
{
    enum { SIZE = 32 };
    const size_t voxels = (size_t)SIZE * SIZE * SIZE;
    lmn_grf_config config = lmn_grf_default_config();
    config.size = SIZE;
    config.slope[0] = config.slope[1] = 0.5; /* many independent modes */
    lmn_dataset *ds = make(config, 3, 0);
    if (!ds) return;
    float *values = malloc(4 * voxels * sizeof *values);
    for (uint32_t s = 0; s < 3; s++) {
        double p[4];
        lmn_grf_sample_parameters(ds, s, p);
        CHECK_OK(lmn_dataset_gather(ds, &s, 1, 1, 0, values, NULL));
        double var[4] = {0}, cross = 0.0;
        for (size_t i = 0; i < voxels; i++) {
            for (int c = 0; c < 4; c++) var[c] += (double)values[c * voxels + i] * values[c * voxels + i];
            cross += (double)values[i] * values[voxels + i];
        }
        const double rho = cross / sqrt(var[0] * var[1]);
        const double gamma = -0.5 * log(var[3] / var[0]) * (4.0 - 1.0) / 3.0;
        printf("sample %u: rho %.3f -> %.3f, gamma %.3f -> %.3f\n", s, p[2], rho, p[3], gamma);
        CHECK_MSG(fabs(rho - p[2]) < 0.05, "rho %g measured %g", p[2], rho);
        CHECK_MSG(fabs(gamma - p[3]) < 0.1, "gamma %g measured %g", p[3], gamma);
    }
    free(values);
    lmn_dataset_free(ds);
}

static void report_speed(int size)
{
    lmn_grf_config config = lmn_grf_default_config();
    config.size = size;
    lmn_dataset *ds = make(config, 4, 0);
    if (!ds) return;
    float *values;
    CHECK_OK(lmn_alloc_floats(&values, (size_t)lmn_dataset_sample_size(ds), "cube"));
    const double start = lmn_now();
    for (uint32_t s = 0; s < 2; s++) CHECK_OK(lmn_dataset_gather(ds, &s, 1, 1, 0, values, NULL));
    printf("generation: %.1f ms per %d^3 x 4 cube (one thread)\n", (lmn_now() - start) / 2 * 1e3, size);
    lmn_free(values);
    lmn_dataset_free(ds);
}

int main(void)
{
    test_fft_against_dft();
    test_fft_3d();
    test_shapes_and_determinism();
    test_spectrum_recovered(1.0);
    test_spectrum_recovered(2.0);
    test_channel_parameters();
    report_speed(32);
    return lmn_test_summary("grf cubes");
}
