#include "io/data_tools.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "core/memory.h"
#include "data/dataset.h"
#include "io/hdf5_dataset.h"

enum {
    TOOL_PATH_MAX = 4096,
    TYPE_BLOB_MAX = 512,          /* encoded datatype; ample for atomic and small compound types */
    CHUNK_TARGET_BYTES = 1 << 18, /* whole samples per chunk, about 256 KiB */
    MESSAGE_BYTES_MAX = 1 << 30   /* MPI counts are int: send big buffers in pieces */
};

/* ---- Pieces shared by convert and concat ---- */

static lmn_status check_gzip_level(int gzip_level)
{
    if (gzip_level < 0 || gzip_level > 9)
        return lmn_fail(LMN_ERR_ARG, "gzip level %d: use 0 (no compression) to 9", gzip_level);
    return LMN_OK;
}

/* Reserves a unique temporary name next to out_path (the file exists, empty). */
static lmn_status make_temporary_name(const char *out_path, char temporary[TOOL_PATH_MAX])
{
    const int length = snprintf(temporary, TOOL_PATH_MAX, "%s.tmp.XXXXXX", out_path);
    if (length < 0 || length >= TOOL_PATH_MAX)
        return lmn_fail(LMN_ERR_ARG, "output path '%s' is too long", out_path);
    const int fd = mkstemp(temporary);
    if (fd < 0)
        return lmn_fail(LMN_ERR_IO, "cannot create a temporary file next to '%s': %s", out_path,
                        strerror(errno));
    close(fd);
    return LMN_OK;
}

static lmn_status publish(const char *temporary, const char *out_path)
{
    if (rename(temporary, out_path) != 0)
        return lmn_fail(LMN_ERR_IO, "cannot rename '%s' to '%s': %s", temporary, out_path,
                        strerror(errno));
    return LMN_OK;
}

static size_t row_bytes_of(hid_t type, int rank, const hsize_t *dims)
{
    size_t bytes = H5Tget_size(type);
    for (int d = 1; d < rank; d++) bytes *= (size_t)dims[d];
    return bytes;
}

/* Creates dataset `name` of the given type and dims. Uncompressed data of
 * concat stays contiguous (collective writes need nothing else); otherwise
 * it is chunked by whole rows, and deflated when gzip_level > 0. */
static lmn_status create_dataset(hid_t file, const char *path, const char *name, hid_t type,
                                 int rank, const hsize_t *dims, bool chunked, int gzip_level,
                                 hid_t *out)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    size_t elements = 1;
    for (int d = 0; d < rank; d++) elements *= (size_t)dims[d];
    herr_t result = space < 0 || properties < 0 ? -1 : 0;
    /* HDF5 cannot chunk a dataset with no elements; it has nothing to compress anyway. */
    if (result >= 0 && (chunked || gzip_level > 0) && elements > 0) {
        hsize_t chunk[H5S_MAX_RANK];
        memcpy(chunk, dims, (size_t)rank * sizeof *chunk);
        const size_t row_bytes = row_bytes_of(type, rank, dims);
        hsize_t rows = row_bytes >= CHUNK_TARGET_BYTES ? 1 : CHUNK_TARGET_BYTES / row_bytes;
        chunk[0] = rows < dims[0] ? rows : dims[0];
        result = H5Pset_chunk(properties, rank, chunk);
        if (result >= 0 && gzip_level > 0) result = H5Pset_deflate(properties, (unsigned)gzip_level);
    }
    *out = result < 0 ? -1
                      : H5Dcreate2(file, name, type, space, H5P_DEFAULT, properties, H5P_DEFAULT);
    if (properties >= 0) H5Pclose(properties);
    if (space >= 0) H5Sclose(space);
    if (*out < 0) return lmn_fail(LMN_ERR_IO, "cannot create dataset '%s' in '%s'", name, path);
    return LMN_OK;
}

static lmn_status write_attribute(hid_t object, const char *path, const char *name, hid_t type,
                                  int values, const void *data)
{
    const hsize_t count = (hsize_t)values;
    hid_t space = values == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, NULL);
    hid_t attribute = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t result = attribute < 0 ? -1 : H5Awrite(attribute, type, data);
    if (attribute >= 0) H5Aclose(attribute);
    H5Sclose(space);
    if (result < 0) return lmn_fail(LMN_ERR_IO, "cannot write attribute '%s' to '%s'", name, path);
    return LMN_OK;
}

