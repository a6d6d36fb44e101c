/* The science-workload zoo (EDSR, VDSR, CosmoFlow): output shapes,
 * parameter counts worked out by hand, tensor names and OIDHW shapes,
 * FLOP counts and fan-in with depth; and the inputs that cannot work
 * (2-D layers fed volumes and the reverse, pixel shuffle of channels
 * that do not divide, mismatched adds, zoo models fed the wrong kind of
 * input) failing with messages that name the layer or model. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "kernels/kernels.h"
#include "nn/model.h"
#include "nn/network.h"
#include "test.h"

/* Parameters of a k x k conv with bias. */
static size_t conv2d_params(size_t in, size_t out, size_t k) { return in * out * k * k + out; }
static size_t conv3d_params(size_t in, size_t out, size_t k) { return in * out * k * k * k + out; }
static size_t linear_params(size_t in, size_t out) { return in * out + out; }

static lmn_network *build(lmn_backend *be, const char *model, lmn_layer_shape input,
                          int outputs, const lmn_zoo_options *options, lmn_model_spec *spec)
{
    lmn_network *net = NULL;
    CHECK_OK(lmn_model_zoo_build(model, input, outputs, options, spec));
    CHECK_OK(lmn_network_create_shape(be, spec, input, &net));
    return net;
}

static bool same_shape(lmn_layer_shape a, lmn_layer_shape b)
{
    return a.c == b.c && a.d == b.d && a.h == b.h && a.w == b.w;
}

static void check_view(const lmn_network *net, const char *name, int ndim, const int *dims)
{
    const lmn_tensor_view *view = lmn_network_tensor(net, name);
    CHECK_MSG(view != NULL, "no tensor named '%s'", name);
    if (!view) return;
    CHECK_MSG(view->ndim == ndim, "%s has %d dims, expected %d", name, view->ndim, ndim);
    for (int d = 0; d < ndim && d < view->ndim; d++)
        CHECK_MSG(view->dims[d] == dims[d], "%s dim %d is %d, expected %d", name, d, view->dims[d],
                  dims[d]);
}

