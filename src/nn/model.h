/* A model description: the list of layers a network is built from.
 *
 * Layers run in list order. Each layer reads the output of the previous
 * layer unless `input` names an earlier one; `add` also reads `skip`,
 * which makes residual blocks. Layer indices are positions in the list;
 * -1 means the network input (an add may use it as `skip`: a global
 * residual as in VDSR).
 *
 * Activations are images (c x h x w) or volumes (c x d x h x w). conv,
 * maxpool, avgpool, global_avgpool, batchnorm and upsample take images
 * only; conv3d, maxpool3d and avgpool3d take volumes only; relu,
 * leaky_relu, scale, add, dropout, flatten and linear take either. */
#ifndef LMN_NN_MODEL_H
#define LMN_NN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/status.h"

enum { LMN_LAYER_NAME_MAX = 48, LMN_INPUT = -1 };

/* One value per layer kind, in the order of nn/layers/kinds.h (where a
 * kind is registered; its file in nn/layers/ says what it does). */
typedef enum lmn_layer_kind {
#define LMN_LAYER_KIND(KIND, type) LMN_LAYER_##KIND,
#include "nn/layers/kinds.h"
#undef LMN_LAYER_KIND
    LMN_LAYER_KIND_COUNT
} lmn_layer_kind;

typedef enum lmn_init_kind { LMN_INIT_HE, LMN_INIT_GLOROT } lmn_init_kind;

/* Upsampling by an integer factor r: nearest repeats each pixel r x r
 * times; pixel_shuffle turns c x h x w into c/r^2 x rh x rw in PyTorch's
 * PixelShuffle order (channel k*r^2 + i*r + j goes to offset (i, j)). */
typedef enum lmn_upsample_mode {
    LMN_UPSAMPLE_MODE_NEAREST,
    LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE
} lmn_upsample_mode;

/* The logical shape of an activation per sample: c x h x w for images
 * (d == 0), c x d x h x w for volumes (d >= 1, NCDHW order). d is last so
 * that {c, h, w} initializers keep meaning an image. */
typedef struct lmn_layer_shape {
    int c, h, w;
    int d; /* depth; 0 = 2-D */
} lmn_layer_shape;

/* Values per sample: c*h*w, times d for volumes. */
size_t lmn_shape_values(lmn_layer_shape shape);

typedef struct lmn_layer_spec {
    lmn_layer_kind kind;
    char name[LMN_LAYER_NAME_MAX];
    int input;          /* layer index, LMN_INPUT, or -2 = previous layer */
    int skip;           /* second operand of add */
    int out;            /* conv / conv3d: output channels; linear: output features */
    int kernel_d;       /* conv3d / 3-D pools; the same stride and pad apply to all dims */
    int kernel_h, kernel_w, stride, pad;
    bool bias;          /* conv / conv3d / linear */
    bool relu;          /* fused ReLU after conv / conv3d / linear / batchnorm */
    lmn_upsample_mode mode; /* upsample */
    int factor;         /* upsample: integer factor r >= 1 (default 2) */
    float slope;        /* leaky_relu: negative slope (default 0.01, PyTorch's) */
    float scale;        /* scale: the multiplier (default 1) */
    float rate;         /* dropout */
    float epsilon;      /* batchnorm */
    float momentum;     /* batchnorm running-statistics momentum (PyTorch's) */
    lmn_init_kind init; /* conv / conv3d / linear weights */
} lmn_layer_spec;

typedef struct lmn_model_spec {
    int count;
    lmn_layer_spec *layers; /* owned; free with lmn_model_spec_free */
    int capacity;
} lmn_model_spec;

/* The name used in configuration files ("conv", "maxpool", ...). */
const char *lmn_layer_kind_name(lmn_layer_kind kind);
/* Looks up a kind by its configuration name; false if unknown. */
bool lmn_layer_kind_from_name(const char *name, lmn_layer_kind *kind);

/* Prints the zoo models and every layer type with its keys and defaults
 * (from the layer registry, nn/layers/), for the help. */
void lmn_layer_help_print(FILE *out);

/* A layer of the given kind with every field at its default. */
lmn_layer_spec lmn_layer_defaults(lmn_layer_kind kind);

/* Appends a copy of layer; returns its index via *index (may be NULL). */
lmn_status lmn_model_spec_append(lmn_model_spec *spec, const lmn_layer_spec *layer, int *index);
/* Index of the layer called name, or -1. */
int lmn_model_spec_find(const lmn_model_spec *spec, const char *name);
void lmn_model_spec_free(lmn_model_spec *spec);

/* Options of the zoo models; a field <= 0 means "the model's default"
 * (lmn_zoo_defaults fills them in). Models ignore the fields that are not
 * theirs. */
typedef struct lmn_zoo_options {
    int features;    /* edsr 64, vdsr 64: channels of the body convolutions */
    int blocks;      /* edsr 8: residual blocks */
    float res_scale; /* edsr 0.1: scale of each residual branch */
    int upscale;     /* edsr 2: 2, 3 or 4 (4 = two x2 pixel-shuffle stages) */
    int depth;       /* vdsr 20: convolution layers */
    int filters;     /* cosmoflow 32: filters of the first conv block, doubled per block */
    int conv_blocks; /* cosmoflow: 0 = halve until the size is <= 4 (32^3: 3, 64^3: 4, 128^3: 5) */
    float dropout;   /* cosmoflow 0: dropout rate after each hidden dense layer (0 = none) */
} lmn_zoo_options;

/* Every option at its default (as listed above). */
lmn_zoo_options lmn_zoo_defaults(void);

/* Builds a zoo model for inputs of the given shape (input.d = 0 for
 * images) and num_outputs outputs per sample (classes for classifiers;
 * the target size for cosmoflow; unused by edsr / vdsr, whose output is
 * an image with the input's channels). options may be NULL (defaults).
 *   lenet, resnet20, vgg16: image classifiers (unchanged).
 *   resnet18, resnet50: ImageNet-shaped classifiers (torchvision's layout
 *              and tensor names; stride-2 stem + max pool; any input size).
 *   edsr:      c x h x w -> c x (r h) x (r w) super-resolution (Lim et al. 2017).
 *   vdsr:      c x h x w -> c x h x w, input + learned residual (Kim et al. 2016).
 *   cosmoflow: 4 x S^3 volume -> num_outputs regression targets
 *              (Mathuriya et al. 2018, MLPerf HPC shape). */
lmn_status lmn_model_zoo_build(const char *name, lmn_layer_shape input, int num_outputs,
                               const lmn_zoo_options *options, lmn_model_spec *spec);
/* lmn_model_zoo_build for channels x height x width images and default
 * options. */
lmn_status lmn_model_zoo(const char *name, int channels, int height, int width, int num_classes,
                         lmn_model_spec *spec);
/* NULL-terminated list of zoo names. */
const char *const *lmn_model_zoo_names(void);

#endif
