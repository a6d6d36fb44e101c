/* Every zoo model and every registered layer kind is named in
 * `lamina train --help` and survives the resolved configuration: config ->
 * model -> resolved config.yaml -> parse again -> the same layers, and the
 * layers written out key by key (lmn_model_spec_write_config) -> parse ->
 * resolved -> parse -> the same layers again, with every written key read.
 * Small models are built into networks to compare tensors too. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/help.h"
#include "core/memory.h"
#include "io/config.h"
#include "io/model_config.h"
#include "nn/layers/layer.h"
#include "nn/network.h"
#include "test.h"

/* Whether word occurs in text as a whole word ("conv" not inside "conv3d"). */
static bool has_word(const char *text, const char *word)
{
    const size_t length = strlen(word);
    for (const char *at = strstr(text, word); at; at = strstr(at + 1, word)) {
        const bool before = at > text && (isalnum((unsigned char)at[-1]) || at[-1] == '_');
        const bool after = isalnum((unsigned char)at[length]) || at[length] == '_';
        if (!before && !after) return true;
    }
    return false;
}

static bool same_key_value(const lmn_layer_spec *a, const lmn_layer_spec *b, const lmn_layer_key *key)
{
    const char *x = (const char *)a + key->offset, *y = (const char *)b + key->offset;
    switch (key->type) {
    case LMN_LAYER_KEY_FLOAT: return memcmp(x, y, sizeof(float)) == 0;
    case LMN_LAYER_KEY_BOOL:
    case LMN_LAYER_KEY_SWITCH: return *(const bool *)x == *(const bool *)y;
    case LMN_LAYER_KEY_KERNEL_3D:
        if (a->kernel_d != b->kernel_d) return false;
        /* fall through */
    case LMN_LAYER_KEY_KERNEL_2D: return a->kernel_h == b->kernel_h && a->kernel_w == b->kernel_w;
    default: return *(const int *)x == *(const int *)y;
    }
}

/* The same layers: kind, name, input and every key the kind reads. */
static void check_same_layers(const lmn_model_spec *a, const lmn_model_spec *b, const char *what)
{
    CHECK_MSG(a->count == b->count, "%s: %d layers, then %d", what, a->count, b->count);
    for (int i = 0; i < a->count && i < b->count; i++) {
        const lmn_layer_spec *x = &a->layers[i], *y = &b->layers[i];
        CHECK_MSG(x->kind == y->kind && strcmp(x->name, y->name) == 0 && x->input == y->input,
                  "%s: layer %d '%s' changed kind, name or input", what, i, x->name);
        if (x->kind != y->kind) continue;
        const lmn_layer_type *type = lmn_layer_type_of(x->kind);
        for (int k = 0; type->keys[k]; k++)
            CHECK_MSG(same_key_value(x, y, type->keys[k]), "%s: layer %d '%s' key '%s' changed",
                      what, i, x->name, type->keys[k]->name);
    }
}

static lmn_cfg *parse(const char *text)
{
    lmn_cfg *cfg = NULL;
    CHECK_OK(lmn_cfg_parse_string(text, "roundtrip.yaml", &cfg));
    return cfg;
}

/* Reads the model from text, then from its resolved configuration; both
 * must give the same layers, and every key must have been read. */
static lmn_status read_resolved(const char *text, lmn_layer_shape input, lmn_model_spec *spec)
{
    lmn_cfg *cfg = parse(text), *again = NULL;
    const char *name = NULL;
    char *yaml = NULL;
    size_t length = 0;
    memset(spec, 0, sizeof *spec);
    if (!cfg) return LMN_ERR_CONFIG;
    lmn_status status = lmn_model_from_config_shape(cfg, input, 10, spec, &name);
    if (status == LMN_OK) status = lmn_cfg_check_unused(cfg);
    if (status == LMN_OK) status = lmn_cfg_to_yaml(cfg, &yaml, &length);
    if (status == LMN_OK) again = parse(yaml);
    lmn_model_spec resolved = {0};
    if (again) CHECK_OK(lmn_model_from_config_shape(again, input, 10, &resolved, &name));
    if (again) check_same_layers(spec, &resolved, "resolved config");
    lmn_model_spec_free(&resolved);
    lmn_cfg_free(again);
    lmn_free(yaml);
    lmn_cfg_free(cfg);
    return status;
}

/* spec -> written layer list -> read (and resolved) -> the same layers. */
static void check_written(const lmn_model_spec *spec, lmn_layer_shape input, const char *what,
                          lmn_model_spec *read)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    CHECK(stream != NULL);
    if (!stream) return;
    CHECK_OK(lmn_model_spec_write_config(spec, stream));
    fclose(stream);
    CHECK_OK(read_resolved(text, input, read));
    check_same_layers(spec, read, what);
    free(text);
}

