#include "data/image_transform.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static const double MIN_AREA = 0.08, MAX_AREA = 1.0;
static const double MIN_RATIO = 3.0 / 4.0, MAX_RATIO = 4.0 / 3.0;
enum { CROP_TRIES = 10 };

static double uniform_between(lmn_rng *rng, double low, double high)
{
    return low + (high - low) * lmn_rng_uniform_double(rng);
}

lmn_crop_box lmn_random_resized_crop_box(lmn_rng *rng, int width, int height)
{
    const double area = (double)width * height;
    for (int attempt = 0; attempt < CROP_TRIES; attempt++) {
        const double target_area = area * uniform_between(rng, MIN_AREA, MAX_AREA);
        const double ratio = exp(uniform_between(rng, log(MIN_RATIO), log(MAX_RATIO)));
        const int w = (int)nearbyint(sqrt(target_area * ratio));
        const int h = (int)nearbyint(sqrt(target_area / ratio));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            const int top = (int)lmn_rng_below(rng, (uint64_t)(height - h + 1));
            const int left = (int)lmn_rng_below(rng, (uint64_t)(width - w + 1));
            return (lmn_crop_box){left, top, w, h};
        }
    }
    const double in_ratio = (double)width / height;
    int w = width, h = height;
    if (in_ratio < MIN_RATIO) h = (int)nearbyint(w / MIN_RATIO);
    else if (in_ratio > MAX_RATIO) w = (int)nearbyint(h * MAX_RATIO);
    return (lmn_crop_box){(width - w) / 2, (height - h) / 2, w, h};
}

lmn_crop_box lmn_center_crop_box(int width, int height, int resize, int size)
{
    int resized_width = resize, resized_height = resize;
    if (width <= height)
        resized_height = (int)floor((double)((int64_t)resize * height) / width);
    else
        resized_width = (int)floor((double)((int64_t)resize * width) / height);
    /* nearbyint rounds half to even, like Python's round in CenterCrop. */
    const double left = nearbyint((resized_width - size) / 2.0);
    const double top = nearbyint((resized_height - size) / 2.0);
    const double scale_x = (double)width / resized_width, scale_y = (double)height / resized_height;
    return (lmn_crop_box){left * scale_x, top * scale_y, size * scale_x, size * scale_y};
}

lmn_crop_box lmn_crop_box_scale(lmn_crop_box box, double scale)
{
    return (lmn_crop_box){box.x * scale, box.y * scale, box.width * scale, box.height * scale};
}

/* For each output position: the first input pixel it reads, how many, and
 * their weights (max_taps per position). */
typedef struct filter_taps {
    int *first, *count;
    float *weights;
    int max_taps;
} filter_taps;

static void free_taps(filter_taps *t)
{
    free(t->first);
    free(t->count);
    free(t->weights);
}

/* The triangle kernel over [start, start + extent) of an axis of in_size
 * pixels, sampled at out_size output centres. */
static lmn_status make_taps(double start, double extent, int out_size, int in_size, filter_taps *t)
{
    const double scale = extent / out_size, support = scale > 1.0 ? scale : 1.0;
    t->max_taps = 2 * (int)ceil(support) + 2;
    t->first = malloc(sizeof(int) * (size_t)out_size);
    t->count = malloc(sizeof(int) * (size_t)out_size);
    t->weights = malloc(sizeof(float) * (size_t)out_size * (size_t)t->max_taps);
    if (!t->first || !t->count || !t->weights) {
        free_taps(t);
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate resampling weights");
    }
    for (int o = 0; o < out_size; o++) {
        const double center = start + (o + 0.5) * scale;
        int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        if (hi - lo > t->max_taps) hi = lo + t->max_taps;
        if (hi <= lo) { lo = hi > 0 ? hi - 1 : 0; hi = lo + 1; } /* a box beyond the edge */
        float *w = t->weights + (size_t)o * t->max_taps;
        double sum = 0.0;
        for (int i = lo; i < hi; i++) {
            const double d = 1.0 - fabs((i + 0.5 - center) / support);
            w[i - lo] = d > 0.0 ? (float)d : 0.0f;
            sum += w[i - lo];
        }
        for (int i = lo; i < hi; i++) w[i - lo] = sum > 0.0 ? (float)(w[i - lo] / sum) : 1.0f / (float)(hi - lo);
        t->first[o] = lo;
        t->count[o] = hi - lo;
    }
    return LMN_OK;
}

/* Rows [row_lo, row_hi) of the image filtered horizontally into
 * (rows x out_width x C) floats. */
static void filter_rows(const lmn_image *image, const filter_taps *xt, int out_width, int row_lo,
                        int row_hi, float *rows)
{
    const int channels = image->channels;
    for (int y = row_lo; y < row_hi; y++) {
        const uint8_t *in = image->pixels + (size_t)y * image->width * channels;
        float *out = rows + (size_t)(y - row_lo) * out_width * channels;
        for (int x = 0; x < out_width; x++) {
            const float *w = xt->weights + (size_t)x * xt->max_taps;
            const uint8_t *p = in + (size_t)xt->first[x] * channels;
            for (int c = 0; c < channels; c++) {
                float sum = 0.0f;
                for (int k = 0; k < xt->count[x]; k++) sum += w[k] * p[k * channels + c];
                out[x * channels + c] = sum;
            }
        }
    }
}

/* Filters the horizontally filtered rows vertically into planar output. */
static void filter_columns(const float *rows, int row_lo, int channels, const filter_taps *yt,
                           int out_width, int out_height, bool flip, float *out)
{
    for (int y = 0; y < out_height; y++) {
        const float *w = yt->weights + (size_t)y * yt->max_taps;
        const float *base = rows + (size_t)(yt->first[y] - row_lo) * out_width * channels;
        for (int x = 0; x < out_width; x++) {
            const int column = flip ? out_width - 1 - x : x;
            for (int c = 0; c < channels; c++) {
                float sum = 0.0f;
                for (int k = 0; k < yt->count[y]; k++)
                    sum += w[k] * base[((size_t)k * out_width + column) * channels + c];
                out[((size_t)c * out_height + y) * out_width + x] = sum / 255.0f; /* as idx: byte / 255 */
            }
        }
    }
}

lmn_status lmn_image_resample_box(const lmn_image *image, lmn_crop_box box, int out_width,
                                  int out_height, bool flip, float *out)
{
    filter_taps xt = {0}, yt = {0};
    LMN_TRY(make_taps(box.x, box.width, out_width, image->width, &xt));
    lmn_status status = make_taps(box.y, box.height, out_height, image->height, &yt);
    if (status != LMN_OK) {
        free_taps(&xt);
        return status;
    }
    const int row_lo = yt.first[0];
    const int row_hi = yt.first[out_height - 1] + yt.count[out_height - 1];
    float *rows = malloc(sizeof(float) * (size_t)(row_hi - row_lo) * out_width * image->channels);
    if (rows) {
        filter_rows(image, &xt, out_width, row_lo, row_hi, rows);
        filter_columns(rows, row_lo, image->channels, &yt, out_width, out_height, flip, out);
    } else {
        status = lmn_fail(LMN_ERR_NOMEM, "cannot allocate %d resampled rows", row_hi - row_lo);
    }
    free(rows);
    free_taps(&xt);
    free_taps(&yt);
    return status;
}
