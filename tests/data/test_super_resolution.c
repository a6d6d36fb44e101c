/* Super-resolution pairs from Fashion-MNIST: resampling kernels against
 * hand-computed values, the derived set's shapes and values, determinism,
 * the baseline PSNR, PSNR itself, and the errors. */
#include <math.h>
#include <string.h>

#include "core/memory.h"
#include "data/data_testing.h"
#include "data/dataset.h"
#include "data/resample.h"
#include "data/super_resolution.h"
#include "test.h"

static void test_box_downsample(void)
{
    /* 2 channels of 4 x 4 -> 2 x 2 x 2; each output is its block's mean. */
    float in[32], out[8];
    for (int j = 0; j < 32; j++) in[j] = (float)j;
    lmn_box_downsample(in, 2, 4, 4, 2, out);
    const float expected[8] = {2.5f, 4.5f, 10.5f, 12.5f, 18.5f, 20.5f, 26.5f, 28.5f};
    for (int j = 0; j < 8; j++) CHECK_CLOSE(out[j], expected[j], 1e-6);
    lmn_box_downsample(in, 1, 4, 4, 4, out);
    CHECK_CLOSE(out[0], 7.5, 1e-6);
}

static void test_upsampling(void)
{
    /* A constant stays constant (the kernel's weights sum to 1). */
    float flat[9], up[36];
    for (int j = 0; j < 9; j++) flat[j] = 0.25f;
    lmn_bicubic_upsample(flat, 1, 3, 3, 2, 0.0f, 0.0f, up);
    for (int j = 0; j < 36; j++) CHECK_CLOSE(up[j], 0.25, 1e-6);
    /* A ramp along x is reproduced exactly away from the borders: cubic
     * convolution is exact for linear functions; output x sits at input
     * coordinate (x + 0.5) / 2 - 0.5. */
    float ramp[8 * 8], big[16 * 16];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) ramp[y * 8 + x] = (float)x;
    lmn_bicubic_upsample(ramp, 1, 8, 8, 2, 0.0f, 0.0f, big);
    for (int x = 4; x < 12; x++) CHECK_CLOSE(big[5 * 16 + x], (x + 0.5) / 2.0 - 0.5, 1e-5);
    /* Hand-computed: input [0, 1] on one row, output x = 1 is at source
     * 0.25: weights of taps (-1, 0, 1, 2) = (-0.0703125, 0.8671875,
     * 0.2265625, -0.0234375); with edge repetition the value is
     * 1 * (0.2265625 - 0.0234375) = 0.203125. */
    const float pair[2] = {0.0f, 1.0f};
    float four[2 * 4]; /* 1 x 2 upsampled by 2: 2 rows of 4 */
    lmn_bicubic_upsample(pair, 1, 1, 2, 2, 0.0f, 0.0f, four);
    CHECK_CLOSE(four[1], 0.203125, 1e-6);
    CHECK_CLOSE(four[2], 0.796875, 1e-6);
    CHECK_CLOSE(four[4 + 1], 0.203125, 1e-6); /* the second row repeats the first */
    /* Clamping: an overshooting step is kept inside [0, 1]. */
    const float step[4] = {0.0f, 0.0f, 1.0f, 1.0f};
    float eight[2 * 8], clamped[2 * 8]; /* 1 x 4 upsampled by 2: 2 rows of 8 */
    lmn_bicubic_upsample(step, 1, 1, 4, 2, 0.0f, 0.0f, eight);
    lmn_bicubic_upsample(step, 1, 1, 4, 2, 0.0f, 1.0f, clamped);
    float lowest = 1.0f, highest = 0.0f;
    for (int j = 0; j < 16; j++) {
        lowest = fminf(lowest, eight[j]);
        highest = fmaxf(highest, clamped[j]);
        CHECK(clamped[j] >= 0.0f && clamped[j] <= 1.0f);
    }
    CHECK(lowest < 0.0f); /* the unclamped kernel does overshoot */
    CHECK(highest <= 1.0f);
    /* Nearest repeats. */
    float near[16];
    const float two[4] = {1, 2, 3, 4};
    lmn_nearest_upsample(two, 1, 2, 2, 2, near);
    const float expected[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    CHECK(memcmp(near, expected, sizeof expected) == 0);
}

static void test_psnr(void)
{
    CHECK_CLOSE(lmn_psnr_db(0.01, 1.0), 20.0, 1e-12);
    CHECK_CLOSE(lmn_psnr_db(1e-4, 1.0), 40.0, 1e-12);
    CHECK_CLOSE(lmn_psnr_db(65.025, 255.0), 30.0, 1e-9);
    CHECK_CLOSE(lmn_psnr_db(0.0, 1.0), 100.0, 1e-12); /* perfect: capped */
    const float a[4] = {0, 0, 0, 0}, b[4] = {0.1f, -0.1f, 0.1f, -0.1f};
    CHECK_CLOSE(lmn_mean_squared_error(a, b, 4), 0.01, 1e-7);
}

