/* The key table (train/config_schema.c) against the code that uses it:
 *  - every key is in the generated help of the commands that read it;
 *  - under its `when` settings the settings readers read it, so the
 *    resolved configuration holds it, and that configuration written out
 *    and read again gives the same settings and the same text;
 *  - every key the readers put into a resolved configuration has an entry
 *    (a key added to a reader without one fails here, naming it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/help.h"
#include "core/memory.h"
#include "io/config.h"
#include "test.h"
#include "train/config_schema.h"
#include "train/settings.h"

static char *help_text(void (*print)(FILE *))
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    if (!stream) return NULL;
    print(stream);
    fclose(stream);
    return text;
}

/* "  KEY" at the start of a help line, followed by a space or the end. */
static bool lists_key(const char *help, const char *key)
{
    const size_t length = strlen(key);
    for (const char *at = strstr(help, key); at; at = strstr(at + 1, key))
        if (at - help >= 3 && at[-1] == ' ' && at[-2] == ' ' && at[-3] == '\n' &&
            (at[length] == ' ' || at[length] == '\n'))
            return true;
    return false;
}

static bool fl_only(const lmn_config_key *k) { return (k->flags & LMN_KEYS_COMMON) == LMN_KEYS_FL; }

/* What a reader needs besides a key's `when` settings: required keys that
 * come with a choice, and keys read only when present. */
static const char *const extras[][2] = {
    {"data.name=hdf5", "data.path=train.h5;data.test_path=test.h5"},
    {"data.name=images", "data.path=images"},
    {"optimizer.schedule=step", "optimizer.milestones=[2]"},
    {"data.in_memory", "data.in_memory=true"},
    {"data.augment", "data.augment=true"},
    {"train.max_memory_gb", "train.max_memory_gb=4"},
};

/* A configuration with the key's `when` settings and their extras applied. */
static lmn_status configure(const lmn_config_key *k, lmn_cfg **cfg)
{
    LMN_TRY(lmn_cfg_parse_string("", "schema", cfg));
    char settings[512];
    snprintf(settings, sizeof settings, "%s", k->when ? k->when : "");
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++)
        if (strcmp(k->key, extras[i][0]) == 0 || (k->when && strstr(k->when, extras[i][0])))
            snprintf(settings + strlen(settings), sizeof settings - strlen(settings), ";%s",
                     extras[i][1]);
    for (char *save = NULL, *one = strtok_r(settings, ";", &save); one;
         one = strtok_r(NULL, ";", &save))
        LMN_TRY(lmn_cfg_set(*cfg, one));
    return LMN_OK;
}

typedef struct read_settings {
    lmn_train_settings train;
    lmn_fl_settings fl;
} read_settings;

