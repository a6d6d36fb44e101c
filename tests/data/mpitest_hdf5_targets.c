/* Regression sets in HDF5 read with the parallel reader on 2 ranks:
 * volumes (N x C x D x H x W) with vector targets, images with image
 * targets, and the rejected files. */
#include <hdf5.h>
#include <mpi.h>
#include <string.h>

#include "data/data_testing.h"
#include "data/dataset.h"
#include "io/hdf5_dataset.h"
#include "test.h"

enum { COUNT = 7, C = 2, D = 3, H = 4, W = 5, VOLUME = C * D * H * W, K = 3 };

static void put(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dataset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(dataset >= 0 && H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(dataset);
    H5Sclose(space);
}

/* volumes.h5: float volumes with `target_rows` rows of K float64 targets
 * (value 1000 i + k); images.h5: uint8 1 x 4 x 4 images with 1 x 8 x 8
 * float32 image targets. */
static void write_files(const char *dir, int target_rows)
{
    char path[TEST_PATH_MAX];
    static float volumes[COUNT * VOLUME];
    static double targets[COUNT * K];
    for (int j = 0; j < COUNT * VOLUME; j++) volumes[j] = 0.5f * (float)j;
    for (int i = 0; i < COUNT; i++)
        for (int k = 0; k < K; k++) targets[i * K + k] = 1000.0 * i + k;
    test_join(path, dir, "volumes.h5");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t volume_dims[5] = {COUNT, C, D, H, W};
    const hsize_t target_dims[2] = {(hsize_t)target_rows, K};
    put(file, "images", H5T_NATIVE_FLOAT, 5, volume_dims, volumes);
    put(file, "params", H5T_NATIVE_DOUBLE, 2, target_dims, targets);
    H5Fclose(file);

    static uint8_t pixels[COUNT * 16];
    static float high[COUNT * 64];
    for (int j = 0; j < COUNT * 16; j++) pixels[j] = (uint8_t)j;
    for (int j = 0; j < COUNT * 64; j++) high[j] = (float)j / 64.0f;
    test_join(path, dir, "images.h5");
    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t image_dims[4] = {COUNT, 1, 4, 4}, high_dims[4] = {COUNT, 1, 8, 8};
    put(file, "images", H5T_NATIVE_UINT8, 4, image_dims, pixels);
    put(file, "targets", H5T_NATIVE_FLOAT, 4, high_dims, high);
    H5Fclose(file);
}

static void test_volumes(const char *dir)
{
    char path[TEST_PATH_MAX];
    test_join(path, dir, "volumes.h5");
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_hdf5_regression(path, "images", "params", MPI_COMM_WORLD, &ds));
    if (!ds) return;
    CHECK(ds->count == COUNT && ds->channels == C && ds->depth == D && ds->height == H &&
          ds->width == W);
    CHECK(lmn_dataset_sample_size(ds) == VOLUME && lmn_dataset_target_size(ds) == K);
    CHECK(ds->has_targets && !ds->image_targets && ds->num_classes == 1);
    const uint32_t indices[3] = {6, 0, 3};
    float volumes[3 * VOLUME], targets[3 * K];
    CHECK_OK(lmn_dataset_gather(ds, indices, 3, 1, 0, volumes, NULL));
    CHECK_OK(lmn_dataset_gather_targets(ds, indices, 3, targets));
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < VOLUME; j += 17)
            CHECK(volumes[i * VOLUME + j] == 0.5f * (float)(indices[i] * VOLUME + j));
        for (int k = 0; k < K; k++) CHECK(targets[i * K + k] == 1000.0f * indices[i] + k);
    }
    lmn_dataset_free(ds);
}

static void test_image_targets(const char *dir)
{
    char path[TEST_PATH_MAX];
    test_join(path, dir, "images.h5");
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_hdf5_regression(path, "images", "targets", MPI_COMM_WORLD, &ds));
    if (!ds) return;
    CHECK(ds->depth == 0 && ds->height == 4 && ds->image_targets);
    CHECK(ds->target_shape.c == 1 && ds->target_shape.d == 0 && ds->target_shape.h == 8 &&
          ds->target_shape.w == 8);
    const uint32_t index = 5;
    float image[16], target[64];
    CHECK_OK(lmn_dataset_gather(ds, &index, 1, 1, 0, image, NULL));
    CHECK_OK(lmn_dataset_gather_targets(ds, &index, 1, target));
    CHECK_CLOSE(image[3], (5 * 16 + 3) / 255.0, 1e-6);
    CHECK(target[63] == (float)(5 * 64 + 63) / 64.0f);
    lmn_dataset_free(ds);
}

static void test_errors(const char *dir)
{
    char path[TEST_PATH_MAX];
    lmn_dataset *ds = NULL;
    test_join(path, dir, "volumes.h5");
    CHECK(lmn_dataset_load_hdf5_regression(path, "images", "nope", MPI_COMM_WORLD, &ds) ==
          LMN_ERR_FORMAT);
    CHECK(strstr(lmn_last_error(), "no dataset 'nope'") && strstr(lmn_last_error(), "params"));
    /* Targets that are images of the wrong count of rows. */
    MPI_Barrier(MPI_COMM_WORLD);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) write_files(dir, COUNT - 2);
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK(lmn_dataset_load_hdf5_regression(path, "images", "params", MPI_COMM_WORLD, &ds) ==
          LMN_ERR_FORMAT);
    CHECK(strstr(lmn_last_error(), "5 rows of targets in 'params'") != NULL);
    CHECK(ds == NULL);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    lmn_hdf5_silence_errors();
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char dir[TEST_PATH_MAX] = "";
    if (rank == 0) {
        CHECK(test_make_temp_dir(dir));
        write_files(dir, COUNT);
    }
    MPI_Bcast(dir, TEST_PATH_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
    test_volumes(dir);
    test_image_targets(dir);
    test_errors(dir);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) test_remove_temp_dir(dir);
    const int failed = lmn_test_summary("hdf5 regression targets") != 0;
    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any_failed;
}