static void test_derived_set(void)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), false, &ds));
    if (!ds) return;
    const uint8_t *pixels = ds->pixels;
    uint8_t first_pixels[784];
    memcpy(first_pixels, pixels + 784 * 7, sizeof first_pixels);
    const int32_t label = ds->labels[7];
    CHECK_OK(lmn_dataset_derive_super_resolution(&ds, 2, LMN_SR_INPUT_LOW));
    CHECK(lmn_dataset_is_super_resolution(ds));
    CHECK(ds->count == 10000 && ds->channels == 1 && ds->height == 14 && ds->width == 14);
    CHECK(ds->depth == 0 && ds->has_targets && ds->image_targets);
    CHECK(ds->target_shape.c == 1 && ds->target_shape.h == 28 && ds->target_shape.w == 28);
    CHECK(lmn_dataset_target_size(ds) == 784 && lmn_dataset_sample_size(ds) == 196);
    CHECK(ds->labels[7] == label);
    char shape[64];
    lmn_dataset_describe_target_shape(ds, shape, sizeof shape);
    CHECK(strcmp(shape, "1 x 28 x 28") == 0);

    const uint32_t indices[3] = {7, 0, 9999};
    float inputs[3 * 196], again[3 * 196], targets[3 * 784];
    int32_t labels[3];
    CHECK_OK(lmn_dataset_gather(ds, indices, 3, 1, 0, inputs, labels));
    CHECK_OK(lmn_dataset_gather(ds, indices, 3, 9, 5, again, NULL)); /* no augmentation: same */
    CHECK(memcmp(inputs, again, sizeof inputs) == 0);
    CHECK_OK(lmn_dataset_gather_targets(ds, indices, 3, targets));
    CHECK(labels[0] == label);
    double worst_target = 0.0, worst_input = 0.0;
    for (int j = 0; j < 784; j++)
        worst_target = fmax(worst_target, fabs(targets[j] - first_pixels[j] / 255.0));
    for (int y = 0; y < 14; y++)
        for (int x = 0; x < 14; x++) {
            const int at = 2 * y * 28 + 2 * x;
            const double mean = (first_pixels[at] + first_pixels[at + 1] + first_pixels[at + 28] +
                                 first_pixels[at + 29]) / (4.0 * 255.0);
            worst_input = fmax(worst_input, fabs(inputs[y * 14 + x] - mean));
        }
    CHECK(worst_target < 1e-7);
    CHECK(worst_input < 1e-6);

    double bicubic = 0.0, nearest = 0.0;
    CHECK_OK(lmn_dataset_sr_baseline_psnr(ds, 1.0, &bicubic, &nearest));
    printf("x2 baseline on the Fashion-MNIST test set: bicubic %.3f dB, nearest %.3f dB\n", bicubic,
           nearest);
    CHECK(bicubic > nearest && nearest > 10.0 && bicubic < 40.0);
    /* The baseline is the mean per-image PSNR: recompute image 0 by hand. */
    float high[784], low[196], up[784];
    memcpy(high, targets + 784, sizeof high);
    lmn_box_downsample(high, 1, 28, 28, 2, low);
    CHECK(memcmp(low, inputs + 196, sizeof low) == 0);
    lmn_bicubic_upsample(low, 1, 14, 14, 2, 0.0f, 1.0f, up);
    CHECK(lmn_psnr_db(lmn_mean_squared_error(up, high, 784), 1.0) > 5.0);
    lmn_dataset_free(ds);

    /* Upsampled inputs (VDSR): the input is the bicubic image, 28 x 28. */
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), false, &ds));
    if (!ds) return;
    CHECK_OK(lmn_dataset_derive_super_resolution(&ds, 2, LMN_SR_INPUT_UPSAMPLED));
    CHECK(ds->height == 28 && ds->width == 28 && lmn_dataset_target_size(ds) == 784);
    float upsampled[784];
    CHECK_OK(lmn_dataset_gather(ds, indices + 1, 1, 1, 0, upsampled, NULL));
    CHECK(memcmp(upsampled, up, sizeof up) == 0);
    /* x4 gives 7 x 7 inputs. */
    lmn_dataset_free(ds);
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), false, &ds));
    if (!ds) return;
    CHECK_OK(lmn_dataset_derive_super_resolution(&ds, 4, LMN_SR_INPUT_LOW));
    CHECK(ds->height == 7 && ds->width == 7);
    lmn_dataset_free(ds);
}

static void test_errors(void)
{
    lmn_dataset *ds = NULL, *before;
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), false, &ds));
    if (!ds) return;
    before = ds;
    CHECK(lmn_dataset_derive_super_resolution(&ds, 3, LMN_SR_INPUT_LOW) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "data.sr_factor") && strstr(lmn_last_error(), "28 x 28"));
    CHECK(ds == before);
    CHECK(lmn_dataset_derive_super_resolution(&ds, 8, LMN_SR_INPUT_LOW) == LMN_ERR_CONFIG);
    CHECK(lmn_dataset_gather_targets(ds, (const uint32_t[]){0}, 1, (float[1]){0}) == LMN_ERR_ARG);
    CHECK(strstr(lmn_last_error(), "class labels") != NULL);
    lmn_dataset_free(ds);
    CHECK_OK(lmn_dataset_synthetic(10, 1, 8, 8, 2, 1, &ds));
    if (!ds) return;
    CHECK(lmn_dataset_derive_super_resolution(&ds, 2, LMN_SR_INPUT_LOW) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "data.derive") != NULL);
    lmn_dataset_free(ds);
}

int main(void)
{
    test_box_downsample();
    test_upsampling();
    test_psnr();
    test_derived_set();
    test_errors();
    return lmn_test_summary("super-resolution data");
}
