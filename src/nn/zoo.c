/* The model zoo: well-known networks expressed as layer lists. */
#include <stdio.h>
#include <string.h>

#include "nn/model.h"

static const char *const zoo_names[] = {"lenet", "resnet20", "vgg16", NULL};

const char *const *lmn_model_zoo_names(void) { return zoo_names; }

/* Appends a layer reading `input` (-2 = previous) and returns its index. */
static lmn_status add_layer(lmn_model_spec *spec, lmn_layer_spec layer, const char *name,
                            int *index)
{
    if (name) snprintf(layer.name, sizeof layer.name, "%s", name);
    return lmn_model_spec_append(spec, &layer, index);
}

static lmn_layer_spec conv(int out, int kernel, int stride, int pad, bool bias, bool relu)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_CONV);
    layer.out = out;
    layer.kernel_h = layer.kernel_w = kernel;
    layer.stride = stride;
    layer.pad = pad;
    layer.bias = bias;
    layer.relu = relu;
    return layer;
}

static lmn_layer_spec pool(lmn_layer_kind kind, int kernel, int stride)
{
    lmn_layer_spec layer = lmn_layer_defaults(kind);
    layer.kernel_h = layer.kernel_w = kernel;
    layer.stride = stride;
    return layer;
}

static lmn_layer_spec linear(int out, bool relu, lmn_init_kind init)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_LINEAR);
    layer.out = out;
    layer.relu = relu;
    layer.init = init;
    return layer;
}

static lmn_layer_spec batchnorm(bool relu)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_BATCHNORM);
    layer.relu = relu;
    return layer;
}

/* LeNet as in the Fashion-MNIST PyTorch yardstick: two 5x5 convolutions
 * with "same" padding, 2x2 max pools, fc-512, fc-classes. Glorot
 * initialization throughout: without batch norm, He-scaled weights made
 * some seeds diverge at lr 0.05 with momentum 0.9 (3 of 3 seeds train with
 * Glorot, 1 of 3 with He). */
