#include "io/model_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layers/layer.h"


/* Layer names -> indices. A scan of the earlier layers per name lookup
 * (duplicate check, input, skip) made reading a model quadratic in its
 * layer count: 300,000 layers took minutes. Open addressing, linear
 * probing, no deletions: of equal names the earliest layer is found, as
 * lmn_model_spec_find would. */
typedef struct name_index {
    const lmn_model_spec *spec;
    int *slots;       /* layer index + 1; 0 = empty */
    size_t capacity;  /* a power of two, at least twice the layer count */
} name_index;

static size_t name_hash(const char *name)
{
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        hash = (hash ^ *c) * 1099511628211ull;
    return (size_t)hash;
}

static int name_index_find(const name_index *x, const char *name)
{
    if (x->capacity == 0) return -1;
    for (size_t i = name_hash(name) & (x->capacity - 1); x->slots[i]; i = (i + 1) & (x->capacity - 1))
        if (strcmp(x->spec->layers[x->slots[i] - 1].name, name) == 0) return x->slots[i] - 1;
    return -1;
}

static void name_index_insert(name_index *x, int layer)
{
    size_t i = name_hash(x->spec->layers[layer].name) & (x->capacity - 1);
    while (x->slots[i]) i = (i + 1) & (x->capacity - 1);
    x->slots[i] = layer + 1;
}

/* Indexes the layer just appended (the last of spec), growing by rehashing. */
static lmn_status name_index_add_last(name_index *x)
{
    const int count = x->spec->count;
    if ((size_t)count * 2 > x->capacity) {
        size_t capacity = 64;
        while (capacity < (size_t)count * 4) capacity *= 2;
        int *slots = calloc(capacity, sizeof *slots);
        if (!slots) return lmn_fail(LMN_ERR_NOMEM, "cannot index %d layer names", count);
        free(x->slots);
        x->slots = slots;
        x->capacity = capacity;
        for (int layer = 0; layer < count - 1; layer++) name_index_insert(x, layer);
    }
    name_index_insert(x, count - 1);
    return LMN_OK;
}

static lmn_status layer_reference(lmn_cfg *cfg, lmn_cfg_node *item, const char *key,
                                  const name_index *names, int *index)
{
    const char *name = NULL;
    LMN_TRY(lmn_cfg_get_string(cfg, item, key, "", &name));
    if (!name[0]) return LMN_OK;
    if (strcmp(name, "input") == 0) {
        *index = LMN_INPUT;
        return LMN_OK;
    }
    *index = name_index_find(names, name);
    if (*index < 0) {
        lmn_cfg_node *node = lmn_cfg_find(cfg, item, key);
        return lmn_fail(LMN_ERR_CONFIG,
                        "%s:%d: key '%s': no earlier layer is called '%s' (use a layer's "
                        "name, or 'input')",
                        lmn_cfg_node_source(node), lmn_cfg_node_line(node), lmn_cfg_node_path(node),
                        name);
    }
    return LMN_OK;
}

/* kernel: 3 or kernel: [3, 5]; for 3-D layers kernel: 3 or [2, 3, 3]
 * (depth, height, width). */
static lmn_status read_kernel(lmn_cfg *cfg, lmn_cfg_node *item, bool volume, lmn_layer_spec *layer)
{
    const int64_t defaults[3] = {volume ? layer->kernel_d : layer->kernel_h,
                                 volume ? layer->kernel_h : layer->kernel_w, layer->kernel_w};
    const size_t dims = volume ? 3 : 2;
    const int64_t *values = NULL;
    size_t count = 0;
    LMN_TRY(lmn_cfg_get_int_list(cfg, item, "kernel", defaults, dims, &values, &count));
    lmn_cfg_node *node = lmn_cfg_find(cfg, item, "kernel");
    bool valid = count == 1 || count == dims;
    for (size_t k = 0; valid && k < count; k++) valid = values[k] >= 1 && values[k] <= 1 << 16;
    if (!valid)
        return lmn_fail(LMN_ERR_CONFIG, "%s:%d: key '%s': expected a size >= 1 or %s",
                        lmn_cfg_node_source(node), lmn_cfg_node_line(node), lmn_cfg_node_path(node),
                        volume ? "[depth, height, width]" : "[height, width]");
    const int64_t *last = &values[count - 1];
    layer->kernel_d = volume ? (int)values[0] : layer->kernel_d;
    layer->kernel_h = (int)(count == 1 ? values[0] : last[-1]);
    layer->kernel_w = (int)*last;
    return LMN_OK;
}

