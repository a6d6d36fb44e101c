/* Configuration text -> settings: YAML loading (through a file, so NUL
 * bytes and encodings take the real path), --set overrides, every key the
 * trainer and `lamina fl` read, the model's layer list, the unknown-key
 * check and the resolved-YAML round trip.
 *
 * Input: YAML, then any number of "\n#--\n" separated --set assignments
 * ("a.b[2]=value"). Properties checked beyond "no crash": a configuration
 * that loads writes YAML that re-parses to the same tree. */
#include "fuzz_common.h"

#include "core/memory.h"
#include "io/config.h"
#include "io/model_config.h"
#include "nn/model.h"
#include "train/settings.h"

enum { MAX_SETS = 16 };
static const char SEPARATOR[] = "\n#--\n";

/* Splits data into the YAML part and the assignments (NUL-terminated copies). */
static size_t split(const uint8_t *data, size_t size, char *copy, const char **sets)
{
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t count = 0;
    char *cursor = copy;
    const size_t sep = sizeof SEPARATOR - 1;
    for (;;) {
        char *hit = memmem(cursor, (size_t)(copy + size - cursor), SEPARATOR, sep);
        if (!hit || count == MAX_SETS) break;
        *hit = '\0';
        cursor = hit + sep;
        sets[count++] = cursor;
    }
    return count;
}

/* Loads the YAML part and applies the assignments; NULL if that fails. */
static lmn_cfg *load(const uint8_t *yaml, size_t yaml_size, const char *const *sets, size_t count)
{
    fuzz_file file;
    fuzz_file_open(&file, yaml, yaml_size);
    lmn_cfg *cfg = NULL;
    lmn_status status = lmn_cfg_load_file(file.path, &cfg);
    fuzz_file_close(&file);
    for (size_t i = 0; i < count && status == LMN_OK; i++) status = lmn_cfg_set(cfg, sets[i]);
    if (status != LMN_OK) {
        lmn_cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

/* The resolved YAML must re-parse to the same tree. */
static void check_round_trip(lmn_cfg *cfg)
{
    char *yaml = NULL;
    size_t length = 0;
    if (lmn_cfg_to_yaml(cfg, &yaml, &length) != LMN_OK) return;
    lmn_cfg *again = NULL;
    if (lmn_cfg_parse_string(yaml, "(round trip)", &again) != LMN_OK) {
        fprintf(stderr, "resolved YAML does not re-parse: %s\n--- yaml ---\n%s\n", lmn_last_error(),
                yaml);
        abort();
    }
    if (!lmn_cfg_nodes_equal(lmn_cfg_root(cfg), lmn_cfg_root(again))) {
        fprintf(stderr, "resolved YAML re-parses to another tree\n--- yaml ---\n%s\n", yaml);
        abort();
    }
    lmn_cfg_free(again);
    lmn_free(yaml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    char *copy = malloc(size + 1);
    const char *sets[MAX_SETS];
    const size_t count = split(data, size, copy, sets);
    /* The YAML part as bytes (it may hold NULs): up to the first separator. */
    const uint8_t *first = memmem(data, size, SEPARATOR, sizeof SEPARATOR - 1);
    const size_t yaml_size = first && count ? (size_t)(first - data) : size;

    lmn_cfg *cfg = load(data, yaml_size, sets, count);
    if (cfg) {
        lmn_train_settings settings;
        if (lmn_train_settings_read(cfg, &settings) == LMN_OK) {
            lmn_model_spec spec = {0};
            const char *name = NULL;
            if (lmn_model_from_config(cfg, 1, 28, 28, 10, &spec, &name) == LMN_OK)
                (void)lmn_cfg_check_unused(cfg);
            lmn_model_spec_free(&spec);
        }
        check_round_trip(cfg);
        lmn_cfg_free(cfg);
    }
    cfg = load(data, yaml_size, sets, count);
    if (cfg) {
        lmn_train_settings settings;
        lmn_fl_settings fl;
        if (lmn_fl_settings_read(cfg, &settings, &fl) == LMN_OK) {
            lmn_model_spec spec = {0};
            const char *name = NULL;
            lmn_layer_shape shape = {.c = 1, .d = 8, .h = 8, .w = 8};
            if (lmn_model_from_config_shape(cfg, shape, 4, &spec, &name) == LMN_OK)
                (void)lmn_cfg_check_unused(cfg);
            lmn_model_spec_free(&spec);
        }
        check_round_trip(cfg);
        lmn_cfg_free(cfg);
    }
    free(copy);
    return 0;
}
