/* A model description: the list of layers a network is built from.
 *
 * Layers run in list order. Each layer reads the output of the previous
 * layer unless `input` names an earlier one; `add` also reads `skip`,
 * which makes residual blocks. Layer indices are positions in the list;
 * -1 means the network input. */
#ifndef LMN_NN_MODEL_H
#define LMN_NN_MODEL_H

#include <stdbool.h>

#include "core/status.h"

enum { LMN_LAYER_NAME_MAX = 48, LMN_INPUT = -1 };

typedef enum lmn_layer_kind {
    LMN_LAYER_CONV,
    LMN_LAYER_MAXPOOL,
    LMN_LAYER_AVGPOOL,
    LMN_LAYER_GLOBAL_AVGPOOL,
    LMN_LAYER_LINEAR,
    LMN_LAYER_BATCHNORM,
    LMN_LAYER_RELU,
    LMN_LAYER_ADD,
    LMN_LAYER_DROPOUT,
    LMN_LAYER_FLATTEN,
    LMN_LAYER_KIND_COUNT
} lmn_layer_kind;

typedef enum lmn_init_kind { LMN_INIT_HE, LMN_INIT_GLOROT } lmn_init_kind;

typedef struct lmn_layer_spec {
    lmn_layer_kind kind;
    char name[LMN_LAYER_NAME_MAX];
    int input;          /* layer index, LMN_INPUT, or -2 = previous layer */
    int skip;           /* second operand of add */
    int out;            /* conv: output channels; linear: output features */
    int kernel_h, kernel_w, stride, pad;
    bool bias;          /* conv / linear */
    bool relu;          /* fused ReLU after conv / linear / batchnorm */
    float rate;         /* dropout */
    float epsilon;      /* batchnorm */
    float momentum;     /* batchnorm running-statistics momentum (PyTorch's) */
    lmn_init_kind init; /* conv / linear weights */
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

/* A layer of the given kind with every field at its default. */
lmn_layer_spec lmn_layer_defaults(lmn_layer_kind kind);

/* Appends a copy of layer; returns its index via *index (may be NULL). */
lmn_status lmn_model_spec_append(lmn_model_spec *spec, const lmn_layer_spec *layer, int *index);
/* Index of the layer called name, or -1. */
int lmn_model_spec_find(const lmn_model_spec *spec, const char *name);
void lmn_model_spec_free(lmn_model_spec *spec);

/* Builds a zoo model ("lenet", "resnet20", "vgg16") for inputs of
 * channels x height x width and num_classes outputs. */
lmn_status lmn_model_zoo(const char *name, int channels, int height, int width, int num_classes,
                         lmn_model_spec *spec);
/* NULL-terminated list of zoo names. */
const char *const *lmn_model_zoo_names(void);

#endif