/* A layer reference without a default must be there (the getters report
 * other missing required keys themselves). */
static lmn_status require_reference(lmn_cfg *cfg, lmn_cfg_node *item, const lmn_layer_key *key,
                                    const char *type)
{
    if (!key->required || lmn_cfg_find(cfg, item, key->name)) return LMN_OK;
    return lmn_fail(LMN_ERR_CONFIG, "%s:%d: %s: layer type '%s' needs '%s' (%s)",
                    lmn_cfg_node_source(item), lmn_cfg_node_line(item), lmn_cfg_node_path(item),
                    type, key->name, key->help);
}

static lmn_status read_number_key(lmn_cfg *cfg, lmn_cfg_node *item, const lmn_layer_key *key,
                                  void *field)
{
    if (key->type == LMN_LAYER_KEY_INT) {
        const int64_t def = *(int *)field;
        int64_t value;
        LMN_TRY(lmn_cfg_get_int_range(cfg, item, key->name, key->required ? NULL : &def,
                                      (int64_t)key->min, (int64_t)key->max, &value));
        *(int *)field = (int)value;
        return LMN_OK;
    }
    const double def = *(float *)field;
    double value;
    if (key->min == 0.0 && key->max == 0.0)
        LMN_TRY(lmn_cfg_get_double(cfg, item, key->name, key->required ? NULL : &def, &value));
    else
        LMN_TRY(lmn_cfg_get_double_range(cfg, item, key->name, key->required ? NULL : &def,
                                         key->min, key->max, &value));
    *(float *)field = (float)value;
    return LMN_OK;
}

/* Reads one key of a layer kind's table into its field of layer. */
static lmn_status read_layer_key(lmn_cfg *cfg, lmn_cfg_node *item, const lmn_layer_key *key,
                                 const name_index *names, lmn_layer_spec *layer)
{
    void *field = (char *)layer + key->offset;
    switch (key->type) {
    case LMN_LAYER_KEY_INT:
    case LMN_LAYER_KEY_FLOAT: return read_number_key(cfg, item, key, field);
    case LMN_LAYER_KEY_BOOL: return lmn_cfg_get_bool(cfg, item, key->name, field, field);
    case LMN_LAYER_KEY_CHOICE:
        return lmn_cfg_get_enum(cfg, item, key->name, key->choices, key->choices[*(int *)field],
                                field);
    case LMN_LAYER_KEY_SWITCH: {
        int choice = *(bool *)field;
        LMN_TRY(lmn_cfg_get_enum(cfg, item, key->name, key->choices, key->choices[choice], &choice));
        *(bool *)field = choice == 1;
        return LMN_OK;
    }
    case LMN_LAYER_KEY_KERNEL_2D: return read_kernel(cfg, item, false, layer);
    case LMN_LAYER_KEY_KERNEL_3D: return read_kernel(cfg, item, true, layer);
    case LMN_LAYER_KEY_LAYER:
        LMN_TRY(require_reference(cfg, item, key, lmn_layer_kind_name(layer->kind)));
        return layer_reference(cfg, item, key->name, names, field);
    }
    return LMN_OK;
}

