/* idx loader: the real Fashion-MNIST files and hand-made bad files. */
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"
#include "data_testing.h"
#include "test.h"

static void put_u32(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)(value >> 24);
    at[1] = (uint8_t)(value >> 16);
    at[2] = (uint8_t)(value >> 8);
    at[3] = (uint8_t)value;
}

/* An idx images file: header (magic, count, rows, cols) and payload_bytes
 * bytes of pixels, pixel j = j * 7 mod 256. */
static int write_images(const char *path, uint32_t magic, uint32_t count, uint32_t rows,
                        uint32_t cols, size_t payload_bytes)
{
    uint8_t *bytes = calloc(16 + payload_bytes, 1);
    put_u32(bytes, magic);
    put_u32(bytes + 4, count);
    put_u32(bytes + 8, rows);
    put_u32(bytes + 12, cols);
    for (size_t j = 0; j < payload_bytes; j++) bytes[16 + j] = (uint8_t)(j * 7);
    const int ok = test_write_file(path, bytes, 16 + payload_bytes);
    free(bytes);
    return ok;
}

/* An idx labels file with the given labels. */
static int write_labels(const char *path, uint32_t magic, uint32_t count, const uint8_t *labels,
                        size_t label_bytes)
{
    uint8_t bytes[64];
    put_u32(bytes, magic);
    put_u32(bytes + 4, count);
    memcpy(bytes + 8, labels, label_bytes);
    return test_write_file(path, bytes, 8 + label_bytes);
}

/* Decompresses a .gz file to a plain one. */
static int gunzip_file(const char *from, const char *to)
{
    gzFile in = gzopen(from, "rb");
    FILE *out = fopen(to, "wb");
    int ok = in && out;
    char buffer[1 << 16];
    int n;
    while (ok && (n = gzread(in, buffer, sizeof buffer)) > 0)
        ok = fwrite(buffer, 1, (size_t)n, out) == (size_t)n;
    if (in) gzclose(in);
    if (out) fclose(out);
    return ok;
}

static int gzip_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    gzFile out = gzopen(to, "wb");
    int ok = in && out;
    char buffer[4096];
    size_t n;
    while (ok && (n = fread(buffer, 1, sizeof buffer, in)) > 0)
        ok = gzwrite(out, buffer, (unsigned)n) == (int)n;
    if (in) fclose(in);
    if (out) gzclose(out);
    return ok;
}

/* Expects status `expected` and a message that contains each needle. */
static void check_failure(lmn_status status, lmn_status expected, const char *needle1,
                          const char *needle2)
{
    CHECK_MSG(status == expected, "got %s, wanted %s (%s)", lmn_status_name(status),
              lmn_status_name(expected), lmn_last_error());
    CHECK_MSG(strstr(lmn_last_error(), needle1) != NULL, "'%s' not in: %s", needle1,
              lmn_last_error());
    if (needle2)
        CHECK_MSG(strstr(lmn_last_error(), needle2) != NULL, "'%s' not in: %s", needle2,
                  lmn_last_error());
}

