#include "io/hdf5_dataset.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "core/memory.h"
#include "data/dataset_internal.h"
#include "io/hdf5_source.h"
#include "nn/finite.h"

/* ---- Shared helpers ---- */

void lmn_hdf5_silence_errors(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void lmn_hdf5_describe_type(hid_t type, char out[LMN_HDF5_TYPE_TEXT])
{
    const size_t bits = H5Tget_size(type) * 8;
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(out, LMN_HDF5_TYPE_TEXT, "%sint%zu",
                 H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
        return;
    case H5T_FLOAT: snprintf(out, LMN_HDF5_TYPE_TEXT, "float%zu", bits); return;
    case H5T_STRING: snprintf(out, LMN_HDF5_TYPE_TEXT, "string"); return;
    case H5T_COMPOUND: snprintf(out, LMN_HDF5_TYPE_TEXT, "compound"); return;
    case H5T_ENUM: snprintf(out, LMN_HDF5_TYPE_TEXT, "enum"); return;
    case H5T_ARRAY: snprintf(out, LMN_HDF5_TYPE_TEXT, "array"); return;
    case H5T_VLEN: snprintf(out, LMN_HDF5_TYPE_TEXT, "variable-length"); return;
    case H5T_BITFIELD: snprintf(out, LMN_HDF5_TYPE_TEXT, "bitfield%zu", bits); return;
    case H5T_OPAQUE: snprintf(out, LMN_HDF5_TYPE_TEXT, "opaque"); return;
    case H5T_REFERENCE: snprintf(out, LMN_HDF5_TYPE_TEXT, "reference"); return;
    default: snprintf(out, LMN_HDF5_TYPE_TEXT, "unknown type"); return;
    }
}

/* Iteration state: counts datasets, and copies their names once names is set. */
typedef struct name_listing {
    int count, capacity;
    char (*names)[LMN_HDF5_NAME_MAX];
    bool too_long;
} name_listing;

static herr_t collect_dataset_name(hid_t group, const char *name, const H5L_info_t *info,
                                   void *data)
{
    (void)info;
    name_listing *listing = data;
    H5O_info_t object;
    if (H5Oget_info_by_name2(group, name, &object, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        object.type != H5O_TYPE_DATASET)
        return 0; /* dangling links and groups are not datasets */
    if (strlen(name) >= LMN_HDF5_NAME_MAX) listing->too_long = true;
    if (listing->names && listing->count < listing->capacity)
        snprintf(listing->names[listing->count], LMN_HDF5_NAME_MAX, "%s", name);
    listing->count++;
    return 0;
}

lmn_status lmn_hdf5_list_datasets(hid_t group, const char *file, lmn_hdf5_names *out)
{
    *out = (lmn_hdf5_names){0};
    /* Two passes: count, then fill an array of exactly that size. */
    name_listing listing = {0};
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_dataset_name, &listing) < 0)
        return lmn_fail(LMN_ERR_FORMAT, "cannot list the datasets of HDF5 file '%s'", file);
    if (listing.too_long)
        return lmn_fail(LMN_ERR_FORMAT, "HDF5 file '%s' has a dataset name longer than %d characters",
                        file, LMN_HDF5_NAME_MAX - 1);
    if (listing.count == 0) return LMN_OK;
    listing.capacity = listing.count;
    listing.count = 0;
    LMN_TRY(lmn_alloc_bytes((void **)&listing.names,
                            (size_t)listing.capacity * sizeof *listing.names, "dataset names"));
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_dataset_name, &listing) < 0 ||
        listing.count != listing.capacity) {
        lmn_free(listing.names);
        return lmn_fail(LMN_ERR_FORMAT, "cannot list the datasets of HDF5 file '%s'", file);
    }
    out->count = listing.count;
    out->names = listing.names;
    return LMN_OK;
}

void lmn_hdf5_names_free(lmn_hdf5_names *names)
{
    lmn_free(names->names);
    *names = (lmn_hdf5_names){0};
}

void lmn_hdf5_join_names(const lmn_hdf5_names *names, char *out, size_t capacity)
{
    size_t used = (size_t)snprintf(out, capacity, "%s", names->count ? "" : "none");
    for (int i = 0; i < names->count && used < capacity; i++)
        used += (size_t)snprintf(out + used, capacity - used, "%s%s", i ? ", " : "",
                                 names->names[i]);
}