/* ---- convert ---- */

static lmn_status write_whole(hid_t file, const char *path, const char *name, hid_t file_type,
                              hid_t mem_type, int rank, const hsize_t *dims, int gzip_level,
                              const void *data)
{
    hid_t dataset;
    LMN_TRY(create_dataset(file, path, name, file_type, rank, dims, true, gzip_level, &dataset));
    herr_t result = H5Dwrite(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (H5Dclose(dataset) < 0) result = -1;
    if (result < 0) return lmn_fail(LMN_ERR_IO, "cannot write dataset '%s' to '%s'", name, path);
    return LMN_OK;
}

static lmn_status write_name(hid_t file, const char *path, const char *name)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(name) + 1);
    lmn_status status = write_attribute(file, path, "name", type, 1, name);
    H5Tclose(type);
    return status;
}

static lmn_status write_converted(const lmn_dataset *ds, const char *path, int gzip_level)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return lmn_fail(LMN_ERR_IO, "cannot create HDF5 file '%s'", path);
    const hsize_t image_dims[4] = {(hsize_t)ds->count, (hsize_t)ds->channels,
                                   (hsize_t)ds->height, (hsize_t)ds->width};
    const hsize_t label_dims[1] = {(hsize_t)ds->count};
    const int32_t num_classes = ds->num_classes;
    lmn_status status = write_whole(file, path, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4,
                                    image_dims, gzip_level, ds->pixels);
    if (status == LMN_OK)
        status = write_whole(file, path, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, label_dims,
                             gzip_level, ds->labels);
    if (status == LMN_OK)
        status = write_attribute(file, path, "mean", H5T_NATIVE_FLOAT, ds->channels, ds->mean);
    if (status == LMN_OK)
        status = write_attribute(file, path, "std", H5T_NATIVE_FLOAT, ds->channels, ds->std);
    if (status == LMN_OK)
        status = write_attribute(file, path, "num_classes", H5T_NATIVE_INT32, 1, &num_classes);
    if (status == LMN_OK) status = write_name(file, path, ds->name);
    if (H5Fclose(file) < 0 && status == LMN_OK)
        status = lmn_fail(LMN_ERR_IO, "cannot finish writing HDF5 file '%s'", path);
    return status;
}

lmn_status lmn_data_convert(const char *name, const char *dir, bool train, const char *out_path,
                            int gzip_level)
{
    LMN_TRY(check_gzip_level(gzip_level));
    if (!out_path) return lmn_fail(LMN_ERR_ARG, "data convert needs an output path");
    lmn_hdf5_silence_errors();
    lmn_dataset *ds;
    LMN_TRY(lmn_dataset_load_named(name, dir, train, &ds));
    char temporary[TOOL_PATH_MAX];
    lmn_status status = make_temporary_name(out_path, temporary);
    if (status == LMN_OK) {
        status = write_converted(ds, temporary, gzip_level);
        if (status == LMN_OK) status = publish(temporary, out_path);
        if (status != LMN_OK) unlink(temporary);
    }
    lmn_dataset_free(ds);
    return status;
}

/* ---- concat ---- */

/* One dataset of the output, as rank 0 found it in the first input. */
typedef struct concat_field {
    char name[LMN_HDF5_NAME_MAX];
    int rank;
    hsize_t dims[H5S_MAX_RANK]; /* dims[0]: rows over all inputs */
    size_t type_bytes;
    unsigned char type[TYPE_BLOB_MAX]; /* H5Tencode'd file datatype */
} concat_field;

/* Everything every rank needs: plain data, broadcast as bytes. */
typedef struct concat_plan {
    const char *const *inputs;
    int input_count, field_count;
    concat_field *fields;
    int64_t *rows;    /* [input * field_count + field] */
    int64_t *offsets; /* first output row of each (input, field) */
    hid_t *types;     /* decoded fields[f].type, per rank */
} concat_plan;

static void free_plan(concat_plan *plan)
{
    for (int f = 0; plan->types && f < plan->field_count; f++)
        if (plan->types[f] >= 0) H5Tclose(plan->types[f]);
    lmn_free(plan->types);
    lmn_free(plan->fields);
    lmn_free(plan->rows);
    lmn_free(plan->offsets);
}