static void check_same_network(lmn_backend *be, const lmn_model_spec *a, const lmn_model_spec *b,
                               lmn_layer_shape input, const char *model)
{
    lmn_network *x = NULL, *y = NULL;
    CHECK_OK(lmn_network_create_shape(be, a, input, &x));
    CHECK_OK(lmn_network_create_shape(be, b, input, &y));
    if (x && y) {
        CHECK_MSG(x->param_count == y->param_count && x->state_count == y->state_count &&
                      x->tensor_count == y->tensor_count && x->num_outputs == y->num_outputs,
                  "%s: the written layers build another network", model);
        for (int t = 0; t < x->tensor_count && t < y->tensor_count; t++)
            CHECK_MSG(strcmp(x->tensors[t].name, y->tensors[t].name) == 0 &&
                          x->tensors[t].count == y->tensors[t].count,
                      "%s: tensor %d differs", model, t);
    }
    lmn_network_free(x);
    lmn_network_free(y);
}

static void check_zoo_model(lmn_backend *be, const char *model)
{
    const bool volume = strcmp(model, "cosmoflow") == 0;
    const bool large = strcmp(model, "resnet50") == 0 || strcmp(model, "vgg16") == 0 ||
                       strcmp(model, "resnet18") == 0;
    const lmn_layer_shape input = volume ? (lmn_layer_shape){.c = 4, .d = 16, .h = 16, .w = 16}
                                         : (lmn_layer_shape){.c = 3, .h = 32, .w = 32};
    char text[128], what[160];
    snprintf(text, sizeof text, "model: %s\n", model);
    lmn_model_spec zoo, written;
    CHECK_OK(read_resolved(text, input, &zoo));
    snprintf(what, sizeof what, "zoo model %s written as layers", model);
    check_written(&zoo, input, what, &written);
    if (!large) check_same_network(be, &zoo, &written, input, model);
    lmn_model_spec_free(&zoo);
    lmn_model_spec_free(&written);
}

/* One layer of every kind with its values moved off the defaults (the
 * layers are not a valid graph: only the reading is checked). */
static void every_kind_spec(lmn_model_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++) {
        lmn_layer_spec layer = lmn_layer_defaults((lmn_layer_kind)k);
        layer.out = 7;
        layer.kernel_d = 1, layer.kernel_h = 3, layer.kernel_w = 5;
        layer.stride = 3, layer.pad = 1, layer.bias = false, layer.relu = true;
        layer.init = LMN_INIT_GLOROT, layer.mode = LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE;
        layer.factor = 3, layer.slope = 0.25f, layer.scale = 0.1f, layer.rate = 0.3f;
        layer.epsilon = 1e-3f, layer.momentum = 0.2f;
        layer.input = k == 0 ? LMN_INPUT : k - 1;
        layer.skip = k == 0 ? LMN_INPUT : 0;
        CHECK_OK(lmn_model_spec_append(spec, &layer, NULL));
    }
}

static void check_help_names_everything(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    CHECK(stream != NULL);
    if (!stream) return;
    lmn_print_train_help(stream);
    fclose(stream);
    for (const char *const *name = lmn_model_zoo_names(); *name; name++)
        CHECK_MSG(has_word(text, *name), "the help does not name zoo model '%s'", *name);
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++) {
        const lmn_layer_type *type = lmn_layer_type_of((lmn_layer_kind)k);
        CHECK_MSG(has_word(text, type->name) && strstr(text, type->help),
                  "the help does not describe layer type '%s'", type->name);
        for (int key = 0; type->keys[key]; key++)
            CHECK_MSG(has_word(text, type->keys[key]->name), "the help misses key '%s' of '%s'",
                      type->keys[key]->name, type->name);
    }
    free(text);
}

int main(void)
{
    check_help_names_everything();
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    if (!be) return lmn_test_summary("io_test_model_roundtrip");
    for (const char *const *name = lmn_model_zoo_names(); *name; name++) check_zoo_model(be, *name);
    lmn_model_spec every, read;
    every_kind_spec(&every);
    check_written(&every, (lmn_layer_shape){.c = 3, .h = 8, .w = 8}, "every layer kind", &read);
    for (int i = 0; i < read.count; i++)
        CHECK_MSG(read.layers[i].kind == (lmn_layer_kind)i, "layer %d lost its kind", i);
    lmn_model_spec_free(&every);
    lmn_model_spec_free(&read);
    lmn_backend_destroy(be);
    return lmn_test_summary("io_test_model_roundtrip");
}