/* ---- The loader ---- */

typedef lmn_hdf5_source hdf5_source;

void lmn_hdf5_source_close(hdf5_source *source)
{
    if (source->images >= 0) H5Dclose(source->images);
    if (source->labels >= 0) H5Dclose(source->labels);
    if (source->targets >= 0) H5Dclose(source->targets);
    if (source->file >= 0) H5Fclose(source->file);
}

/* Tells a missing file from a bad one before HDF5 folds both into "unable to open". */
lmn_status lmn_hdf5_check_readable(const char *path)
{
    if (access(path, R_OK) != 0)
        return lmn_fail(LMN_ERR_IO, "cannot read HDF5 file '%s': %s", path, strerror(errno));
    return LMN_OK;
}

/* MPI_COMM_NULL: the default (sec2) driver, for a rank reading on its own. */
static lmn_status open_file(hdf5_source *source, MPI_Comm comm)
{
    hid_t access_list = H5Pcreate(H5P_FILE_ACCESS);
    if (access_list < 0 ||
        (comm != MPI_COMM_NULL && H5Pset_fapl_mpio(access_list, comm, MPI_INFO_NULL) < 0) ||
        /* Alone, the reads are a batch's rows: a sieve buffer would pull
         * 64 KiB around each of them. */
        (comm == MPI_COMM_NULL && H5Pset_sieve_buf_size(access_list, 0) < 0)) {
        if (access_list >= 0) H5Pclose(access_list);
        return lmn_fail(LMN_ERR_INTERNAL, "cannot set up the MPI-IO driver to read '%s'",
                        source->path);
    }
    source->file = H5Fopen(source->path, H5F_ACC_RDONLY, access_list);
    H5Pclose(access_list);
    if (source->file < 0)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' is not a valid HDF5 file (not HDF5, truncated or corrupt)",
                        source->path);
    return LMN_OK;
}

/* The dataset's dimensions; *rank = -1 if they cannot be read. */
static void dataset_shape(hid_t dataset, int *rank, hsize_t dims[H5S_MAX_RANK])
{
    hid_t space = H5Dget_space(dataset);
    *rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (*rank >= 0) H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0) H5Sclose(space);
}

lmn_status lmn_hdf5_check_chunks(const char *path, const char *name, hid_t dataset)
{
    hid_t plist = H5Dget_create_plist(dataset);
    const bool chunked = plist >= 0 && H5Pget_layout(plist) == H5D_CHUNKED;
    hsize_t chunk[H5S_MAX_RANK], dims[H5S_MAX_RANK], max_dims[H5S_MAX_RANK];
    const int chunk_rank = chunked ? H5Pget_chunk(plist, H5S_MAX_RANK, chunk) : 0;
    if (plist >= 0) H5Pclose(plist);
    if (!chunked) return LMN_OK;
    hid_t space = H5Dget_space(dataset);
    const int rank = space < 0 ? -1 : H5Sget_simple_extent_dims(space, dims, max_dims);
    if (space >= 0) H5Sclose(space);
    if (chunk_rank != rank)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has rank %d but chunks of rank %d; the "
                        "file is corrupt", path, name, rank, chunk_rank);
    hid_t type = H5Dget_type(dataset);
    double bytes = type >= 0 ? (double)H5Tget_size(type) : 0.0;
    if (type >= 0) H5Tclose(type);
    for (int d = 0; d < rank; d++) {
        bytes *= (double)chunk[d];
        if (max_dims[d] != H5S_UNLIMITED && chunk[d] > max_dims[d])
            return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has chunks of %llu along dimension "
                            "%d, which holds at most %llu; the file is corrupt", path, name,
                            (unsigned long long)chunk[d], d, (unsigned long long)max_dims[d]);
    }
    if (bytes < 1.0 || bytes >= 4294967296.0 || chunk[0] > INT_MAX)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has chunks of %.0f bytes (%llu rows); "
                        "HDF5 chunks hold 1 byte to 4 GiB, so the file is corrupt", path,
                        name, bytes, (unsigned long long)chunk[0]);
    return LMN_OK;
}

