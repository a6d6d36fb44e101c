/* The model zoo and network construction: parameter counts worked out by
 * hand, PyTorch-style tensor names and shapes, a gap-free parameter
 * layout, and specs that cannot work failing with messages that name the
 * offending layer. */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "kernels/kernels.h"
#include "nn/model.h"
#include "nn/network.h"
#include "test.h"

static lmn_network *build_zoo(lmn_backend *be, const char *model, int channels, int size,
                              int classes, lmn_model_spec *spec)
{
    lmn_network *net = NULL;
    CHECK_OK(lmn_model_zoo(model, channels, size, size, classes, spec));
    CHECK_OK(lmn_network_create(be, spec, channels, size, size, &net));
    return net;
}

/* Parameters of a conv without bias followed by a batch norm. */
static size_t conv_bn(size_t in, size_t out, size_t kernel)
{
    return in * out * kernel * kernel + 2 * out;
}

/* Tensors tile params (learnable) and state (running stats) in order. */
static void check_layout(const lmn_network *net)
{
    size_t params = 0, state = 0;
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        size_t elements = 1;
        for (int d = 0; d < view->ndim; d++) elements *= (size_t)view->dims[d];
        CHECK_MSG(elements == view->count, "%s: dims do not multiply to its count", view->name);
        const bool is_state = view->role == LMN_ROLE_BN_MEAN || view->role == LMN_ROLE_BN_VAR;
        size_t *cursor = is_state ? &state : &params;
        CHECK_MSG(view->offset == *cursor, "%s starts at %zu, expected %zu", view->name,
                  view->offset, *cursor);
        *cursor = view->offset + view->count;
        CHECK(lmn_network_tensor(net, view->name) == view);
    }
    CHECK(params == net->param_count);
    CHECK(state == net->state_count);
}

static void check_view(const lmn_network *net, const char *name, lmn_tensor_role role, int ndim,
                       int d0, int d1, int d2, int d3)
{
    const lmn_tensor_view *view = lmn_network_tensor(net, name);
    CHECK_MSG(view != NULL, "no tensor named '%s'", name);
    if (!view) return;
    const int dims[4] = {d0, d1, d2, d3};
    CHECK_MSG(view->role == role, "%s has role %d, expected %d", name, view->role, role);
    CHECK_MSG(view->ndim == ndim, "%s has %d dims, expected %d", name, view->ndim, ndim);
    for (int d = 0; d < ndim && d < 4; d++)
        CHECK_MSG(view->dims[d] == dims[d], "%s dim %d is %d, expected %d", name, d,
                  view->dims[d], dims[d]);
}

