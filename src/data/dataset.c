#include "data/dataset.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "data/dataset_internal.h"

/* Separate the random streams that share a seed. */
static const uint64_t AUGMENT_STREAM_TAG = 0x61756776ull;   /* "augv" */
static const uint64_t PROTOTYPE_STREAM_TAG = 0x70726f74ull; /* "prot" */
static const uint64_t NOISE_STREAM_TAG = 0x6e6f6973ull;     /* "nois" */

int64_t lmn_dataset_sample_size(const lmn_dataset *ds)
{
    return (int64_t)ds->channels * (ds->depth > 0 ? ds->depth : 1) * ds->height * ds->width;
}

int64_t lmn_target_shape_size(lmn_target_shape shape)
{
    return (int64_t)shape.c * (shape.d > 0 ? shape.d : 1) * shape.h * shape.w;
}

int64_t lmn_dataset_target_size(const lmn_dataset *ds)
{
    return ds->has_targets ? lmn_target_shape_size(ds->target_shape) : 0;
}

static void describe(int c, int d, int h, int w, bool vector, char *out, size_t capacity)
{
    if (vector)
        snprintf(out, capacity, "%d", c);
    else if (d > 0)
        snprintf(out, capacity, "%d x %d x %d x %d", c, d, h, w);
    else
        snprintf(out, capacity, "%d x %d x %d", c, h, w);
}

void lmn_dataset_describe_shape(const lmn_dataset *ds, char *out, size_t capacity)
{
    describe(ds->channels, ds->depth, ds->height, ds->width, false, out, capacity);
}

void lmn_dataset_describe_target_shape(const lmn_dataset *ds, char *out, size_t capacity)
{
    const lmn_target_shape s = ds->target_shape;
    if (!ds->has_targets)
        snprintf(out, capacity, "none (class labels)");
    else
        describe(s.c, s.d, s.h, s.w, s.d == 0 && s.h == 1 && s.w == 1, out, capacity);
}

lmn_status lmn_dataset_create(int64_t count, int channels, int height, int width,
                              int num_classes, bool with_pixels, const char *name,
                              lmn_dataset **out)
{
    return lmn_dataset_create_shaped(count, channels, 0, height, width, num_classes, with_pixels,
                                     name, out);
}

lmn_status lmn_dataset_create_shaped(int64_t count, int channels, int depth, int height,
                                     int width, int num_classes, bool with_pixels,
                                     const char *name, lmn_dataset **out)
{
    *out = NULL;
    if (count < 1 || count > (int64_t)UINT32_MAX)
        return lmn_fail(LMN_ERR_ARG, "dataset '%s' with %lld samples: need 1..%u samples", name,
                        (long long)count, UINT32_MAX);
    if (channels < 1 || channels > LMN_MAX_CHANNELS || depth < 0 || height < 1 || width < 1)
        return lmn_fail(LMN_ERR_ARG,
                        "dataset '%s' with samples of %d x %d x %d x %d (C x D x H x W): need "
                        "1..%d channels, a depth >= 0 (0 = 2-D) and positive height and width",
                        name, channels, depth, height, width, LMN_MAX_CHANNELS);
    if (num_classes < 1)
        return lmn_fail(LMN_ERR_ARG, "dataset '%s' with %d classes: need at least 1", name,
                        num_classes);
    lmn_dataset *ds;
    LMN_TRY(lmn_alloc_bytes((void **)&ds, sizeof *ds, "dataset"));
    ds->count = count;
    ds->channels = channels;
    ds->depth = depth;
    ds->height = height;
    ds->width = width;
    ds->num_classes = num_classes;
    for (int c = 0; c < LMN_MAX_CHANNELS; c++) ds->std[c] = 1.0f;
    snprintf(ds->name, sizeof ds->name, "%s", name);
    lmn_status status = lmn_alloc_bytes((void **)&ds->labels, (size_t)count * sizeof(int32_t),
                                        "dataset labels");
    if (status == LMN_OK && with_pixels)
        status = lmn_alloc_bytes((void **)&ds->pixels,
                                 (size_t)count * (size_t)lmn_dataset_sample_size(ds),
                                 "dataset pixels");
    if (status != LMN_OK) {
        lmn_dataset_free(ds);
        return status;
    }
    *out = ds;
    return LMN_OK;
}

