/* Geometric transforms of decoded images (image-folder datasets): the
 * crop boxes torchvision draws and an antialiased bilinear resampler.
 *
 * Resampling filter: the triangle (bilinear) kernel widened by the
 * reduction factor when shrinking, i.e. the "antialiased bilinear" of
 * Pillow and of torchvision's Resize on PIL images. Plain 2x2 bilinear
 * would alias badly at the 4x-10x reductions a 224-pixel crop of a 500-pixel
 * photo needs; area averaging would be exact only for integer factors and
 * differ from the PyTorch pipeline that is the reference. libjpeg-turbo's
 * DCT scaling does the coarse part of large reductions while decoding. Taps
 * outside the image are dropped and the rest renormalized (as Pillow does),
 * so borders are not darkened. */
#ifndef LMN_DATA_IMAGE_TRANSFORM_H
#define LMN_DATA_IMAGE_TRANSFORM_H

#include <stdbool.h>

#include "core/rng.h"
#include "core/status.h"
#include "data/image_codec.h"

/* A source rectangle, in pixels of the image it is cut from. */
typedef struct lmn_crop_box {
    double x, y, width, height;
} lmn_crop_box;

/* torchvision's RandomResizedCrop box for a width x height image: up to 10
 * tries of an area fraction uniform in [0.08, 1] and an aspect ratio
 * log-uniform in [3/4, 4/3], rounded to whole pixels and placed uniformly;
 * if none fits, the largest centred box whose ratio lies in [3/4, 4/3].
 * Every number comes from rng. */
lmn_crop_box lmn_random_resized_crop_box(lmn_rng *rng, int width, int height);

/* The evaluation transform's box: the shorter side resized to `resize`
 * (the longer one to floor(resize * long / short), torchvision's rule),
 * then a centred size x size crop (offsets rounded half to even, as
 * Python's round), expressed in the original image's pixels. Needs
 * resize >= size. */
lmn_crop_box lmn_center_crop_box(int width, int height, int resize, int size);

/* The same box in an image scaled by `scale` (e.g. by DCT scaling while
 * decoding: lmn_image.scale). */
lmn_crop_box lmn_crop_box_scale(lmn_crop_box box, double scale);

/* Resamples `box` of image into out_width x out_height, planar (C x H x W)
 * floats v = byte / 255, mirrored left-right when flip. An integer-aligned
 * box of the output's size is copied exactly.
 * Errors: LMN_ERR_NOMEM. */
lmn_status lmn_image_resample_box(const lmn_image *image, lmn_crop_box box, int out_width,
                                  int out_height, bool flip, float *out);

#endif
