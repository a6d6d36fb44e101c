#include "io/image_convert.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "io/hdf5_dataset.h"
#include "io/image_folder.h"

enum { ROUND_IMAGES = 1024, CONVERT_PATH_MAX = 4096 };

/* The open output: file, datasets and the collective transfer list. */
typedef struct convert_output {
    hid_t file, images, labels, transfer;
} convert_output;

static lmn_status create_output(const char *path, const lmn_dataset *ds, int gzip_level,
                                MPI_Comm comm, convert_output *out)
{
    *out = (convert_output){-1, -1, -1, -1};
    hid_t access_list = H5Pcreate(H5P_FILE_ACCESS);
    if (access_list >= 0 && H5Pset_fapl_mpio(access_list, comm, MPI_INFO_NULL) >= 0)
        out->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, access_list);
    if (access_list >= 0) H5Pclose(access_list);
    if (out->file < 0) return lmn_fail(LMN_ERR_IO, "cannot create HDF5 file '%s'", path);
    const hsize_t dims[4] = {(hsize_t)ds->count, (hsize_t)ds->channels, (hsize_t)ds->height,
                             (hsize_t)ds->width};
    hid_t image_space = H5Screate_simple(4, dims, NULL), label_space = H5Screate_simple(1, dims, NULL);
    hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    if (gzip_level > 0) {
        const hsize_t chunk[4] = {dims[0] < 64 ? dims[0] : 64, dims[1], dims[2], dims[3]};
        H5Pset_chunk(properties, 4, chunk);
        H5Pset_deflate(properties, (unsigned)gzip_level);
    }
    out->images = H5Dcreate2(out->file, "images", H5T_STD_U8LE, image_space, H5P_DEFAULT,
                             properties, H5P_DEFAULT);
    out->labels = H5Dcreate2(out->file, "labels", H5T_STD_I32LE, label_space, H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(properties);
    H5Sclose(image_space);
    H5Sclose(label_space);
    out->transfer = H5Pcreate(H5P_DATASET_XFER);
    if (out->images < 0 || out->labels < 0 || out->transfer < 0 ||
        H5Pset_dxpl_mpio(out->transfer, H5FD_MPIO_COLLECTIVE) < 0)
        return lmn_fail(LMN_ERR_IO, "cannot create the datasets of '%s'", path);
    return LMN_OK;
}

static lmn_status close_output(convert_output *out, const char *path)
{
    bool failed = false;
    if (out->transfer >= 0) H5Pclose(out->transfer);
    if (out->images >= 0) failed |= H5Dclose(out->images) < 0;
    if (out->labels >= 0) failed |= H5Dclose(out->labels) < 0;
    if (out->file >= 0) failed |= H5Fclose(out->file) < 0;
    *out = (convert_output){-1, -1, -1, -1};
    return failed ? lmn_fail(LMN_ERR_IO, "cannot finish writing '%s'", path) : LMN_OK;
}

/* Collective: rows [first, first + count) of dataset (count 0 selects none). */
static lmn_status write_rows(hid_t dataset, hid_t type, hid_t transfer, int rank, const hsize_t *row_dims,
                             int64_t first, int64_t count, const void *data, const char *path)
{
    hsize_t start[4] = {(hsize_t)first, 0, 0, 0}, extent[4];
    memcpy(extent, row_dims, sizeof extent);
    extent[0] = (hsize_t)count;
    hid_t file_space = H5Dget_space(dataset);
    hid_t memory_space = H5Screate_simple(rank, count > 0 ? extent : row_dims, NULL);
    herr_t result = count > 0 ? H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, extent, NULL)
                              : H5Sselect_none(file_space);
    if (result >= 0 && count == 0) result = H5Sselect_none(memory_space);
    if (result >= 0) result = H5Dwrite(dataset, type, memory_space, file_space, transfer, data);
    H5Sclose(memory_space);
    H5Sclose(file_space);
    if (result < 0) return lmn_fail(LMN_ERR_IO, "cannot write rows of '%s'", path);
    return LMN_OK;
}

/* Decodes images [first, first + count) into pixels, OpenMP over files. */
static lmn_status decode_round(const lmn_dataset *ds, int64_t first, int64_t count, uint8_t *pixels)
{
    const size_t size = (size_t)lmn_dataset_sample_size(ds);
    lmn_status failed = LMN_OK;
    char message[1024] = "";
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < count; i++) {
        const lmn_status status = lmn_image_folder_read_bytes(ds, (uint32_t)(first + i), pixels + (size_t)i * size);
        if (status != LMN_OK) {
#pragma omp critical(lmn_convert_failure)
            if (failed == LMN_OK) {
                failed = status;
                snprintf(message, sizeof message, "%s", lmn_last_error());
            }
        }
    }
    return failed == LMN_OK ? LMN_OK : lmn_fail(failed, "%s", message);
}