static lmn_status open_input(const char *path, hid_t *file)
{
    if (access(path, R_OK) != 0)
        return lmn_fail(LMN_ERR_IO, "cannot read HDF5 file '%s': %s", path, strerror(errno));
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' is not a valid HDF5 file (not HDF5, truncated or corrupt)", path);
    return LMN_OK;
}

/* Records dataset `name` of the first input as an output field. */
static lmn_status describe_field(hid_t file, const char *path, const char *name,
                                 concat_field *field)
{
    snprintf(field->name, sizeof field->name, "%s", name);
    hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t type = dataset < 0 ? -1 : H5Dget_type(dataset);
    hid_t space = dataset < 0 ? -1 : H5Dget_space(dataset);
    field->rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (field->rank > 0) H5Sget_simple_extent_dims(space, field->dims, NULL);
    char type_text[LMN_HDF5_TYPE_TEXT] = "unknown";
    if (type >= 0) lmn_hdf5_describe_type(type, type_text);
    const bool variable = type < 0 || H5Tdetect_class(type, H5T_VLEN) > 0 ||
                          (H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) > 0);
    field->type_bytes = TYPE_BLOB_MAX;
    herr_t encoded = variable ? -1 : H5Tencode(type, NULL, &field->type_bytes);
    if (encoded >= 0 && field->type_bytes <= TYPE_BLOB_MAX)
        encoded = H5Tencode(type, field->type, &field->type_bytes);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (dataset >= 0) H5Dclose(dataset);
    if (field->rank < 1)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' is a scalar; only arrays can be "
                                        "appended", path, name);
    if (variable || encoded < 0 || field->type_bytes > TYPE_BLOB_MAX)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has dtype %s; concat needs fixed-size "
                                        "element types", path, name, type_text);
    return LMN_OK;
}

static lmn_status describe_fields(const char *path, concat_plan *plan)
{
    hid_t file;
    LMN_TRY(open_input(path, &file));
    lmn_hdf5_names names;
    lmn_status status = lmn_hdf5_list_datasets(file, path, &names);
    if (status == LMN_OK && names.count == 0)
        status = lmn_fail(LMN_ERR_FORMAT, "'%s' has no datasets to concatenate", path);
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&plan->fields, (size_t)names.count * sizeof(concat_field),
                                 "concat fields");
    for (int f = 0; status == LMN_OK && f < names.count; f++)
        status = describe_field(file, path, names.names[f], &plan->fields[f]);
    if (status == LMN_OK) plan->field_count = names.count;
    lmn_hdf5_names_free(&names);
    H5Fclose(file);
    return status;
}

/* Checks dataset `field` of input `path` against the plan; *rows gets its rows. */
static lmn_status measure_field(hid_t file, const char *path, const concat_field *field,
                                hid_t field_type, const char *first_path, int64_t *rows)
{
    hid_t dataset = H5Dopen2(file, field->name, H5P_DEFAULT);
    if (dataset < 0)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' has no dataset '%s' (present in the first input "
                                        "'%s')", path, field->name, first_path);
    const lmn_status chunks = lmn_hdf5_check_chunks(path, field->name, dataset);
    if (chunks != LMN_OK) {
        H5Dclose(dataset);
        return chunks;
    }
    hid_t type = H5Dget_type(dataset), space = H5Dget_space(dataset);
    hsize_t dims[H5S_MAX_RANK];
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank > 0) H5Sget_simple_extent_dims(space, dims, NULL);
    const bool same_type = H5Tequal(type, field_type) > 0;
    char type_text[LMN_HDF5_TYPE_TEXT], expected_text[LMN_HDF5_TYPE_TEXT];
    lmn_hdf5_describe_type(type, type_text);
    lmn_hdf5_describe_type(field_type, expected_text);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(dataset);
    if (!same_type)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' has dtype %s but the first input '%s' "
                                        "has %s", path, field->name, type_text, first_path,
                        expected_text);
    bool same_shape = rank == field->rank;
    for (int d = 1; same_shape && d < rank; d++) same_shape = dims[d] == field->dims[d];
    if (!same_shape)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s' differs in rank or in the dimensions "
                                        "after the first from the first input '%s'",
                        path, field->name, first_path);
    *rows = (int64_t)dims[0];
    return LMN_OK;
}

/* The file's root attribute num_classes, or -1 when it has none (or not
 * one integer: the reader refuses that with its own message). */