void lmn_dataset_free(lmn_dataset *ds)
{
    if (!ds) return;
    lmn_free(ds->pixels);
    lmn_free(ds->values);
    lmn_free(ds->labels);
    lmn_free(ds->prototypes);
    lmn_free(ds->targets);
    if (ds->source.free) ds->source.free(ds->source.ctx);
    if (ds->rows.free) ds->rows.free(ds->rows.ctx);
    lmn_free(ds);
}

lmn_status lmn_dataset_synthetic(int64_t count, int channels, int height, int width,
                                 int num_classes, uint64_t seed, lmn_dataset **out)
{
    *out = NULL;
    lmn_dataset *ds;
    LMN_TRY(lmn_dataset_create(count, channels, height, width, num_classes, false, "synthetic",
                               &ds));
    const int64_t size = lmn_dataset_sample_size(ds);
    lmn_status status = lmn_alloc_floats(&ds->prototypes, (size_t)(num_classes * size),
                                         "synthetic class prototypes");
    if (status != LMN_OK) {
        lmn_dataset_free(ds);
        return status;
    }
    for (int k = 0; k < num_classes; k++) {
        lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(PROTOTYPE_STREAM_TAG, (uint64_t)k));
        for (int64_t j = 0; j < size; j++) ds->prototypes[k * size + j] = (float)lmn_rng_normal(&rng);
    }
    for (int64_t i = 0; i < count; i++) ds->labels[i] = (int32_t)(i % num_classes);
    ds->synthetic_noise = 1.0f;
    ds->synthetic_seed = seed;
    *out = ds;
    return LMN_OK;
}

/* A stored row's values before normalization: bytes scaled to [0, 1] or
 * floats as they are, the same arithmetic as for in-memory pixels/values. */
static void row_values(const lmn_dataset *ds, const void *rows, int position, float *values)
{
    const int64_t size = lmn_dataset_sample_size(ds);
    if (ds->rows.float_rows) {
        memcpy(values, (const float *)rows + (size_t)position * (size_t)size,
               (size_t)size * sizeof(float));
        return;
    }
    const uint8_t *pixels = (const uint8_t *)rows + (size_t)position * (size_t)size;
    for (int64_t j = 0; j < size; j++) values[j] = (float)pixels[j] / 255.0f;
}

/* Sample `index` before normalization and augmentation: stored float
 * values as they are, pixels scaled to [0, 1], the source's values, or the
 * synthetic prototype plus its fixed noise. */
static lmn_status sample_values(const lmn_dataset *ds, uint32_t index, float *values)
{
    const int64_t size = lmn_dataset_sample_size(ds);
    if (ds->source.produce) return ds->source.produce(ds->source.ctx, index, values, NULL);
    if (ds->values) {
        memcpy(values, ds->values + (size_t)index * (size_t)size, (size_t)size * sizeof(float));
        return LMN_OK;
    }
    if (ds->pixels) {
        const uint8_t *pixels = ds->pixels + (size_t)index * (size_t)size;
        for (int64_t j = 0; j < size; j++) values[j] = (float)pixels[j] / 255.0f;
        return LMN_OK;
    }
    /* Uniform noise scaled to the requested standard deviation: cheaper
     * than Gaussian and just as learnable. */
    const float scale = ds->synthetic_noise * sqrtf(12.0f);
    const float *prototype = ds->prototypes + (size_t)ds->labels[index] * (size_t)size;
    lmn_rng rng = lmn_rng_make(ds->synthetic_seed, lmn_rng_stream_id(NOISE_STREAM_TAG, index));
    for (int64_t j = 0; j < size; j++)
        values[j] = prototype[j] + (lmn_rng_uniform(&rng) - 0.5f) * scale;
    return LMN_OK;
}

/* Where the output window sits in the padded image, and whether it is
 * mirrored. The identity placement is {pad, pad, false}. */
typedef struct placement {
    int top, left;
    bool flip;
} placement;