static lmn_status open_dataset(const hdf5_source *source, const char *name, hid_t *out)
{
    *out = H5Dopen2(source->file, name, H5P_DEFAULT);
    if (*out >= 0) return lmn_hdf5_check_chunks(source->path, name, *out);
    if (H5Lexists(source->file, name, H5P_DEFAULT) > 0)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' has an object '%s' that HDF5 cannot open as a "
                        "dataset; the file is corrupt or '%s' is a group", source->path, name, name);
    lmn_hdf5_names present;
    char listed[1024] = "unknown";
    if (lmn_hdf5_list_datasets(source->file, source->path, &present) == LMN_OK) {
        lmn_hdf5_join_names(&present, listed, sizeof listed);
        lmn_hdf5_names_free(&present);
    }
    return lmn_fail(LMN_ERR_FORMAT, "'%s' has no dataset '%s' (datasets present: %s)",
                    source->path, name, listed);
}

static void format_shape(int rank, const hsize_t *dims, char *out, size_t capacity)
{
    size_t used = (size_t)snprintf(out, capacity, "%s", rank == 0 ? "scalar" : "");
    for (int d = 0; d < rank && used < capacity; d++)
        used += (size_t)snprintf(out + used, capacity - used, "%s%llu", d ? " x " : "",
                                 (unsigned long long)dims[d]);
}

static lmn_status check_images(hdf5_source *source)
{
    const char *path = source->path, *name = source->images_name;
    hid_t type = H5Dget_type(source->images);
    char type_text[LMN_HDF5_TYPE_TEXT];
    lmn_hdf5_describe_type(type, type_text);
    const H5T_class_t type_class = H5Tget_class(type);
    const size_t type_size = H5Tget_size(type);
    const bool is_uint8 = type_class == H5T_INTEGER && type_size == 1 &&
                          H5Tget_sign(type) == H5T_SGN_NONE;
    source->float_images = type_class == H5T_FLOAT && type_size == 4;
    H5Tclose(type);
    if (!is_uint8 && !source->float_images)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' dataset '%s' has dtype %s; images must be uint8 or float32",
                        path, name, type_text);
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    char shape[128];
    dataset_shape(source->images, &rank, dims);
    format_shape(rank, dims, shape, sizeof shape);
    if (rank < 3 || rank > 5)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' dataset '%s' has shape %s; images must be N x C x H x W, N x H x W "
                        "or (volumes) N x C x D x H x W", path, name, shape);
    const hsize_t channels = rank >= 4 ? dims[1] : 1, depth = rank == 5 ? dims[2] : 0;
    const hsize_t height = dims[rank - 2], width = dims[rank - 1];
    const hsize_t planes = depth > 0 ? depth : 1;
    if (dims[0] < 1 || dims[0] > INT_MAX || channels < 1 || channels > LMN_MAX_CHANNELS ||
        height < 1 || width < 1 || planes > INT_MAX || height * width > INT_MAX / channels / planes)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' dataset '%s' has shape %s; need 1..%d images of 1..%d channels "
                        "and a positive depth, height and width",
                        path, name, shape, INT_MAX, LMN_MAX_CHANNELS);
    source->count = (int64_t)dims[0];
    source->channels = (int)channels;
    source->depth = (int)depth;
    source->height = (int)height;
    source->width = (int)width;
    return LMN_OK;
}

static lmn_status check_labels(const hdf5_source *source)
{
    const char *path = source->path, *name = source->labels_name;
    hid_t type = H5Dget_type(source->labels);
    char type_text[LMN_HDF5_TYPE_TEXT];
    lmn_hdf5_describe_type(type, type_text);
    const bool is_integer = H5Tget_class(type) == H5T_INTEGER;
    H5Tclose(type);
    if (!is_integer)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' dataset '%s' has dtype %s; labels must be integers", path, name,
                        type_text);
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    char shape[128];
    dataset_shape(source->labels, &rank, dims);
    format_shape(rank, dims, shape, sizeof shape);
    if (rank != 1)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has shape %s; labels must be a vector "
                                        "of N values", path, name, shape);
    if ((int64_t)dims[0] != source->count)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' has %lld images in '%s' but %llu labels in '%s'; they must match",
                        path, (long long)source->count, source->images_name,
                        (unsigned long long)dims[0], name);
    return LMN_OK;
}

/* Regression targets: any numeric type (read as float32), N rows of
 * nothing (one value), K values, or an image / volume. */
