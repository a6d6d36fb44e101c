/* Classification and regression datasets stored in HDF5, read with
 * parallel HDF5.
 *
 * File layout (what lmn_data_convert writes and this loader reads):
 *   /images  uint8 or float32, N x C x H x W (or N x H x W, read as C = 1),
 *            or volumes N x C x D x H x W
 *   /labels  any integer type, N values >= 0 (classification)
 *   /targets any numeric type, read as float32 (regression): N (one value
 *            per sample), N x K (a vector), N x H x W or N x C x H x W (image
 *            targets, e.g. high-resolution images) or N x C x D x H x W
 *   root attributes, all optional:
 *     mean, std    float arrays of C values: normalization x = (v - mean) / std
 *     num_classes  integer scalar, larger than every label
 *     name         string, the dataset's name
 * The dataset names are parameters; "images" and "labels" are the defaults
 * the tools use.
 *
 * Reading: the file is opened with the MPI-IO driver on comm. Rows are split
 * evenly over the ranks and each rank reads only its own contiguous
 * hyperslab, so the file system serves P disjoint, sequential streams rather
 * than P full copies. An MPI_Allgatherv then gives every rank the whole set:
 * lamina's sampler draws random indices from the whole dataset on every
 * rank, so each rank needs random access to all of it in memory.
 *
 * Also the HDF5 helpers shared with the data tools (src/io/data_tools.c). */
#ifndef LMN_DATA_HDF5_DATASET_H
#define LMN_DATA_HDF5_DATASET_H

#include <hdf5.h>
#include <mpi.h>

#include "core/status.h"
#include "data/dataset.h"

/* Loads datasets images_name and labels_name of the HDF5 file at path; a
 * collective call over comm (every rank passes the same arguments) and
 * every rank gets the full dataset in *out (caller frees with
 * lmn_dataset_free). uint8 images are kept as bytes (pixels, scaled by
 * 1/255 on gather, default mean 0 / std 1); float32 images as raw floats
 * (values, not scaled, default mean 0 / std 1). num_classes is the root
 * attribute of that name, else max label + 1. No augmentation.
 * Errors (the same on every rank; messages name the file and dataset):
 *   LMN_ERR_IO      the file does not exist or cannot be read;
 *   LMN_ERR_FORMAT  not an HDF5 file or truncated; a dataset missing (the
 *                   message lists the datasets present); images not uint8
 *                   or float32, labels not integers (the dtype is named);
 *                   images not of rank 3 or 4, labels not of rank 1; image
 *                   and label counts that differ; negative labels, labels
 *                   not below num_classes; mean/std attributes of the
 *                   wrong length or std <= 0;
 *   LMN_ERR_MPI     the gather failed. */
lmn_status lmn_dataset_load_hdf5(const char *path, const char *images_name,
                                 const char *labels_name, MPI_Comm comm, lmn_dataset **out);

/* The same for a regression set: images and float targets read with the
 * same row split and gather; no labels are read (all 0, num_classes 1).
 * The targets' shape follows their rank (see the layout above); rank 3 and
 * up are image targets. Targets are used as stored (no normalization).
 * Errors: as above, plus LMN_ERR_FORMAT for targets that are not numbers,
 * of rank above 5 or with a row count other than the images'. */
lmn_status lmn_dataset_load_hdf5_regression(const char *path, const char *images_name,
                                            const char *targets_name, MPI_Comm comm,
                                            lmn_dataset **out);

/* ---- Helpers for code that reads or writes HDF5 files ---- */

/* Stops HDF5 from printing its error stack to stderr: lamina reports its
 * own messages. Idempotent. */
void lmn_hdf5_silence_errors(void);

enum { LMN_HDF5_NAME_MAX = 256, LMN_HDF5_TYPE_TEXT = 48 };

/* Refuses (LMN_ERR_FORMAT, naming path and dataset) a chunked dataset whose
 * chunks have another rank than the dataset, no bytes, 4 GiB or more, or
 * exceed a fixed dimension (which H5Pset_chunk refuses): only a corrupt file
 * has them, and HDF5 1.10 reads such a dataset past its buffers. Call it
 * after every H5Dopen of a file a user gives. */
lmn_status lmn_hdf5_check_chunks(const char *path, const char *name, hid_t dataset);

/* Writes a short name of an HDF5 datatype: "uint8", "int16", "float32",
 * "float64", "string", "compound", ... */
void lmn_hdf5_describe_type(hid_t type, char out[LMN_HDF5_TYPE_TEXT]);

/* The datasets directly under a group, in name order. */
typedef struct lmn_hdf5_names {
    int count;
    char (*names)[LMN_HDF5_NAME_MAX];
} lmn_hdf5_names;

/* Lists the datasets directly under group (file is used in messages).
 * Allocates out->names; free with lmn_hdf5_names_free. A name longer than
 * LMN_HDF5_NAME_MAX - 1 characters fails with LMN_ERR_FORMAT. */
lmn_status lmn_hdf5_list_datasets(hid_t group, const char *file, lmn_hdf5_names *out);
void lmn_hdf5_names_free(lmn_hdf5_names *names);

/* Writes "a, b, c" (or "none") into out, truncated to capacity. */
void lmn_hdf5_join_names(const lmn_hdf5_names *names, char *out, size_t capacity);

#endif
