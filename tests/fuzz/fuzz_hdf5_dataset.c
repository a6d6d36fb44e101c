/* HDF5 datasets: the in-memory loader (MPI-IO driver on MPI_COMM_SELF) for
 * classification and regression, and the out-of-core opener (sec2 driver)
 * with one row read. The input is the HDF5 file image. */
#include "fuzz_common.h"

#include "data/dataset.h"
#include "io/hdf5_rows.h"

static void gather_first(const lmn_dataset *ds)
{
    const size_t sample = (size_t)ds->channels * (size_t)(ds->depth ? ds->depth : 1) *
                          (size_t)ds->height * (size_t)ds->width;
    if (sample > (1u << 24)) return;
    float *x = malloc(sample * sizeof *x);
    int32_t label;
    const uint32_t index = (uint32_t)(ds->count - 1);
    (void)lmn_dataset_gather(ds, &index, 1, 1, 0, x, &label);
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                          const void *values)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (set < 0 || H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) abort();
    H5Dclose(set);
    H5Sclose(space);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_init_mpi();
    char path[128];
    fuzz_temp_path(path, sizeof path, "warm.h5");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) abort();
    const hsize_t dims[4] = {2, 1, 2, 2};
    const uint8_t pixels[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int32_t labels[2] = {0, 1};
    const float targets[2] = {0.5f, 1.5f};
    write_dataset(file, "images", H5T_NATIVE_UINT8, 4, dims, pixels);
    write_dataset(file, "labels", H5T_NATIVE_INT32, 1, dims, labels);
    write_dataset(file, "targets", H5T_NATIVE_FLOAT, 1, dims, targets);
    H5Fclose(file);
    fuzz_warm_up(path, LLVMFuzzerTestOneInput);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20) return 0;
    fuzz_file file;
    fuzz_file_open_tmpfs(&file, data, size);
    lmn_dataset *ds = NULL;
    if (lmn_dataset_load_hdf5(file.path, "images", "labels", MPI_COMM_SELF, &ds) == LMN_OK) {
        gather_first(ds);
        lmn_dataset_free(ds);
    }
    ds = NULL;
    if (lmn_dataset_load_hdf5_regression(file.path, "images", "targets", MPI_COMM_SELF, &ds) ==
        LMN_OK)
        lmn_dataset_free(ds);
    ds = NULL;
    lmn_hdf5_rows_info info;
    if (lmn_hdf5_rows_probe(file.path, "images", "labels", NULL, &info) == LMN_OK) {
        const lmn_hdf5_rows_options options = {.path = file.path, .images_name = "images",
                                               .labels_name = "labels", .cache_rows = 4,
                                               .ranks = 1, .max_memory_mb = 64};
        if (lmn_hdf5_rows_open(&options, &ds) == LMN_OK) {
            gather_first(ds);
            lmn_dataset_free(ds);
        }
    }
    fuzz_file_close(&file);
    return 0;
}