static placement draw_placement(const lmn_dataset *ds, uint64_t seed, uint64_t epoch,
                                uint32_t index)
{
    const int pad = ds->augment ? ds->crop_pad : 0;
    placement p = {pad, pad, false};
    if (!ds->augment) return p;
    lmn_rng rng = lmn_rng_make(
        seed, lmn_rng_stream_id(lmn_rng_stream_id(AUGMENT_STREAM_TAG, epoch), index));
    /* Always draw all three so one setting does not shift the others' numbers. */
    const int top = (int)lmn_rng_below(&rng, (uint64_t)(2 * pad + 1));
    const int left = (int)lmn_rng_below(&rng, (uint64_t)(2 * pad + 1));
    const bool flip = (lmn_rng_u32(&rng) & 1u) != 0;
    p.top = top;
    p.left = left;
    p.flip = ds->flip && flip;
    return p;
}

/* Cuts the placed window out of the zero-padded values and normalizes it. */
static void place_sample(const lmn_dataset *ds, const float *values, placement p, float *out)
{
    const int pad = ds->augment ? ds->crop_pad : 0;
    /* A volume is never augmented (gather refuses), so its D x H planes
     * can be walked as one tall image. */
    const int height = ds->height * (ds->depth > 0 ? ds->depth : 1), width = ds->width;
    for (int c = 0; c < ds->channels; c++) {
        const float mean = ds->mean[c], inv_std = 1.0f / ds->std[c];
        const float padding = (0.0f - mean) * inv_std;
        const float *plane = values + (size_t)c * height * width;
        float *out_plane = out + (size_t)c * height * width;
        for (int y = 0; y < height; y++) {
            const int source_y = y + p.top - pad;
            float *out_row = out_plane + (size_t)y * width;
            for (int x = 0; x < width; x++) {
                const int source_x = (p.flip ? width - 1 - x : x) + p.left - pad;
                const bool inside = source_y >= 0 && source_y < height && source_x >= 0 &&
                                    source_x < width;
                out_row[x] = inside ? (plane[(size_t)source_y * width + source_x] - mean) * inv_std
                                    : padding;
            }
        }
    }
}

/* The first failure of a parallel loop, with its message: lmn_fail keeps
 * messages per thread, so a worker's must be carried to the caller. */
typedef struct loop_failure {
    lmn_status status;
    char message[1024];
} loop_failure;

static void record_failure(loop_failure *failure, lmn_status status)
{
#pragma omp critical(lmn_dataset_loop_failure)
    if (failure->status == LMN_OK) {
        failure->status = status;
        snprintf(failure->message, sizeof failure->message, "%s", lmn_last_error());
    }
}

static lmn_status check_indices(const lmn_dataset *ds, const uint32_t *indices, int count)
{
    for (int i = 0; i < count; i++)
        if (indices[i] >= ds->count)
            return lmn_fail(LMN_ERR_ARG,
                            "gather: sample index %u at batch position %d is outside dataset "
                            "'%s' of %lld samples",
                            indices[i], i, ds->name, (long long)ds->count);
    return LMN_OK;
}

/* Out-of-core: ONE read of the batch's raw rows into a staging buffer on
 * the calling thread, then the in-memory path's placement on those bytes. */
static lmn_status gather_rows(const lmn_dataset *ds, const uint32_t *indices, int count,
                              uint64_t seed, uint64_t epoch, float *images_out,
                              int32_t *labels_out)
{
    const int64_t size = lmn_dataset_sample_size(ds);
    const size_t row_bytes = (size_t)size * (ds->rows.float_rows ? sizeof(float) : 1);
    const int threads = omp_get_max_threads();
    void *staging = NULL;
    float *scratch = NULL;
    LMN_TRY(lmn_alloc_bytes(&staging, (size_t)count * row_bytes, "batch rows being read"));
    lmn_status status = lmn_alloc_floats(&scratch, (size_t)threads * (size_t)size, "gather scratch");
    if (status == LMN_OK)
        status = ds->rows.read(ds->rows.ctx, indices, count, staging, labels_out, NULL);
    if (status == LMN_OK) {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int i = 0; i < count; i++) {
            float *values = scratch + (size_t)omp_get_thread_num() * (size_t)size;
            row_values(ds, staging, i, values);
            place_sample(ds, values, draw_placement(ds, seed, epoch, indices[i]),
                         images_out + (size_t)i * (size_t)size);
        }
    }
    lmn_free(scratch);
    lmn_free(staging);
    return status;
}

