/* The model zoo: well-known networks expressed as layer lists. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/model.h"

static const char *const zoo_names[] = {"lenet", "resnet20", "resnet18", "resnet50", "vgg16",
                                        "edsr", "vdsr", "cosmoflow", NULL};

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

/* Names of a residual block's projection shortcut. ResNet-20 keeps the
 * names its checkpoints already use; the ImageNet ResNets take
 * torchvision's, so their tensors line up one for one with a torchvision
 * state dict. */
typedef struct shortcut_names {
    const char *conv, *bn;
} shortcut_names;

static const shortcut_names cifar_shortcut = {"shortcut", "shortcut_bn"};
static const shortcut_names torchvision_shortcut = {"downsample.0", "downsample.1"};

/* Appends `prefix.suffix`; *index may be NULL. */
static lmn_status add_block_layer(lmn_model_spec *spec, lmn_layer_spec layer, const char *prefix,
                                  const char *suffix, int *index)
{
    char name[LMN_LAYER_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return add_layer(spec, layer, name, index);
}

/* Ends a residual block whose main path ends at main_path: the shortcut
 * (identity, or a 1x1 strided conv + bn when the shape changes), the add,
 * then relu. */
static lmn_status add_shortcut_join(lmn_model_spec *spec, const char *prefix, int block_input,
                                    int main_path, bool project, int out_channels, int stride,
                                    const shortcut_names *names)
{
    int shortcut = block_input;
    if (project) {
        lmn_layer_spec projection = conv(out_channels, 1, stride, 0, false, false);
        projection.input = block_input;
        LMN_TRY(add_block_layer(spec, projection, prefix, names->conv, NULL));
        LMN_TRY(add_block_layer(spec, batchnorm(false), prefix, names->bn, &shortcut));
    }
    lmn_layer_spec join = lmn_layer_defaults(LMN_LAYER_ADD);
    join.input = main_path;
    join.skip = shortcut;
    LMN_TRY(add_block_layer(spec, join, prefix, "add", NULL));
    return add_block_layer(spec, lmn_layer_defaults(LMN_LAYER_RELU), prefix, "relu", NULL);
}

/* One basic block: conv-bn-relu, conv-bn, plus the shortcut, then relu. */
static lmn_status add_basic_block(lmn_model_spec *spec, const char *prefix, int in_channels,
                                  int out_channels, int stride, const shortcut_names *names)
{
    const int block_input = spec->count - 1;
    int main_path;
    LMN_TRY(add_block_layer(spec, conv(out_channels, 3, stride, 1, false, false), prefix, "conv1",
                            NULL));
    LMN_TRY(add_block_layer(spec, batchnorm(true), prefix, "bn1", NULL));
    LMN_TRY(add_block_layer(spec, conv(out_channels, 3, 1, 1, false, false), prefix, "conv2", NULL));
    LMN_TRY(add_block_layer(spec, batchnorm(false), prefix, "bn2", &main_path));
    const bool project = stride != 1 || in_channels != out_channels;
    return add_shortcut_join(spec, prefix, block_input, main_path, project, out_channels, stride,
                             names);
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
            LMN_TRY(add_basic_block(spec, prefix, channels, widths[stage], stride,
                                    &cifar_shortcut));
            channels = widths[stage];
        }
    }
    LMN_TRY(add_layer(spec, lmn_layer_defaults(LMN_LAYER_GLOBAL_AVGPOOL), "avgpool", NULL));
    LMN_TRY(add_layer(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flatten", NULL));
    return add_layer(spec, linear(num_classes, false, LMN_INIT_GLOROT), "fc", NULL);
}

/* One bottleneck block (torchvision's ResNet v1.5: the stride sits on the
 * 3x3 conv, not the first 1x1): 1x1 conv-bn-relu to `width`, 3x3
 * conv-bn-relu, 1x1 conv-bn up to 4 * width, plus the shortcut, then relu. */
static lmn_status add_bottleneck_block(lmn_model_spec *spec, const char *prefix, int in_channels,
                                       int width, int stride)
{
    const int block_input = spec->count - 1, out_channels = 4 * width;
    int main_path;
    LMN_TRY(add_block_layer(spec, conv(width, 1, 1, 0, false, false), prefix, "conv1", NULL));
    LMN_TRY(add_block_layer(spec, batchnorm(true), prefix, "bn1", NULL));
    LMN_TRY(add_block_layer(spec, conv(width, 3, stride, 1, false, false), prefix, "conv2", NULL));
    LMN_TRY(add_block_layer(spec, batchnorm(true), prefix, "bn2", NULL));
    LMN_TRY(add_block_layer(spec, conv(out_channels, 1, 1, 0, false, false), prefix, "conv3",
                            NULL));
    LMN_TRY(add_block_layer(spec, batchnorm(false), prefix, "bn3", &main_path));
    const bool project = stride != 1 || in_channels != out_channels;
    return add_shortcut_join(spec, prefix, block_input, main_path, project, out_channels, stride,
                             &torchvision_shortcut);
}

/* The ImageNet ResNets (He et al. 2016, torchvision's layout and names). */
typedef struct imagenet_resnet {
    const char *name;
    int blocks[4];   /* per stage; stages are 64, 128, 256, 512 wide */
    bool bottleneck; /* bottleneck blocks (output 4x the stage width) */
} imagenet_resnet;

static const imagenet_resnet imagenet_resnets[] = {
    {"resnet18", {2, 2, 2, 2}, false},
    {"resnet50", {3, 4, 6, 3}, true},
};

static const imagenet_resnet *find_imagenet_resnet(const char *name)
{
    for (size_t i = 0; i < sizeof imagenet_resnets / sizeof imagenet_resnets[0]; i++)
        if (strcmp(imagenet_resnets[i].name, name) == 0) return &imagenet_resnets[i];
    return NULL;
}

/* Stem: 7x7 stride-2 conv (no bias), bn-relu, 3x3 stride-2 max pool with
 * padding 1, so a 224 px input reaches stage 1 at 56 px. Four stages, the
 * first block of stages 2-4 striding by 2; global average pool, fc. Every
 * size >= 1 survives (padding keeps each downsampling at >= 1 px), so
 * 224, 112, 64 and 32 px inputs all work. Initialization follows the zoo
 * (He-normal convs, Glorot fc, unit BN scales everywhere: like
 * resnet20, and torchvision's default zero_init_residual=False, no block
 * starts with a zero BN scale). */
static lmn_status build_imagenet_resnet(lmn_model_spec *spec, const imagenet_resnet *plan,
                                        int num_classes)
{
    LMN_TRY(add_layer(spec, conv(64, 7, 2, 3, false, false), "conv1", NULL));
    LMN_TRY(add_layer(spec, batchnorm(true), "bn1", NULL));
    lmn_layer_spec stem_pool = pool(LMN_LAYER_MAXPOOL, 3, 2);
    stem_pool.pad = 1;
    LMN_TRY(add_layer(spec, stem_pool, "maxpool", NULL));
    int channels = 64;
    for (int stage = 0; stage < 4; stage++) {
        const int width = 64 << stage;
        for (int block = 0; block < plan->blocks[stage]; block++) {
            char prefix[24];
            snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, block);
            const int stride = (stage > 0 && block == 0) ? 2 : 1;
            if (plan->bottleneck)
                LMN_TRY(add_bottleneck_block(spec, prefix, channels, width, stride));
            else
                LMN_TRY(add_basic_block(spec, prefix, channels, width, stride,
                                        &torchvision_shortcut));
            channels = plan->bottleneck ? 4 * width : width;
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

static lmn_layer_spec conv3d(int out, int kernel, int pad, lmn_init_kind init)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_CONV3D);
    layer.out = out;
    layer.kernel_d = layer.kernel_h = layer.kernel_w = kernel;
    layer.pad = pad;
    layer.init = init;
    return layer;
}

static lmn_layer_spec sum(int input, int skip)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_ADD);
    layer.input = input;
    layer.skip = skip;
    return layer;
}

