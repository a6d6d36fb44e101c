/* The registry: every layer kind's lmn_layer_type, indexed by its
 * lmn_layer_kind (the order of kinds.h), and the layer help generated from
 * it. */
#include <string.h>

#include "nn/layers/layer.h"

static const lmn_layer_type *const types[LMN_LAYER_KIND_COUNT] = {
#define LMN_LAYER_KIND(KIND, type) [LMN_LAYER_##KIND] = &lmn_layer_type_##type,
#include "nn/layers/kinds.h"
#undef LMN_LAYER_KIND
};

const lmn_layer_type *lmn_layer_type_of(lmn_layer_kind kind)
{
    return (unsigned)kind < LMN_LAYER_KIND_COUNT ? types[kind] : NULL;
}

const char *lmn_layer_kind_name(lmn_layer_kind kind)
{
    const lmn_layer_type *type = lmn_layer_type_of(kind);
    return type ? type->name : "?";
}

bool lmn_layer_kind_from_name(const char *name, lmn_layer_kind *kind)
{
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++) {
        if (strcmp(name, types[k]->name) == 0) {
            *kind = (lmn_layer_kind)k;
            return true;
        }
    }
    return false;
}

lmn_layer_spec lmn_layer_defaults(lmn_layer_kind kind)
{
    lmn_layer_spec layer = {
        .kind = kind, .input = -2, .skip = -2, .out = 0,
        .kernel_d = 2, .kernel_h = 2, .kernel_w = 2, .stride = 2, .pad = 0,
        .bias = true, .relu = false, .rate = 0.5f, .epsilon = 1e-5f, .momentum = 0.1f,
        .init = LMN_INIT_HE,
        .mode = LMN_UPSAMPLE_MODE_NEAREST, .factor = 2, .slope = 0.01f, .scale = 1.0f,
    };
    const lmn_layer_type *type = lmn_layer_type_of(kind);
    if (type && type->set_defaults) type->set_defaults(&layer);
    return layer;
}

/* "kernel [3]", "init (he | glorot) [he]", "out (required)". */
static void format_key(char *out, size_t size, const lmn_layer_key *key, const lmn_layer_spec *d)
{
    const char *field = (const char *)d + key->offset;
    char value[64] = "";
    int at = 0;
    switch (key->type) {
    case LMN_LAYER_KEY_INT: snprintf(value, sizeof value, "%d", *(const int *)field); break;
    case LMN_LAYER_KEY_FLOAT: snprintf(value, sizeof value, "%g", *(const float *)field); break;
    case LMN_LAYER_KEY_BOOL:
        snprintf(value, sizeof value, "%s", *(const bool *)field ? "true" : "false");
        break;
    case LMN_LAYER_KEY_CHOICE: snprintf(value, sizeof value, "%s", key->choices[*(const int *)field]); break;
    case LMN_LAYER_KEY_SWITCH: snprintf(value, sizeof value, "%s", key->choices[*(const bool *)field]); break;
    case LMN_LAYER_KEY_KERNEL_2D:
    case LMN_LAYER_KEY_KERNEL_3D: snprintf(value, sizeof value, "%d", d->kernel_h); break;
    case LMN_LAYER_KEY_LAYER: break;
    }
    at += snprintf(out + at, size - (size_t)at, "%s (%s", key->name, key->help);
    for (int c = 0; key->choices && key->choices[c] && at < (int)size; c++)
        at += snprintf(out + at, size - (size_t)at, "%s%s", c ? " | " : ": ", key->choices[c]);
    if (at < (int)size)
        snprintf(out + at, size - (size_t)at, key->required ? "; required)" : ") [%s]", value);
}

/* Writes words after a hanging indent, wrapping at 88 columns. */
static int print_wrapped(FILE *out, int column, const char *text)
{
    enum { WIDTH = 88, INDENT = 18 };
    if (column > INDENT && column + 1 + (int)strlen(text) > WIDTH) {
        fprintf(out, "\n%*s", INDENT, "");
        column = INDENT;
    } else if (column > INDENT) {
        column += fprintf(out, " ");
    }
    return column + fprintf(out, "%s", text);
}

static void print_type(FILE *out, lmn_layer_kind kind)
{
    const lmn_layer_type *type = types[kind];
    const lmn_layer_spec defaults = lmn_layer_defaults(kind);
    fprintf(out, "  %-15s %s\n%18s", type->name, type->help, "");
    int column = 18;
    if (!type->keys[0]) column = print_wrapped(out, column, "(no keys)");
    for (int k = 0; type->keys[k]; k++) {
        char text[256];
        format_key(text, sizeof text, type->keys[k], &defaults);
        column = print_wrapped(out, column, text);
        if (type->keys[k + 1]) fputc(',', out), column++;
    }
    fputc('\n', out);
}

void lmn_layer_help_print(FILE *out)
{
    fputs("model zoo (model: NAME):", out);
    for (const char *const *name = lmn_model_zoo_names(); *name; name++) fprintf(out, " %s", *name);
    fputs("\n\n"
          "layer types (model: a list of {type: TYPE, KEY: VALUE...}; every layer also takes\n"
          "name [TYPE<index>] and input (an earlier layer's name or 'input') [the previous\n"
          "layer]):\n",
          out);
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++) print_type(out, (lmn_layer_kind)k);
}
