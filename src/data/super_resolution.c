#include "data/super_resolution.h"

#include <stdio.h>
#include <string.h>

#include "core/memory.h"
#include "data/dataset_internal.h"
#include "data/resample.h"

typedef struct sr_source {
    lmn_dataset *base; /* owned: the high-resolution images */
    int factor;
    lmn_sr_input input;
} sr_source;

/* Bytes can only hold [0, 1]: upsampled values are clamped to it. */
static void value_range(const sr_source *sr, float *low, float *high)
{
    *low = 0.0f;
    *high = sr->base->pixels ? 1.0f : 0.0f;
}

static void high_resolution(const sr_source *sr, uint32_t index, float *out)
{
    const lmn_dataset *base = sr->base;
    const int64_t size = lmn_dataset_sample_size(base);
    if (base->values) {
        memcpy(out, base->values + (size_t)index * (size_t)size, (size_t)size * sizeof(float));
        return;
    }
    const uint8_t *pixels = base->pixels + (size_t)index * (size_t)size;
    for (int64_t j = 0; j < size; j++) out[j] = (float)pixels[j] / 255.0f;
}

static lmn_status produce_pair(const void *ctx, uint32_t index, float *values, float *targets)
{
    const sr_source *sr = ctx;
    const lmn_dataset *base = sr->base;
    const int c = base->channels, h = base->height, w = base->width, f = sr->factor;
    const size_t high_size = (size_t)lmn_dataset_sample_size(base), low_size = high_size / (size_t)(f * f);
    float *scratch;
    /* The high-resolution image, then (upsampled input only) the low one. */
    LMN_TRY(lmn_alloc_floats(&scratch, high_size + low_size, "super-resolution scratch"));
    float *high = targets ? targets : scratch, *low = scratch + high_size;
    high_resolution(sr, index, high);
    if (values && sr->input == LMN_SR_INPUT_LOW) {
        lmn_box_downsample(high, c, h, w, f, values);
    } else if (values) {
        float lo, hi;
        value_range(sr, &lo, &hi);
        lmn_box_downsample(high, c, h, w, f, low);
        lmn_bicubic_upsample(low, c, h / f, w / f, f, lo, hi, values);
    }
    lmn_free(scratch);
    return LMN_OK;
}

static void free_source(void *ctx)
{
    sr_source *sr = ctx;
    if (!sr) return;
    lmn_dataset_free(sr->base);
    lmn_free(sr);
}

static lmn_status check_base(const lmn_dataset *base, int factor)
{
    if (factor < 2 || factor > 4)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.sr_factor': %d is not a supported scale; use "
                        "2, 3 or 4", factor);
    if (base->depth > 0 || base->has_targets || (!base->pixels && !base->values))
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.derive': super_resolution needs a set of "
                        "stored 2-D images; dataset '%s' is %s", base->name,
                        base->depth > 0 ? "3-D" : base->has_targets ? "already a regression set"
                                                                    : "generated, not stored");
    if (base->height % factor || base->width % factor)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.sr_factor': images of dataset '%s' are %d x %d, "
                        "not divisible by %d", base->name, base->height, base->width, factor);
    return LMN_OK;
}

lmn_status lmn_dataset_derive_super_resolution(lmn_dataset **ds, int factor, lmn_sr_input input)
{
    lmn_dataset *base = *ds;
    LMN_TRY(check_base(base, factor));
    const int side = input == LMN_SR_INPUT_LOW ? factor : 1;
    char name[LMN_DATASET_NAME_MAX];
    snprintf(name, sizeof name, "%.20s x%d SR", base->name, factor);
    lmn_dataset *derived;
    LMN_TRY(lmn_dataset_create(base->count, base->channels, base->height / side, base->width / side,
                               base->num_classes, false, name, &derived));
    sr_source *sr;
    lmn_status status = lmn_alloc_bytes((void **)&sr, sizeof *sr, "super-resolution source");
    if (status != LMN_OK) {
        lmn_dataset_free(derived);
        return status;
    }
    memcpy(derived->labels, base->labels, (size_t)base->count * sizeof(int32_t));
    *sr = (sr_source){base, factor, input};
    derived->source = (lmn_sample_source){.ctx = sr, .produce = produce_pair, .free = free_source};
    derived->has_targets = true;
    derived->image_targets = true;
    derived->target_shape = (lmn_target_shape){base->channels, 0, base->height, base->width};
    *ds = derived;
    return LMN_OK;
}

bool lmn_dataset_is_super_resolution(const lmn_dataset *ds)
{
    return ds && ds->source.produce == produce_pair;
}

lmn_status lmn_dataset_sr_baseline_psnr(const lmn_dataset *ds, double peak, double *bicubic_db,
                                        double *nearest_db)
{
    if (!lmn_dataset_is_super_resolution(ds))
        return lmn_fail(LMN_ERR_ARG, "dataset '%s' is not a super-resolution set", ds ? ds->name : "?");
    const sr_source *sr = ds->source.ctx;
    const lmn_dataset *base = sr->base;
    const int c = base->channels, h = base->height, w = base->width, f = sr->factor;
    const size_t size = (size_t)lmn_dataset_sample_size(base);
    float *buffer;
    LMN_TRY(lmn_alloc_floats(&buffer, 2 * size + size / (size_t)(f * f), "baseline scratch"));
    float *high = buffer, *up = buffer + size, *low = buffer + 2 * size;
    float lo, hi;
    value_range(sr, &lo, &hi);
    double bicubic = 0.0, nearest = 0.0;
    for (int64_t i = 0; i < ds->count; i++) {
        high_resolution(sr, (uint32_t)i, high);
        lmn_box_downsample(high, c, h, w, f, low);
        lmn_bicubic_upsample(low, c, h / f, w / f, f, lo, hi, up);
        bicubic += lmn_psnr_db(lmn_mean_squared_error(up, high, (long)size), peak);
        lmn_nearest_upsample(low, c, h / f, w / f, f, up);
        nearest += lmn_psnr_db(lmn_mean_squared_error(up, high, (long)size), peak);
    }
    lmn_free(buffer);
    *bicubic_db = bicubic / (double)ds->count;
    *nearest_db = nearest / (double)ds->count;
    return LMN_OK;
}
