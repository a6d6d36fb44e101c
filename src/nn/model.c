#include "nn/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[LMN_LAYER_KIND_COUNT] = {
    [LMN_LAYER_CONV] = "conv",           [LMN_LAYER_MAXPOOL] = "maxpool",
    [LMN_LAYER_AVGPOOL] = "avgpool",     [LMN_LAYER_GLOBAL_AVGPOOL] = "global_avgpool",
    [LMN_LAYER_LINEAR] = "linear",       [LMN_LAYER_BATCHNORM] = "batchnorm",
    [LMN_LAYER_RELU] = "relu",           [LMN_LAYER_ADD] = "add",
    [LMN_LAYER_DROPOUT] = "dropout",     [LMN_LAYER_FLATTEN] = "flatten",
    [LMN_LAYER_CONV3D] = "conv3d",       [LMN_LAYER_MAXPOOL3D] = "maxpool3d",
    [LMN_LAYER_AVGPOOL3D] = "avgpool3d", [LMN_LAYER_UPSAMPLE] = "upsample",
    [LMN_LAYER_LEAKY_RELU] = "leaky_relu", [LMN_LAYER_SCALE] = "scale",
};

const char *lmn_layer_kind_name(lmn_layer_kind kind)
{
    return (unsigned)kind < LMN_LAYER_KIND_COUNT ? kind_names[kind] : "?";
}

bool lmn_layer_kind_from_name(const char *name, lmn_layer_kind *kind)
{
    for (int i = 0; i < LMN_LAYER_KIND_COUNT; i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (lmn_layer_kind)i;
            return true;
        }
    }
    return false;
}

lmn_layer_spec lmn_layer_defaults(lmn_layer_kind kind)
{
    /* Convolutions default to 3-wide, stride 1; pools to 2-wide, stride 2. */
    const bool conv = kind == LMN_LAYER_CONV || kind == LMN_LAYER_CONV3D;
    const int kernel = conv ? 3 : 2;
    lmn_layer_spec layer = {
        .kind = kind, .input = -2, .skip = -2, .out = 0,
        .kernel_d = kernel, .kernel_h = kernel, .kernel_w = kernel,
        .stride = conv ? 1 : 2, .pad = 0,
        .bias = true, .relu = false, .rate = 0.5f, .epsilon = 1e-5f, .momentum = 0.1f,
        .init = LMN_INIT_HE,
        .mode = LMN_UPSAMPLE_MODE_NEAREST, .factor = 2, .slope = 0.01f, .scale = 1.0f,
    };
    return layer;
}

size_t lmn_shape_values(lmn_layer_shape shape)
{
    return (size_t)shape.c * (size_t)shape.h * (size_t)shape.w * (size_t)(shape.d > 0 ? shape.d : 1);
}

lmn_status lmn_model_spec_append(lmn_model_spec *spec, const lmn_layer_spec *layer, int *index)
{
    if (spec->count == spec->capacity) {
        const int capacity = spec->capacity ? spec->capacity * 2 : 16;
        lmn_layer_spec *grown = realloc(spec->layers, sizeof *grown * (size_t)capacity);
        if (!grown) return lmn_fail(LMN_ERR_NOMEM, "cannot grow the model's layer list");
        spec->layers = grown;
        spec->capacity = capacity;
    }
    spec->layers[spec->count] = *layer;
    if (!layer->name[0])
        snprintf(spec->layers[spec->count].name, LMN_LAYER_NAME_MAX, "%s%d",
                 lmn_layer_kind_name(layer->kind), spec->count);
    if (index) *index = spec->count;
    spec->count++;
    return LMN_OK;
}

int lmn_model_spec_find(const lmn_model_spec *spec, const char *name)
{
    for (int i = 0; i < spec->count; i++)
        if (strcmp(spec->layers[i].name, name) == 0) return i;
    return -1;
}

void lmn_model_spec_free(lmn_model_spec *spec)
{
    free(spec->layers);
    spec->layers = NULL;
    spec->count = spec->capacity = 0;
}