static lmn_status add_named(lmn_model_spec *spec, lmn_layer_spec layer, int *index,
                            const char *format, int number)
{
    char name[LMN_LAYER_NAME_MAX];
    snprintf(name, sizeof name, format, number);
    return add_layer(spec, layer, name, index);
}

/* One EDSR residual block: conv-relu-conv, scaled, plus the block input. */
static lmn_status add_edsr_block(lmn_model_spec *spec, int block, int features, float res_scale)
{
    const int block_input = spec->count - 1;
    int scaled;
    LMN_TRY(add_named(spec, conv(features, 3, 1, 1, true, true), NULL, "body.%d.conv1", block));
    LMN_TRY(add_named(spec, conv(features, 3, 1, 1, true, false), NULL, "body.%d.conv2", block));
    lmn_layer_spec scale = lmn_layer_defaults(LMN_LAYER_SCALE);
    scale.scale = res_scale;
    LMN_TRY(add_named(spec, scale, &scaled, "body.%d.scale", block));
    return add_named(spec, sum(scaled, block_input), NULL, "body.%d.add", block);
}

/* EDSR (Lim et al. 2017) without the RGB mean shift: head conv, residual
 * blocks without batch norm, a body conv with a global skip from the
 * head, pixel-shuffle upsampling (one x2 / x3 stage, or two x2 stages for
 * x4), and a tail conv back to the input's channels. */
