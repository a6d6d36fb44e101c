/* In-memory datasets and batch assembly: classification (integer labels)
 * and regression (float targets), 2-D images (C x H x W) and 3-D volumes
 * (C x D x H x W).
 *
 * A dataset holds its samples compactly (uint8 pixels as stored on disk, or
 * for synthetic sets only the class prototypes, or nothing at all for sets
 * whose samples a source generates from the index) and turns them into
 * dense, normalized NCHW (NCDHW) float batches on demand with
 * lmn_dataset_gather(); regression targets come with
 * lmn_dataset_gather_targets().
 *
 * Normalization (applied on gather, per channel c):
 *     x = (v - mean[c]) / std[c]
 * where v is the pixel scaled to [0, 1] (byte / 255), the raw float value
 * for float-valued sets, or the synthetic / source value as generated.
 * Loaders set the dataset's published constants; the fields may be changed
 * by the caller before gathering. Regression targets are never normalized.
 *
 * Augmentation (when augment is true; 2-D classification sets only, since a
 * crop or flip of the input would also have to move image targets), in
 * torchvision's order:
 *   1. random crop: the image is padded with crop_pad zero-valued pixels
 *      (v = 0, i.e. black, before normalization) on every side and an
 *      H x W window is cut at a uniformly random offset in [0, 2*crop_pad];
 *   2. horizontal flip with probability 1/2 when flip is true.
 * The random draws depend only on (seed, epoch, sample index), so a sample
 * gets the same crop whatever rank, batch or position it lands in.
 *
 * Ownership: every lmn_dataset_* constructor allocates *out; the caller
 * frees it with lmn_dataset_free(). */
#ifndef LMN_DATA_DATASET_H
#define LMN_DATA_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum { LMN_MAX_CHANNELS = 16, LMN_DATASET_NAME_MAX = 32 };

/* The shape of one sample's regression targets: c x d x h x w values, d = 0
 * for none (2-D). A vector of K values is {K, 0, 1, 1}. */
typedef struct lmn_target_shape {
    int c, d, h, w;
} lmn_target_shape;

/* Samples made on demand from their index (derived or generated sets).
 * produce writes sample `index`'s raw input values (C*D*H*W floats, before
 * normalization) into values and its targets into targets; either may be
 * NULL (not wanted). It must be a pure function of (ctx, index) and safe
 * to call from several threads at once. free releases ctx. */
typedef struct lmn_sample_source {
    void *ctx;
    lmn_status (*produce)(const void *ctx, uint32_t index, float *values, float *targets);
    /* Optional, for sources that augment samples themselves (image folders:
     * random-resized-crop + flip): writes sample `index` as augmented for
     * (seed, epoch), raw values before normalization, under the same rules
     * as produce. When it is set and ds->augment is true, gather calls it
     * instead of produce and skips its own crop and flip (it still
     * normalizes). */
    lmn_status (*produce_view)(const void *ctx, uint32_t index, uint64_t seed, uint64_t epoch,
                               float *values);
    void (*free)(void *ctx);
} lmn_sample_source;

/* Rows read from storage on demand (out-of-core sets, e.g. io/hdf5_rows.h).
 * read writes rows indices[0..count) as stored (uint8 bytes, or float32
 * values when float_rows) back to back into rows_out, their labels into
 * labels_out and their regression targets (target_size floats each) into
 * targets_out; any of the three may be NULL (not wanted). Indices may
 * repeat and come in any order. One call serves a whole batch, so the
 * reader can sort and coalesce its reads; it may keep state (buffers,
 * open files) and must be safe to call from one thread at a time per
 * dataset while another thread uses other datasets. free releases ctx. */
typedef struct lmn_row_reader {
    void *ctx;
    lmn_status (*read)(void *ctx, const uint32_t *indices, int count, void *rows_out,
                       int32_t *labels_out, float *targets_out);
    void (*free)(void *ctx);
    bool float_rows;
} lmn_row_reader;

typedef struct lmn_dataset {
    int64_t count;            /* samples; at most UINT32_MAX (indices are uint32) */
    int channels, height, width;
    int depth;                /* 0: 2-D images; > 0: volumes of depth x height x width */
    int num_classes;          /* labels lie in [0, num_classes) */
    uint8_t *pixels;          /* count*C*H*W bytes, NCHW per sample; NULL for synthetic */
    /* Float-valued sets (e.g. float32 HDF5 images): count*C*H*W raw values,
     * NCHW per sample, used as they are (no /255 scaling) before
     * normalization. When non-NULL it takes precedence; pixels is NULL. */
    float *values;
    int32_t *labels;          /* count labels (regression sets: 0, or the base set's when derived) */

    /* Synthetic sets (pixels == NULL): sample i is
     * prototypes[labels[i]] + uniform noise of standard deviation
     * synthetic_noise drawn from (synthetic_seed, i); nothing else is stored. */
    float *prototypes;        /* num_classes*C*H*W floats, or NULL */
    float synthetic_noise;
    uint64_t synthetic_seed;

    /* Regression sets: count x target_size floats, used as they are (no
     * normalization), or NULL when targets come from the source or there
     * are none (classification). */
    float *targets;
    bool has_targets;         /* a regression set: targets or source provides them */
    lmn_target_shape target_shape;
    bool image_targets;       /* targets are images (PSNR is meaningful), not a vector */
    lmn_sample_source source; /* produce != NULL: samples are made on demand */
    /* read != NULL: an out-of-core set. Pixels, values, labels and targets
     * stay NULL; gather reads each batch's rows (with labels and targets)
     * through it, then normalizes and augments exactly as in memory. */
    lmn_row_reader rows;

    float mean[LMN_MAX_CHANNELS], std[LMN_MAX_CHANNELS];
    bool augment;             /* master switch for crop and flip */
    int crop_pad;             /* 0 = no random crop */
    bool flip;                /* random horizontal flip */
    char name[LMN_DATASET_NAME_MAX];
} lmn_dataset;