static int64_t declared_classes(hid_t file)
{
    int64_t value = -1;
    if (H5Aexists(file, "num_classes") <= 0) return -1;
    hid_t attribute = H5Aopen(file, "num_classes", H5P_DEFAULT);
    if (attribute < 0 || H5Aread(attribute, H5T_NATIVE_INT64, &value) < 0) value = -1;
    if (attribute >= 0) H5Aclose(attribute);
    return value;
}

/* The output carries the first input's attributes, so two inputs that
 * both declare num_classes must agree: else the output would claim one
 * input's count for the other's labels. An input that declares none (a
 * shard written without attributes) joins; its labels are checked against
 * the declared count when the output is loaded. */
static lmn_status check_same_classes(hid_t file, const char *path, const char *first_path)
{
    hid_t first;
    LMN_TRY(open_input(first_path, &first));
    const int64_t expected = declared_classes(first), found = declared_classes(file);
    H5Fclose(first);
    if (expected < 0 || found < 0 || expected == found) return LMN_OK;
    char expected_text[32] = "none", found_text[32] = "none";
    if (expected >= 0) snprintf(expected_text, sizeof expected_text, "%lld", (long long)expected);
    if (found >= 0) snprintf(found_text, sizeof found_text, "%lld", (long long)found);
    return lmn_fail(LMN_ERR_FORMAT, "'%s' declares num_classes %s but '%s' declares %s: concat "
                    "joins sets of the same classes only (set the attribute num_classes alike)",
                    path, found_text, first_path, expected_text);
}

static lmn_status measure_input(concat_plan *plan, int input)
{
    const char *path = plan->inputs[input];
    hid_t file;
    LMN_TRY(open_input(path, &file));
    lmn_status status = input > 0 ? check_same_classes(file, path, plan->inputs[0]) : LMN_OK;
    for (int f = 0; status == LMN_OK && f < plan->field_count; f++)
        status = measure_field(file, path, &plan->fields[f], plan->types[f], plan->inputs[0],
                               &plan->rows[(size_t)input * plan->field_count + f]);
    H5Fclose(file);
    return status;
}

static lmn_status allocate_plan_arrays(concat_plan *plan)
{
    const size_t cells = (size_t)plan->input_count * (size_t)plan->field_count;
    if (!plan->fields)
        LMN_TRY(lmn_alloc_bytes((void **)&plan->fields,
                                (size_t)plan->field_count * sizeof(concat_field), "concat fields"));
    LMN_TRY(lmn_alloc_bytes((void **)&plan->rows, cells * sizeof(int64_t), "concat row counts"));
    LMN_TRY(lmn_alloc_bytes((void **)&plan->offsets, cells * sizeof(int64_t), "concat offsets"));
    LMN_TRY(lmn_alloc_bytes((void **)&plan->types, (size_t)plan->field_count * sizeof(hid_t),
                            "concat types"));
    for (int f = 0; f < plan->field_count; f++) plan->types[f] = -1;
    return LMN_OK;
}

static lmn_status decode_types(concat_plan *plan)
{
    for (int f = 0; f < plan->field_count; f++) {
        plan->types[f] = H5Tdecode(plan->fields[f].type);
        if (plan->types[f] < 0)
            return lmn_fail(LMN_ERR_INTERNAL, "cannot decode the dtype of dataset '%s'",
                            plan->fields[f].name);
    }
    return LMN_OK;
}

/* Rank 0: reads every input's header. */
static lmn_status read_headers(concat_plan *plan)
{
    LMN_TRY(describe_fields(plan->inputs[0], plan));
    LMN_TRY(allocate_plan_arrays(plan));
    LMN_TRY(decode_types(plan));
    for (int i = 0; i < plan->input_count; i++) LMN_TRY(measure_input(plan, i));
    return LMN_OK;
}

/* Output offsets are running sums of the row counts, per dataset. */
static void compute_offsets(concat_plan *plan)
{
    for (int f = 0; f < plan->field_count; f++) {
        int64_t next = 0;
        for (int i = 0; i < plan->input_count; i++) {
            const size_t cell = (size_t)i * plan->field_count + f;
            plan->offsets[cell] = next;
            next += plan->rows[cell];
        }
        plan->fields[f].dims[0] = (hsize_t)next;
    }
}

static lmn_status mpi_check(int code, const char *what)
{
    if (code == MPI_SUCCESS) return LMN_OK;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    return lmn_fail(LMN_ERR_MPI, "data concat: %s failed: %s", what, text);
}