static lmn_status build_edsr(lmn_model_spec *spec, int channels, const lmn_zoo_options *o)
{
    int head;
    LMN_TRY(add_layer(spec, conv(o->features, 3, 1, 1, true, false), "head", &head));
    for (int block = 0; block < o->blocks; block++)
        LMN_TRY(add_edsr_block(spec, block, o->features, o->res_scale));
    int body;
    LMN_TRY(add_layer(spec, conv(o->features, 3, 1, 1, true, false), "body.conv", &body));
    LMN_TRY(add_layer(spec, sum(body, head), "body.add", NULL));
    const int stages = o->upscale == 4 ? 2 : 1, factor = o->upscale == 4 ? 2 : o->upscale;
    for (int stage = 0; stage < stages; stage++) {
        lmn_layer_spec shuffle = lmn_layer_defaults(LMN_LAYER_UPSAMPLE);
        shuffle.mode = LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE;
        shuffle.factor = factor;
        LMN_TRY(add_named(spec, conv(o->features * factor * factor, 3, 1, 1, true, false), NULL,
                          "upsample.%d.conv", stage));
        LMN_TRY(add_named(spec, shuffle, NULL, "upsample.%d.shuffle", stage));
    }
    return add_layer(spec, conv(channels, 3, 1, 1, true, false), "tail", NULL);
}

/* VDSR (Kim et al. 2016): `depth` 3x3 convolutions (ReLU on all but the
 * last) predict the residual that is added to the input, an image already
 * upsampled to the output size. */
static lmn_status build_vdsr(lmn_model_spec *spec, int channels, const lmn_zoo_options *o)
{
    for (int k = 1; k < o->depth; k++)
        LMN_TRY(add_named(spec, conv(o->features, 3, 1, 1, true, true), NULL, "conv%d", k));
    int residual;
    LMN_TRY(add_named(spec, conv(channels, 3, 1, 1, true, false), &residual, "conv%d", o->depth));
    return add_layer(spec, sum(residual, LMN_INPUT), "residual", NULL);
}

static int smallest_side(lmn_layer_shape input)
{
    int side = input.h < input.w ? input.h : input.w;
    return input.d < side ? input.d : side;
}

/* Blocks that halve the smallest side until it is at most 4. */
static int cosmoflow_auto_blocks(lmn_layer_shape input)
{
    int blocks = 0;
    for (int side = smallest_side(input); side > 4; side /= 2) blocks++;
    return blocks;
}

