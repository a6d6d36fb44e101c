/* HDF5 datasets: Fashion-MNIST converted and read back must gather exactly
 * what the idx loader gathers; float32 images; every rejected file. */
#include <hdf5.h>
#include <mpi.h>
#include <string.h>

#include "data/dataset.h"
#include "io/hdf5_dataset.h"
#include "data/data_testing.h"
#include "io/data_tools.h"
#include "test.h"

/* ---- Writing test files with the serial HDF5 API ---- */

static hid_t create_file(const char *path)
{
    return H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

/* A dataset of native type `type` holding data as it is. */
static void put_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                        const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dataset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(dataset >= 0 && H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(dataset);
    H5Sclose(space);
}

static void put_attribute(hid_t file, const char *name, hid_t type, hsize_t count, const void *data)
{
    hid_t space = count == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, NULL);
    hid_t attribute = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(attribute >= 0 && H5Awrite(attribute, type, data) >= 0);
    H5Aclose(attribute);
    H5Sclose(space);
}

enum { SMALL_COUNT = 6, SMALL_SIDE = 4, SMALL_VALUES = SMALL_COUNT * SMALL_SIDE * SMALL_SIDE };

/* A small set: `count` 4 x 4 images of image_type (uint8 values 0..95 or
 * the equivalent numbers in other types) and labels 0..count-1 of
 * label_type (converted from int64). */
static void write_small(const char *path, hid_t image_type, int image_rank, hsize_t count,
                        hid_t label_type, hsize_t label_count, const int64_t *labels)
{
    double values[SMALL_VALUES];
    for (int j = 0; j < SMALL_VALUES; j++) values[j] = j;
    const hsize_t dims4[4] = {count, 1, SMALL_SIDE, SMALL_SIDE};
    const hsize_t dims3[3] = {count, SMALL_SIDE, SMALL_SIDE};
    const hsize_t dims2[2] = {count, SMALL_SIDE * SMALL_SIDE};
    const hsize_t *dims = image_rank == 4 ? dims4 : image_rank == 3 ? dims3 : dims2;
    unsigned char converted[SMALL_VALUES * 8];
    memcpy(converted, values, sizeof values);
    CHECK(H5Tconvert(H5T_NATIVE_DOUBLE, image_type, SMALL_VALUES, converted, NULL, H5P_DEFAULT) >= 0);
    int64_t label_values[SMALL_COUNT + 1];
    for (hsize_t i = 0; i < label_count; i++) label_values[i] = labels ? labels[i] : (int64_t)i;
    unsigned char label_bytes[sizeof label_values];
    memcpy(label_bytes, label_values, sizeof label_values);
    CHECK(H5Tconvert(H5T_NATIVE_INT64, label_type, label_count, label_bytes, NULL, H5P_DEFAULT) >= 0);
    hid_t file = create_file(path);
    put_dataset(file, "images", image_type, image_rank, dims, converted);
    put_dataset(file, "labels", label_type, 1, &label_count, label_bytes);
    H5Fclose(file);
}

/* ---- Fashion-MNIST round trip ---- */

static void check_same_batches(const lmn_dataset *a, const lmn_dataset *b)
{
    enum { BATCH = 64 };
    uint32_t indices[BATCH];
    for (int i = 0; i < BATCH; i++) indices[i] = (uint32_t)((i * 7919u + 13u) % (uint32_t)a->count);
    indices[BATCH - 1] = (uint32_t)a->count - 1;
    const size_t values = (size_t)BATCH * (size_t)lmn_dataset_sample_size(a);
    float *images_a = calloc(values, sizeof(float)), *images_b = calloc(values, sizeof(float));
    int32_t labels_a[BATCH], labels_b[BATCH];
    CHECK_OK(lmn_dataset_gather(a, indices, BATCH, 1, 0, images_a, labels_a));
    CHECK_OK(lmn_dataset_gather(b, indices, BATCH, 1, 0, images_b, labels_b));
    CHECK(memcmp(images_a, images_b, values * sizeof(float)) == 0);
    CHECK(memcmp(labels_a, labels_b, sizeof labels_a) == 0);
    free(images_a);
    free(images_b);
}