/* Rank 0 plans; every rank ends with the same plan (or the same error). */
static lmn_status share_plan(concat_plan *plan, lmn_comm *comm)
{
    lmn_status status = comm->rank == 0 ? read_headers(plan) : LMN_OK;
    if (comm->rank == 0 && status == LMN_OK) compute_offsets(plan);
    LMN_TRY(lmn_comm_agree(comm, status));
    if (comm->size == 1) return LMN_OK;
    LMN_TRY(mpi_check(MPI_Bcast(&plan->field_count, 1, MPI_INT, 0, comm->comm), "MPI_Bcast"));
    status = comm->rank == 0 ? LMN_OK : allocate_plan_arrays(plan);
    LMN_TRY(lmn_comm_agree(comm, status));
    const size_t cells = (size_t)plan->input_count * (size_t)plan->field_count;
    LMN_TRY(mpi_check(MPI_Bcast(plan->fields, plan->field_count * (int)sizeof(concat_field),
                                MPI_BYTE, 0, comm->comm), "MPI_Bcast"));
    LMN_TRY(mpi_check(MPI_Bcast(plan->offsets, (int)cells, MPI_INT64_T, 0, comm->comm),
                      "MPI_Bcast"));
    LMN_TRY(mpi_check(MPI_Bcast(plan->rows, (int)cells, MPI_INT64_T, 0, comm->comm), "MPI_Bcast"));
    return lmn_comm_agree(comm, comm->rank == 0 ? LMN_OK : decode_types(plan));
}

/* The rows of one input, one buffer per dataset. */
typedef struct input_rows {
    void **data;
    size_t *bytes;
} input_rows;

static void free_input_rows(input_rows *rows, int field_count)
{
    for (int f = 0; rows->data && f < field_count; f++) lmn_free(rows->data[f]);
    lmn_free(rows->data);
    lmn_free(rows->bytes);
    *rows = (input_rows){0};
}

static lmn_status read_field(hid_t file, const char *path, const concat_plan *plan, int f,
                             void *buffer)
{
    hid_t dataset = H5Dopen2(file, plan->fields[f].name, H5P_DEFAULT);
    herr_t result = dataset < 0 ? -1
                                : H5Dread(dataset, plan->types[f], H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                          buffer);
    if (dataset >= 0) H5Dclose(dataset);
    if (result < 0)
        return lmn_fail(LMN_ERR_FORMAT, "cannot read dataset '%s' of '%s' (truncated or corrupt?)",
                        plan->fields[f].name, path);
    return LMN_OK;
}

/* Buffers for every dataset of input `input` (sizes from the plan). */
static lmn_status allocate_input_rows(const concat_plan *plan, int input, input_rows *rows)
{
    const int fields = plan->field_count;
    LMN_TRY(lmn_alloc_bytes((void **)&rows->data, (size_t)fields * sizeof(void *), "input rows"));
    LMN_TRY(lmn_alloc_bytes((void **)&rows->bytes, (size_t)fields * sizeof(size_t), "input rows"));
    for (int f = 0; f < fields; f++) {
        const concat_field *field = &plan->fields[f];
        rows->bytes[f] = (size_t)plan->rows[(size_t)input * fields + f] *
                         row_bytes_of(plan->types[f], field->rank, field->dims);
        /* One spare byte: a zero-row input still gets a valid buffer. */
        LMN_TRY(lmn_alloc_bytes(&rows->data[f], rows->bytes[f] + 1, "input rows"));
    }
    return LMN_OK;
}

/* Reads every dataset of input `input` into memory. */
static lmn_status read_input(const concat_plan *plan, int input, input_rows *rows)
{
    const int fields = plan->field_count;
    LMN_TRY(allocate_input_rows(plan, input, rows));
    hid_t file;
    LMN_TRY(open_input(plan->inputs[input], &file));
    lmn_status status = LMN_OK;
    for (int f = 0; status == LMN_OK && f < fields; f++)
        if (rows->bytes[f] > 0)
            status = read_field(file, plan->inputs[input], plan, f, rows->data[f]);
    H5Fclose(file);
    return status;
}

/* Writes the rows of (input, field) into the output's hyperslab; rows ==
 * NULL selects nothing, so a rank without an input still joins a
 * collective write. Failure is LMN_ERR_BACKEND: HDF5 refused the write. */
