/* The layer registry (nn/layers/): every kind has a name, a one-line help,
 * a forward and a backward; names are unique and lookup by name finds the
 * kind; each kind's keys are well formed (unique, not the common keys,
 * choices where needed, fields inside lmn_layer_spec) and agree with its
 * flags (a fused ReLU needs 'activation', a skip operand needs 'skip');
 * a kind for the other dimensionality is a registered kind of it. */
#include <stdio.h>
#include <string.h>

#include "nn/layers/layer.h"
#include "test.h"

static void check_keys(const lmn_layer_type *type)
{
    bool has_activation = false, has_skip = false;
    for (int k = 0; type->keys[k]; k++) {
        const lmn_layer_key *key = type->keys[k];
        CHECK_MSG(k < LMN_LAYER_MAX_KEYS - 1, "%s: too many keys for the NULL end", type->name);
        CHECK_MSG(key->name && key->help && key->help[0], "%s: key %d lacks a name or help",
                  type->name, k);
        if (!key->name) continue;
        CHECK_MSG(strcmp(key->name, "type") && strcmp(key->name, "name") &&
                      strcmp(key->name, "input"),
                  "%s: key '%s' is one every layer has", type->name, key->name);
        for (int j = 0; j < k; j++)
            CHECK_MSG(strcmp(type->keys[j]->name, key->name) != 0, "%s: key '%s' twice",
                      type->name, key->name);
        const bool choice = key->type == LMN_LAYER_KEY_CHOICE || key->type == LMN_LAYER_KEY_SWITCH;
        CHECK_MSG(choice == (key->choices != NULL), "%s: key '%s' choices", type->name, key->name);
        CHECK_MSG(key->offset < sizeof(lmn_layer_spec), "%s: key '%s' offset", type->name, key->name);
        has_activation |= strcmp(key->name, "activation") == 0;
        has_skip |= key->type == LMN_LAYER_KEY_LAYER && strcmp(key->name, "skip") == 0;
    }
    CHECK_MSG(has_activation == ((type->flags & LMN_LAYER_FUSES_RELU) != 0),
              "%s: 'activation' key and the fused-ReLU flag disagree", type->name);
    CHECK_MSG(has_skip == ((type->flags & LMN_LAYER_READS_SKIP) != 0),
              "%s: 'skip' key and the skip flag disagree", type->name);
}

static void check_other_dimensionality(const lmn_layer_type *type)
{
    const unsigned dims = LMN_LAYER_IMAGES_ONLY | LMN_LAYER_VOLUMES_ONLY;
    CHECK_MSG((type->flags & dims) != dims, "%s takes neither images nor volumes", type->name);
    if (!type->other_dimensionality) return;
    lmn_layer_kind other;
    CHECK_MSG(lmn_layer_kind_from_name(type->other_dimensionality, &other),
              "%s: '%s' is not a registered kind", type->name, type->other_dimensionality);
    if (!lmn_layer_kind_from_name(type->other_dimensionality, &other)) return;
    const unsigned other_flags = lmn_layer_type_of(other)->flags & dims;
    CHECK_MSG(other_flags && other_flags == (dims & ~(type->flags & dims)),
              "%s: '%s' is not its %s counterpart", type->name, type->other_dimensionality,
              type->flags & LMN_LAYER_IMAGES_ONLY ? "volume" : "image");
}

static void check_kind(lmn_layer_kind kind)
{
    const lmn_layer_type *type = lmn_layer_type_of(kind);
    CHECK_MSG(type != NULL, "kind %d is not registered", (int)kind);
    if (!type) return;
    CHECK_MSG(type->name && type->name[0], "kind %d has no name", (int)kind);
    CHECK_MSG(type->help && strlen(type->help) > 0 && strlen(type->help) <= 70,
              "%s: the help must be one line of at most 70 characters", type->name);
    CHECK_MSG(type->forward && type->backward, "%s lacks a forward or a backward", type->name);
    CHECK_MSG(strcmp(lmn_layer_kind_name(kind), type->name) == 0, "%s: kind name", type->name);
    lmn_layer_kind found = LMN_LAYER_KIND_COUNT;
    CHECK_MSG(lmn_layer_kind_from_name(type->name, &found) && found == kind,
              "lookup of '%s' finds kind %d, not %d", type->name, (int)found, (int)kind);
    CHECK(lmn_layer_defaults(kind).kind == kind);
    for (int other = 0; other < (int)kind; other++)
        CHECK_MSG(strcmp(lmn_layer_kind_name((lmn_layer_kind)other), type->name) != 0,
                  "name '%s' registered twice", type->name);
    check_keys(type);
    check_other_dimensionality(type);
}

/* A spec built in code with a kind nobody registered is refused, by name. */
static void check_unregistered_kind(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    if (!be) return;
    lmn_model_spec spec = {0};
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_RELU);
    layer.kind = LMN_LAYER_KIND_COUNT;
    snprintf(layer.name, sizeof layer.name, "mystery");
    CHECK_OK(lmn_model_spec_append(&spec, &layer, NULL));
    lmn_network *net = NULL;
    CHECK(lmn_network_create(be, &spec, 1, 4, 4, &net) == LMN_ERR_CONFIG && net == NULL);
    CHECK_MSG(strstr(lmn_last_error(), "'mystery' has no registered kind") != NULL, "%s",
              lmn_last_error());
    lmn_model_spec_free(&spec);
    lmn_backend_destroy(be);
}

int main(void)
{
    check_unregistered_kind();
    CHECK(LMN_LAYER_KIND_COUNT >= 16);
    for (int k = 0; k < LMN_LAYER_KIND_COUNT; k++) check_kind((lmn_layer_kind)k);
    lmn_layer_kind kind;
    CHECK(!lmn_layer_kind_from_name("convolution", &kind));
    CHECK(!lmn_layer_kind_from_name("", &kind));
    CHECK(lmn_layer_type_of(LMN_LAYER_KIND_COUNT) == NULL);
    CHECK(strcmp(lmn_layer_kind_name(LMN_LAYER_KIND_COUNT), "?") == 0);
    /* The defaults that differ by kind: convolutions 3-wide stride 1, pools 2-wide stride 2. */
    CHECK(lmn_layer_defaults(LMN_LAYER_CONV).kernel_h == 3 && lmn_layer_defaults(LMN_LAYER_CONV).stride == 1);
    CHECK(lmn_layer_defaults(LMN_LAYER_CONV3D).kernel_d == 3);
    CHECK(lmn_layer_defaults(LMN_LAYER_MAXPOOL).kernel_w == 2 && lmn_layer_defaults(LMN_LAYER_MAXPOOL).stride == 2);
    return lmn_test_summary("nn_test_layer_registry");
}