static lmn_status add_cosmoflow_dense(lmn_model_spec *spec, int index, int out, float dropout)
{
    LMN_TRY(add_named(spec, linear(out, false, LMN_INIT_GLOROT), NULL, "fc%d", index));
    LMN_TRY(add_named(spec, lmn_layer_defaults(LMN_LAYER_LEAKY_RELU), NULL, "fc%d.act", index));
    if (dropout <= 0.0f) return LMN_OK;
    lmn_layer_spec drop = lmn_layer_defaults(LMN_LAYER_DROPOUT);
    drop.rate = dropout;
    return add_named(spec, drop, NULL, "fc%d.dropout", index);
}

/* CosmoFlow (Mathuriya et al. 2018; the MLPerf HPC reference's shape):
 * blocks of conv3d k3 pad 1 + leaky ReLU + 2x2x2 max pool with 32, 64,
 * 128, ... filters, then dense 128 and 64 (leaky ReLU, optional dropout)
 * and a linear output of the regression targets. Glorot initialization
 * throughout, as the Keras reference. */
static lmn_status build_cosmoflow(lmn_model_spec *spec, lmn_layer_shape input, int num_outputs,
                                  const lmn_zoo_options *o)
{
    const int blocks = o->conv_blocks > 0 ? o->conv_blocks : cosmoflow_auto_blocks(input);
    int most = 0;
    while (smallest_side(input) >> (most + 1) >= 1) most++;
    if (blocks > most)
        return lmn_fail(LMN_ERR_SHAPE,
                        "model 'cosmoflow': %d conv blocks halve the smallest side %d of the "
                        "input below 1; use at most %d (model.conv_blocks)",
                        blocks, smallest_side(input), most);
    for (int b = 1; b <= blocks; b++) {
        const long filters = (long)o->filters << (b - 1);
        if (filters > 1 << 16)
            return lmn_fail(LMN_ERR_CONFIG, "model 'cosmoflow': block %d would have %ld filters "
                            "(model.filters %d doubled per block); use fewer blocks or filters",
                            b, filters, o->filters);
        LMN_TRY(add_named(spec, conv3d((int)filters, 3, 1, LMN_INIT_GLOROT), NULL, "conv%d", b));
        LMN_TRY(add_named(spec, lmn_layer_defaults(LMN_LAYER_LEAKY_RELU), NULL, "act%d", b));
        LMN_TRY(add_named(spec, lmn_layer_defaults(LMN_LAYER_MAXPOOL3D), NULL, "pool%d", b));
    }
    LMN_TRY(add_layer(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN), "flatten", NULL));
    LMN_TRY(add_cosmoflow_dense(spec, 1, 128, o->dropout));
    LMN_TRY(add_cosmoflow_dense(spec, 2, 64, o->dropout));
    return add_layer(spec, linear(num_outputs, false, LMN_INIT_GLOROT), "fc3", NULL);
}

lmn_zoo_options lmn_zoo_defaults(void)
{
    return (lmn_zoo_options){.features = 64, .blocks = 8, .res_scale = 0.1f, .upscale = 2,
                             .depth = 20, .filters = 32, .conv_blocks = 0, .dropout = 0.0f};
}