static lmn_status read_layer(lmn_cfg *cfg, lmn_cfg_node *item, lmn_model_spec *spec,
                             name_index *names)
{
    int kind_index = 0;
    static const char *kinds[LMN_LAYER_KIND_COUNT + 1];
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++) kinds[k] = lmn_layer_kind_name((lmn_layer_kind)k);
    LMN_TRY(lmn_cfg_get_enum(cfg, item, "type", kinds, NULL, &kind_index));
    const lmn_layer_kind kind = (lmn_layer_kind)kind_index;
    lmn_layer_spec layer = lmn_layer_defaults(kind);
    const char *name = NULL;
    LMN_TRY(lmn_cfg_get_string(cfg, item, "name", "", &name));
    if (name[0] && name_index_find(names, name) >= 0)
        return lmn_fail(LMN_ERR_CONFIG, "%s: layer name '%s' is used twice",
                        lmn_cfg_node_path(item), name);
    snprintf(layer.name, sizeof layer.name, "%s", name);
    LMN_TRY(layer_reference(cfg, item, "input", names, &layer.input));
    const lmn_layer_type *type = lmn_layer_type_of(kind);
    for (int k = 0; type->keys[k]; k++) LMN_TRY(read_layer_key(cfg, item, type->keys[k], names, &layer));
    LMN_TRY(lmn_model_spec_append(spec, &layer, NULL));
    return name_index_add_last(names);
}

static lmn_status read_int_option(lmn_cfg *cfg, lmn_cfg_node *model, const char *key, int def,
                                  int64_t min, int64_t max, int *out)
{
    const int64_t fallback = def;
    int64_t value;
    LMN_TRY(lmn_cfg_get_int_range(cfg, model, key, &fallback, min, max, &value));
    *out = (int)value;
    return LMN_OK;
}

static lmn_status read_float_option(lmn_cfg *cfg, lmn_cfg_node *model, const char *key,
                                    double def, double min, double max, float *out)
{
    double value;
    LMN_TRY(lmn_cfg_get_double_range(cfg, model, key, &def, min, max, &value));
    *out = (float)value;
    return LMN_OK;
}

/* model: {name: edsr, features: 64, ...}: only the chosen model's keys are
 * read, so another model's key is reported as unknown. */
static lmn_status read_zoo_options(lmn_cfg *cfg, lmn_cfg_node *model, const char *name,
                                   lmn_zoo_options *o)
{
    const lmn_zoo_options d = lmn_zoo_defaults();
    if (strcmp(name, "edsr") == 0) {
        LMN_TRY(read_int_option(cfg, model, "features", d.features, 1, 4096, &o->features));
        LMN_TRY(read_int_option(cfg, model, "blocks", d.blocks, 1, 1024, &o->blocks));
        LMN_TRY(read_float_option(cfg, model, "res_scale", d.res_scale, 1e-6, 1e3, &o->res_scale));
        LMN_TRY(read_int_option(cfg, model, "upscale", d.upscale, 2, 4, &o->upscale));
    } else if (strcmp(name, "vdsr") == 0) {
        LMN_TRY(read_int_option(cfg, model, "depth", d.depth, 2, 1024, &o->depth));
        LMN_TRY(read_int_option(cfg, model, "features", d.features, 1, 4096, &o->features));
    } else if (strcmp(name, "cosmoflow") == 0) {
        LMN_TRY(read_int_option(cfg, model, "filters", d.filters, 1, 4096, &o->filters));
        /* 0 = halve until the smallest side is at most 4 */
        LMN_TRY(read_int_option(cfg, model, "conv_blocks", d.conv_blocks, 0, 30, &o->conv_blocks));
        LMN_TRY(read_float_option(cfg, model, "dropout", d.dropout, 0.0, 0.999, &o->dropout));
    }
    return LMN_OK;
}

static lmn_status read_layers(lmn_cfg *cfg, lmn_cfg_node *model, lmn_model_spec *spec)
{
    name_index names = {.spec = spec};
    lmn_status status = LMN_OK;
    for (size_t i = 0; i < lmn_cfg_seq_length(model) && status == LMN_OK; i++) {
        lmn_cfg_node *item = lmn_cfg_seq_item(model, i);
        if (lmn_cfg_kind(item) != LMN_CFG_MAP)
            status = lmn_fail(LMN_ERR_CONFIG, "%s:%d: %s: a layer must be a map with a 'type'",
                              lmn_cfg_node_source(item), lmn_cfg_node_line(item),
                              lmn_cfg_node_path(item));
        else
            status = read_layer(cfg, item, spec, &names);
    }
    free(names.slots);
    return status;
}