static void test_fashion_mnist_round_trip(const char *dir, char *converted)
{
    test_join(converted, dir, "fashion-mnist-t10k.h5");
    CHECK_OK(lmn_data_convert("fashion-mnist", test_data_dir(), false, converted, 1));
    lmn_dataset *reference = NULL, *loaded = NULL;
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), false, &reference));
    CHECK_OK(lmn_dataset_load_hdf5(converted, "images", "labels", MPI_COMM_SELF, &loaded));
    if (!reference || !loaded) return;
    CHECK(loaded->count == 10000 && loaded->count == reference->count);
    CHECK(loaded->channels == 1 && loaded->height == 28 && loaded->width == 28);
    CHECK(loaded->num_classes == 10);
    CHECK(strcmp(loaded->name, "fashion-mnist") == 0);
    CHECK(loaded->values == NULL && loaded->pixels != NULL);
    CHECK(loaded->mean[0] == reference->mean[0] && loaded->std[0] == reference->std[0]);
    CHECK(memcmp(loaded->pixels, reference->pixels, (size_t)reference->count * 784) == 0);
    check_same_batches(reference, loaded);
    lmn_dataset_free(reference);
    lmn_dataset_free(loaded);
}

/* ---- float32 images ---- */

static void test_float_images(const char *dir)
{
    char path[TEST_PATH_MAX];
    test_join(path, dir, "float.h5");
    const int64_t labels[SMALL_COUNT] = {2, 0, 1, 2, 0, 1};
    write_small(path, H5T_NATIVE_FLOAT, 3, SMALL_COUNT, H5T_NATIVE_UINT8, SMALL_COUNT, labels);
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_hdf5(path, "images", "labels", MPI_COMM_SELF, &ds));
    if (!ds) return;
    CHECK(ds->count == SMALL_COUNT && ds->channels == 1 && ds->height == SMALL_SIDE);
    CHECK(ds->values != NULL && ds->pixels == NULL);
    CHECK(ds->num_classes == 3 && ds->labels[0] == 2 && ds->labels[5] == 1);
    CHECK(ds->mean[0] == 0.0f && ds->std[0] == 1.0f);
    CHECK(strcmp(ds->name, "float.h5") == 0);
    /* Raw values, no /255: sample 2 holds 32..47. */
    float image[SMALL_SIDE * SMALL_SIDE];
    uint32_t index = 2;
    CHECK_OK(lmn_dataset_gather(ds, &index, 1, 0, 0, image, NULL));
    CHECK(image[0] == 32.0f && image[15] == 47.0f);
    lmn_dataset_free(ds);

    /* mean/std/num_classes attributes apply. */
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    const float mean = 8.0f, std = 4.0f;
    const int32_t classes = 7;
    put_attribute(file, "mean", H5T_NATIVE_FLOAT, 1, &mean);
    put_attribute(file, "std", H5T_NATIVE_FLOAT, 1, &std);
    put_attribute(file, "num_classes", H5T_NATIVE_INT32, 1, &classes);
    H5Fclose(file);
    CHECK_OK(lmn_dataset_load_hdf5(path, "images", "labels", MPI_COMM_SELF, &ds));
    if (!ds) return;
    CHECK(ds->num_classes == 7 && ds->mean[0] == 8.0f && ds->std[0] == 4.0f);
    CHECK_OK(lmn_dataset_gather(ds, &index, 1, 0, 0, image, NULL));
    CHECK(image[0] == 6.0f && image[15] == 9.75f);
    lmn_dataset_free(ds);
}

/* ---- Errors ---- */

static void expect_error(const char *path, const char *images, lmn_status code,
                         const char *fragment_a, const char *fragment_b)
{
    lmn_dataset *ds = (lmn_dataset *)&ds; /* must be reset to NULL */
    const lmn_status status = lmn_dataset_load_hdf5(path, images, "labels", MPI_COMM_SELF, &ds);
    CHECK_MSG(status == code, "%s: got status %d, want %d (%s)", path, (int)status, (int)code,
              lmn_last_error());
    CHECK(ds == NULL);
    CHECK_MSG(strstr(lmn_last_error(), fragment_a) && strstr(lmn_last_error(), fragment_b),
              "message '%s' lacks '%s' or '%s'", lmn_last_error(), fragment_a, fragment_b);
}