static lmn_status check_targets(hdf5_source *source)
{
    const char *path = source->path, *name = source->targets_name;
    hid_t type = H5Dget_type(source->targets);
    char type_text[LMN_HDF5_TYPE_TEXT];
    lmn_hdf5_describe_type(type, type_text);
    const H5T_class_t type_class = H5Tget_class(type);
    H5Tclose(type);
    if (type_class != H5T_FLOAT && type_class != H5T_INTEGER)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has dtype %s; regression targets must "
                        "be numbers (float32 preferred)", path, name, type_text);
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    char shape[128];
    dataset_shape(source->targets, &rank, dims);
    format_shape(rank, dims, shape, sizeof shape);
    if (rank < 1 || rank > 5)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has shape %s; targets must be N, N x K, "
                        "N x H x W, N x C x H x W or N x C x D x H x W", path, name, shape);
    if ((int64_t)dims[0] != source->count)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' has %lld images in '%s' but %llu rows of targets in '%s'; they must "
                        "match", path, (long long)source->count, source->images_name,
                        (unsigned long long)dims[0], name);
    hsize_t values = 1;
    for (int d = 1; d < rank; d++) values *= dims[d];
    if (values < 1 || values > INT_MAX / 4)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has shape %s; need 1..%d target values "
                        "per sample", path, name, shape, INT_MAX / 4);
    lmn_target_shape *t = &source->target_shape;
    if (rank <= 2) *t = (lmn_target_shape){rank == 2 ? (int)dims[1] : 1, 0, 1, 1};
    if (rank == 3) *t = (lmn_target_shape){1, 0, (int)dims[1], (int)dims[2]};
    if (rank == 4) *t = (lmn_target_shape){(int)dims[1], 0, (int)dims[2], (int)dims[3]};
    if (rank == 5) *t = (lmn_target_shape){(int)dims[1], (int)dims[2], (int)dims[3], (int)dims[4]};
    source->image_targets = rank >= 3;
    return LMN_OK;
}

/* Reads rows [first, first + rows) of dataset (whose row holds row_values
 * elements) into buffer, converted to mem_type. Independent I/O: each rank
 * reads a different slab. */
static lmn_status read_rows(const hdf5_source *source, hid_t dataset, const char *name,
                            hid_t mem_type, int64_t first, int64_t rows, int64_t row_values,
                            void *buffer)
{
    if (rows == 0) return LMN_OK;
    int rank;
    hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0};
    dataset_shape(dataset, &rank, dims);
    start[0] = (hsize_t)first;
    dims[0] = (hsize_t)rows;
    const hsize_t mem_count = (hsize_t)(rows * row_values);
    hid_t file_space = H5Dget_space(dataset);
    hid_t mem_space = H5Screate_simple(1, &mem_count, NULL);
    herr_t result = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, dims, NULL);
    if (result >= 0) result = H5Dread(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, buffer);
    H5Sclose(mem_space);
    H5Sclose(file_space);
    if (result < 0)
        return lmn_fail(LMN_ERR_FORMAT, "cannot read rows %lld..%lld of dataset '%s' in '%s' "
                                        "(file truncated or corrupt?)",
                        (long long)first, (long long)(first + rows - 1), name, source->path);
    return LMN_OK;
}

/* Reads float attribute `name` of C values into values if the file has it. */
static lmn_status read_channel_attribute(const hdf5_source *source, const char *name,
                                         float values[LMN_MAX_CHANNELS])
{
    if (H5Aexists(source->file, name) <= 0) return LMN_OK;
    hid_t attribute = H5Aopen(source->file, name, H5P_DEFAULT);
    hid_t space = H5Aget_space(attribute);
    const hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0) H5Sclose(space);
    herr_t result = -1;
    if (points == source->channels) result = H5Aread(attribute, H5T_NATIVE_FLOAT, values);
    H5Aclose(attribute);
    if (points != source->channels)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' attribute '%s' has %lld values; need one per channel (%d)",
                        source->path, name, (long long)points, source->channels);
    if (result < 0)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' attribute '%s' is not numeric", source->path, name);
    return LMN_OK;
}