static lmn_status write_field_rows(hid_t dataset, hid_t transfer, const concat_plan *plan,
                                   int input, int f, const void *rows, const char *path)
{
    const concat_field *field = &plan->fields[f];
    const size_t cell = (size_t)input * plan->field_count + f;
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    memcpy(count, field->dims, sizeof count);
    start[0] = rows ? (hsize_t)plan->offsets[cell] : 0;
    count[0] = rows ? (hsize_t)plan->rows[cell] : 0;
    hid_t file_space = H5Dget_space(dataset);
    hid_t memory_space = H5Screate_simple(field->rank, count, NULL);
    herr_t result = file_space < 0 || memory_space < 0 ? -1 : 0;
    const bool empty = count[0] == 0 || row_bytes_of(plan->types[f], field->rank, field->dims) == 0;
    if (result >= 0 && empty) {
        result = H5Sselect_none(file_space);
        if (result >= 0) result = H5Sselect_none(memory_space);
    } else if (result >= 0) {
        result = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL);
    }
    if (result >= 0)
        result = H5Dwrite(dataset, plan->types[f], memory_space, file_space, transfer, rows);
    if (memory_space >= 0) H5Sclose(memory_space);
    if (file_space >= 0) H5Sclose(file_space);
    if (result < 0)
        return lmn_fail(LMN_ERR_BACKEND, "HDF5 refused to write rows of dataset '%s' from '%s' "
                                         "into '%s'", field->name, plan->inputs[input], path);
    return LMN_OK;
}

/* The output file being written, with one open dataset per field. */
typedef struct concat_output {
    hid_t file;
    hid_t *datasets;
} concat_output;

static lmn_status close_output(concat_output *output, int field_count, const char *path)
{
    bool failed = false;
    for (int f = 0; output->datasets && f < field_count; f++)
        if (output->datasets[f] >= 0) failed |= H5Dclose(output->datasets[f]) < 0;
    if (output->file >= 0) failed |= H5Fclose(output->file) < 0;
    lmn_free(output->datasets);
    *output = (concat_output){.file = -1};
    if (failed) return lmn_fail(LMN_ERR_IO, "cannot finish writing '%s'", path);
    return LMN_OK;
}

/* Creates the output (with the MPI-IO driver when comm is given) and its datasets. */
static lmn_status create_output(const concat_plan *plan, const char *path, int gzip_level,
                                const MPI_Comm *comm, concat_output *output)
{
    *output = (concat_output){.file = -1};
    LMN_TRY(lmn_alloc_bytes((void **)&output->datasets,
                            (size_t)plan->field_count * sizeof(hid_t), "output datasets"));
    for (int f = 0; f < plan->field_count; f++) output->datasets[f] = -1;
    hid_t access_list = H5Pcreate(H5P_FILE_ACCESS);
    if (comm && access_list >= 0 && H5Pset_fapl_mpio(access_list, *comm, MPI_INFO_NULL) < 0) {
        H5Pclose(access_list);
        access_list = -1;
    }
    if (access_list >= 0) {
        output->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, access_list);
        H5Pclose(access_list);
    }
    if (output->file < 0) return lmn_fail(LMN_ERR_IO, "cannot create HDF5 file '%s'", path);
    for (int f = 0; f < plan->field_count; f++) {
        const concat_field *field = &plan->fields[f];
        LMN_TRY(create_dataset(output->file, path, field->name, plan->types[f], field->rank,
                               field->dims, false, gzip_level, &output->datasets[f]));
    }
    return LMN_OK;
}

/* Collective strategy: in round r, rank p holds input r * P + p (if any);
 * every rank joins every collective write, with an empty selection when it
 * has no input this round. */
static lmn_status write_collectively(const concat_plan *plan, concat_output *output,
                                     const char *path, lmn_comm *comm)
{
    hid_t transfer = H5Pcreate(H5P_DATASET_XFER);
    if (transfer < 0 || H5Pset_dxpl_mpio(transfer, H5FD_MPIO_COLLECTIVE) < 0) {
        if (transfer >= 0) H5Pclose(transfer);
        return lmn_fail(LMN_ERR_BACKEND, "cannot request collective HDF5 writes for '%s'", path);
    }
    const int rounds = (plan->input_count + comm->size - 1) / comm->size;
    lmn_status status = LMN_OK;
    for (int round = 0; status == LMN_OK && round < rounds; round++) {
        const int input = round * comm->size + comm->rank;
        const bool mine = input < plan->input_count;
        input_rows rows = {0};
        status = lmn_comm_agree(comm, mine ? read_input(plan, input, &rows) : LMN_OK);
        for (int f = 0; status == LMN_OK && f < plan->field_count; f++)
            status = write_field_rows(output->datasets[f], transfer, plan, mine ? input : 0, f,
                                      mine ? rows.data[f] : NULL, path);
        status = lmn_comm_agree(comm, status);
        free_input_rows(&rows, plan->field_count);
    }
    H5Pclose(transfer);
    return status;
}

