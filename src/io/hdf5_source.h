/* The HDF5 loaders' shared file checks (internal to src/io): the in-memory
 * loader (hdf5_dataset.c) and the out-of-core row reader (hdf5_rows.c)
 * open, validate and describe a file the same way, with the same messages. */
#ifndef LMN_IO_HDF5_SOURCE_H
#define LMN_IO_HDF5_SOURCE_H

#include <hdf5.h>
#include <mpi.h>

#include "core/status.h"
#include "data/dataset.h"

/* The open handles of one load; all closed by close_source. */
typedef struct lmn_hdf5_source {
    const char *path, *images_name, *labels_name, *targets_name; /* labels or targets NULL */
    hid_t file, images, labels, targets;
    bool float_images;
    int64_t count;
    int channels, depth, height, width;
    lmn_target_shape target_shape;
    bool image_targets;
} lmn_hdf5_source;

/* Tells a missing or unreadable file from a bad one (LMN_ERR_IO). */
lmn_status lmn_hdf5_check_readable(const char *path);

/* Opens source->path (MPI-IO on comm; MPI_COMM_NULL: this rank alone with
 * the default POSIX driver), opens the named datasets and checks their
 * types and shapes, filling count and the sample / target shapes. Set the
 * hid_t fields to -1 first; lmn_hdf5_source_close closes what is open. */
lmn_status lmn_hdf5_source_open(lmn_hdf5_source *source, MPI_Comm comm);
void lmn_hdf5_source_close(lmn_hdf5_source *source);

/* The root attribute num_classes, or 0 if absent. */
lmn_status lmn_hdf5_source_num_classes(const lmn_hdf5_source *source, int64_t *num_classes);

/* The root attributes mean and std into ds (checked: one per channel, std > 0). */
lmn_status lmn_hdf5_source_normalization(const lmn_hdf5_source *source, lmn_dataset *ds);

/* The root attribute name, else the file's base name. */
void lmn_hdf5_source_name(const lmn_hdf5_source *source, char name[LMN_DATASET_NAME_MAX]);

#endif
