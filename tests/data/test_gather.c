/* Batch assembly: normalization, crop and flip, determinism. */
#include <omp.h>
#include <string.h>

#include "data/dataset.h"
#include "data/dataset_internal.h"
#include "data_testing.h"
#include "test.h"

enum { C = 2, H = 5, W = 6, SIZE = C * H * W, SAMPLES = 3 };

static const float MEAN[C] = {0.5f, 0.25f}, STD[C] = {0.2f, 0.5f};

static uint8_t pixel(int sample, int j) { return (uint8_t)(sample * 24 + j * 5 + 1); }

static lmn_dataset *make_dataset(void)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_create(SAMPLES, C, H, W, 4, true, "tiny", &ds));
    if (!ds) exit(1);
    for (int i = 0; i < SAMPLES; i++) {
        ds->labels[i] = 3 - i;
        for (int j = 0; j < SIZE; j++) ds->pixels[i * SIZE + j] = pixel(i, j);
    }
    for (int c = 0; c < C; c++) ds->mean[c] = MEAN[c], ds->std[c] = STD[c];
    return ds;
}

/* The normalized value of sample at (c, y, x), or of the zero padding. */
static float expected(int sample, int c, int y, int x)
{
    const float value = (y < 0 || y >= H || x < 0 || x >= W)
                            ? 0.0f
                            : pixel(sample, (c * H + y) * W + x) / 255.0f;
    return (value - MEAN[c]) / STD[c];
}

/* Does out equal sample shifted by (dy, dx) and, if flip, mirrored? */
static int matches(const float *out, int sample, int dy, int dx, int flip)
{
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const int source_x = (flip ? W - 1 - x : x) + dx;
                if (fabsf(out[(c * H + y) * W + x] - expected(sample, c, y + dy, source_x)) > 1e-5f)
                    return 0;
            }
    return 1;
}

static void test_normalization(void)
{
    lmn_dataset *ds = make_dataset();
    const uint32_t indices[2] = {2, 0};
    float out[2 * SIZE];
    int32_t labels[2];
    CHECK_OK(lmn_dataset_gather(ds, indices, 2, 1, 0, out, labels));
    CHECK(labels[0] == 1 && labels[1] == 3);
    CHECK(matches(out, 2, 0, 0, 0) && matches(out + SIZE, 0, 0, 0, 0));
    /* One value by hand: sample 2, channel 1, first pixel = 24*2 + 30*5 + 1 = 199. */
    CHECK_CLOSE(out[H * W], (199 / 255.0 - 0.25) / 0.5, 1e-6);

    const uint32_t bad[2] = {0, 3};
    CHECK(lmn_dataset_gather(ds, bad, 2, 1, 0, out, labels) == LMN_ERR_ARG);
    CHECK_MSG(strstr(lmn_last_error(), "tiny") && strstr(lmn_last_error(), "index 3"), "%s",
              lmn_last_error());
    CHECK(lmn_dataset_gather(ds, indices, -1, 1, 0, out, labels) == LMN_ERR_ARG);
    CHECK_OK(lmn_dataset_gather(ds, indices, 2, 1, 0, out, NULL));
    lmn_dataset_free(ds);
}

/* Gathers sample 1 at each epoch and counts which placements appear. */
static void test_augmentation(int pad, int flip)
{
    lmn_dataset *ds = make_dataset();
    ds->augment = true;
    ds->crop_pad = pad;
    ds->flip = flip;
    int seen_flip[2] = {0}, seen_shift[5][5] = {{0}}, unmatched = 0;
    const uint32_t batch[3] = {0, 1, 2}, alone[1] = {1};
    for (int epoch = 0; epoch < 200; epoch++) {
        float out[3 * SIZE], again[SIZE];
        CHECK_OK(lmn_dataset_gather(ds, batch, 3, 7, (uint64_t)epoch, out, NULL));
        /* Same (seed, epoch, sample) gives the same image at another batch position. */
        CHECK_OK(lmn_dataset_gather(ds, alone, 1, 7, (uint64_t)epoch, again, NULL));
        CHECK(memcmp(out + SIZE, again, sizeof again) == 0);
        int found = 0;
        for (int f = 0; f <= flip && !found; f++)
            for (int dy = -pad; dy <= pad && !found; dy++)
                for (int dx = -pad; dx <= pad && !found; dx++)
                    if (matches(out + SIZE, 1, dy, dx, f)) {
                        found = 1;
                        seen_flip[f]++;
                        seen_shift[dy + 2][dx + 2]++;
                    }
        unmatched += !found;
    }
    CHECK_MSG(unmatched == 0, "pad %d flip %d: %d outputs are no crop/flip of the input", pad,
              flip, unmatched);
    if (flip) CHECK(seen_flip[0] > 60 && seen_flip[1] > 60);
    int shifts = 0;
    for (int dy = 0; dy < 5; dy++)
        for (int dx = 0; dx < 5; dx++) shifts += seen_shift[dy][dx] > 0;
    CHECK_MSG(shifts == (2 * pad + 1) * (2 * pad + 1), "pad %d: %d distinct shifts", pad, shifts);

    /* Another seed draws other placements. */
    float first[SIZE], second[SIZE];
    int differ = 0;
    for (int epoch = 0; epoch < 8; epoch++) {
        CHECK_OK(lmn_dataset_gather(ds, alone, 1, 7, (uint64_t)epoch, first, NULL));
        CHECK_OK(lmn_dataset_gather(ds, alone, 1, 8, (uint64_t)epoch, second, NULL));
        differ += memcmp(first, second, sizeof first) != 0;
    }
    CHECK(differ > 0);
    lmn_dataset_free(ds);
}

static void test_threads_agree(void)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_synthetic(64, 3, 8, 8, 10, 3, &ds));
    if (!ds) return;
    ds->augment = true;
    ds->crop_pad = 2;
    ds->flip = true;
    uint32_t indices[64];
    for (int i = 0; i < 64; i++) indices[i] = (uint32_t)(63 - i);
    static float one[64 * 192], two[64 * 192];
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_OK(lmn_dataset_gather(ds, indices, 64, 1, 2, one, NULL));
    omp_set_num_threads(3);
    CHECK_OK(lmn_dataset_gather(ds, indices, 64, 1, 2, two, NULL));
    omp_set_num_threads(threads);
    CHECK(memcmp(one, two, sizeof one) == 0);
    lmn_dataset_free(ds);
}

/* The published constants make Fashion-MNIST's training set ~N(0, 1). */
static void test_fashion_mnist_statistics(void)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), true, &ds));
    if (!ds) return;
    enum { CHUNK = 2000 };
    static uint32_t indices[CHUNK];
    static float out[CHUNK * 784];
    double sum = 0, squares = 0;
    for (int64_t start = 0; start < ds->count; start += CHUNK) {
        for (int i = 0; i < CHUNK; i++) indices[i] = (uint32_t)(start + i);
        CHECK_OK(lmn_dataset_gather(ds, indices, CHUNK, 0, 0, out, NULL));
        for (int j = 0; j < CHUNK * 784; j++) sum += out[j], squares += (double)out[j] * out[j];
    }
    const double n = (double)ds->count * 784, mean = sum / n;
    CHECK_CLOSE(mean, 0.0, 0.01);
    CHECK_CLOSE(sqrt(squares / n - mean * mean), 1.0, 0.01);
    lmn_dataset_free(ds);
}

int main(void)
{
    test_normalization();
    test_augmentation(0, 1);
    test_augmentation(2, 0);
    test_augmentation(2, 1);
    test_threads_agree();
    test_fashion_mnist_statistics();
    return lmn_test_summary("data_test_gather");
}
