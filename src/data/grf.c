#include "data/grf.h"

#include <math.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "data/dataset_internal.h"
#include "data/fft.h"

static const uint64_t PARAMETER_STREAM_TAG = 0x67726670ull; /* "grfp" */
static const uint64_t FIELD_STREAM_TAG = 0x67726666ull;     /* "grff" */

typedef struct grf_source {
    lmn_grf_config config;
    uint64_t seed;
    int split;
    lmn_fft fft;
} grf_source;

lmn_grf_config lmn_grf_default_config(void)
{
    return (lmn_grf_config){.channels = 4, .size = 32, .amplitude = {0.5, 2.0},
                            .slope = {0.5, 2.5}, .correlation = {0.1, 0.9}, .growth = {0.0, 1.0}};
}

int lmn_grf_target_count(const lmn_grf_config *config)
{
    return config->channels > 1 ? 4 : 2;
}

/* (A, n, rho, gamma) of a sample; `unit` receives the four uniform draws. */
static void draw_parameters(const grf_source *grf, uint32_t index, double parameters[4],
                            double unit[4])
{
    lmn_rng rng = lmn_rng_make(grf->seed, lmn_rng_stream_id(PARAMETER_STREAM_TAG + (uint64_t)grf->split,
                                                            index));
    for (int j = 0; j < 4; j++) unit[j] = lmn_rng_uniform_double(&rng);
    const lmn_grf_config *c = &grf->config;
    const double log_low = log(c->amplitude[0]), log_high = log(c->amplitude[1]);
    parameters[0] = exp(log_low + unit[0] * (log_high - log_low));
    parameters[1] = c->slope[0] + unit[1] * (c->slope[1] - c->slope[0]);
    parameters[2] = c->correlation[0] + unit[2] * (c->correlation[1] - c->correlation[0]);
    parameters[3] = c->growth[0] + unit[3] * (c->growth[1] - c->growth[0]);
}

/* A uniform draw u in [0, 1) of a range, normalized to mean 0, variance 1
 * over the prior: (u - 1/2) * sqrt(12); constant 0 for an empty range. */
static float normalized(double unit, const double range[2])
{
    return range[1] > range[0] ? (float)((unit - 0.5) * sqrt(12.0)) : 0.0f;
}

static void write_targets(const grf_source *grf, const double unit[4], float *targets)
{
    const lmn_grf_config *c = &grf->config;
    targets[0] = normalized(unit[0], c->amplitude);
    targets[1] = normalized(unit[1], c->slope);
    if (c->channels == 1) return;
    targets[2] = normalized(unit[2], c->correlation);
    targets[3] = normalized(unit[3], c->growth);
}

/* sqrt(P(k)) for every possible |k|^2 = 0 .. 3 (S/2)^2. */
static void spectrum_table(const grf_source *grf, const double parameters[4], double *table,
                           int entries)
{
    const double pivot = grf->config.size / 4.0;
    table[0] = 0.0;
    for (int k2 = 1; k2 < entries; k2++)
        table[k2] = sqrt(parameters[0]) * pow((double)k2 / (pivot * pivot), -parameters[1] / 4.0);
}

/* Fills k-space with sqrt(P(k)) times complex normals (re, im ~ N(0, 1)),
 * scaled so that the normalized inverse transform gives fields of variance
 * mean_k P(k) in both its real and imaginary parts. */
static void fill_spectrum(const grf_source *grf, lmn_rng *rng, const double *table, double *field)
{
    const int s = grf->config.size;
    const double scale = sqrt((double)s * s * s);
    size_t at = 0;
    for (int z = 0; z < s; z++) {
        const int kz = z < s / 2 ? z : z - s;
        for (int y = 0; y < s; y++) {
            const int ky = y < s / 2 ? y : y - s;
            for (int x = 0; x < s; x++, at++) {
                const int kx = x < s / 2 ? x : x - s;
                /* Box-Muller in single precision, both normals of the pair
                 * used: the normals are most of a cube's cost, and 24-bit
                 * uniforms only cut the tail beyond 5.8 sigma. */
                const float u = ((float)(lmn_rng_u32(rng) >> 8) + 0.5f) * 0x1.0p-24f;
                const float angle = 6.2831853f * (float)(lmn_rng_u32(rng) >> 8) * 0x1.0p-24f;
                const double radius = (double)sqrtf(-2.0f * logf(u)) * scale *
                                      table[kx * kx + ky * ky + kz * kz];
                field[2 * at] = radius * (double)cosf(angle);
                field[2 * at + 1] = radius * (double)sinf(angle);
            }
        }
    }
}

/* Adds weight * part to channel c of the sample, for every voxel. */
static void add_part(const double *field, int part, double weight, size_t voxels, float *channel)
{
    for (size_t i = 0; i < voxels; i++) channel[i] += (float)(weight * field[2 * i + part]);
}