static lmn_status read_all(lmn_cfg *cfg, bool federated, read_settings *out)
{
    memset(out, 0, sizeof *out);
    return federated ? lmn_fl_settings_read(cfg, &out->train, &out->fl)
                     : lmn_train_settings_read(cfg, &out->train);
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Equal settings: strings by text (they live in their cfg), the rest bitwise. */
static bool same_settings(read_settings a, read_settings b)
{
    lmn_data_settings *da = &a.train.data, *db = &b.train.data;
    const char **texts_a[] = {&a.train.backend, &da->name, &da->path, &da->test_path,
                              &da->images, &da->labels, &da->targets};
    const char **texts_b[] = {&b.train.backend, &db->name, &db->path, &db->test_path,
                              &db->images, &db->labels, &db->targets};
    for (size_t i = 0; i < sizeof texts_a / sizeof texts_a[0]; i++) {
        if (!same_text(*texts_a[i], *texts_b[i])) return false;
        *texts_a[i] = *texts_b[i] = NULL;
    }
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Every leaf path under node (sequences are leaves, model is the model
 * reader's) must have a table entry. */
static void check_known(lmn_cfg_node *node, const char *context)
{
    for (size_t i = 0; i < lmn_cfg_map_size(node); i++) {
        lmn_cfg_node *value = lmn_cfg_map_value(node, i);
        const char *path = lmn_cfg_node_path(value);
        if (strcmp(path, "model") == 0) continue;
        if (lmn_cfg_kind(value) == LMN_CFG_MAP) {
            check_known(value, context);
            continue;
        }
        CHECK_MSG(lmn_config_key_find(path) != NULL,
                  "the readers resolve '%s' (with %s) but config_schema.c has no entry for it",
                  path, context);
    }
}

/* A typed key's default is what the readers resolve, and a help text with
 * its own closing bracket starts that bracket with the default. */
static void check_default(lmn_cfg *cfg, const lmn_config_key *k)
{
    if (k->type == LMN_KEY_OTHER || !k->def) return;
    const char *resolved = lmn_cfg_scalar_text(lmn_cfg_find(cfg, NULL, k->key));
    CHECK_MSG(resolved && strcmp(resolved, k->def) == 0, "key %s: the table's default is '%s', "
              "the readers resolve '%s'", k->key, k->def, resolved ? resolved : "(not a value)");
    const char *bracket = strrchr(k->help, '[');
    const size_t length = strlen(k->help);
    if (length && k->help[length - 1] == ']')
        CHECK_MSG(bracket && strncmp(bracket + 1, k->def, strlen(k->def)) == 0,
                  "key %s: the help's bracket '%s' does not give the default '%s'", k->key,
                  bracket ? bracket : "", k->def);
    if (k->type == LMN_KEY_CHOICE) CHECK_MSG(k->choices != NULL, "key %s: no choices", k->key);
}

static void check_round_trip(const lmn_config_key *k)
{
    lmn_cfg *cfg = NULL, *again = NULL;
    char *yaml = NULL, *yaml_again = NULL;
    size_t length = 0;
    read_settings first, second;
    const bool federated = fl_only(k);
    lmn_status status = configure(k, &cfg);
    if (status == LMN_OK) status = read_all(cfg, federated, &first);
    CHECK_MSG(status == LMN_OK, "key %s (with %s): %s", k->key, k->when ? k->when : "defaults",
              lmn_last_error());
    if (status == LMN_OK) {
        CHECK_MSG(lmn_cfg_find(cfg, NULL, k->key) != NULL,
                  "key %s: not in the resolved configuration (with %s)", k->key,
                  k->when ? k->when : "defaults");
        check_known(lmn_cfg_root(cfg), k->when ? k->when : "defaults");
        check_default(cfg, k);
        status = lmn_cfg_to_yaml(cfg, &yaml, &length);
    }
    if (status == LMN_OK) status = lmn_cfg_parse_string(yaml, "resolved", &again);
    if (status == LMN_OK) status = read_all(again, federated, &second);
    if (status == LMN_OK) status = lmn_cfg_to_yaml(again, &yaml_again, &length);
    CHECK_MSG(status == LMN_OK, "key %s: the resolved configuration does not re-read: %s", k->key,
              lmn_last_error());
    if (status == LMN_OK) {
        CHECK_MSG(strcmp(yaml, yaml_again) == 0, "key %s: resolved twice differs:\n%s---\n%s",
                  k->key, yaml, yaml_again);
        CHECK_MSG(same_settings(first, second), "key %s: re-read settings differ", k->key);
    }
    lmn_free(yaml);
    lmn_free(yaml_again);
    lmn_cfg_free(cfg);
    lmn_cfg_free(again);
}

/* Unknown keys: a key of the table these settings do not read names the
 * settings that read it; a typo of a table key is suggested. */
static void check_unknown_key_messages(void)
{
    static const char *const cases[][2] = {
        {"optimizer: {betas: [0.9, 0.99]}\n",
         "unknown key 'optimizer.betas' with these settings: it is read only with "
         "optimizer.name=adam"},
        {"train: {batch_adaptive: {factor: 4}}\n",
         "unknown key 'train.batch_adaptive' with these settings: its keys are read only with "
         "train.batch_schedule=adaptive"},
        {"optimizer: {name: adam, nesterov: true}\n",
         "unknown key 'optimizer.nesterov' with these settings: it is read only with "
         "optimizer.name=sgd"},
        {"parallel: {lazy_max_kk: 4, strategy: lazy}\n",
         "unknown key 'parallel.lazy_max_kk' (did you mean 'parallel.lazy_max_k'?)"},
        {"traim: {epochs: 2}\n", "unknown key 'traim'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lmn_cfg *cfg = NULL;
        lmn_train_settings s;
        lmn_status status = lmn_cfg_parse_string(cases[i][0], "run.yaml", &cfg);
        if (status == LMN_OK) status = lmn_train_settings_read(cfg, &s);
        if (status == LMN_OK) status = lmn_cfg_check_unused(cfg);
        CHECK_MSG(status == LMN_ERR_CONFIG && strstr(lmn_last_error(), cases[i][1]),
                  "%s gives '%s', expected '%s'", cases[i][0], lmn_last_error(), cases[i][1]);
        lmn_cfg_free(cfg);
    }
}

int main(void)
{
    check_unknown_key_messages();
    char *train_help = help_text(lmn_print_train_help);
    char *fl_help = help_text(lmn_print_fl_help);
    CHECK(train_help && fl_help);
    size_t count = 0;
    const lmn_config_key *keys = lmn_config_keys(&count);
    CHECK(count > 100);
    for (size_t i = 0; i < count && train_help && fl_help; i++) {
        const lmn_config_key *k = &keys[i];
        /* Keys both commands read are listed by the train help (the fl
         * help refers to it); fl.* keys by the fl help. */
        if (k->flags & LMN_KEYS_TRAIN)
            CHECK_MSG(lists_key(train_help, k->key), "train help lacks key '%s'", k->key);
        if (fl_only(k)) CHECK_MSG(lists_key(fl_help, k->key), "fl help lacks key '%s'", k->key);
        CHECK_MSG(k->help && k->help[0], "key '%s' has no help", k->key);
        for (size_t j = 0; j < i; j++)
            CHECK_MSG(strcmp(keys[j].key, k->key) != 0, "key '%s' listed twice", k->key);
        if (!(k->flags & (LMN_KEY_NOTE | LMN_KEY_MODEL))) check_round_trip(k);
    }
    free(train_help);
    free(fl_help);
    return lmn_test_summary("train_test_config_schema");
}
