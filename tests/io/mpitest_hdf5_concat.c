/* Parallel HDF5 on 2 ranks: concatenating shards of uneven sizes (one
 * empty) with and without gzip gives the rows in input order and the first
 * input's attributes; loading the result gives every rank the full set;
 * bad inputs fail on every rank with the same message. */
#include <hdf5.h>
#include <mpi.h>
#include <string.h>

#include "data/dataset.h"
#include "io/hdf5_dataset.h"
#include "data/data_testing.h"
#include "io/data_tools.h"
#include "test.h"

enum { SHARDS = 5, CHANNELS = 2, SIDE = 3, PIXELS = CHANNELS * SIDE * SIDE, MAX_ROWS = 64 };
static const int SHARD_ROWS[SHARDS] = {4, 1, 0, 6, 3};

/* The expected content of global row r (rows numbered across shards). */
static uint8_t pixel_of(int row, int j) { return (uint8_t)(row * 31 + j * 7 + 1); }
static int32_t label_of(int row) { return (int32_t)((row * 5 + 2) % 9); }
static double weight_of(int row, int k) { return row * 0.25 - k; }

static void put_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                        const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dataset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(dataset >= 0 && H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(dataset);
    H5Sclose(space);
}

static void put_attribute(hid_t object, const char *name, hid_t type, hsize_t count,
                          const void *data)
{
    hid_t space = count == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, NULL);
    hid_t attribute = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(attribute >= 0 && H5Awrite(attribute, type, data) >= 0);
    H5Aclose(attribute);
    H5Sclose(space);
}

/* Shard s holds global rows [first, first + rows): images (uint8
 * rows x 2 x 3 x 3), labels (int32) and weights (float64 rows x 2). Only
 * shard 0 carries mean/std/num_classes attributes; image_side lets a test
 * write a shard of the wrong shape. */
static void write_shard(const char *path, int shard, int first, int rows, int image_side)
{
    uint8_t pixels[MAX_ROWS * PIXELS * 4];
    int32_t labels[MAX_ROWS];
    double weights[MAX_ROWS * 2];
    const int pixels_per_row = CHANNELS * image_side * image_side;
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < pixels_per_row; j++) pixels[r * pixels_per_row + j] = pixel_of(first + r, j);
        labels[r] = label_of(first + r);
        for (int k = 0; k < 2; k++) weights[r * 2 + k] = weight_of(first + r, k);
    }
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t image_dims[4] = {(hsize_t)rows, CHANNELS, (hsize_t)image_side,
                                   (hsize_t)image_side};
    const hsize_t label_dims[1] = {(hsize_t)rows}, weight_dims[2] = {(hsize_t)rows, 2};
    put_dataset(file, "images", H5T_NATIVE_UINT8, 4, image_dims, pixels);
    put_dataset(file, "labels", H5T_NATIVE_INT32, 1, label_dims, labels);
    put_dataset(file, "weights", H5T_NATIVE_DOUBLE, 2, weight_dims, weights);
    if (shard == 0) {
        const float mean[CHANNELS] = {0.25f, 0.5f}, std[CHANNELS] = {0.5f, 2.0f};
        const int32_t classes = 12;
        put_attribute(file, "mean", H5T_NATIVE_FLOAT, CHANNELS, mean);
        put_attribute(file, "std", H5T_NATIVE_FLOAT, CHANNELS, std);
        put_attribute(file, "num_classes", H5T_NATIVE_INT32, 1, &classes);
        hid_t dataset = H5Dopen2(file, "weights", H5P_DEFAULT);
        const int32_t version = 3;
        put_attribute(dataset, "version", H5T_NATIVE_INT32, 1, &version);
        H5Dclose(dataset);
    }
    H5Fclose(file);
}

static int total_rows(void)
{
    int total = 0;
    for (int s = 0; s < SHARDS; s++) total += SHARD_ROWS[s];
    return total;
}

/* Reads the concatenated file serially and compares every value. */
static void check_concatenated(const char *path, int expect_filters)
{
    const int total = total_rows();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK_MSG(file >= 0, "cannot open %s", path);
    if (file < 0) return;
    uint8_t pixels[MAX_ROWS * PIXELS];
    int32_t labels[MAX_ROWS];
    double weights[MAX_ROWS * 2];
    hid_t images = H5Dopen2(file, "images", H5P_DEFAULT);
    hid_t space = H5Dget_space(images);
    hsize_t dims[4] = {0};
    CHECK(H5Sget_simple_extent_ndims(space) == 4);
    H5Sget_simple_extent_dims(space, dims, NULL);
    CHECK(dims[0] == (hsize_t)total && dims[1] == CHANNELS && dims[2] == SIDE && dims[3] == SIDE);
    H5Sclose(space);
    CHECK(H5Dread(images, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels) >= 0);
    hid_t creation = H5Dget_create_plist(images);
    CHECK(H5Pget_nfilters(creation) == expect_filters);
    H5Pclose(creation);
    H5Dclose(images);
    hid_t dataset = H5Dopen2(file, "labels", H5P_DEFAULT);
    CHECK(H5Dread(dataset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) >= 0);
    H5Dclose(dataset);
    dataset = H5Dopen2(file, "weights", H5P_DEFAULT);
    CHECK(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, weights) >= 0);
    int32_t version = 0;
    hid_t attribute = H5Aopen(dataset, "version", H5P_DEFAULT);
    CHECK(attribute >= 0 && H5Aread(attribute, H5T_NATIVE_INT32, &version) >= 0 && version == 3);
    H5Aclose(attribute);
    H5Dclose(dataset);
    CHECK(H5Aexists(file, "mean") > 0 && H5Aexists(file, "num_classes") > 0);
    H5Fclose(file);
    int wrong = 0;
    for (int r = 0; r < total; r++) {
        for (int j = 0; j < PIXELS; j++) wrong += pixels[r * PIXELS + j] != pixel_of(r, j);
        wrong += labels[r] != label_of(r);
        for (int k = 0; k < 2; k++) wrong += weights[r * 2 + k] != weight_of(r, k);
    }
    CHECK_MSG(wrong == 0, "%s: %d values out of place", path, wrong);
}