static lmn_status generate(const grf_source *grf, uint32_t index, const double parameters[4],
                           float *values)
{
    const lmn_grf_config *c = &grf->config;
    const int s = c->size, channels = c->channels;
    const size_t voxels = (size_t)s * s * s;
    const int entries = 3 * (s / 2) * (s / 2) + 1;
    double *field;
    LMN_TRY(lmn_alloc_bytes((void **)&field, (2 * voxels + (size_t)entries) * sizeof(double),
                            "random field scratch"));
    double *table = field + 2 * voxels;
    spectrum_table(grf, parameters, table, entries);
    memset(values, 0, (size_t)channels * voxels * sizeof(float));
    lmn_rng rng = lmn_rng_make(grf->seed, lmn_rng_stream_id(FIELD_STREAM_TAG + (uint64_t)grf->split,
                                                            index));
    const double rho = channels > 1 ? parameters[2] : 1.0;
    /* Real field j is part j % 2 of complex transform j / 2. */
    for (int j = 0; j <= channels; j++) {
        if (j % 2 == 0) {
            fill_spectrum(grf, &rng, table, field);
            lmn_fft_3d(&grf->fft, field, true);
        }
        if (j == 0) {
            for (int ch = 0; ch < channels; ch++)
                add_part(field, 0, sqrt(rho), voxels, values + (size_t)ch * voxels);
        } else if (channels > 1) {
            add_part(field, j % 2, sqrt(1.0 - rho), voxels, values + (size_t)(j - 1) * voxels);
        }
    }
    for (int ch = 1; channels > 1 && ch < channels; ch++) {
        const float growth = (float)exp(-parameters[3] * ch / (channels - 1));
        float *channel = values + (size_t)ch * voxels;
        for (size_t i = 0; i < voxels; i++) channel[i] *= growth;
    }
    lmn_free(field);
    return LMN_OK;
}

static lmn_status produce_cube(const void *ctx, uint32_t index, float *values, float *targets)
{
    const grf_source *grf = ctx;
    double parameters[4], unit[4];
    draw_parameters(grf, index, parameters, unit);
    if (targets) write_targets(grf, unit, targets);
    return values ? generate(grf, index, parameters, values) : LMN_OK;
}

static void free_source(void *ctx)
{
    grf_source *grf = ctx;
    if (!grf) return;
    lmn_fft_free(&grf->fft);
    lmn_free(grf);
}

static lmn_status check_range(const char *key, const double range[2], double low, double high)
{
    if (!(range[0] >= low && range[1] <= high && range[0] <= range[1]))
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.%s': [%g, %g] must be an interval [lo, hi] "
                        "with %g <= lo <= hi <= %g", key, range[0], range[1], low, high);
    return LMN_OK;
}

static lmn_status check_config(const lmn_grf_config *c)
{
    if (c->channels < 1 || c->channels >= LMN_MAX_CHANNELS)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.shape': grf-cubes takes 1..%d channels, got %d",
                        LMN_MAX_CHANNELS - 1, c->channels);
    if (c->size < 4 || c->size > 256 || (c->size & (c->size - 1)) != 0)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.shape': grf-cubes needs cubes whose side is a "
                        "power of two in 4..256, got %d", c->size);
    LMN_TRY(check_range("grf_amplitude", c->amplitude, 1e-30, INFINITY));
    LMN_TRY(check_range("grf_slope", c->slope, -10.0, 10.0));
    LMN_TRY(check_range("grf_correlation", c->correlation, 0.0, 1.0));
    return check_range("grf_growth", c->growth, 0.0, 100.0);
}

lmn_status lmn_dataset_grf_cubes(const lmn_grf_config *config, int64_t count, uint64_t seed,
                                 int split, lmn_dataset **out)
{
    *out = NULL;
    LMN_TRY(check_config(config));
    const int s = config->size;
    lmn_dataset *ds;
    LMN_TRY(lmn_dataset_create_shaped(count, config->channels, s, s, s, 1, false, "grf-cubes", &ds));
    grf_source *grf;
    lmn_status status = lmn_alloc_bytes((void **)&grf, sizeof *grf, "random field source");
    if (status == LMN_OK) {
        *grf = (grf_source){.config = *config, .seed = seed, .split = split};
        ds->source = (lmn_sample_source){.ctx = grf, .produce = produce_cube, .free = free_source};
        status = lmn_fft_create(s, &grf->fft);
    }
    if (status != LMN_OK) {
        lmn_dataset_free(ds);
        return status;
    }
    ds->has_targets = true;
    ds->target_shape = (lmn_target_shape){lmn_grf_target_count(config), 0, 1, 1};
    *out = ds;
    return LMN_OK;
}

void lmn_grf_sample_parameters(const lmn_dataset *ds, uint32_t index, double parameters[4])
{
    double unit[4];
    draw_parameters(ds->source.ctx, index, parameters, unit);
}