static lmn_status build_lenet(lmn_model_spec *spec, int num_classes)
{
    lmn_layer_spec conv1 = conv(32, 5, 1, 2, true, true), conv2 = conv(64, 5, 1, 2, true, true);
    conv1.init = conv2.init = LMN_INIT_GLOROT;
    LMN_TRY(add_layer(spec, conv1, "conv1", NULL));
    LMN_TRY(add_layer(spec, pool(LMN_LAYER_MAXPOOL, 2, 2), "pool1", NULL));
    LMN_TRY(add_layer(spec, conv2, "conv2", NULL));
    LMN_TRY(add_layer(spec, pool(LMN_LAYER_MAXPOOL, 2, 2), "pool2", NULL));
    LMN_TRY(add_layer(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flatten", NULL));
    LMN_TRY(add_layer(spec, linear(512, true, LMN_INIT_GLOROT), "fc1", NULL));
    return add_layer(spec, linear(num_classes, false, LMN_INIT_GLOROT), "fc2", NULL);
}

/* One basic block: conv-bn-relu, conv-bn, plus a shortcut (identity, or a
 * 1x1 strided conv + bn when the shape changes), then relu. */
static lmn_status add_basic_block(lmn_model_spec *spec, const char *prefix, int in_channels,
                                  int out_channels, int stride)
{
    char name[LMN_LAYER_NAME_MAX];
    const int block_input = spec->count - 1;
    int shortcut = block_input, main_path;
    snprintf(name, sizeof name, "%s.conv1", prefix);
    LMN_TRY(add_layer(spec, conv(out_channels, 3, stride, 1, false, false), name, NULL));
    snprintf(name, sizeof name, "%s.bn1", prefix);
    LMN_TRY(add_layer(spec, batchnorm(true), name, NULL));
    snprintf(name, sizeof name, "%s.conv2", prefix);
    LMN_TRY(add_layer(spec, conv(out_channels, 3, 1, 1, false, false), name, NULL));
    snprintf(name, sizeof name, "%s.bn2", prefix);
    LMN_TRY(add_layer(spec, batchnorm(false), name, &main_path));
    if (stride != 1 || in_channels != out_channels) {
        lmn_layer_spec projection = conv(out_channels, 1, stride, 0, false, false);
        projection.input = block_input;
        snprintf(name, sizeof name, "%s.shortcut", prefix);
        LMN_TRY(add_layer(spec, projection, name, NULL));
        snprintf(name, sizeof name, "%s.shortcut_bn", prefix);
        LMN_TRY(add_layer(spec, batchnorm(false), name, &shortcut));
    }
    lmn_layer_spec sum = lmn_layer_defaults(LMN_LAYER_ADD);
    sum.input = main_path;
    sum.skip = shortcut;
    snprintf(name, sizeof name, "%s.add", prefix);
    LMN_TRY(add_layer(spec, sum, name, NULL));
    snprintf(name, sizeof name, "%s.relu", prefix);
    return add_layer(spec, lmn_layer_defaults(LMN_LAYER_RELU), name, NULL);
}

/* ResNet-20 for CIFAR (He et al. 2016): 3 stages of 3 basic blocks with
 * 16, 32, 64 channels; projection shortcuts where the shape changes. */
static lmn_status build_resnet20(lmn_model_spec *spec, int num_classes)
{
    static const int widths[3] = {16, 32, 64};
    LMN_TRY(add_layer(spec, conv(16, 3, 1, 1, false, false), "conv1", NULL));
    LMN_TRY(add_layer(spec, batchnorm(true), "bn1", NULL));
    int channels = 16;
    for (int stage = 0; stage < 3; stage++) {
        for (int block = 0; block < 3; block++) {
            char prefix[24];
            snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, block);
            const int stride = (stage > 0 && block == 0) ? 2 : 1;
            LMN_TRY(add_basic_block(spec, prefix, channels, widths[stage], stride));
            channels = widths[stage];
        }
    }
    LMN_TRY(add_layer(spec, lmn_layer_defaults(LMN_LAYER_GLOBAL_AVGPOOL), "avgpool", NULL));
    LMN_TRY(add_layer(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flatten", NULL));
    return add_layer(spec, linear(num_classes, false, LMN_INIT_GLOROT), "fc", NULL);
}

/* VGG-16 with batch norm (configuration D). The classifier is 4096 wide
 * for ImageNet-sized inputs and 512 wide for small (<= 64 px) inputs. */
static lmn_status build_vgg16(lmn_model_spec *spec, int height, int num_classes)
{
    static const int plan[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0,
                               512, 512, 512, 0, 512, 512, 512, 0};
    int conv_index = 0, pool_index = 0;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        char name[LMN_LAYER_NAME_MAX];
        if (plan[i] == 0) {
            snprintf(name, sizeof name, "pool%d", ++pool_index);
            LMN_TRY(add_layer(spec, pool(LMN_LAYER_MAXPOOL, 2, 2), name, NULL));
            continue;
        }
        snprintf(name, sizeof name, "conv%d", ++conv_index);
        LMN_TRY(add_layer(spec, conv(plan[i], 3, 1, 1, false, false), name, NULL));
        snprintf(name, sizeof name, "bn%d", conv_index);
        LMN_TRY(add_layer(spec, batchnorm(true), name, NULL));
    }
    const int width = height <= 64 ? 512 : 4096;
    lmn_layer_spec dropout = lmn_layer_defaults(LMN_LAYER_DROPOUT);
    LMN_TRY(add_layer(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flatten", NULL));
    LMN_TRY(add_layer(spec, linear(width, true, LMN_INIT_GLOROT), "fc1", NULL));
    LMN_TRY(add_layer(spec, dropout, "dropout1", NULL));
    LMN_TRY(add_layer(spec, linear(width, true, LMN_INIT_GLOROT), "fc2", NULL));
    LMN_TRY(add_layer(spec, dropout, "dropout2", NULL));
    return add_layer(spec, linear(num_classes, false, LMN_INIT_GLOROT), "fc3", NULL);
}

lmn_status lmn_model_zoo(const char *name, int channels, int height, int width, int num_classes,
                         lmn_model_spec *spec)
{
    (void)channels;
    if (num_classes < 1)
        return lmn_fail(LMN_ERR_CONFIG, "model '%s' needs a classification dataset (classes >= 1)",
                        name);
    if (strcmp(name, "lenet") == 0) return build_lenet(spec, num_classes);
    if (strcmp(name, "resnet20") == 0) return build_resnet20(spec, num_classes);
    if (strcmp(name, "vgg16") == 0) {
        if (height < 32 || width < 32)
            return lmn_fail(LMN_ERR_SHAPE,
                            "model 'vgg16' needs inputs of at least 32x32 (five 2x2 pools), "
                            "got %dx%d",
                            height, width);
        return build_vgg16(spec, height, num_classes);
    }
    return lmn_fail(LMN_ERR_CONFIG, "unknown model '%s' (zoo: lenet, resnet20, vgg16)", name);
}
