/* Small models that use the science-workload layer kinds, shared by the
 * finite-difference test and the dnnl-versus-ref test. */
#ifndef LMN_TESTS_NN_SCIENCE_MODELS_H
#define LMN_TESTS_NN_SCIENCE_MODELS_H

#include "nn/model.h"
#include "test.h"

static inline int append(lmn_model_spec *spec, lmn_layer_spec layer)
{
    int index = -1;
    CHECK_OK(lmn_model_spec_append(spec, &layer, &index));
    return index;
}

static inline lmn_layer_spec reading(lmn_layer_spec layer, int input)
{
    layer.input = input;
    return layer;
}

static inline lmn_layer_spec conv3d_layer(int out, int kd, int kh, int kw, int stride, int pad, bool relu)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_CONV3D);
    layer.out = out;
    layer.kernel_d = kd;
    layer.kernel_h = kh;
    layer.kernel_w = kw;
    layer.stride = stride;
    layer.pad = pad;
    layer.relu = relu;
    return layer;
}

static inline lmn_layer_spec conv_layer(int out, int kernel, int pad, bool relu)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_CONV);
    layer.out = out;
    layer.kernel_h = layer.kernel_w = kernel;
    layer.pad = pad;
    layer.relu = relu;
    return layer;
}

static inline lmn_layer_spec pool3d_layer(lmn_layer_kind kind, int kernel, int stride, int pad)
{
    lmn_layer_spec layer = lmn_layer_defaults(kind);
    layer.kernel_d = layer.kernel_h = layer.kernel_w = kernel;
    layer.stride = stride;
    layer.pad = pad;
    return layer;
}

static inline lmn_layer_spec leaky_layer(float slope)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_LEAKY_RELU);
    layer.slope = slope;
    return layer;
}

static inline lmn_layer_spec scale_layer(float factor)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_SCALE);
    layer.scale = factor;
    return layer;
}

static inline lmn_layer_spec upsample_layer(lmn_upsample_mode mode, int factor)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_UPSAMPLE);
    layer.mode = mode;
    layer.factor = factor;
    return layer;
}

static inline lmn_layer_spec add_layer(int input, int skip)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_ADD);
    layer.input = input;
    layer.skip = skip;
    return layer;
}

static inline lmn_layer_spec linear_layer(int out)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_LINEAR);
    layer.out = out;
    return layer;
}

/* (a) the CosmoFlow pattern on an odd-sized volume:
 * 2x5x7x6 -> conv3d k3 p1 -> leaky -> maxpool3d 2 (2x3x3) -> flatten -> linear 3 */
static inline void build_volume_basic(lmn_model_spec *spec)
{
    append(spec, conv3d_layer(3, 3, 3, 3, 1, 1, false));
    append(spec, leaky_layer(0.1f));
    append(spec, pool3d_layer(LMN_LAYER_MAXPOOL3D, 2, 2, 0));
    append(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN));
    append(spec, linear_layer(3));
}

/* (b) every 3-D path: a fused-ReLU conv3d, a scaled residual add, a padded
 * avgpool3d, an anisotropic strided conv3d, dropout, and a linear layer
 * reading the volume without a flatten.
 * 2x5x7x6 -> conv3d 3 (k3 p1) -> leaky 0.2 -> maxpool3d (3x2x3x3) ->
 * conv3d 3 relu (k3 p1) -> scale 0.5 -> add(maxpool) -> avgpool3d k2 s1 p1
 * (3x3x4x4) -> conv3d 2 k[2,3,2] s2 (2x1x1x2) -> dropout 0.25 -> linear 4 */
static inline void build_volume_rich(lmn_model_spec *spec)
{
    append(spec, conv3d_layer(3, 3, 3, 3, 1, 1, false));
    append(spec, leaky_layer(0.2f));
    const int pooled = append(spec, pool3d_layer(LMN_LAYER_MAXPOOL3D, 2, 2, 0));
    append(spec, conv3d_layer(3, 3, 3, 3, 1, 1, true));
    const int scaled = append(spec, scale_layer(0.5f));
    append(spec, add_layer(scaled, pooled));
    append(spec, pool3d_layer(LMN_LAYER_AVGPOOL3D, 2, 1, 1));
    append(spec, conv3d_layer(2, 2, 3, 2, 2, 0, false));
    lmn_layer_spec dropout = lmn_layer_defaults(LMN_LAYER_DROPOUT);
    dropout.rate = 0.25f;
    append(spec, dropout);
    append(spec, linear_layer(4));
}

/* (c) 2-D super-resolution pieces, output an image:
 * 2x5x6 -> conv 8 -> pixel_shuffle 2 (2x10x12) -> conv 4 relu -> scale 0.3
 * and, from the first conv, conv 4 -> nearest x2 (4x10x12); add ->
 * leaky -> conv 2, plus the input upsampled (nearest) as a global skip. */
static inline void build_image_upsampling(lmn_model_spec *spec)
{
    const int head = append(spec, conv_layer(8, 3, 1, false));
    append(spec, upsample_layer(LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE, 2));
    append(spec, conv_layer(4, 3, 1, true));
    const int scaled = append(spec, scale_layer(0.3f));
    append(spec, reading(conv_layer(4, 3, 1, false), head));
    const int nearest = append(spec, upsample_layer(LMN_UPSAMPLE_MODE_NEAREST, 2));
    append(spec, add_layer(scaled, nearest));
    append(spec, leaky_layer(0.05f));
    const int body = append(spec, conv_layer(2, 3, 1, false));
    const int enlarged = append(spec, reading(upsample_layer(LMN_UPSAMPLE_MODE_NEAREST, 2),
                                              LMN_INPUT));
    append(spec, add_layer(body, enlarged));
}

/* (d) the zoo's VDSR and EDSR, shrunk: add with the network input as its
 * skip, residual scaling, and a x3 pixel shuffle. */
static inline void build_small_vdsr(lmn_model_spec *spec)
{
    const lmn_zoo_options options = {.depth = 3, .features = 4};
    const lmn_layer_shape input = {.c = 2, .h = 5, .w = 6};
    CHECK_OK(lmn_model_zoo_build("vdsr", input, 0, &options, spec));
}

static inline void build_small_edsr(lmn_model_spec *spec)
{
    const lmn_zoo_options options = {.features = 4, .blocks = 2, .res_scale = 0.5f, .upscale = 3};
    const lmn_layer_shape input = {.c = 2, .h = 5, .w = 6};
    CHECK_OK(lmn_model_zoo_build("edsr", input, 0, &options, spec));
}

/* (e) the zoo's CosmoFlow, narrow: 4 x 12x16x16 -> 2 blocks of 4, 8 filters. */
static inline void build_small_cosmoflow(lmn_model_spec *spec)
{
    const lmn_zoo_options options = {.filters = 4};
    const lmn_layer_shape input = {.c = 4, .d = 12, .h = 16, .w = 16};
    CHECK_OK(lmn_model_zoo_build("cosmoflow", input, 4, &options, spec));
}

#endif