/* Options <= 0 take their defaults; the rest are checked. */
static lmn_status resolve_options(const char *name, const lmn_zoo_options *given,
                                  lmn_zoo_options *o)
{
    *o = lmn_zoo_defaults();
    if (!given) return LMN_OK;
    if (given->features > 0) o->features = given->features;
    if (given->blocks > 0) o->blocks = given->blocks;
    if (given->res_scale > 0.0f) o->res_scale = given->res_scale;
    if (given->upscale > 0) o->upscale = given->upscale;
    if (given->depth > 0) o->depth = given->depth;
    if (given->filters > 0) o->filters = given->filters;
    if (given->conv_blocks > 0) o->conv_blocks = given->conv_blocks;
    if (given->dropout > 0.0f) o->dropout = given->dropout;
    if (o->upscale != 2 && o->upscale != 3 && o->upscale != 4)
        return lmn_fail(LMN_ERR_CONFIG, "model '%s': upscale must be 2, 3 or 4, got %d", name,
                        o->upscale);
    if (o->depth < 2)
        return lmn_fail(LMN_ERR_CONFIG, "model '%s': depth must be >= 2 (first and last conv), "
                        "got %d", name, o->depth);
    if (!isfinite(o->res_scale) || !(o->dropout < 1.0f))
        return lmn_fail(LMN_ERR_CONFIG, "model '%s': res_scale must be finite and dropout < 1",
                        name);
    return LMN_OK;
}

static bool is_image_to_image(const char *name)
{
    return strcmp(name, "edsr") == 0 || strcmp(name, "vdsr") == 0;
}

static lmn_status check_input(const char *name, lmn_layer_shape input, int num_outputs)
{
    const bool wants_volume = strcmp(name, "cosmoflow") == 0;
    if (wants_volume && input.d < 1)
        return lmn_fail(LMN_ERR_SHAPE, "model 'cosmoflow' takes volumes (c x d x h x w), but the "
                        "input is a %dx%dx%d image", input.c, input.h, input.w);
    if (!wants_volume && input.d > 0)
        return lmn_fail(LMN_ERR_SHAPE, "model '%s' takes images (c x h x w), but the input is a "
                        "%dx%dx%dx%d volume (c x d x h x w); use a layer list with conv3d, or "
                        "cosmoflow", name, input.c, input.d, input.h, input.w);
    if (!is_image_to_image(name) && num_outputs < 1)
        return lmn_fail(LMN_ERR_CONFIG, "model '%s' needs %s (outputs >= 1)", name,
                        wants_volume ? "regression targets" : "a classification dataset (classes)");
    return LMN_OK;
}

lmn_status lmn_model_zoo_build(const char *name, lmn_layer_shape input, int num_outputs,
                               const lmn_zoo_options *options, lmn_model_spec *spec)
{
    bool known = false;
    char list[160] = "";
    for (const char *const *zoo = zoo_names; *zoo; zoo++) {
        known = known || strcmp(*zoo, name) == 0;
        const size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *zoo);
    }
    if (!known) return lmn_fail(LMN_ERR_CONFIG, "unknown model '%s' (zoo: %s)", name, list);
    LMN_TRY(check_input(name, input, num_outputs));
    lmn_zoo_options o;
    LMN_TRY(resolve_options(name, options, &o));
    if (strcmp(name, "lenet") == 0) return build_lenet(spec, num_outputs);
    if (strcmp(name, "resnet20") == 0) return build_resnet20(spec, num_outputs);
    const imagenet_resnet *resnet = find_imagenet_resnet(name);
    if (resnet) return build_imagenet_resnet(spec, resnet, num_outputs);
    if (strcmp(name, "vgg16") == 0) {
        if (input.h < 32 || input.w < 32)
            return lmn_fail(LMN_ERR_SHAPE,
                            "model 'vgg16' needs inputs of at least 32x32 (five 2x2 pools), "
                            "got %dx%d",
                            input.h, input.w);
        return build_vgg16(spec, input.h, num_outputs);
    }
    if (strcmp(name, "edsr") == 0) return build_edsr(spec, input.c, &o);
    if (strcmp(name, "vdsr") == 0) return build_vdsr(spec, input.c, &o);
    return build_cosmoflow(spec, input, num_outputs, &o);
}

lmn_status lmn_model_zoo(const char *name, int channels, int height, int width, int num_classes,
                         lmn_model_spec *spec)
{
    const lmn_layer_shape input = {.c = channels, .h = height, .w = width, .d = 0};
    return lmn_model_zoo_build(name, input, num_classes, NULL, spec);
}