lmn_status lmn_model_from_config_shape(lmn_cfg *cfg, lmn_layer_shape input, int num_outputs,
                                       lmn_model_spec *spec, const char **name)
{
    memset(spec, 0, sizeof *spec);
    lmn_cfg_node *model = lmn_cfg_find(cfg, NULL, "model");
    if (model && lmn_cfg_kind(model) == LMN_CFG_SEQUENCE) {
        *name = "custom";
        return read_layers(cfg, model, spec);
    }
    int zoo_index = 0;
    lmn_zoo_options options = lmn_zoo_defaults();
    if (model && lmn_cfg_kind(model) == LMN_CFG_MAP) {
        LMN_TRY(lmn_cfg_get_enum(cfg, model, "name", lmn_model_zoo_names(), NULL, &zoo_index));
        LMN_TRY(lmn_cfg_get_string(cfg, model, "name", NULL, name));
        LMN_TRY(read_zoo_options(cfg, model, *name, &options));
    } else {
        LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "model", lmn_model_zoo_names(), "lenet", &zoo_index));
        LMN_TRY(lmn_cfg_get_string(cfg, NULL, "model", "lenet", name));
    }
    return lmn_model_zoo_build(*name, input, num_outputs, &options, spec);
}

lmn_status lmn_model_from_config(lmn_cfg *cfg, int channels, int height, int width,
                                 int num_classes, lmn_model_spec *spec, const char **name)
{
    const lmn_layer_shape input = {.c = channels, .h = height, .w = width, .d = 0};
    return lmn_model_from_config_shape(cfg, input, num_classes, spec, name);
}

/* A double-quoted YAML scalar. */
static void write_quoted(FILE *out, const char *text)
{
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\') fputc('\\', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

static void write_reference(FILE *out, const lmn_model_spec *spec, int index)
{
    write_quoted(out, index == LMN_INPUT ? "input" : spec->layers[index].name);
}

static void write_key_value(FILE *out, const lmn_model_spec *spec, const lmn_layer_spec *layer,
                            const lmn_layer_key *key)
{
    const char *field = (const char *)layer + key->offset;
    fprintf(out, ", %s: ", key->name);
    switch (key->type) {
    case LMN_LAYER_KEY_INT: fprintf(out, "%d", *(const int *)field); break;
    case LMN_LAYER_KEY_FLOAT: fprintf(out, "%.9g", *(const float *)field); break;
    case LMN_LAYER_KEY_BOOL: fputs(*(const bool *)field ? "true" : "false", out); break;
    case LMN_LAYER_KEY_CHOICE: fputs(key->choices[*(const int *)field], out); break;
    case LMN_LAYER_KEY_SWITCH: fputs(key->choices[*(const bool *)field], out); break;
    case LMN_LAYER_KEY_KERNEL_2D: fprintf(out, "[%d, %d]", layer->kernel_h, layer->kernel_w); break;
    case LMN_LAYER_KEY_KERNEL_3D:
        fprintf(out, "[%d, %d, %d]", layer->kernel_d, layer->kernel_h, layer->kernel_w);
        break;
    case LMN_LAYER_KEY_LAYER: write_reference(out, spec, *(const int *)field); break;
    }
}

lmn_status lmn_model_spec_write_config(const lmn_model_spec *spec, FILE *out)
{
    fputs("model:\n", out);
    for (int i = 0; i < spec->count; i++) {
        const lmn_layer_spec *layer = &spec->layers[i];
        const lmn_layer_type *type = lmn_layer_type_of(layer->kind);
        if (!type) return lmn_fail(LMN_ERR_ARG, "layer %d has no registered kind", i);
        fprintf(out, "  - {type: %s, name: ", type->name);
        write_quoted(out, layer->name);
        if (layer->input != -2) {
            fputs(", input: ", out);
            write_reference(out, spec, layer->input);
        }
        for (int k = 0; type->keys[k]; k++) write_key_value(out, spec, layer, type->keys[k]);
        fputs("}\n", out);
    }
    return ferror(out) ? lmn_fail(LMN_ERR_IO, "cannot write the model's layers") : LMN_OK;
}