static void test_real_fashion_mnist(const char *scratch)
{
    lmn_dataset *train = NULL, *test = NULL, *plain = NULL;
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), true, &train));
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), false, &test));
    if (!train || !test) return;
    CHECK(train->count == 60000 && test->count == 10000);
    CHECK(train->channels == 1 && train->height == 28 && train->width == 28);
    CHECK(train->num_classes == 10 && strcmp(train->name, "fashion-mnist") == 0);
    CHECK_CLOSE(train->mean[0], 0.2860, 1e-6);
    CHECK_CLOSE(train->std[0], 0.3530, 1e-6);
    CHECK(!train->augment);
    CHECK(train->labels[0] == 9); /* the first training image is an ankle boot */
    int64_t per_class[10] = {0}, out_of_range = 0;
    for (int64_t i = 0; i < train->count; i++) {
        if (train->labels[i] >= 0 && train->labels[i] < 10)
            per_class[train->labels[i]]++;
        else
            out_of_range++;
    }
    CHECK(out_of_range == 0);
    for (int k = 0; k < 10; k++) CHECK_MSG(per_class[k] == 6000, "class %d: %lld", k, (long long)per_class[k]);
    int64_t sum = 0;
    for (int64_t j = 0; j < train->count * 784; j++) sum += train->pixels[j];
    CHECK_CLOSE(sum / (255.0 * 60000 * 784), 0.2860, 2e-3);

    /* A gunzipped copy holds the same data (the loader falls back to plain). */
    char from[TEST_PATH_MAX], to[TEST_PATH_MAX];
    const char *names[2] = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int f = 0; f < 2; f++) {
        char gz_name[64];
        snprintf(gz_name, sizeof gz_name, "%s.gz", names[f]);
        test_join(from, test_data_dir(), gz_name);
        test_join(to, scratch, names[f]);
        CHECK(gunzip_file(from, to));
    }
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", scratch, false, &plain));
    if (plain) {
        CHECK(plain->count == test->count);
        CHECK(memcmp(plain->pixels, test->pixels, (size_t)test->count * 784) == 0);
        CHECK(memcmp(plain->labels, test->labels, (size_t)test->count * sizeof(int32_t)) == 0);
    }
    for (int f = 0; f < 2; f++) {
        test_join(to, scratch, names[f]);
        unlink(to);
    }
    lmn_dataset_free(plain);
    lmn_dataset_free(train);
    lmn_dataset_free(test);
}

static void test_small_files(const char *dir)
{
    char images[TEST_PATH_MAX], labels[TEST_PATH_MAX], gz_images[TEST_PATH_MAX];
    test_join(images, dir, "images.idx");
    test_join(labels, dir, "labels.idx");
    test_join(gz_images, dir, "images.idx.gz");
    const uint8_t good_labels[5] = {3, 0, 9, 1, 3};
    lmn_dataset *ds = NULL;

    /* Well formed: 5 images of 3 x 4, plain and gzip'd. */
    CHECK(write_images(images, 2051, 5, 3, 4, 60));
    CHECK(write_labels(labels, 2049, 5, good_labels, 5));
    CHECK(gzip_file(images, gz_images));
    const char *variants[2] = {images, gz_images};
    for (int v = 0; v < 2; v++) {
        CHECK_OK(lmn_dataset_load_idx(variants[v], labels, &ds));
        if (!ds) continue;
        CHECK(ds->count == 5 && ds->channels == 1 && ds->height == 3 && ds->width == 4);
        CHECK(ds->pixels[0] == 0 && ds->pixels[13] == 91 && ds->pixels[59] == (uint8_t)(59 * 7));
        CHECK(ds->labels[2] == 9 && ds->labels[4] == 3);
        CHECK(ds->mean[0] == 0.0f && ds->std[0] == 1.0f);
        lmn_dataset_free(ds);
        ds = NULL;
    }

    /* Truncated gzip stream: cut the compressed file in half. */
    char cut[TEST_PATH_MAX];
    test_join(cut, dir, "cut.idx.gz");
    {
        FILE *file = fopen(gz_images, "rb");
        uint8_t buffer[4096];
        const size_t n = fread(buffer, 1, sizeof buffer, file);
        fclose(file);
        CHECK(test_write_file(cut, buffer, n / 2));
    }
    check_failure(lmn_dataset_load_idx(cut, labels, &ds), LMN_ERR_FORMAT, cut, NULL);
    CHECK(ds == NULL);

    /* Missing files. */
    char missing[TEST_PATH_MAX];
    test_join(missing, dir, "no-such-file.gz");
    check_failure(lmn_dataset_load_idx(missing, labels, &ds), LMN_ERR_IO, missing, NULL);
    check_failure(lmn_dataset_load_idx(images, missing, &ds), LMN_ERR_IO, missing, NULL);

    /* Wrong magic, and swapped files. */
    CHECK(write_images(images, 2052, 5, 3, 4, 60));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, images, "2052");
    CHECK(write_images(images, 2051, 5, 3, 4, 60));
    check_failure(lmn_dataset_load_idx(labels, images, &ds), LMN_ERR_FORMAT, labels, "swapped");

    /* Truncated plain images: 60 bytes promised, 50 present. */
    CHECK(write_images(images, 2051, 5, 3, 4, 50));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, images, "60");
    CHECK(strstr(lmn_last_error(), "found 50") != NULL);
    /* Header cut short. */
    CHECK(test_write_file(images, "\0\0\x08\x03\0\0", 6));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, images, "header");
    /* More data than the header says. */
    CHECK(write_images(images, 2051, 5, 3, 4, 61));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, images, NULL);
    /* Zero-sized images. */
    CHECK(write_images(images, 2051, 5, 0, 4, 0));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, images, NULL);

    /* Mismatched counts: 5 images, 4 labels. */
    CHECK(write_images(images, 2051, 5, 3, 4, 60));
    CHECK(write_labels(labels, 2049, 4, good_labels, 4));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, labels, images);

    /* Label out of range. */
    const uint8_t bad_labels[5] = {3, 0, 10, 1, 3};
    CHECK(write_labels(labels, 2049, 5, bad_labels, 5));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, labels, "label 10");
    /* Truncated labels. */
    CHECK(write_labels(labels, 2049, 5, good_labels, 3));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, labels, "found 3");
    CHECK(ds == NULL);
}