static void truncate_copy(const char *from, const char *to)
{
    FILE *file = fopen(from, "rb");
    CHECK(file != NULL);
    if (!file) return;
    fseek(file, 0, SEEK_END);
    const long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *bytes = malloc((size_t)size);
    CHECK(fread(bytes, 1, (size_t)size, file) == (size_t)size);
    fclose(file);
    CHECK(test_write_file(to, bytes, (size_t)size / 2));
    free(bytes);
}

static void test_errors(const char *dir, const char *converted)
{
    char path[TEST_PATH_MAX];
    test_join(path, dir, "missing.h5");
    expect_error(path, "images", LMN_ERR_IO, "missing.h5", "cannot read");

    test_join(path, dir, "text.h5");
    CHECK(test_write_file(path, "not hdf5 at all\n", 16));
    expect_error(path, "images", LMN_ERR_FORMAT, "text.h5", "not a valid HDF5");

    test_join(path, dir, "truncated.h5");
    truncate_copy(converted, path);
    expect_error(path, "images", LMN_ERR_FORMAT, "truncated.h5", "truncated");

    expect_error(converted, "pictures", LMN_ERR_FORMAT, "has no dataset 'pictures'",
                 "(datasets present: images, labels)");

    test_join(path, dir, "int16.h5");
    write_small(path, H5T_NATIVE_INT16, 4, SMALL_COUNT, H5T_NATIVE_INT32, SMALL_COUNT, NULL);
    expect_error(path, "images", LMN_ERR_FORMAT, "int16.h5", "dtype int16");

    test_join(path, dir, "float_labels.h5");
    write_small(path, H5T_NATIVE_UINT8, 4, SMALL_COUNT, H5T_NATIVE_DOUBLE, SMALL_COUNT, NULL);
    expect_error(path, "images", LMN_ERR_FORMAT, "'labels' has dtype float64",
                 "labels must be integers");

    test_join(path, dir, "rank2.h5");
    write_small(path, H5T_NATIVE_UINT8, 2, SMALL_COUNT, H5T_NATIVE_INT32, SMALL_COUNT, NULL);
    expect_error(path, "images", LMN_ERR_FORMAT, "rank2.h5", "has shape 6 x 16");

    test_join(path, dir, "counts.h5");
    write_small(path, H5T_NATIVE_UINT8, 4, SMALL_COUNT - 1, H5T_NATIVE_INT64, SMALL_COUNT, NULL);
    expect_error(path, "images", LMN_ERR_FORMAT, "has 5 images in 'images'", "but 6 labels");

    test_join(path, dir, "negative.h5");
    const int64_t negative[SMALL_COUNT] = {0, 1, 2, -3, 1, 0};
    write_small(path, H5T_NATIVE_UINT8, 4, SMALL_COUNT, H5T_NATIVE_INT8, SMALL_COUNT, negative);
    expect_error(path, "images", LMN_ERR_FORMAT, "negative.h5", "label -3 at row 3 is negative");

    /* Attributes that contradict the data. */
    test_join(path, dir, "attributes.h5");
    write_small(path, H5T_NATIVE_UINT8, 4, SMALL_COUNT, H5T_NATIVE_INT32, SMALL_COUNT, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    const int32_t classes = 4;
    put_attribute(file, "num_classes", H5T_NATIVE_INT32, 1, &classes);
    H5Fclose(file);
    expect_error(path, "images", LMN_ERR_FORMAT, "has label 5", "num_classes is 4");
    file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(file, "num_classes");
    const float two_means[2] = {0.5f, 0.5f};
    put_attribute(file, "mean", H5T_NATIVE_FLOAT, 2, two_means);
    H5Fclose(file);
    expect_error(path, "images", LMN_ERR_FORMAT, "'mean' has 2 values", "one per channel (1)");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char dir[TEST_PATH_MAX], converted[TEST_PATH_MAX];
    if (!test_make_temp_dir(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_fashion_mnist_round_trip(dir, converted);
    test_float_images(dir);
    test_errors(dir, converted);
    CHECK(lmn_data_convert("fashion-mnist", test_data_dir(), false, converted, 10) == LMN_ERR_ARG);
    test_remove_temp_dir(dir);
    const int result = lmn_test_summary("test_hdf5_dataset");
    MPI_Finalize();
    return result;
}
