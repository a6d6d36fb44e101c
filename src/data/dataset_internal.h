/* Helpers shared by the dataset loaders (not part of the public API). */
#ifndef LMN_DATA_DATASET_INTERNAL_H
#define LMN_DATA_DATASET_INTERNAL_H

#include "data/dataset.h"

/* Allocates a dataset of the given shape with zeroed labels, pixels when
 * with_pixels, mean 0 / std 1 and no augmentation. Caller frees with
 * lmn_dataset_free. */
lmn_status lmn_dataset_create(int64_t count, int channels, int height, int width,
                              int num_classes, bool with_pixels, const char *name,
                              lmn_dataset **out);

/* The same for samples of channels x depth x height x width (depth 0: 2-D). */
lmn_status lmn_dataset_create_shaped(int64_t count, int channels, int depth, int height,
                                     int width, int num_classes, bool with_pixels,
                                     const char *name, lmn_dataset **out);

/* Values of a target shape (c * max(d, 1) * h * w). */
int64_t lmn_target_shape_size(lmn_target_shape shape);

#endif