static void check_edsr(lmn_backend *be)
{
    const lmn_layer_shape input = {.c = 1, .h = 14, .w = 14};
    lmn_model_spec spec = {0};
    lmn_network *net = build(be, "edsr", input, 0, NULL, &spec);
    if (net) {
        /* Defaults: 64 features, 8 blocks, x2. */
        const size_t expected = conv2d_params(1, 64, 3) + 8 * 2 * conv2d_params(64, 64, 3) +
                                conv2d_params(64, 64, 3) + conv2d_params(64, 256, 3) +
                                conv2d_params(64, 1, 3);
        CHECK(expected == 776705);
        CHECK_MSG(net->param_count == 776705, "edsr x2 has %zu parameters", net->param_count);
        CHECK(same_shape(lmn_network_output_shape(net), (lmn_layer_shape){.c = 1, .h = 28, .w = 28}));
        CHECK(net->num_outputs == 28 * 28);
        check_view(net, "head.weight", 4, (const int[]){64, 1, 3, 3});
        check_view(net, "body.7.conv2.weight", 4, (const int[]){64, 64, 3, 3});
        check_view(net, "upsample.0.conv.weight", 4, (const int[]){256, 64, 3, 3});
        check_view(net, "tail.weight", 4, (const int[]){1, 64, 3, 3});
        /* Residual scaling 0.1 by default; the global skip adds the head. */
        const int scale = lmn_model_spec_find(&net->spec, "body.0.scale");
        const int global = lmn_model_spec_find(&net->spec, "body.add");
        CHECK(scale >= 0 && global >= 0);
        if (scale >= 0) CHECK_CLOSE(net->spec.layers[scale].scale, 0.1, 1e-7);
        if (global >= 0) CHECK(net->spec.layers[global].skip == lmn_model_spec_find(&net->spec, "head"));
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);

    /* x3: one shuffle of 9 sub-pixels; x4: two x2 stages. */
    const lmn_zoo_options x3 = {.upscale = 3, .features = 16, .blocks = 2};
    net = build(be, "edsr", (lmn_layer_shape){.c = 3, .h = 10, .w = 12}, 0, &x3, &spec);
    if (net) {
        CHECK(same_shape(lmn_network_output_shape(net), (lmn_layer_shape){.c = 3, .h = 30, .w = 36}));
        CHECK(net->param_count == conv2d_params(3, 16, 3) + 5 * conv2d_params(16, 16, 3) +
                                      conv2d_params(16, 144, 3) + conv2d_params(16, 3, 3));
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
    const lmn_zoo_options x4 = {.upscale = 4, .features = 8, .blocks = 1};
    net = build(be, "edsr", input, 0, &x4, &spec);
    if (net) {
        CHECK(same_shape(lmn_network_output_shape(net), (lmn_layer_shape){.c = 1, .h = 56, .w = 56}));
        check_view(net, "upsample.1.conv.weight", 4, (const int[]){32, 8, 3, 3});
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

static void check_vdsr(lmn_backend *be)
{
    const lmn_layer_shape input = {.c = 1, .h = 41, .w = 41};
    lmn_model_spec spec = {0};
    lmn_network *net = build(be, "vdsr", input, 0, NULL, &spec);
    if (net) {
        const size_t expected = conv2d_params(1, 64, 3) + 18 * conv2d_params(64, 64, 3) +
                                conv2d_params(64, 1, 3);
        CHECK(expected == 665921);
        CHECK_MSG(net->param_count == 665921, "vdsr has %zu parameters", net->param_count);
        CHECK(same_shape(lmn_network_output_shape(net), input));
        CHECK(net->spec.count == 21);
        const lmn_layer_spec *last = &net->spec.layers[net->spec.count - 1];
        CHECK(last->kind == LMN_LAYER_ADD && last->skip == LMN_INPUT);
        CHECK(lmn_network_tensor(net, "conv20.weight") != NULL);
        CHECK(lmn_network_tensor(net, "conv21.weight") == NULL);
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
    const lmn_zoo_options shallow = {.depth = 5, .features = 16};
    net = build(be, "vdsr", (lmn_layer_shape){.c = 3, .h = 9, .w = 7}, 0, &shallow, &spec);
    if (net) {
        CHECK(same_shape(lmn_network_output_shape(net), (lmn_layer_shape){.c = 3, .h = 9, .w = 7}));
        CHECK(net->param_count == conv2d_params(3, 16, 3) + 3 * conv2d_params(16, 16, 3) +
                                      conv2d_params(16, 3, 3));
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

static void check_cosmoflow(lmn_backend *be)
{
    lmn_model_spec spec = {0};
    /* 32^3: three blocks (32 -> 16 -> 8 -> 4), 128 x 4^3 into the dense head. */
    lmn_network *net = build(be, "cosmoflow", (lmn_layer_shape){.c = 4, .d = 32, .h = 32, .w = 32},
                             4, NULL, &spec);
    if (net) {
        const size_t expected = conv3d_params(4, 32, 3) + conv3d_params(32, 64, 3) +
                                conv3d_params(64, 128, 3) + linear_params(128 * 64, 128) +
                                linear_params(128, 64) + linear_params(64, 4);
        CHECK(expected == 1337380);
        CHECK_MSG(net->param_count == 1337380, "cosmoflow 32^3 has %zu parameters",
                  net->param_count);
        CHECK(net->num_outputs == 4);
        CHECK(lmn_network_tensor(net, "conv4.weight") == NULL);
        check_view(net, "conv1.weight", 5, (const int[]){32, 4, 3, 3, 3});
        check_view(net, "conv3.weight", 5, (const int[]){128, 64, 3, 3, 3});
        check_view(net, "fc1.weight", 2, (const int[]){128, 8192});
        check_view(net, "fc3.weight", 2, (const int[]){4, 64});
        const int pool3 = lmn_model_spec_find(&net->spec, "pool3");
        CHECK(pool3 >= 0);
        if (pool3 >= 0)
            CHECK(same_shape(net->shapes[pool3], (lmn_layer_shape){.c = 128, .d = 4, .h = 4, .w = 4}));
        const double flops = 2.0 * (32.0 * 32768 * 4 * 27 + 64.0 * 4096 * 32 * 27 +
                                    128.0 * 512 * 64 * 27 + 8192.0 * 128 + 128.0 * 64 + 64.0 * 4);
        CHECK_CLOSE(lmn_network_forward_flops(net), flops, 1e-12);
        /* Glorot-uniform over fans that include the depth of the kernel:
         * variance limit^2 / 3 with limit sqrt(6 / (fan_in + fan_out)). */
        lmn_network_init_params(net, 3);
        const lmn_tensor_view *w = lmn_network_tensor(net, "conv2.weight");
        if (w) {
            double squares = 0.0;
            for (size_t k = 0; k < w->count; k++)
                squares += (double)net->params[w->offset + k] * net->params[w->offset + k];
            const double want = sqrt(2.0 / (32.0 * 27 + 64.0 * 27));
            CHECK_CLOSE(sqrt(squares / (double)w->count), want, 0.03 * want);
        }
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);

    /* 64^3: four blocks, 256 x 4^3 into the dense head. */
    net = build(be, "cosmoflow", (lmn_layer_shape){.c = 4, .d = 64, .h = 64, .w = 64}, 4, NULL,
                &spec);
    if (net) {
        const size_t expected = conv3d_params(4, 32, 3) + conv3d_params(32, 64, 3) +
                                conv3d_params(64, 128, 3) + conv3d_params(128, 256, 3) +
                                linear_params(256 * 64, 128) + linear_params(128, 64) +
                                linear_params(64, 4);
        CHECK(expected == 3270948);
        CHECK_MSG(net->param_count == 3270948, "cosmoflow 64^3 has %zu parameters",
                  net->param_count);
        CHECK(net->num_outputs == 4);
        check_view(net, "conv4.weight", 5, (const int[]){256, 128, 3, 3, 3});
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);

    /* Options: explicit blocks, filters, dropout after the hidden dense layers. */
    const lmn_zoo_options options = {.filters = 8, .conv_blocks = 2, .dropout = 0.5f};
    net = build(be, "cosmoflow", (lmn_layer_shape){.c = 4, .d = 16, .h = 16, .w = 16}, 3, &options,
                &spec);
    if (net) {
        CHECK(net->num_outputs == 3);
        check_view(net, "conv2.weight", 5, (const int[]){16, 8, 3, 3, 3});
        check_view(net, "fc1.weight", 2, (const int[]){128, 16 * 64});
        const int dropout = lmn_model_spec_find(&net->spec, "fc2.dropout");
        CHECK(dropout >= 0);
        if (dropout >= 0) CHECK_CLOSE(net->spec.layers[dropout].rate, 0.5, 1e-7);
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

/* He-normal fan-in of a conv3d counts the kernel's depth. */
static void check_conv3d_init(lmn_backend *be)
{
    lmn_model_spec spec = {0};
    lmn_layer_spec conv = lmn_layer_defaults(LMN_LAYER_CONV3D);
    conv.out = 32;
    snprintf(conv.name, sizeof conv.name, "c");
    CHECK_OK(lmn_model_spec_append(&spec, &conv, NULL));
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create_shape(be, &spec, (lmn_layer_shape){.c = 4, .d = 3, .h = 3, .w = 3},
                                      &net));
    if (net) {
        lmn_network_init_params(net, 9);
        const lmn_tensor_view *w = lmn_network_tensor(net, "c.weight");
        CHECK(w && w->count == 32 * 4 * 27);
        double squares = 0.0;
        for (size_t k = 0; w && k < w->count; k++)
            squares += (double)net->params[w->offset + k] * net->params[w->offset + k];
        const double want = sqrt(2.0 / (4 * 27));
        if (w) CHECK_CLOSE(sqrt(squares / (double)w->count), want, 0.04 * want);
        CHECK(same_shape(lmn_network_output_shape(net), (lmn_layer_shape){.c = 32, .d = 1, .h = 1, .w = 1}));
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

/* ---- inputs that cannot work ------------------------------------------- */

static void append_named(lmn_model_spec *spec, lmn_layer_spec layer, const char *name)
{
    snprintf(layer.name, sizeof layer.name, "%s", name);
    CHECK_OK(lmn_model_spec_append(spec, &layer, NULL));
}

/* Creating the network must fail with a message containing `who` and `about`. */
static void expect_failure(lmn_backend *be, lmn_model_spec *spec, lmn_layer_shape input,
                           const char *who, const char *about)
{
    lmn_network *net = NULL;
    lmn_clear_error();
    const lmn_status status = lmn_network_create_shape(be, spec, input, &net);
    CHECK_MSG(status == LMN_ERR_SHAPE, "%s: status %d (%s), expected a shape error", who, status,
              lmn_last_error());
    CHECK_MSG(strstr(lmn_last_error(), who) != NULL, "message '%s' does not name '%s'",
              lmn_last_error(), who);
    CHECK_MSG(strstr(lmn_last_error(), about) != NULL, "message '%s' does not say '%s'",
              lmn_last_error(), about);
    lmn_network_free(net);
    lmn_model_spec_free(spec);
}

static void check_bad_inputs(lmn_backend *be)
{
    const lmn_layer_shape volume = {.c = 2, .d = 4, .h = 6, .w = 6};
    const lmn_layer_shape image = {.c = 2, .h = 6, .w = 6};
    static const lmn_layer_kind image_only[] = {LMN_LAYER_CONV, LMN_LAYER_MAXPOOL,
                                                LMN_LAYER_AVGPOOL, LMN_LAYER_GLOBAL_AVGPOOL,
                                                LMN_LAYER_BATCHNORM, LMN_LAYER_UPSAMPLE};
    lmn_model_spec spec = {0};
    for (size_t k = 0; k < sizeof image_only / sizeof image_only[0]; k++) {
        lmn_layer_spec layer = lmn_layer_defaults(image_only[k]);
        layer.out = 3;
        append_named(&spec, layer, "flat_layer");
        append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
        /* "2x4x6x6 volume": the shape, c x d x h x w */
        expect_failure(be, &spec, volume, "flat_layer", "2x4x6x6 volume");
    }
    static const lmn_layer_kind volume_only[] = {LMN_LAYER_CONV3D, LMN_LAYER_MAXPOOL3D,
                                                 LMN_LAYER_AVGPOOL3D};
    for (size_t k = 0; k < sizeof volume_only / sizeof volume_only[0]; k++) {
        lmn_layer_spec layer = lmn_layer_defaults(volume_only[k]);
        layer.out = 3;
        append_named(&spec, layer, "deep_layer");
        append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
        expect_failure(be, &spec, image, "deep_layer", "2x6x6 image");
    }
    /* A 2-D layer after a 3-D one: the volume arrives from a layer. */
    lmn_layer_spec conv3d = lmn_layer_defaults(LMN_LAYER_CONV3D);
    conv3d.out = 4;
    conv3d.pad = 1;
    append_named(&spec, conv3d, "c3");
    append_named(&spec, lmn_layer_defaults(LMN_LAYER_BATCHNORM), "bn_after_conv3d");
    expect_failure(be, &spec, volume, "bn_after_conv3d", "4x4x6x6 volume");

    /* Pixel shuffle by 2 needs channels divisible by 4. */
    lmn_layer_spec conv = lmn_layer_defaults(LMN_LAYER_CONV);
    conv.out = 6;
    conv.pad = 1;
    lmn_layer_spec shuffle = lmn_layer_defaults(LMN_LAYER_UPSAMPLE);
    shuffle.mode = LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE;
    append_named(&spec, conv, "six");
    append_named(&spec, shuffle, "shuffle");
    expect_failure(be, &spec, image, "shuffle", "divisible by 4");

    /* Adds of volumes whose depth or size differ. */
    lmn_layer_spec strided = conv3d;
    strided.stride = 2;
    strided.input = LMN_INPUT;
    lmn_layer_spec sum = lmn_layer_defaults(LMN_LAYER_ADD);
    sum.input = 0;
    sum.skip = 1;
    append_named(&spec, conv3d, "full");
    append_named(&spec, strided, "halved");
    append_named(&spec, sum, "mismatched_add");
    expect_failure(be, &spec, volume, "mismatched_add", "4x4x6x6");
    sum.skip = LMN_INPUT;
    append_named(&spec, conv3d, "full");
    append_named(&spec, sum, "input_add");
    expect_failure(be, &spec, volume, "input_add", "2x4x6x6 skip");
}

static void expect_zoo_failure(const char *model, lmn_layer_shape input,
                               const lmn_zoo_options *options, lmn_status code, const char *about)
{
    lmn_model_spec spec = {0};
    lmn_clear_error();
    const lmn_status status = lmn_model_zoo_build(model, input, 4, options, &spec);
    CHECK_MSG(status == code, "%s: status %d (%s), expected %d", model, status, lmn_last_error(),
              code);
    CHECK_MSG(strstr(lmn_last_error(), model) && strstr(lmn_last_error(), about),
              "message '%s' does not name '%s' and '%s'", lmn_last_error(), model, about);
    lmn_model_spec_free(&spec);
}

static void check_bad_zoo(void)
{
    const lmn_layer_shape volume = {.c = 4, .d = 32, .h = 32, .w = 32};
    const lmn_layer_shape image = {.c = 1, .h = 28, .w = 28};
    expect_zoo_failure("cosmoflow", image, NULL, LMN_ERR_SHAPE, "volumes");
    expect_zoo_failure("edsr", volume, NULL, LMN_ERR_SHAPE, "images");
    expect_zoo_failure("lenet", volume, NULL, LMN_ERR_SHAPE, "images");
    expect_zoo_failure("edsr", image, &(lmn_zoo_options){.upscale = 5}, LMN_ERR_CONFIG, "upscale");
    expect_zoo_failure("cosmoflow", volume, &(lmn_zoo_options){.conv_blocks = 6}, LMN_ERR_SHAPE,
                       "conv_blocks");
    expect_zoo_failure("vdsr", image, &(lmn_zoo_options){.depth = 1}, LMN_ERR_CONFIG, "depth");
    lmn_model_spec spec = {0};
    CHECK(lmn_model_zoo_build("cosmoflow", volume, 0, NULL, &spec) == LMN_ERR_CONFIG);
    lmn_model_spec_free(&spec);
    /* Super-resolution models ignore the output count (their output is an image). */
    CHECK_OK(lmn_model_zoo_build("vdsr", image, 0, NULL, &spec));
    lmn_model_spec_free(&spec);
}

int main(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    if (!be) return lmn_test_summary("nn_test_zoo_science");
    check_edsr(be);
    check_vdsr(be);
    check_cosmoflow(be);
    check_conv3d_init(be);
    check_bad_inputs(be);
    check_bad_zoo();
    lmn_backend_destroy(be);
    return lmn_test_summary("nn_test_zoo_science");
}