/* Sends or receives `bytes` bytes between owner and rank 0, in pieces that fit an int count. */
static lmn_status move_to_root(void *data, size_t bytes, int owner, lmn_comm *comm)
{
    for (size_t done = 0; done < bytes; done += MESSAGE_BYTES_MAX) {
        const int piece = (int)(bytes - done < MESSAGE_BYTES_MAX ? bytes - done : MESSAGE_BYTES_MAX);
        char *at = (char *)data + done;
        const int code = comm->rank == 0
                             ? MPI_Recv(at, piece, MPI_BYTE, owner, 0, comm->comm, MPI_STATUS_IGNORE)
                             : MPI_Send(at, piece, MPI_BYTE, 0, 0, comm->comm);
        LMN_TRY(mpi_check(code, comm->rank == 0 ? "MPI_Recv" : "MPI_Send"));
    }
    return LMN_OK;
}

/* Fallback strategy: parallel HDF5 1.10 writes deflated datasets only
 * collectively and some builds cannot at all, so the owners still read
 * their inputs but send the rows to rank 0, which writes them serially. */
static lmn_status write_through_root(const concat_plan *plan, const char *path, int gzip_level,
                                     lmn_comm *comm)
{
    concat_output output = {.file = -1};
    lmn_status status = comm->rank == 0 ? create_output(plan, path, gzip_level, NULL, &output)
                                        : LMN_OK;
    status = lmn_comm_agree(comm, status);
    for (int input = 0; status == LMN_OK && input < plan->input_count; input++) {
        const int owner = input % comm->size;
        input_rows rows = {0};
        if (comm->rank == owner) status = read_input(plan, input, &rows);
        if (comm->rank == 0 && owner != 0 && status == LMN_OK) 
            status = allocate_input_rows(plan, input, &rows);
        status = lmn_comm_agree(comm, status);
        for (int f = 0; status == LMN_OK && f < plan->field_count && owner != 0; f++)
            if (comm->rank == 0 || comm->rank == owner)
                status = move_to_root(rows.data[f], rows.bytes[f], owner, comm);
        for (int f = 0; status == LMN_OK && comm->rank == 0 && f < plan->field_count; f++)
            status = write_field_rows(output.datasets[f], H5P_DEFAULT, plan, input, f,
                                      rows.data[f], path);
        status = lmn_comm_agree(comm, status);
        free_input_rows(&rows, plan->field_count);
    }
    if (comm->rank == 0) {
        lmn_status closed = close_output(&output, plan->field_count, path);
        if (status == LMN_OK) status = closed;
    }
    return lmn_comm_agree(comm, status);
}

/* ---- Attributes, copied serially after the rows are written ---- */

static herr_t copy_attribute(hid_t source, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    const hid_t target = *(const hid_t *)data;
    hid_t attribute = H5Aopen(source, name, H5P_DEFAULT);
    hid_t type = H5Aget_type(attribute), space = H5Aget_space(attribute);
    const hssize_t points = H5Sget_simple_extent_npoints(space);
    void *buffer = NULL;
    herr_t result = points < 0 ? -1 : 0;
    if (result >= 0 &&
        lmn_alloc_bytes(&buffer, (size_t)points * H5Tget_size(type) + 1, "attribute") != LMN_OK)
        result = -1;
    if (result >= 0) result = H5Aread(attribute, type, buffer);
    if (result >= 0) {
        hid_t copy = H5Acreate2(target, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        result = copy < 0 ? -1 : H5Awrite(copy, type, buffer);
        if (copy >= 0) H5Aclose(copy);
        /* Variable-length values were allocated by HDF5 on read. */
        if (H5Tdetect_class(type, H5T_VLEN) > 0 || H5Tis_variable_str(type) > 0)
            H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
    }
    lmn_free(buffer);
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attribute);
    return result < 0 ? -1 : 0;
}