/* Every rank must hold the full, normalized dataset. */
static void check_loaded(const char *path)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_hdf5(path, "images", "labels", MPI_COMM_WORLD, &ds));
    if (!ds) return;
    const int total = total_rows();
    CHECK(ds->count == total && ds->channels == CHANNELS && ds->height == SIDE);
    CHECK(ds->num_classes == 12);
    CHECK(ds->mean[1] == 0.5f && ds->std[1] == 2.0f);
    int wrong = 0;
    for (int r = 0; r < total; r++) {
        for (int j = 0; j < PIXELS; j++) wrong += ds->pixels[r * PIXELS + j] != pixel_of(r, j);
        wrong += ds->labels[r] != label_of(r);
    }
    CHECK_MSG(wrong == 0, "loaded copy of %s: %d values out of place", path, wrong);
    const uint32_t last = (uint32_t)total - 1;
    float image[PIXELS];
    CHECK_OK(lmn_dataset_gather(ds, &last, 1, 0, 0, image, NULL));
    const float expected = ((float)pixel_of(total - 1, PIXELS - 1) / 255.0f - 0.5f) / 2.0f;
    CHECK_CLOSE(image[PIXELS - 1], expected, 1e-6);
    lmn_dataset_free(ds);
}

static void expect_same_error(lmn_status status, lmn_status code, const char *fragment_a,
                              const char *fragment_b)
{
    CHECK_MSG(status == code, "got status %d, want %d (%s)", (int)status, (int)code,
              lmn_last_error());
    CHECK_MSG(strstr(lmn_last_error(), fragment_a) && strstr(lmn_last_error(), fragment_b),
              "message '%s' lacks '%s' or '%s'", lmn_last_error(), fragment_a, fragment_b);
}

static void test_errors(const char *dir, const char *const *shards, int rank)
{
    char bad[TEST_PATH_MAX], out[TEST_PATH_MAX];
    test_join(bad, dir, "wrong_shape.h5");
    test_join(out, dir, "never.h5");
    if (rank == 0) write_shard(bad, 1, 0, 2, SIDE + 1);
    MPI_Barrier(MPI_COMM_WORLD);
    const char *inputs[3] = {shards[0], bad, shards[1]};
    expect_same_error(lmn_data_concat(inputs, 3, out, 0, MPI_COMM_WORLD), LMN_ERR_FORMAT,
                      "wrong_shape.h5' dataset 'images'", "dimensions after the first");
    CHECK(access(out, F_OK) != 0);
    expect_same_error(lmn_dataset_load_hdf5(shards[0], "pictures", "labels", MPI_COMM_WORLD,
                                            &(lmn_dataset *){NULL}),
                      LMN_ERR_FORMAT, "has no dataset 'pictures'",
                      "(datasets present: images, labels, weights)");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char dir[TEST_PATH_MAX] = {0};
    if (rank == 0 && !test_make_temp_dir(dir)) fprintf(stderr, "cannot create a temporary directory\n");
    MPI_Bcast(dir, TEST_PATH_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (!dir[0]) MPI_Abort(MPI_COMM_WORLD, 1);

    char storage[SHARDS][TEST_PATH_MAX];
    const char *shards[SHARDS];
    for (int s = 0, first = 0; s < SHARDS; first += SHARD_ROWS[s], s++) {
        char name[32];
        snprintf(name, sizeof name, "shard%d.h5", s);
        test_join(storage[s], dir, name);
        shards[s] = storage[s];
        if (rank == 0) write_shard(shards[s], s, first, SHARD_ROWS[s], SIDE);
    }
    MPI_Barrier(MPI_COMM_WORLD);

    const int levels[2] = {0, 4};
    for (int l = 0; l < 2; l++) {
        char out[TEST_PATH_MAX], name[32];
        snprintf(name, sizeof name, "joined_gzip%d.h5", levels[l]);
        test_join(out, dir, name);
        CHECK_OK(lmn_data_concat(shards, SHARDS, out, levels[l], MPI_COMM_WORLD));
        check_concatenated(out, levels[l] > 0 ? 1 : 0);
        check_loaded(out);
    }
    test_errors(dir, shards, rank);

    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) test_remove_temp_dir(dir);
    /* Every rank's verdict counts. */
    int failures = lmn_test_failures;
    MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    int result = lmn_test_summary("mpitest_hdf5_concat");
    if (failures > 0 && rank == 0)
        fprintf(stderr, "mpitest_hdf5_concat: %d failed checks over %d ranks\n", failures, size);
    if (failures > 0) result = 1;
    MPI_Finalize();
    return result;
}