lmn_status lmn_dataset_gather(const lmn_dataset *ds, const uint32_t *indices, int count,
                              uint64_t seed, uint64_t epoch, float *images_out,
                              int32_t *labels_out)
{
    if (!ds || count < 0 || (count > 0 && (!indices || !images_out)))
        return lmn_fail(LMN_ERR_ARG, "gather of %d samples: need a dataset, indices and an "
                                     "output buffer", count);
    LMN_TRY(check_indices(ds, indices, count));
    if (ds->augment && (ds->depth > 0 || ds->has_targets))
        return lmn_fail(LMN_ERR_ARG, "dataset '%s': augmentation (random crop and flip) applies "
                        "to 2-D classification sets only; turn data.augment off", ds->name);
    if (count == 0) return LMN_OK;
    if (ds->rows.read) return gather_rows(ds, indices, count, seed, epoch, images_out, labels_out);
    const int64_t size = lmn_dataset_sample_size(ds);
    const int threads = omp_get_max_threads();
    float *scratch;
    LMN_TRY(lmn_alloc_floats(&scratch, (size_t)threads * (size_t)size, "gather scratch"));
    loop_failure failure = {LMN_OK, ""};
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int i = 0; i < count; i++) {
        float *values = scratch + (size_t)omp_get_thread_num() * (size_t)size;
        /* A source that augments itself (image folders) gets the seed and
         * epoch; gather then only normalizes, through the identity placement. */
        const bool own_view = ds->augment && ds->source.produce_view;
        const lmn_status status =
            own_view ? ds->source.produce_view(ds->source.ctx, indices[i], seed, epoch, values)
                     : sample_values(ds, indices[i], values);
        if (status != LMN_OK) {
            record_failure(&failure, status);
            continue;
        }
        const placement identity = {ds->crop_pad, ds->crop_pad, false};
        place_sample(ds, values, own_view ? identity : draw_placement(ds, seed, epoch, indices[i]),
                     images_out + (size_t)i * (size_t)size);
        if (labels_out) labels_out[i] = ds->labels[indices[i]];
    }
    lmn_free(scratch);
    if (failure.status != LMN_OK) return lmn_fail(failure.status, "%s", failure.message);
    return LMN_OK;
}

lmn_status lmn_dataset_gather_targets(const lmn_dataset *ds, const uint32_t *indices, int count,
                                      float *targets_out)
{
    if (!ds || count < 0 || (count > 0 && (!indices || !targets_out)))
        return lmn_fail(LMN_ERR_ARG, "gather of %d targets: need a dataset, indices and an "
                                     "output buffer", count);
    if (!ds->has_targets)
        return lmn_fail(LMN_ERR_ARG, "dataset '%s' has class labels, not regression targets",
                        ds->name);
    LMN_TRY(check_indices(ds, indices, count));
    const int64_t size = lmn_dataset_target_size(ds);
    if (ds->rows.read) return ds->rows.read(ds->rows.ctx, indices, count, NULL, NULL, targets_out);
    if (ds->targets) {
        for (int i = 0; i < count; i++)
            memcpy(targets_out + (size_t)i * (size_t)size,
                   ds->targets + (size_t)indices[i] * (size_t)size, (size_t)size * sizeof(float));
        return LMN_OK;
    }
    if (!ds->source.produce)
        return lmn_fail(LMN_ERR_INTERNAL, "dataset '%s' promises targets but neither stores nor "
                        "makes them", ds->name);
    loop_failure failure = {LMN_OK, ""};
#pragma omp parallel for schedule(static)
    for (int i = 0; i < count; i++) {
        const lmn_status status = ds->source.produce(ds->source.ctx, indices[i], NULL,
                                                     targets_out + (size_t)i * (size_t)size);
        if (status != LMN_OK) record_failure(&failure, status);
    }
    if (failure.status != LMN_OK) return lmn_fail(failure.status, "%s", failure.message);
    return LMN_OK;
}
