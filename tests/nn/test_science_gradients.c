/* Back-propagation through the science-workload layer kinds (conv3d,
 * maxpool3d, avgpool3d, upsample nearest / pixel shuffle, leaky_relu,
 * scale, add reading the network input, linear reading a volume) on the
 * ref backend, against central finite differences of a mean squared error
 * — which also covers networks whose output is an image. Plus the forward
 * values of the parameter-free kinds worked out by hand. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "kernels/kernels.h"
#include "kernels/loss.h"
#include "nn/model.h"
#include "nn/network.h"
#include "nn/science_models.h"
#include "gradient_check.h"
#include "test.h"

enum { BATCH = 3, SAMPLES_PER_TENSOR = 6 };


/* ---- finite differences ------------------------------------------------ */

typedef struct problem {
    lmn_network *net;
    int batch;
    const float *x, *target;
} problem;

static double mean_loss(const problem *pb, float *dout)
{
    const float *y = NULL;
    if (lmn_network_forward(pb->net, pb->batch, pb->x, true, 7, &y) != LMN_OK) {
        fprintf(stderr, "forward failed: %s\n", lmn_last_error());
        return NAN;
    }
    return lmn_mse_loss(y, pb->target, pb->batch, pb->net->num_outputs, 1.0f / (float)pb->batch,
                        dout) /
           pb->batch;
}

/* The finite-difference check's view of a problem: its mean loss. */
static double problem_loss(const void *pb) { return mean_loss(pb, NULL); }

static void fill_uniform(float *values, size_t count, lmn_rng *rng)
{
    for (size_t i = 0; i < count; i++) values[i] = 2.0f * lmn_rng_uniform(rng) - 1.0f;
}

static void check_gradients(const char *model, void (*build)(lmn_model_spec *),
                            lmn_layer_shape input, lmn_layer_shape expect_output, uint64_t seed)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    lmn_model_spec spec = {0};
    build(&spec);
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create_shape(be, &spec, input, &net));
    if (!net) {
        lmn_model_spec_free(&spec);
        lmn_backend_destroy(be);
        return;
    }
    const lmn_layer_shape out = lmn_network_output_shape(net);
    CHECK_MSG(out.c == expect_output.c && out.d == expect_output.d && out.h == expect_output.h &&
                  out.w == expect_output.w,
              "%s: output %dx%dx%dx%d, expected %dx%dx%dx%d", model, out.c, out.d, out.h, out.w,
              expect_output.c, expect_output.d, expect_output.h, expect_output.w);
    CHECK((size_t)net->num_outputs == lmn_shape_values(out));
    lmn_network_init_params(net, seed);
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(99, 2));
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        if (view->role == LMN_ROLE_BIAS)
            for (size_t k = 0; k < view->count; k++)
                net->params[view->offset + k] += 0.2f * (2.0f * lmn_rng_uniform(&rng) - 1.0f);
    }
    const size_t input_count = (size_t)BATCH * lmn_shape_values(input);
    const size_t output_count = (size_t)BATCH * (size_t)net->num_outputs;
    float *x = NULL, *target = NULL, *dout = NULL, *analytic = NULL;
    CHECK_OK(lmn_alloc_floats(&x, input_count, "input"));
    CHECK_OK(lmn_alloc_floats(&target, output_count, "target"));
    CHECK_OK(lmn_alloc_floats(&dout, output_count, "dout"));
    CHECK_OK(lmn_alloc_floats(&analytic, net->param_count, "analytic gradients"));
    fill_uniform(x, input_count, &rng);
    fill_uniform(target, output_count, &rng);
    const problem pb = {net, BATCH, x, target};

    CHECK(isfinite(mean_loss(&pb, dout)));
    CHECK_OK(lmn_network_backward(net, dout));
    memcpy(analytic, net->grads, net->param_count * sizeof(float));

    int checked = 0, kinks = 0, bad = 0;
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        const double scale = tensor_scale(net, view);
        CHECK_MSG(scale > 0.0, "%s: %s has an all-zero gradient", model, view->name);
        const int samples = view->count < SAMPLES_PER_TENSOR ? (int)view->count : SAMPLES_PER_TENSOR;
        for (int s = 0; s < samples; s++) {
            const size_t k = samples == 1 ? 0 : (size_t)s * (view->count - 1) / (size_t)(samples - 1);
            const entry_outcome outcome =
                check_entry(problem_loss, &pb, net, view, k, analytic[view->offset + k], scale);
            if (outcome == ENTRY_KINK) {
                kinks++;
                continue;
            }
            checked++;
            if (outcome == ENTRY_DISAGREES) bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d of %d sampled gradients disagree with finite differences", model,
              bad, checked);
    CHECK_MSG(kinks * 5 <= checked, "%s: too many entries skipped at kinks (%d, %d checked)",
              model, kinks, checked);
    printf("%s: %d gradients checked, %d skipped at kinks\n", model, checked, kinks);

    lmn_free(analytic);
    lmn_free(x);
    lmn_free(target);
    lmn_free(dout);
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
    lmn_backend_destroy(be);
}