static lmn_status copy_object_attributes(hid_t source_file, hid_t target_file, const char *object,
                                         const char *from, const char *to)
{
    hid_t source = H5Oopen(source_file, object, H5P_DEFAULT);
    hid_t target = H5Oopen(target_file, object, H5P_DEFAULT);
    herr_t result = source < 0 || target < 0
                        ? -1
                        : H5Aiterate2(source, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attribute,
                                      &target);
    if (target >= 0) H5Oclose(target);
    if (source >= 0) H5Oclose(source);
    if (result < 0)
        return lmn_fail(LMN_ERR_IO, "cannot copy the attributes of '%s' from '%s' to '%s'", object,
                        from, to);
    return LMN_OK;
}

/* Rank 0, with the output closed by every rank: the first input's root and
 * dataset attributes go into the output, serially (attribute writes under
 * the MPI-IO driver would need every rank to hold the values). */
static lmn_status copy_attributes(const concat_plan *plan, const char *path)
{
    hid_t source;
    LMN_TRY(open_input(plan->inputs[0], &source));
    hid_t target = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    lmn_status status = target < 0 ? lmn_fail(LMN_ERR_IO, "cannot reopen '%s'", path) : LMN_OK;
    if (status == LMN_OK)
        status = copy_object_attributes(source, target, "/", plan->inputs[0], path);
    for (int f = 0; status == LMN_OK && f < plan->field_count; f++)
        status = copy_object_attributes(source, target, plan->fields[f].name, plan->inputs[0],
                                        path);
    if (target >= 0 && H5Fclose(target) < 0 && status == LMN_OK)
        status = lmn_fail(LMN_ERR_IO, "cannot finish writing '%s'", path);
    H5Fclose(source);
    return status;
}

/* ---- concat, put together ---- */

/* Rank 0 reserves the temporary name and tells the others. */
static lmn_status share_temporary_name(const char *out_path, char temporary[TOOL_PATH_MAX],
                                       lmn_comm *comm)
{
    LMN_TRY(lmn_comm_agree(comm, comm->rank == 0 ? make_temporary_name(out_path, temporary)
                                                 : LMN_OK));
    return mpi_check(MPI_Bcast(temporary, TOOL_PATH_MAX, MPI_CHAR, 0, comm->comm), "MPI_Bcast");
}

static lmn_status write_parallel(const concat_plan *plan, const char *path, int gzip_level,
                                 lmn_comm *comm)
{
    concat_output output;
    lmn_status status = lmn_comm_agree(comm, create_output(plan, path, gzip_level, &comm->comm,
                                                           &output));
    if (status == LMN_OK) status = write_collectively(plan, &output, path, comm);
    /* Closing is collective under the MPI-IO driver: every rank, always. */
    lmn_status closed = close_output(&output, plan->field_count, path);
    return lmn_comm_agree(comm, status != LMN_OK ? status : closed);
}

static lmn_status concat_into(const concat_plan *plan, const char *temporary, const char *out_path,
                              int gzip_level, lmn_comm *comm)
{
    lmn_status status = write_parallel(plan, temporary, gzip_level, comm);
    if (status == LMN_ERR_BACKEND && gzip_level > 0)
        status = write_through_root(plan, temporary, gzip_level, comm);
    LMN_TRY(status);
    if (comm->rank == 0) {
        status = copy_attributes(plan, temporary);
        if (status == LMN_OK) status = publish(temporary, out_path);
    }
    return lmn_comm_agree(comm, status);
}

lmn_status lmn_data_concat(const char *const *inputs, int input_count, const char *out_path,
                           int gzip_level, MPI_Comm comm)
{
    LMN_TRY(check_gzip_level(gzip_level));
    if (!inputs || input_count < 1 || !out_path)
        return lmn_fail(LMN_ERR_ARG, "data concat needs at least one input and an output path");
    lmn_hdf5_silence_errors();
    lmn_comm *group;
    LMN_TRY(lmn_comm_create(comm, &group));
    concat_plan plan = {.inputs = inputs, .input_count = input_count};
    char temporary[TOOL_PATH_MAX] = {0};
    lmn_status status = share_plan(&plan, group);
    if (status == LMN_OK) status = share_temporary_name(out_path, temporary, group);
    if (status == LMN_OK) {
        status = concat_into(&plan, temporary, out_path, gzip_level, group);
        if (status != LMN_OK && group->rank == 0) unlink(temporary);
    }
    free_plan(&plan);
    lmn_comm_free(group);
    return status;
}