/* Found by tests/fuzz/fuzz_idx: a 16-byte header claiming 2^31 - 1 images
 * of 4096 x 4096 made the reader allocate the promised 2^55 bytes before
 * reading any (out of memory, or an ASan abort). Now the claim is checked
 * against what the file can hold first: a plain file its size, a gzip'd
 * one at most 1032 times its size (deflate's limit). */
static void test_header_promises_more_than_the_file_holds(const char *dir)
{
    char images[TEST_PATH_MAX], labels[TEST_PATH_MAX], gz_images[TEST_PATH_MAX];
    test_join(images, dir, "huge.idx");
    test_join(labels, dir, "huge-labels.idx");
    test_join(gz_images, dir, "huge.idx.gz");
    const uint8_t good_labels[2] = {1, 2};
    CHECK(write_labels(labels, 2049, 2, good_labels, 2));
    lmn_dataset *ds = NULL;
    CHECK(write_images(images, 2051, 0x7fffffffu, 4096, 4096, 32));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, images, "truncated");
    CHECK(strstr(lmn_last_error(), "found 32") != NULL);
    CHECK(gzip_file(images, gz_images));
    check_failure(lmn_dataset_load_idx(gz_images, labels, &ds), LMN_ERR_FORMAT, gz_images,
                  "gzip file of");
    /* The fuzzer's own input: 65,539 images of 2048 x 49 (6.5 GB) promised
     * by a 49-byte file. */
    CHECK(write_images(images, 2051, 65539, 2048, 49, 33));
    check_failure(lmn_dataset_load_idx(images, labels, &ds), LMN_ERR_FORMAT, images, "truncated");
    CHECK(ds == NULL);
}

static void test_named_errors(const char *dir)
{
    lmn_dataset *ds = NULL;
    check_failure(lmn_dataset_load_named("fashion-mnist", dir, true, &ds), LMN_ERR_IO, dir,
                  "train-images-idx3-ubyte");
    check_failure(lmn_dataset_load_named("mnist", dir, false, &ds), LMN_ERR_IO, dir,
                  "t10k-images-idx3-ubyte.gz");
    check_failure(lmn_dataset_load_named("imagenet", dir, true, &ds), LMN_ERR_ARG, "imagenet",
                  "cifar10");
    CHECK(ds == NULL);
}

int main(void)
{
    char dir[TEST_PATH_MAX];
    if (!test_make_temp_dir(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_real_fashion_mnist(dir);
    test_small_files(dir);
    test_header_promises_more_than_the_file_holds(dir);
    test_named_errors(dir);
    test_remove_temp_dir(dir);
    return lmn_test_summary("data_test_idx");
}
