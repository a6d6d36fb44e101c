/* CIFAR-10/100 binary files written here, loaded back. */
#include <string.h>

#include "data/dataset.h"
#include "data_testing.h"
#include "test.h"

enum { PIXELS = 3072 };

static uint8_t pixel_value(int file, int record, int j) { return (uint8_t)(file * 31 + record * 7 + j); }

/* Writes `records` records; label_bytes = 1 (CIFAR-10) or 2 (CIFAR-100);
 * labels[r] is the (fine) label, the coarse one is 19 - r. Drops the last
 * `cut` bytes to make a truncated file. */
static int write_cifar(const char *path, int file, int records, int label_bytes,
                       const uint8_t *labels, size_t cut)
{
    const size_t record_bytes = (size_t)label_bytes + PIXELS;
    uint8_t *bytes = calloc((size_t)records * record_bytes, 1);
    for (int r = 0; r < records; r++) {
        uint8_t *record = bytes + (size_t)r * record_bytes;
        if (label_bytes == 2) record[0] = (uint8_t)(19 - r);
        record[label_bytes - 1] = labels[r];
        for (int j = 0; j < PIXELS; j++) record[label_bytes + j] = pixel_value(file, r, j);
    }
    const int ok = test_write_file(path, bytes, (size_t)records * record_bytes - cut);
    free(bytes);
    return ok;
}

static int pixels_match(const lmn_dataset *ds, int64_t sample, int file, int record)
{
    for (int j = 0; j < PIXELS; j++)
        if (ds->pixels[sample * PIXELS + j] != pixel_value(file, record, j)) return 0;
    return 1;
}

static void test_cifar10(const char *dir)
{
    const int records[5] = {2, 3, 1, 2, 1};
    const uint8_t labels[3] = {9, 0, 5};
    char path[TEST_PATH_MAX], name[32];
    for (int f = 0; f < 5; f++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        test_join(path, dir, name);
        CHECK(write_cifar(path, f, records[f], 1, labels, 0));
    }
    test_join(path, dir, "test_batch.bin");
    CHECK(write_cifar(path, 7, 2, 1, labels, 0));

    lmn_dataset *train = NULL, *test = NULL;
    CHECK_OK(lmn_dataset_load_named("cifar10", dir, true, &train));
    if (train) {
        CHECK(train->count == 9 && train->channels == 3 && train->height == 32 &&
              train->width == 32 && train->num_classes == 10);
        int64_t sample = 0;
        for (int f = 0; f < 5; f++)
            for (int r = 0; r < records[f]; r++, sample++) {
                CHECK(train->labels[sample] == labels[r]);
                CHECK_MSG(pixels_match(train, sample, f, r), "file %d record %d", f, r);
            }
        CHECK(train->augment && train->crop_pad == 4 && train->flip);
        CHECK_CLOSE(train->mean[1], 0.4822, 1e-6);
        CHECK_CLOSE(train->std[2], 0.2616, 1e-6);
        CHECK(strcmp(train->name, "cifar10") == 0);
    }
    CHECK_OK(lmn_dataset_load_named("cifar10", dir, false, &test));
    if (test) {
        CHECK(test->count == 2 && test->labels[1] == 0 && pixels_match(test, 1, 7, 1));
        CHECK(!test->augment);
    }
    lmn_dataset_free(train);
    lmn_dataset_free(test);

    /* A truncated record. */
    test_join(path, dir, "test_batch.bin");
    CHECK(write_cifar(path, 7, 2, 1, labels, 100));
    lmn_dataset *ds = NULL;
    CHECK(lmn_dataset_load_named("cifar10", dir, false, &ds) == LMN_ERR_FORMAT);
    CHECK_MSG(strstr(lmn_last_error(), path) != NULL, "%s", lmn_last_error());
    CHECK(strstr(lmn_last_error(), "2973 bytes over") != NULL);
    /* A label out of range. */
    const uint8_t bad_labels[2] = {3, 10};
    CHECK(write_cifar(path, 7, 2, 1, bad_labels, 0));
    CHECK(lmn_dataset_load_named("cifar10", dir, false, &ds) == LMN_ERR_FORMAT);
    CHECK_MSG(strstr(lmn_last_error(), "label 10") != NULL, "%s", lmn_last_error());
    /* A missing training batch. */
    test_join(path, dir, "data_batch_3.bin");
    unlink(path);
    CHECK(lmn_dataset_load_named("cifar10", dir, true, &ds) == LMN_ERR_IO);
    CHECK_MSG(strstr(lmn_last_error(), path) != NULL, "%s", lmn_last_error());
    CHECK(ds == NULL);
}

static void test_cifar100(const char *dir)
{
    const uint8_t labels[3] = {5, 35, 99};
    char path[TEST_PATH_MAX];
    test_join(path, dir, "train.bin");
    CHECK(write_cifar(path, 2, 3, 2, labels, 0));
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_named("cifar100", dir, true, &ds));
    if (ds) {
        CHECK(ds->count == 3 && ds->num_classes == 100);
        for (int r = 0; r < 3; r++) {
            CHECK(ds->labels[r] == labels[r]); /* the fine label, not 19 - r */
            CHECK(pixels_match(ds, r, 2, r));
        }
        CHECK_CLOSE(ds->mean[0], 0.5071, 1e-6);
        CHECK(ds->augment);
    }
    lmn_dataset_free(ds);
    ds = NULL;
    /* CIFAR-10 records read as CIFAR-100 do not divide into records. */
    test_join(path, dir, "test.bin");
    CHECK(write_cifar(path, 2, 3, 1, labels, 0));
    CHECK(lmn_dataset_load_named("cifar100", dir, false, &ds) == LMN_ERR_FORMAT);
    CHECK_MSG(strstr(lmn_last_error(), path) != NULL, "%s", lmn_last_error());
    CHECK(ds == NULL);
}

int main(void)
{
    char dir[TEST_PATH_MAX];
    if (!test_make_temp_dir(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_cifar10(dir);
    test_cifar100(dir);
    test_remove_temp_dir(dir);
    return lmn_test_summary("data_test_cifar");
}
