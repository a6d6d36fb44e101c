#include "nn/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kind names and defaults come from the layer registry (nn/layers/registry.c). */

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