/* This rank's contiguous share, in rounds every rank joins. */
static lmn_status write_images(const lmn_dataset *ds, convert_output *out, const char *path, lmn_comm *comm)
{
    const int64_t first = ds->count * comm->rank / comm->size;
    const int64_t last = ds->count * (comm->rank + 1) / comm->size;
    const int64_t largest = (ds->count + comm->size - 1) / comm->size;
    const hsize_t row_dims[4] = {1, (hsize_t)ds->channels, (hsize_t)ds->height, (hsize_t)ds->width};
    uint8_t *pixels = malloc((size_t)ROUND_IMAGES * (size_t)lmn_dataset_sample_size(ds));
    lmn_status status = lmn_comm_agree(comm, pixels ? LMN_OK : lmn_fail(LMN_ERR_NOMEM, "no memory for a round of images"));
    for (int64_t done = 0; status == LMN_OK && done < largest; done += ROUND_IMAGES) {
        const int64_t start = first + done;
        const int64_t count = start >= last ? 0 : (last - start < ROUND_IMAGES ? last - start : ROUND_IMAGES);
        status = lmn_comm_agree(comm, decode_round(ds, start, count, pixels));
        if (status == LMN_OK)
            status = lmn_comm_agree(comm, write_rows(out->images, H5T_NATIVE_UINT8, out->transfer, 4,
                                                     row_dims, start, count, pixels, path));
    }
    free(pixels);
    if (status != LMN_OK) return status;
    const hsize_t label_dims[1] = {1};
    return lmn_comm_agree(comm, write_rows(out->labels, H5T_NATIVE_INT32, out->transfer, 1, label_dims, 0,
                                           comm->rank == 0 ? ds->count : 0, ds->labels, path));
}

static lmn_status write_attributes(hid_t file, const lmn_dataset *ds, const char *path)
{
    const hsize_t channels = (hsize_t)ds->channels;
    hid_t vector = H5Screate_simple(1, &channels, NULL), scalar = H5Screate(H5S_SCALAR);
    hid_t name_type = H5Tcopy(H5T_C_S1);
    H5Tset_size(name_type, strlen(ds->name) + 1);
    const int32_t classes = ds->num_classes;
    const struct { const char *name; hid_t type, space; const void *data; } attributes[] = {
        {"mean", H5T_NATIVE_FLOAT, vector, ds->mean}, {"std", H5T_NATIVE_FLOAT, vector, ds->std},
        {"num_classes", H5T_NATIVE_INT32, scalar, &classes}, {"name", name_type, scalar, ds->name}};
    herr_t result = 0;
    for (size_t a = 0; result >= 0 && a < sizeof attributes / sizeof attributes[0]; a++) {
        hid_t attribute = H5Acreate2(file, attributes[a].name, attributes[a].type, attributes[a].space,
                                     H5P_DEFAULT, H5P_DEFAULT);
        result = attribute < 0 ? -1 : H5Awrite(attribute, attributes[a].type, attributes[a].data);
        if (attribute >= 0) H5Aclose(attribute);
    }
    H5Tclose(name_type);
    H5Sclose(vector);
    H5Sclose(scalar);
    return result < 0 ? lmn_fail(LMN_ERR_IO, "cannot write the attributes of '%s'", path) : LMN_OK;
}

static lmn_status temporary_name(const char *out_path, char temporary[CONVERT_PATH_MAX], lmn_comm *comm)
{
    lmn_status status = LMN_OK;
    if (comm->rank == 0) {
        snprintf(temporary, CONVERT_PATH_MAX, "%s.tmp.XXXXXX", out_path);
        const int fd = mkstemp(temporary);
        if (fd < 0) status = lmn_fail(LMN_ERR_IO, "cannot create a temporary file next to '%s': %s",
                                      out_path, strerror(errno));
        else close(fd);
    }
    LMN_TRY(lmn_comm_agree(comm, status));
    if (MPI_Bcast(temporary, CONVERT_PATH_MAX, MPI_CHAR, 0, comm->comm) != MPI_SUCCESS)
        return lmn_fail(LMN_ERR_MPI, "cannot share the temporary name of '%s'", out_path);
    return LMN_OK;
}

static lmn_status convert_into(const lmn_dataset *ds, const char *temporary, int gzip_level, lmn_comm *comm)
{
    convert_output out;
    lmn_status status = lmn_comm_agree(comm, create_output(temporary, ds, gzip_level, comm->comm, &out));
    if (status == LMN_OK) status = write_images(ds, &out, temporary, comm);
    if (status == LMN_OK) status = lmn_comm_agree(comm, write_attributes(out.file, ds, temporary));
    const lmn_status closed = close_output(&out, temporary); /* collective: every rank, always */
    return lmn_comm_agree(comm, status != LMN_OK ? status : closed);
}

lmn_status lmn_data_convert_images(const char *root, bool train, int size, int channels,
                                   const char *out_path, int gzip_level, MPI_Comm comm)
{
    if (gzip_level < 0 || gzip_level > 9)
        return lmn_fail(LMN_ERR_ARG, "gzip level %d: use 0 (no compression) to 9", gzip_level);
    lmn_hdf5_silence_errors();
    const lmn_image_folder_options options = lmn_image_folder_defaults(size, channels);
    lmn_comm *group;
    LMN_TRY(lmn_comm_create(comm, &group));
    lmn_dataset *ds = NULL;
    lmn_status status = lmn_comm_agree(group, lmn_dataset_load_image_folder(root, train, &options, comm, &ds));
    char temporary[CONVERT_PATH_MAX] = "";
    if (status == LMN_OK) status = temporary_name(out_path, temporary, group);
    if (status == LMN_OK) {
        status = convert_into(ds, temporary, gzip_level, group);
        if (group->rank == 0 && status == LMN_OK && rename(temporary, out_path) != 0)
            status = lmn_fail(LMN_ERR_IO, "cannot rename '%s' to '%s': %s", temporary, out_path, strerror(errno));
        status = lmn_comm_agree(group, status);
        if (status != LMN_OK && group->rank == 0) unlink(temporary);
    }
    lmn_dataset_free(ds);
    lmn_comm_free(group);
    return status;
}