/* Reads an MNIST-style pair of idx files (images: magic 2051, uint8,
 * count x rows x cols; labels: magic 2049, uint8, count), gzip'd or plain.
 * Labels must lie in 0..9 (num_classes = 10). Normalization is left at
 * mean 0, std 1 (pixels only scaled to [0, 1]); lmn_dataset_load_named()
 * sets the dataset's constants.
 * Errors: LMN_ERR_IO for a file that cannot be opened, LMN_ERR_FORMAT for
 * a wrong magic, bad dimensions, truncated or oversized data, mismatched
 * counts or a label out of range; the message names the file. */
lmn_status lmn_dataset_load_idx(const char *images_path, const char *labels_path,
                                lmn_dataset **out);

/* Reads CIFAR binary files (3 x 32 x 32, records stored back to back) and
 * concatenates them in the given order. num_classes selects the format:
 * 10 = CIFAR-10 records (label byte + 3072 pixel bytes), 100 = CIFAR-100
 * records (coarse label byte + fine label byte + 3072; the fine label is
 * used). Normalization is left at mean 0, std 1, no augmentation.
 * Errors: LMN_ERR_IO for a file that cannot be opened, LMN_ERR_FORMAT for
 * an empty file, a partial record or a label out of range. */
lmn_status lmn_dataset_load_cifar(const char *const *paths, int file_count, int num_classes,
                                  lmn_dataset **out);

/* Loads a known dataset from directory dir:
 *   "fashion-mnist", "mnist": {train,t10k}-{images-idx3,labels-idx1}-ubyte,
 *       each tried with ".gz" first, then plain;
 *   "cifar10":  data_batch_1.bin .. data_batch_5.bin (train) or test_batch.bin
 *       (records: 1 label byte + 3072 pixel bytes, CHW);
 *   "cifar100": train.bin or test.bin (records: coarse label byte, fine
 *       label byte, 3072 pixel bytes; the fine label is used, 100 classes).
 * Sets the published per-channel mean/std; CIFAR training sets also get
 * augment = true, crop_pad = 4, flip = true. */
lmn_status lmn_dataset_load_named(const char *name, const char *dir, bool train,
                                  lmn_dataset **out);

/* A learnable synthetic classification set of any shape, for benchmarks
 * and tests: each class has a fixed random prototype image (standard
 * normal values) and each sample is its class prototype plus uniform noise
 * of standard deviation 1. Labels cycle through the classes (sample i has
 * label i % num_classes) so classes are balanced. Everything is a function
 * of seed. Normalization is mean 0, std 1; no augmentation. */
lmn_status lmn_dataset_synthetic(int64_t count, int channels, int height, int width,
                                 int num_classes, uint64_t seed, lmn_dataset **out);

/* Frees the dataset and its buffers; NULL is allowed. */
void lmn_dataset_free(lmn_dataset *ds);

/* Values per sample (C*H*W, or C*D*H*W for volumes). */
int64_t lmn_dataset_sample_size(const lmn_dataset *ds);

/* Target values per sample (c*h*w or c*d*h*w); 0 without targets. */
int64_t lmn_dataset_target_size(const lmn_dataset *ds);

/* "1 x 28 x 28", "4 x 32 x 32 x 32", "4": a sample's (input) shape or its
 * targets' shape, for messages. */
void lmn_dataset_describe_shape(const lmn_dataset *ds, char *out, size_t capacity);
void lmn_dataset_describe_target_shape(const lmn_dataset *ds, char *out, size_t capacity);

/* Writes samples indices[0..count) as dense NCHW floats into images_out
 * (count*C*H*W floats, caller-owned) and their labels into labels_out
 * (count entries; may be NULL), normalized and, if ds->augment, augmented
 * with randomness keyed by (seed, epoch, sample index).
 * Errors: LMN_ERR_ARG for an index outside the dataset or a bad count. */
lmn_status lmn_dataset_gather(const lmn_dataset *ds, const uint32_t *indices, int count,
                              uint64_t seed, uint64_t epoch, float *images_out,
                              int32_t *labels_out);

/* Writes the regression targets of samples indices[0..count) into
 * targets_out (count * target_size floats, caller-owned). Targets are not
 * augmented (regression sets do not augment).
 * Errors: LMN_ERR_ARG for a set without targets, an index outside the
 * dataset or a bad count; the source's errors. */
lmn_status lmn_dataset_gather_targets(const lmn_dataset *ds, const uint32_t *indices, int count,
                                      float *targets_out);

#endif