/* The integer scalar attribute num_classes, or 0 if absent. */
lmn_status lmn_hdf5_source_num_classes(const hdf5_source *source, int64_t *num_classes)
{
    *num_classes = 0;
    if (H5Aexists(source->file, "num_classes") <= 0) return LMN_OK;
    hid_t attribute = H5Aopen(source->file, "num_classes", H5P_DEFAULT);
    hid_t type = H5Aget_type(attribute), space = H5Aget_space(attribute);
    const bool usable = H5Tget_class(type) == H5T_INTEGER && H5Sget_simple_extent_npoints(space) == 1;
    herr_t result = usable ? H5Aread(attribute, H5T_NATIVE_INT64, num_classes) : -1;
    H5Tclose(type);
    H5Sclose(space);
    H5Aclose(attribute);
    if (result < 0 || *num_classes < 1 || *num_classes > INT_MAX)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' attribute 'num_classes' must be one positive integer", source->path);
    return LMN_OK;
}

/* The string attribute `name` into out (fixed or variable length); out is
 * left alone if the attribute is absent or not a string. */
/* Dataset names longer than lamina keeps are cut, on purpose. */
static void copy_name(char out[LMN_DATASET_NAME_MAX], const char *text)
{
    const size_t length = strnlen(text, LMN_DATASET_NAME_MAX - 1);
    memcpy(out, text, length);
    out[length] = '\0';
}

static void read_name_attribute(const hdf5_source *source, char out[LMN_DATASET_NAME_MAX])
{
    if (H5Aexists(source->file, "name") <= 0) return;
    hid_t attribute = H5Aopen(source->file, "name", H5P_DEFAULT);
    hid_t type = H5Aget_type(attribute);
    if (H5Tget_class(type) == H5T_STRING) {
        hid_t mem_type = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(type) > 0) {
            char *text = NULL;
            H5Tset_size(mem_type, H5T_VARIABLE);
            if (H5Aread(attribute, mem_type, &text) >= 0 && text) {
                copy_name(out, text);
                H5free_memory(text);
            }
        } else {
            char text[LMN_HDF5_NAME_MAX] = {0};
            H5Tset_size(mem_type, sizeof text); /* HDF5 truncates and NUL-terminates */
            if (H5Aread(attribute, mem_type, text) >= 0) copy_name(out, text);
        }
        H5Tclose(mem_type);
    }
    H5Tclose(type);
    H5Aclose(attribute);
}

lmn_status lmn_hdf5_source_open(hdf5_source *source, MPI_Comm comm)
{
    LMN_TRY(open_file(source, comm));
    LMN_TRY(open_dataset(source, source->images_name, &source->images));
    if (source->labels_name) LMN_TRY(open_dataset(source, source->labels_name, &source->labels));
    if (source->targets_name) LMN_TRY(open_dataset(source, source->targets_name, &source->targets));
    LMN_TRY(check_images(source));
    if (source->labels_name) LMN_TRY(check_labels(source));
    return source->targets_name ? check_targets(source) : LMN_OK;
}

/* Opens and validates everything. Every rank reads the same metadata and
 * should reach the same verdict, but a rank that fails alone must not
 * leave the others waiting in a collective: agree before each one. */
static lmn_status open_source(hdf5_source *source, lmn_comm *comm)
{
    LMN_TRY(lmn_comm_agree(comm, lmn_hdf5_check_readable(source->path)));
    return lmn_comm_agree(comm, lmn_hdf5_source_open(source, comm->comm));
}

/* Checks the gathered labels and stores them as int32. */
static lmn_status take_labels(const hdf5_source *source, const int64_t *labels,
                              int64_t declared_classes, lmn_dataset *ds)
{
    int64_t largest = 0;
    for (int64_t i = 0; i < source->count; i++) {
        if (labels[i] < 0)
            return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s': label %lld at row %lld is negative",
                            source->path, source->labels_name, (long long)labels[i], (long long)i);
        if (labels[i] > largest) largest = labels[i];
    }
    if (declared_classes > 0 && largest >= declared_classes)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' dataset '%s' has label %lld but attribute num_classes is %lld",
                        source->path, source->labels_name, (long long)largest,
                        (long long)declared_classes);
    if (largest >= INT_MAX)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has label %lld; labels must be below %d",
                        source->path, source->labels_name, (long long)largest, INT_MAX);
    ds->num_classes = declared_classes > 0 ? (int)declared_classes : (int)largest + 1;
    for (int64_t i = 0; i < source->count; i++) ds->labels[i] = (int32_t)labels[i];
    return LMN_OK;
}

