/* Image-folder datasets: the ImageNet layout
 *     ROOT/train/<class>/<file>.{jpg,jpeg,png}   (extension in any case)
 *     ROOT/val/<class>/<file>...
 * decoded on demand (nothing but the file list and the labels is held in
 * memory).
 *
 * Classes are the sub-directories of ROOT/train in byte order of their
 * names; class k is the k-th. A val/ class folder must also exist in
 * train/ (val may lack classes). Files of a class are sorted by name and
 * samples are numbered class by class (class-major), so sample i is the
 * same file on every rank and rank count. Names starting with '.' are
 * ignored.
 *
 * Transforms (values v = byte / 255 before the dataset's normalization):
 *   evaluation, and training with augment off: the shorter side resized to
 *     `resize`, then the centred image_size x image_size crop;
 *   training with augment on: torchvision's random-resized-crop (area
 *     [0.08, 1], ratio [3/4, 4/3], 10 tries, centred fallback) resized to
 *     image_size, flipped left-right with probability 1/2; the draws come
 *     from (seed, epoch, sample index) only.
 *   JPEGs are decoded at the smallest DCT scale that keeps the needed
 *   region at least image_size (resize) pixels on its shorter side. See
 *   data/image_codec.h (colour) and data/image_transform.h (resampling).
 *
 * Bad files (unreadable, empty, not JPEG/PNG, corrupt, truncated, or with
 * another extension): by default the first one met stops the run with a
 * message naming it (a bad extension when the folder is listed, the rest
 * when the file is decoded). With skip_bad_files every file is decoded
 * once up front, the ranks sharing the work, and bad ones are dropped
 * before samples are numbered; the verdict depends on the file alone, so
 * the numbering is the same on any rank count. */
#ifndef LMN_IO_IMAGE_FOLDER_H
#define LMN_IO_IMAGE_FOLDER_H

#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/status.h"
#include "data/dataset.h"

typedef struct lmn_image_folder_options {
    int image_size;  /* side of the crops */
    int resize;      /* evaluation: shorter side before the centre crop, >= image_size */
    int channels;    /* 1 (gray) or 3 (RGB) */
    float mean[3], std[3];
    bool skip_bad_files;
} lmn_image_folder_options;

/* Options with ImageNet's conventions for size S and the given channels:
 * resize = floor(S * 256 / 224 + 0.5), mean 0.485 0.456 0.406, std 0.229
 * 0.224 0.225 (one channel: their averages 0.449 and 0.226). */
lmn_image_folder_options lmn_image_folder_defaults(int image_size, int channels);

/* Lists ROOT/train (train) or ROOT/val and makes the dataset (caller frees
 * with lmn_dataset_free): image_size x image_size samples of `channels`,
 * labels as above, augment on for train (crop + flip by the source), off
 * for val. Collective over comm when skip_bad_files (the up-front scan);
 * otherwise every rank lists the folder on its own.
 * Errors (naming the directory or file): LMN_ERR_IO for ROOT, ROOT/train
 * or ROOT/val missing or unreadable; LMN_ERR_FORMAT for no class folders,
 * an empty class folder, a val class unknown to train, a file of another
 * extension (without skip_bad_files); LMN_ERR_ARG for bad options. */
lmn_status lmn_dataset_load_image_folder(const char *root, bool train,
                                         const lmn_image_folder_options *options, MPI_Comm comm,
                                         lmn_dataset **out);

/* Whether ds was made by lmn_dataset_load_image_folder. */
bool lmn_dataset_is_image_folder(const lmn_dataset *ds);

/* Rank 0's outputs for a run on image folders: out_dir/classes.txt (class
 * k's folder name on line k + 1) and, when bad files were skipped,
 * out_dir/bad_files.txt ("split/class/file: reason" per line); log (may be
 * NULL) gets a line with the number skipped. Sets that are not image
 * folders are ignored. */
lmn_status lmn_image_folder_write_outputs(const lmn_dataset *train_set,
                                          const lmn_dataset *test_set, const char *out_dir,
                                          FILE *log);

/* Sample `index` through the evaluation transform as bytes (C x S x S,
 * round(v * 255)), for `lamina data convert images`. */
lmn_status lmn_image_folder_read_bytes(const lmn_dataset *ds, uint32_t index, uint8_t *out);

/* The number of files skipped as bad (0 unless skip_bad_files). */
int64_t lmn_image_folder_bad_count(const lmn_dataset *ds);

#endif
