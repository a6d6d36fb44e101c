#include "io/model_config.h"

#include <stdio.h>
#include <string.h>

static const char *const activation_names[] = {"none", "relu", NULL};
static const char *const init_names[] = {"he", "glorot", NULL};

static lmn_status layer_reference(lmn_cfg *cfg, lmn_cfg_node *item, const char *key,
                                  const lmn_model_spec *spec, int *index)
{
    const char *name = NULL;
    LMN_TRY(lmn_cfg_get_string(cfg, item, key, "", &name));
    if (!name[0]) return LMN_OK;
    if (strcmp(name, "input") == 0) {
        *index = LMN_INPUT;
        return LMN_OK;
    }
    *index = lmn_model_spec_find(spec, name);
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

/* kernel: 3 or kernel: [3, 5] */
static lmn_status read_kernel(lmn_cfg *cfg, lmn_cfg_node *item, lmn_layer_spec *layer)
{
    const int64_t defaults[2] = {layer->kernel_h, layer->kernel_w};
    const int64_t *values = NULL;
    size_t count = 0;
    LMN_TRY(lmn_cfg_get_int_list(cfg, item, "kernel", defaults, 2, &values, &count));
    lmn_cfg_node *node = lmn_cfg_find(cfg, item, "kernel");
    if ((count != 1 && count != 2) || values[0] < 1 || values[count - 1] < 1)
        return lmn_fail(LMN_ERR_CONFIG, "%s:%d: key '%s': expected a size >= 1 or [height, width]",
                        lmn_cfg_node_source(node), lmn_cfg_node_line(node), lmn_cfg_node_path(node));
    layer->kernel_h = (int)values[0];
    layer->kernel_w = (int)values[count - 1];
    return LMN_OK;
}

static lmn_status read_layer(lmn_cfg *cfg, lmn_cfg_node *item, lmn_model_spec *spec)
{
    int kind_index = 0;
    static const char *kinds[LMN_LAYER_KIND_COUNT + 1];
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++) kinds[k] = lmn_layer_kind_name((lmn_layer_kind)k);
    LMN_TRY(lmn_cfg_get_enum(cfg, item, "type", kinds, NULL, &kind_index));
    const lmn_layer_kind kind = (lmn_layer_kind)kind_index;
    lmn_layer_spec layer = lmn_layer_defaults(kind);
    const char *name = NULL;
    LMN_TRY(lmn_cfg_get_string(cfg, item, "name", "", &name));
    if (lmn_model_spec_find(spec, name) >= 0)
        return lmn_fail(LMN_ERR_CONFIG, "%s: layer name '%s' is used twice",
                        lmn_cfg_node_path(item), name);
    snprintf(layer.name, sizeof layer.name, "%s", name);
    LMN_TRY(layer_reference(cfg, item, "input", spec, &layer.input));
    int64_t value;
    const bool has_out = kind == LMN_LAYER_CONV || kind == LMN_LAYER_LINEAR;
    const bool windowed = kind == LMN_LAYER_CONV || kind == LMN_LAYER_MAXPOOL || kind == LMN_LAYER_AVGPOOL;
    if (has_out) {
        LMN_TRY(lmn_cfg_get_int_range(cfg, item, "out", NULL, 1, 1 << 20, &value));
        layer.out = (int)value;
        LMN_TRY(lmn_cfg_get_bool(cfg, item, "bias", &layer.bias, &layer.bias));
        int init = (int)layer.init;
        LMN_TRY(lmn_cfg_get_enum(cfg, item, "init", init_names, init_names[layer.init], &init));
        layer.init = (lmn_init_kind)init;
    }
    if (windowed) {
        LMN_TRY(read_kernel(cfg, item, &layer));
        const int64_t stride = layer.stride, pad = layer.pad;
        LMN_TRY(lmn_cfg_get_int_range(cfg, item, "stride", &stride, 1, 1 << 16, &value));
        layer.stride = (int)value;
        LMN_TRY(lmn_cfg_get_int_range(cfg, item, "pad", &pad, 0, 1 << 16, &value));
        layer.pad = (int)value;
    }
    if (has_out || kind == LMN_LAYER_BATCHNORM) {
        int activation = 0;
        LMN_TRY(lmn_cfg_get_enum(cfg, item, "activation", activation_names, "none", &activation));
        layer.relu = activation == 1;
    }
    if (kind == LMN_LAYER_BATCHNORM) {
        double eps = layer.epsilon, momentum = layer.momentum;
        LMN_TRY(lmn_cfg_get_double_range(cfg, item, "epsilon", &eps, 1e-12, 1.0, &eps));
        LMN_TRY(lmn_cfg_get_double_range(cfg, item, "momentum", &momentum, 0.0, 1.0, &momentum));
        layer.epsilon = (float)eps;
        layer.momentum = (float)momentum;
    }
    if (kind == LMN_LAYER_DROPOUT) {
        double rate = layer.rate;
        LMN_TRY(lmn_cfg_get_double_range(cfg, item, "rate", &rate, 0.0, 0.999, &rate));
        layer.rate = (float)rate;
    }
    if (kind == LMN_LAYER_ADD) {
        lmn_cfg_node *skip = lmn_cfg_find(cfg, item, "skip");
        if (!skip)
            return lmn_fail(LMN_ERR_CONFIG, "%s:%d: %s: an add layer needs 'skip' (the name of "
                            "the layer to add)", lmn_cfg_node_source(item), lmn_cfg_node_line(item),
                            lmn_cfg_node_path(item));
        LMN_TRY(layer_reference(cfg, item, "skip", spec, &layer.skip));
    }
    return lmn_model_spec_append(spec, &layer, NULL);
}

lmn_status lmn_model_from_config(lmn_cfg *cfg, int channels, int height, int width,
                                 int num_classes, lmn_model_spec *spec, const char **name)
{
    memset(spec, 0, sizeof *spec);
    lmn_cfg_node *model = lmn_cfg_find(cfg, NULL, "model");
    if (model && lmn_cfg_kind(model) == LMN_CFG_SEQUENCE) {
        *name = "custom";
        for (size_t i = 0; i < lmn_cfg_seq_length(model); i++) {
            lmn_cfg_node *item = lmn_cfg_seq_item(model, i);
            if (lmn_cfg_kind(item) != LMN_CFG_MAP)
                return lmn_fail(LMN_ERR_CONFIG, "%s:%d: %s: a layer must be a map with a 'type'",
                                lmn_cfg_node_source(item), lmn_cfg_node_line(item),
                                lmn_cfg_node_path(item));
            LMN_TRY(read_layer(cfg, item, spec));
        }
        return LMN_OK;
    }
    int zoo_index = 0;
    LMN_TRY(lmn_cfg_get_enum(cfg, NULL, "model", lmn_model_zoo_names(), "lenet", &zoo_index));
    LMN_TRY(lmn_cfg_get_string(cfg, NULL, "model", "lenet", name));
    return lmn_model_zoo(*name, channels, height, width, num_classes, spec);
}