lmn_status lmn_hdf5_source_normalization(const hdf5_source *source, lmn_dataset *ds)
{
    LMN_TRY(read_channel_attribute(source, "mean", ds->mean));
    LMN_TRY(read_channel_attribute(source, "std", ds->std));
    for (int c = 0; c < ds->channels; c++)
        if (!(ds->std[c] > 0.0f))
            return lmn_fail(LMN_ERR_FORMAT, "'%s' attribute 'std' has %g for channel %d; need > 0",
                            source->path, (double)ds->std[c], c);
    return LMN_OK;
}

/* Each rank's share of the rows, as MPI counts and displacements. */
static void split_rows(int64_t count, int ranks, int *counts, int *displacements)
{
    for (int r = 0; r < ranks; r++) {
        const int64_t first = count * r / ranks, end = count * (r + 1) / ranks;
        displacements[r] = (int)first;
        counts[r] = (int)(end - first);
    }
}

static lmn_status mpi_failure(int code, const char *what, const char *path)
{
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    return lmn_fail(LMN_ERR_MPI, "%s while loading '%s': %s", what, path, text);
}

/* Every rank holds its own rows in place; fills in everyone else's. */
static lmn_status gather_rows(void *buffer, MPI_Datatype element, int64_t row_values,
                              const int *counts, const int *displacements, MPI_Comm comm,
                              const char *path)
{
    MPI_Datatype row;
    int code = MPI_Type_contiguous((int)row_values, element, &row);
    if (code == MPI_SUCCESS) code = MPI_Type_commit(&row);
    if (code != MPI_SUCCESS) return mpi_failure(code, "MPI_Type_contiguous", path);
    code = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buffer, counts, displacements, row,
                          comm);
    MPI_Type_free(&row);
    if (code != MPI_SUCCESS) return mpi_failure(code, "MPI_Allgatherv", path);
    return LMN_OK;
}

/* Float rows must be finite: one NaN or infinity in an input poisons the
 * gradients while the loss may stay finite (ReLU maps NaN to 0). */
static lmn_status check_finite_rows(const hdf5_source *source, const char *name, const float *values,
                                    int64_t first, int64_t rows, int64_t row_values)
{
    if (lmn_floats_finite(values, (size_t)(rows * row_values))) return LMN_OK;
    int64_t bad = 0;
    while (lmn_floats_finite(values + bad * row_values, (size_t)row_values)) bad++;
    const float *row = values + bad * row_values;
    int64_t column = 0;
    while (isfinite(row[column])) column++;
    return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s': row %lld holds a non-finite value (%g at "
                    "index %lld); inputs and targets must be finite numbers", source->path, name,
                    (long long)(first + bad), (double)row[column], (long long)column);
}

/* Reads this rank's rows, agrees with the other ranks on success, then gathers. */
static lmn_status read_and_gather(const hdf5_source *source, lmn_comm *comm, lmn_dataset *ds,
                                  int64_t *labels)
{
    int *counts, *displacements;
    const size_t ranks = (size_t)comm->size;
    LMN_TRY(lmn_alloc_bytes((void **)&counts, 2 * ranks * sizeof(int), "gather counts"));
    displacements = counts + ranks;
    split_rows(source->count, comm->size, counts, displacements);
    const int64_t first = displacements[comm->rank], rows = counts[comm->rank];
    const int64_t row_values = lmn_dataset_sample_size(ds);
    void *images = source->float_images ? (void *)(ds->values + first * row_values)
                                        : (void *)(ds->pixels + first * row_values);
    lmn_status status = read_rows(source, source->images, source->images_name,
                                  source->float_images ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8,
                                  first, rows, row_values, images);
    if (status == LMN_OK && source->float_images)
        status = check_finite_rows(source, source->images_name, images, first, rows, row_values);
    if (status == LMN_OK && source->labels_name)
        status = read_rows(source, source->labels, source->labels_name, H5T_NATIVE_INT64, first,
                           rows, 1, labels + first);
    const int64_t target_values = lmn_dataset_target_size(ds);
    if (status == LMN_OK && source->targets_name)
        status = read_rows(source, source->targets, source->targets_name, H5T_NATIVE_FLOAT, first,
                           rows, target_values, ds->targets + first * target_values);
    if (status == LMN_OK && source->targets_name)
        status = check_finite_rows(source, source->targets_name, ds->targets + first * target_values,
                                   first, rows, target_values);
    status = lmn_comm_agree(comm, status);
    if (status == LMN_OK)
        status = gather_rows(source->float_images ? (void *)ds->values : (void *)ds->pixels,
                             source->float_images ? MPI_FLOAT : MPI_UINT8_T, row_values, counts,
                             displacements, comm->comm, source->path);
    if (status == LMN_OK && source->labels_name)
        status = gather_rows(labels, MPI_INT64_T, 1, counts, displacements, comm->comm,
                             source->path);
    if (status == LMN_OK && source->targets_name)
        status = gather_rows(ds->targets, MPI_FLOAT, target_values, counts, displacements,
                             comm->comm, source->path);
    lmn_free(counts);
    return status;
}