static void check_lenet(lmn_backend *be)
{
    lmn_model_spec spec = {0};
    lmn_network *net = build_zoo(be, "lenet", 1, 28, 10, &spec);
    if (net) {
        /* conv 5x5 "same" keeps 28, pools halve: 28 -> 14 -> 7. */
        const size_t conv1 = 32 * 1 * 25 + 32, conv2 = 64 * 32 * 25 + 64;
        const size_t fc1 = (size_t)64 * 7 * 7 * 512 + 512, fc2 = 512 * 10 + 10;
        CHECK(conv1 + conv2 + fc1 + fc2 == 1663370);
        CHECK_MSG(net->param_count == 1663370, "lenet has %zu parameters", net->param_count);
        CHECK(net->state_count == 0);
        CHECK(net->num_outputs == 10);
        check_view(net, "conv1.weight", LMN_ROLE_WEIGHT, 4, 32, 1, 5, 5);
        check_view(net, "conv1.bias", LMN_ROLE_BIAS, 1, 32, 0, 0, 0);
        check_view(net, "conv2.weight", LMN_ROLE_WEIGHT, 4, 64, 32, 5, 5);
        check_view(net, "fc1.weight", LMN_ROLE_WEIGHT, 2, 512, 3136, 0, 0);
        check_view(net, "fc2.weight", LMN_ROLE_WEIGHT, 2, 10, 512, 0, 0);
        check_view(net, "fc2.bias", LMN_ROLE_BIAS, 1, 10, 0, 0, 0);
        CHECK(lmn_network_tensor(net, "pool1.weight") == NULL);
        check_layout(net);
        /* One forward MAC = 2 flops per output element per receptive value. */
        const double flops = 2.0 * (32.0 * 784 * 25 + 64.0 * 196 * 32 * 25 + 3136.0 * 512 + 512.0 * 10);
        CHECK_CLOSE(lmn_network_forward_flops(net), flops, 1e-12);
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

static void check_resnet20(lmn_backend *be)
{
    lmn_model_spec spec = {0};
    lmn_network *net = build_zoo(be, "resnet20", 3, 32, 10, &spec);
    if (net) {
        /* Stem, then 3 stages of 3 blocks (two 3x3 conv+bn each); the
         * first block of stages 2 and 3 has a 1x1 projection conv+bn. */
        size_t expected = conv_bn(3, 16, 3);
        size_t channels = 16, bn_channels = 16;
        for (size_t stage = 0, width = 16; stage < 3; stage++, width *= 2) {
            for (int block = 0; block < 3; block++) {
                expected += conv_bn(channels, width, 3) + conv_bn(width, width, 3);
                bn_channels += 2 * width;
                if (channels != width) {
                    expected += conv_bn(channels, width, 1);
                    bn_channels += width;
                }
                channels = width;
            }
        }
        expected += 64 * 10 + 10;
        CHECK(expected == 272474);
        CHECK_MSG(net->param_count == 272474, "resnet20 has %zu parameters", net->param_count);
        CHECK_MSG(net->state_count == 2 * bn_channels, "resnet20 has %zu running statistics",
                  net->state_count);
        check_view(net, "conv1.weight", LMN_ROLE_WEIGHT, 4, 16, 3, 3, 3);
        CHECK(lmn_network_tensor(net, "conv1.bias") == NULL);
        check_view(net, "bn1.weight", LMN_ROLE_BN_SCALE, 1, 16, 0, 0, 0);
        check_view(net, "bn1.bias", LMN_ROLE_BN_SHIFT, 1, 16, 0, 0, 0);
        check_view(net, "bn1.running_mean", LMN_ROLE_BN_MEAN, 1, 16, 0, 0, 0);
        check_view(net, "bn1.running_var", LMN_ROLE_BN_VAR, 1, 16, 0, 0, 0);
        check_view(net, "layer1.0.conv1.weight", LMN_ROLE_WEIGHT, 4, 16, 16, 3, 3);
        check_view(net, "layer2.0.conv1.weight", LMN_ROLE_WEIGHT, 4, 32, 16, 3, 3);
        check_view(net, "layer2.0.shortcut.weight", LMN_ROLE_WEIGHT, 4, 32, 16, 1, 1);
        check_view(net, "layer3.2.bn2.running_var", LMN_ROLE_BN_VAR, 1, 64, 0, 0, 0);
        check_view(net, "fc.weight", LMN_ROLE_WEIGHT, 2, 10, 64, 0, 0);
        check_view(net, "fc.bias", LMN_ROLE_BIAS, 1, 10, 0, 0, 0);
        CHECK(lmn_network_tensor(net, "layer1.0.shortcut.weight") == NULL);
        CHECK(lmn_network_tensor(net, "layer2.1.shortcut.weight") == NULL);
        check_layout(net);
        /* Spatial sizes: 32 through stage 1, 16 in stage 2, 8 in stage 3. */
        const int stage3 = lmn_model_spec_find(&net->spec, "layer3.2.add");
        CHECK(stage3 >= 0);
        if (stage3 >= 0)
            CHECK(net->shapes[stage3].c == 64 && net->shapes[stage3].h == 8 &&
                  net->shapes[stage3].w == 8);
        /* The projection reads the block input, not the previous layer. */
        const int projection = lmn_model_spec_find(&net->spec, "layer2.0.shortcut");
        const int block_input = lmn_model_spec_find(&net->spec, "layer1.2.relu");
        CHECK(projection >= 0 && net->spec.layers[projection].input == block_input);

        /* Initialization: unit BN scale and variance, zero shift / mean,
         * He-normal conv weights (std sqrt(2 / fan_in)). */
        lmn_network_init_params(net, 1);
        const lmn_tensor_view *var = lmn_network_tensor(net, "bn1.running_var");
        const lmn_tensor_view *scale = lmn_network_tensor(net, "layer3.0.bn1.weight");
        const lmn_tensor_view *shift = lmn_network_tensor(net, "layer3.0.bn1.bias");
        const lmn_tensor_view *w = lmn_network_tensor(net, "layer3.1.conv1.weight");
        if (var && scale && shift && w) {
            CHECK(net->state[var->offset] == 1.0f && net->state[var->offset + 15] == 1.0f);
            CHECK(net->params[scale->offset + 63] == 1.0f && net->params[shift->offset] == 0.0f);
            double squares = 0.0;
            for (size_t k = 0; k < w->count; k++)
                squares += (double)net->params[w->offset + k] * net->params[w->offset + k];
            CHECK_CLOSE(sqrt(squares / (double)w->count), sqrt(2.0 / (64 * 9)), 0.05 * sqrt(2.0 / 576));
        }
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

static void check_vgg16(lmn_backend *be)
{
    lmn_model_spec spec = {0};
    lmn_network *net = build_zoo(be, "vgg16", 3, 32, 100, &spec);
    if (net) {
        static const int widths[13] = {64, 64, 128, 128, 256, 256, 256,
                                       512, 512, 512, 512, 512, 512};
        size_t expected = 0, in = 3;
        for (int i = 0; i < 13; i++) {
            expected += conv_bn(in, (size_t)widths[i], 3);
            in = (size_t)widths[i];
        }
        /* Five pools take 32 to 1, so the classifier sees 512 values. */
        expected += (512 * 512 + 512) * 2 + 512 * 100 + 100;
        CHECK_MSG(net->param_count == expected, "vgg16 has %zu parameters, expected %zu",
                  net->param_count, expected);
        CHECK(net->num_outputs == 100);
        check_view(net, "conv13.weight", LMN_ROLE_WEIGHT, 4, 512, 512, 3, 3);
        check_view(net, "bn13.running_mean", LMN_ROLE_BN_MEAN, 1, 512, 0, 0, 0);
        check_view(net, "fc1.weight", LMN_ROLE_WEIGHT, 2, 512, 512, 0, 0);
        check_layout(net);
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);

    lmn_model_spec small = {0};
    CHECK(lmn_model_zoo("vgg16", 3, 16, 16, 10, &small) == LMN_ERR_SHAPE);
    CHECK(strstr(lmn_last_error(), "vgg16") != NULL);
    lmn_model_spec_free(&small);

    lmn_model_spec unknown = {0};
    CHECK(lmn_model_zoo("resnet1000", 3, 32, 32, 10, &unknown) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "resnet1000") != NULL);
    lmn_model_spec_free(&unknown);

    int count = 0;
    for (const char *const *name = lmn_model_zoo_names(); *name; name++) count++;
    CHECK(count == 8); /* + resnet18, resnet50 below; edsr, vdsr, cosmoflow:
                          tests/nn/test_zoo_science.c */
}

/* ---- ImageNet ResNets ---------------------------------------------- */

typedef struct resnet_case {
    const char *model;
    int blocks[4];
    bool bottleneck;
    size_t torchvision_params; /* published: 3 channels, 1000 classes */
} resnet_case;

static const resnet_case resnet_cases[] = {
    {"resnet18", {2, 2, 2, 2}, false, 11689512},
    {"resnet50", {3, 4, 6, 3}, true, 25557032},
};

/* Parameters worked out block by block; *bn_channels gets the channels
 * of every batch norm (each has a running mean and variance). */
static size_t resnet_params(const resnet_case *c, size_t channels, size_t classes,
                            size_t *bn_channels)
{
    size_t params = conv_bn(channels, 64, 7), in = 64;
    *bn_channels = 64;
    for (int stage = 0; stage < 4; stage++) {
        const size_t width = (size_t)64 << stage, out = c->bottleneck ? 4 * width : width;
        for (int block = 0; block < c->blocks[stage]; block++) {
            if (c->bottleneck) {
                params += conv_bn(in, width, 1) + conv_bn(width, width, 3) + conv_bn(width, out, 1);
                *bn_channels += 2 * width + out;
            } else {
                params += conv_bn(in, width, 3) + conv_bn(width, width, 3);
                *bn_channels += 2 * width;
            }
            if (in != out || (stage > 0 && block == 0)) {
                params += conv_bn(in, out, 1);
                *bn_channels += out;
            }
            in = out;
        }
    }
    return params + in * classes + classes;
}

static void check_resnet_counts(lmn_backend *be, const resnet_case *c, int channels, int classes)
{
    lmn_model_spec spec = {0};
    lmn_network *net = build_zoo(be, c->model, channels, 224, classes, &spec);
    size_t bn_channels = 0;
    const size_t expected = resnet_params(c, (size_t)channels, (size_t)classes, &bn_channels);
    if (channels == 3 && classes == 1000)
        CHECK_MSG(expected == c->torchvision_params, "%s: hand count %zu, torchvision %zu",
                  c->model, expected, c->torchvision_params);
    if (net) {
        CHECK_MSG(net->param_count == expected, "%s (%d channels, %d classes) has %zu "
                  "parameters, expected %zu", c->model, channels, classes, net->param_count,
                  expected);
        CHECK(net->state_count == 2 * bn_channels);
        CHECK(net->num_outputs == classes);
        check_view(net, "conv1.weight", LMN_ROLE_WEIGHT, 4, 64, channels, 7, 7);
        check_view(net, "fc.weight", LMN_ROLE_WEIGHT, 2, classes, c->bottleneck ? 2048 : 512,
                   0, 0);
        check_layout(net);
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

/* Side of the stem conv, the max pool and stages 1-4 for a square input. */
static void check_resnet_shapes(lmn_backend *be, const resnet_case *c, int size,
                                const int sides[6])
{
    static const char *const layers[6] = {"conv1", "maxpool", "layer1.0.relu", "layer2.0.relu",
                                          "layer3.0.relu", "layer4.0.relu"};
    const int expansion = c->bottleneck ? 4 : 1;
    const int widths[6] = {64, 64, 64 * expansion, 128 * expansion, 256 * expansion,
                           512 * expansion};
    lmn_model_spec spec = {0};
    lmn_network *net = build_zoo(be, c->model, 3, size, 10, &spec);
    for (int i = 0; net && i < 6; i++) {
        const int index = lmn_model_spec_find(&net->spec, layers[i]);
        CHECK_MSG(index >= 0, "%s has no layer '%s'", c->model, layers[i]);
        if (index < 0) continue;
        const lmn_layer_shape got = net->shapes[index];
        CHECK_MSG(got.c == widths[i] && got.h == sides[i] && got.w == sides[i] && got.d == 0,
                  "%s at %d px: %s is %dx%dx%d, expected %dx%dx%d", c->model, size, layers[i],
                  got.c, got.h, got.w, widths[i], sides[i], sides[i]);
    }
    if (net) {
        const lmn_layer_shape out = lmn_network_output_shape(net);
        CHECK(net->num_outputs == 10 && out.c == 10 && out.h == 1 && out.w == 1);
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

static bool ends_with(const char *name, const char *suffix)
{
    const size_t n = strlen(name), k = strlen(suffix);
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

/* Every conv (no bias) feeds a batch norm; ReLU is fused into every batch
 * norm but the last of the main path and the shortcut's, which feed the
 * add; the stride of a downsampling block sits on its 3x3 conv (v1.5)
 * and its shortcut. */
static void check_resnet_batchnorms(const lmn_model_spec *spec, const resnet_case *c)
{
    int convs = 0, norms = 0, adds = 0;
    for (int i = 0; i < spec->count; i++) {
        const lmn_layer_spec *layer = &spec->layers[i];
        if (layer->kind == LMN_LAYER_BATCHNORM) {
            norms++;
            const bool last = ends_with(layer->name, c->bottleneck ? ".bn3" : ".bn2") ||
                              ends_with(layer->name, ".downsample.1");
            CHECK_MSG(layer->relu == !last, "%s: relu %d", layer->name, layer->relu);
        }
        if (layer->kind == LMN_LAYER_ADD) {
            adds++;
            CHECK(spec->layers[layer->input].kind == LMN_LAYER_BATCHNORM);
            CHECK(!spec->layers[layer->input].relu);
        }
        if (layer->kind != LMN_LAYER_CONV) continue;
        convs++;
        CHECK_MSG(!layer->bias, "%s has a bias", layer->name);
        const bool bn_next = i + 1 < spec->count &&
                             spec->layers[i + 1].kind == LMN_LAYER_BATCHNORM &&
                             spec->layers[i + 1].input == i;
        CHECK_MSG(bn_next, "%s is not followed by its batch norm", layer->name);
        const char *name = layer->name;
        const bool first_block = strncmp(name, "layer", 5) == 0 && name[5] != '1' &&
                                 strncmp(name + 6, ".0.", 3) == 0;
        const bool strided = first_block &&
                             (ends_with(layer->name, c->bottleneck ? ".conv2" : ".conv1") ||
                              ends_with(layer->name, ".downsample.0"));
        const int want = strcmp(layer->name, "conv1") == 0 || strided ? 2 : 1;
        CHECK_MSG(layer->stride == want, "%s has stride %d, expected %d", layer->name,
                  layer->stride, want);
    }
    const int blocks = c->blocks[0] + c->blocks[1] + c->blocks[2] + c->blocks[3];
    CHECK(convs == norms && adds == blocks);
    CHECK(convs == 1 + blocks * (c->bottleneck ? 3 : 2) + (c->bottleneck ? 4 : 3));
}

/* Initialization follows resnet20's convention (and torchvision's default
 * zero_init_residual=False): every BN scale starts at 1, the last one of
 * each block included; shifts at 0; He-normal convs. */
static void check_resnet_init(lmn_network *net)
{
    lmn_network_init_params(net, 3);
    int scales = 0;
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        if (view->role != LMN_ROLE_BN_SCALE && view->role != LMN_ROLE_BN_SHIFT) continue;
        const float want = view->role == LMN_ROLE_BN_SCALE ? 1.0f : 0.0f;
        scales += view->role == LMN_ROLE_BN_SCALE;
        bool all = true;
        for (size_t k = 0; k < view->count; k++) all = all && net->params[view->offset + k] == want;
        CHECK_MSG(all, "%s is not all %g after initialization", view->name, want);
    }
    CHECK(scales > 0);
    const lmn_tensor_view *w = lmn_network_tensor(net, "layer4.1.conv2.weight");
    if (!w) return;
    double squares = 0.0;
    for (size_t k = 0; k < w->count; k++)
        squares += (double)net->params[w->offset + k] * net->params[w->offset + k];
    CHECK_CLOSE(sqrt(squares / (double)w->count), sqrt(2.0 / (512 * 9)), 0.02 * sqrt(2.0 / 4608));
}

static void check_imagenet_resnets(lmn_backend *be)
{
    static const int at224[6] = {112, 56, 56, 28, 14, 7}, at112[6] = {56, 28, 28, 14, 7, 4};
    static const int at64[6] = {32, 16, 16, 8, 4, 2}, at32[6] = {16, 8, 8, 4, 2, 1};
    for (size_t i = 0; i < sizeof resnet_cases / sizeof resnet_cases[0]; i++) {
        const resnet_case *c = &resnet_cases[i];
        check_resnet_counts(be, c, 3, 1000);
        check_resnet_counts(be, c, 1, 7);
        check_resnet_counts(be, c, 3, 1);
        check_resnet_shapes(be, c, 224, at224);
        check_resnet_shapes(be, c, 112, at112);
        check_resnet_shapes(be, c, 64, at64);
        check_resnet_shapes(be, c, 32, at32);
        lmn_model_spec spec = {0};
        lmn_network *net = build_zoo(be, c->model, 3, 64, 10, &spec);
        if (net) {
            check_resnet_batchnorms(&net->spec, c);
            CHECK(lmn_network_tensor(net, "layer2.0.downsample.0.weight") != NULL);
            CHECK(lmn_network_tensor(net, "layer2.1.downsample.0.weight") == NULL);
            CHECK((lmn_network_tensor(net, "layer1.0.downsample.0.weight") != NULL) ==
                  c->bottleneck);
            check_resnet_init(net);
        }
        lmn_network_free(net);
        lmn_model_spec_free(&spec);
    }
    /* The unknown-model message lists the zoo from its own table. */
    lmn_model_spec unknown = {0};
    CHECK(lmn_model_zoo("resnet101", 3, 224, 224, 10, &unknown) == LMN_ERR_CONFIG);
    CHECK(strstr(lmn_last_error(), "resnet50") && strstr(lmn_last_error(), "cosmoflow"));
    lmn_model_spec_free(&unknown);
}

/* ---- specs that cannot work ---------------------------------------- */

static void append_named(lmn_model_spec *spec, lmn_layer_spec layer, const char *name)
{
    snprintf(layer.name, sizeof layer.name, "%s", name);
    CHECK_OK(lmn_model_spec_append(spec, &layer, NULL));
}

static lmn_layer_spec conv(int out, int kernel, int pad)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_CONV);
    layer.out = out;
    layer.kernel_h = layer.kernel_w = kernel;
    layer.pad = pad;
    return layer;
}

/* Creating the network must fail with `code` and a message naming `who`. */
static void expect_failure(lmn_backend *be, const lmn_model_spec *spec, int channels, int size,
                           lmn_status code, const char *who, const char *what)
{
    lmn_network sentinel;
    lmn_network *net = &sentinel; /* must be reset to NULL */
    lmn_clear_error();
    const lmn_status status = lmn_network_create(be, spec, channels, size, size, &net);
    CHECK_MSG(status == code, "%s: status %d (%s), expected %d", what, status, lmn_last_error(), code);
    CHECK_MSG(net == NULL, "%s: *out not cleared on failure", what);
    CHECK_MSG(strstr(lmn_last_error(), who) != NULL, "%s: message '%s' does not name '%s'", what,
              lmn_last_error(), who);
    if (status == LMN_OK) lmn_network_free(net);
}

static void check_bad_specs(lmn_backend *be)
{
    lmn_model_spec spec = {0};
    append_named(&spec, conv(4, 5, 0), "huge_kernel");
    append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
    expect_failure(be, &spec, 1, 3, LMN_ERR_SHAPE, "huge_kernel", "kernel larger than the input");
    /* The same kernel fits once padding makes room (3 + 2*1 = 5). */
    spec.layers[0].pad = 1;
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create(be, &spec, 1, 3, 3, &net));
    CHECK(net && net->num_outputs == 4);
    lmn_network_free(net);
    lmn_model_spec_free(&spec);

    append_named(&spec, conv(4, 3, 1), "wide");
    append_named(&spec, conv(8, 3, 1), "wider");
    lmn_layer_spec sum = lmn_layer_defaults(LMN_LAYER_ADD);
    sum.skip = 0;
    append_named(&spec, sum, "mismatched_add");
    append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
    expect_failure(be, &spec, 2, 6, LMN_ERR_SHAPE, "mismatched_add", "add of 8 and 4 channels");
    lmn_model_spec_free(&spec);

    /* A network may end in an image (super-resolution): its values are
     * the outputs, in NCHW order. */
    append_named(&spec, conv(4, 3, 1), "feature_map");
    CHECK_OK(lmn_network_create(be, &spec, 2, 6, 6, &net));
    if (net) {
        const lmn_layer_shape out = lmn_network_output_shape(net);
        CHECK(net->num_outputs == 4 * 6 * 6);
        CHECK(out.c == 4 && out.h == 6 && out.w == 6 && out.d == 0);
    }
    lmn_network_free(net);
    lmn_model_spec_free(&spec);

    lmn_layer_spec forward_ref = conv(4, 3, 1);
    append_named(&spec, conv(4, 3, 1), "first");
    forward_ref.input = 2;
    append_named(&spec, forward_ref, "reads_later");
    append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
    expect_failure(be, &spec, 2, 6, LMN_ERR_SHAPE, "reads_later", "input from a later layer");
    lmn_model_spec_free(&spec);

    lmn_layer_spec self_skip = lmn_layer_defaults(LMN_LAYER_ADD);
    append_named(&spec, conv(4, 3, 1), "first");
    self_skip.skip = 1;
    append_named(&spec, self_skip, "skips_itself");
    append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
    expect_failure(be, &spec, 2, 6, LMN_ERR_SHAPE, "skips_itself", "skip of itself");
    lmn_model_spec_free(&spec);

    lmn_layer_spec no_skip = lmn_layer_defaults(LMN_LAYER_ADD);
    append_named(&spec, no_skip, "lonely_add");
    append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
    expect_failure(be, &spec, 2, 6, LMN_ERR_SHAPE, "lonely_add", "add without skip");
    lmn_model_spec_free(&spec);

    lmn_layer_spec bad_pool = lmn_layer_defaults(LMN_LAYER_MAXPOOL);
    bad_pool.pad = 2; /* more than half a 2x2 window */
    append_named(&spec, bad_pool, "padded_pool");
    append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
    expect_failure(be, &spec, 2, 6, LMN_ERR_SHAPE, "padded_pool", "pool padding > kernel / 2");
    lmn_model_spec_free(&spec);

    lmn_layer_spec dropout = lmn_layer_defaults(LMN_LAYER_DROPOUT);
    dropout.rate = 1.0f;
    append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
    append_named(&spec, dropout, "drops_everything");
    expect_failure(be, &spec, 2, 6, LMN_ERR_SHAPE, "drops_everything", "dropout rate 1");
    lmn_model_spec_free(&spec);

    expect_failure(be, &spec, 2, 6, LMN_ERR_CONFIG, "no layers", "empty model");

    append_named(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flat");
    expect_failure(be, &spec, 0, 6, LMN_ERR_SHAPE, "0x6x6", "empty input");
    lmn_model_spec_free(&spec);

    /* Default names are "<kind><index>" and can be looked up. */
    lmn_layer_spec unnamed = lmn_layer_defaults(LMN_LAYER_RELU);
    CHECK_OK(lmn_model_spec_append(&spec, &unnamed, NULL));
    int index = -1;
    CHECK_OK(lmn_model_spec_append(&spec, &unnamed, &index));
    CHECK(index == 1);
    CHECK(lmn_model_spec_find(&spec, "relu1") == 1);
    CHECK(lmn_model_spec_find(&spec, "relu7") == -1);
    lmn_model_spec_free(&spec);
}

int main(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    if (!be) return lmn_test_summary("nn_test_zoo");
    check_lenet(be);
    check_resnet20(be);
    check_vgg16(be);
    check_imagenet_resnets(be);
    check_bad_specs(be);
    lmn_backend_destroy(be);
    return lmn_test_summary("nn_test_zoo");
}