/* ---- forward values by hand -------------------------------------------- */

/* Runs a one-layer network (evaluation mode) on a 1-sample input. */
static void run_single(lmn_backend *be, lmn_layer_spec layer, lmn_layer_shape input,
                       const float *x, float *y, size_t y_count)
{
    lmn_model_spec spec = {0};
    append(&spec, layer);
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create_shape(be, &spec, input, &net));
    const float *out = NULL;
    if (net) CHECK_OK(lmn_network_forward(net, 1, x, false, 0, &out));
    if (net) CHECK((size_t)net->num_outputs == y_count);
    if (out) memcpy(y, out, y_count * sizeof(float));
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

static void check_forward_values(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    if (!be) return;
    /* pixel shuffle x2 of 4 channels of 1x1: channel i*2 + j lands at (i, j) */
    const float channels[4] = {1, 2, 3, 4};
    float y[16] = {0};
    run_single(be, upsample_layer(LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE, 2),
               (lmn_layer_shape){.c = 4, .h = 1, .w = 1}, channels, y, 4);
    for (int k = 0; k < 4; k++) CHECK(y[k] == channels[k]);
    /* nearest x2 of a 1x1x2 image repeats each pixel 2x2 */
    const float row[2] = {5, 7};
    run_single(be, upsample_layer(LMN_UPSAMPLE_MODE_NEAREST, 2),
               (lmn_layer_shape){.c = 1, .h = 1, .w = 2}, row, y, 8);
    const float repeated[8] = {5, 5, 7, 7, 5, 5, 7, 7};
    for (int k = 0; k < 8; k++) CHECK(y[k] == repeated[k]);
    /* leaky relu with the default slope (0.01) on a volume, and scale */
    const float values[4] = {-2, -0.5f, 0, 3};
    run_single(be, lmn_layer_defaults(LMN_LAYER_LEAKY_RELU),
               (lmn_layer_shape){.c = 1, .d = 2, .h = 2, .w = 1}, values, y, 4);
    CHECK_CLOSE(y[0], -0.02, 1e-7);
    CHECK_CLOSE(y[1], -0.005, 1e-7);
    CHECK(y[2] == 0.0f && y[3] == 3.0f);
    run_single(be, scale_layer(0.1f), (lmn_layer_shape){.c = 2, .h = 1, .w = 2}, values, y, 4);
    for (int k = 0; k < 4; k++) CHECK_CLOSE(y[k], 0.1 * values[k], 1e-7);
    lmn_backend_destroy(be);
}

int main(void)
{
    const lmn_layer_shape volume = {.c = 2, .d = 5, .h = 7, .w = 6};
    const lmn_layer_shape image = {.c = 2, .h = 5, .w = 6};
    check_gradients("volume (conv3d, leaky, maxpool3d, flatten, linear)", build_volume_basic,
                    volume, (lmn_layer_shape){.c = 3, .h = 1, .w = 1}, 21);
    check_gradients("volume (conv3d relu, scale, add, avgpool3d pad, strided conv3d, dropout, "
                    "linear of a volume)",
                    build_volume_rich, volume, (lmn_layer_shape){.c = 4, .h = 1, .w = 1}, 22);
    check_gradients("image (pixel shuffle, nearest, scale, add, leaky, input upsampled)",
                    build_image_upsampling, image, (lmn_layer_shape){.c = 2, .h = 10, .w = 12}, 23);
    check_gradients("vdsr depth 3 (add of the network input)", build_small_vdsr, image, image, 24);
    check_gradients("edsr x3, 2 blocks", build_small_edsr, image,
                    (lmn_layer_shape){.c = 2, .h = 15, .w = 18}, 25);
    check_forward_values();
    return lmn_test_summary("nn_test_science_gradients");
}