/* The dataset name: the file's `name` attribute, else the file's base name. */
void lmn_hdf5_source_name(const hdf5_source *source, char name[LMN_DATASET_NAME_MAX])
{
    const char *slash = strrchr(source->path, '/');
    snprintf(name, LMN_DATASET_NAME_MAX, "%s", slash ? slash + 1 : source->path);
    read_name_attribute(source, name);
}

static lmn_status load_open_source(const hdf5_source *source, lmn_comm *comm, lmn_dataset **out)
{
    int64_t declared_classes;
    LMN_TRY(lmn_hdf5_source_num_classes(source, &declared_classes));
    char name[LMN_DATASET_NAME_MAX];
    lmn_hdf5_source_name(source, name);
    lmn_dataset *ds;
    LMN_TRY(lmn_dataset_create_shaped(source->count, source->channels, source->depth,
                                      source->height, source->width, 1, !source->float_images,
                                      name, &ds));
    int64_t *labels = NULL;
    lmn_status status = LMN_OK;
    if (source->float_images)
        status = lmn_alloc_floats(&ds->values, (size_t)(source->count * lmn_dataset_sample_size(ds)),
                                  "dataset values");
    if (status == LMN_OK && source->targets_name) {
        ds->has_targets = true;
        ds->image_targets = source->image_targets;
        ds->target_shape = source->target_shape;
        status = lmn_alloc_floats(&ds->targets, (size_t)(source->count * lmn_dataset_target_size(ds)),
                                  "dataset targets");
    }
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&labels, (size_t)source->count * sizeof(int64_t),
                                 "labels being read");
    status = lmn_comm_agree(comm, status);
    if (status == LMN_OK) status = read_and_gather(source, comm, ds, labels);
    if (status == LMN_OK && source->labels_name)
        status = take_labels(source, labels, declared_classes, ds);
    if (status == LMN_OK) status = lmn_hdf5_source_normalization(source, ds);
    lmn_free(labels);
    if (status != LMN_OK) {
        lmn_dataset_free(ds);
        return status;
    }
    *out = ds;
    return LMN_OK;
}

static lmn_status load(hdf5_source *source, MPI_Comm comm, lmn_dataset **out)
{
    *out = NULL;
    lmn_hdf5_silence_errors();
    lmn_comm *group;
    LMN_TRY(lmn_comm_create(comm, &group));
    lmn_status status = open_source(source, group);
    if (status == LMN_OK) status = load_open_source(source, group, out);
    lmn_hdf5_source_close(source);
    lmn_comm_free(group);
    return status;
}

lmn_status lmn_dataset_load_hdf5(const char *path, const char *images_name,
                                 const char *labels_name, MPI_Comm comm, lmn_dataset **out)
{
    *out = NULL;
    if (!path || !images_name || !labels_name)
        return lmn_fail(LMN_ERR_ARG, "loading an HDF5 dataset needs a path and the names of "
                                     "the images and labels datasets");
    hdf5_source source = {.path = path, .images_name = images_name, .labels_name = labels_name,
                          .file = -1, .images = -1, .labels = -1, .targets = -1};
    return load(&source, comm, out);
}

lmn_status lmn_dataset_load_hdf5_regression(const char *path, const char *images_name,
                                            const char *targets_name, MPI_Comm comm,
                                            lmn_dataset **out)
{
    *out = NULL;
    if (!path || !images_name || !targets_name)
        return lmn_fail(LMN_ERR_ARG, "loading an HDF5 regression set needs a path and the names "
                                     "of the images and targets datasets");
    hdf5_source source = {.path = path, .images_name = images_name, .targets_name = targets_name,
                          .file = -1, .images = -1, .labels = -1, .targets = -1};
    return load(&source, comm, out);
}
