/* Configuration tree: parsing, getters with defaults, overrides, error
 * messages with locations, unused-key detection and the YAML round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/memory.h"
#include "io/config.h"
#include "test.h"

#define CHECK_ERROR(expr, code, fragment)                                                   \
    do {                                                                                    \
        lmn_status check_error_status_ = (expr);                                            \
        CHECK_MSG(check_error_status_ == (code), "%s returned %d (%s)", #expr,             \
                  (int)check_error_status_, lmn_last_error());                              \
        CHECK_MSG(strstr(lmn_last_error(), fragment) != NULL, "message '%s' lacks '%s'",   \
                  lmn_last_error(), fragment);                                              \
    } while (0)

static const char EXAMPLE[] =
    "# an experiment\n"
    "model:\n"
    "  name: lenet\n"
    "  layers:\n"
    "    - {type: conv, kernel: 5}\n"
    "    - type: linear\n"
    "      out: 10\n"
    "optimizer:\n"
    "  lr: 0.1\n"
    "  momentum: 0.9\n"
    "  nesterov: yes\n"
    "train:\n"
    "  epochs: 3\n"
    "  lr_milestones: [80, 120]\n"
    "  tag: \"007\"\n";

static lmn_cfg *parse(const char *text)
{
    lmn_cfg *cfg = NULL;
    CHECK_OK(lmn_cfg_parse_string(text, "exp.yaml", &cfg));
    return cfg;
}

static void test_nested_structure(void)
{
    lmn_cfg *cfg = parse(EXAMPLE);
    if (!cfg) return;
    lmn_cfg_node *layers = lmn_cfg_find(cfg, NULL, "model.layers");
    CHECK(layers && lmn_cfg_kind(layers) == LMN_CFG_SEQUENCE);
    CHECK(lmn_cfg_seq_length(layers) == 2);
    lmn_cfg_node *second = lmn_cfg_seq_item(layers, 1);
    CHECK(second && lmn_cfg_kind(second) == LMN_CFG_MAP);
    CHECK(strcmp(lmn_cfg_node_path(second), "model.layers[1]") == 0);
    CHECK(lmn_cfg_node_line(second) == 6);

    lmn_cfg_node *kernel = lmn_cfg_find(cfg, NULL, "model.layers[0].kernel");
    CHECK(kernel && strcmp(lmn_cfg_scalar_text(kernel), "5") == 0);
    CHECK(kernel && strcmp(lmn_cfg_node_path(kernel), "model.layers[0].kernel") == 0);
    CHECK(kernel && lmn_cfg_node_line(kernel) == 5);
    CHECK(kernel && strcmp(lmn_cfg_node_source(kernel), "exp.yaml") == 0);
    CHECK(lmn_cfg_find(cfg, NULL, "model.layers[5]") == NULL);
    CHECK(lmn_cfg_find(cfg, NULL, "model.name.deeper") == NULL);

    int64_t out = 0;
    CHECK_OK(lmn_cfg_get_int(cfg, second, "out", NULL, &out));
    CHECK(out == 10);
    CHECK_OK(lmn_cfg_get_int(cfg, layers, "[0].kernel", NULL, &out));
    CHECK(out == 5);

    lmn_cfg_node *optimizer = lmn_cfg_find(cfg, NULL, "optimizer");
    CHECK(lmn_cfg_map_size(optimizer) == 3);
    CHECK(strcmp(lmn_cfg_map_key(optimizer, 1), "momentum") == 0);
    double momentum = 0;
    CHECK_OK(lmn_cfg_get_double(cfg, lmn_cfg_map_value(optimizer, 1), "", NULL, &momentum));
    CHECK(momentum == 0.9);
    lmn_cfg_free(cfg);
}

static void test_typed_getters(void)
{
    lmn_cfg *cfg = parse(EXAMPLE);
    if (!cfg) return;
    double lr = 0;
    bool nesterov = false;
    int64_t epochs = 0;
    const char *tag = NULL;
    CHECK_OK(lmn_cfg_get_double(cfg, NULL, "optimizer.lr", NULL, &lr));
    CHECK(lr == 0.1);
    CHECK_OK(lmn_cfg_get_bool(cfg, NULL, "optimizer.nesterov", NULL, &nesterov));
    CHECK(nesterov);
    CHECK_OK(lmn_cfg_get_int(cfg, NULL, "train.epochs", NULL, &epochs));
    CHECK(epochs == 3);
    double epochs_as_double = 0;
    CHECK_OK(lmn_cfg_get_double(cfg, NULL, "train.epochs", NULL, &epochs_as_double));
    CHECK(epochs_as_double == 3.0);
    CHECK_OK(lmn_cfg_get_string(cfg, NULL, "train.tag", NULL, &tag));
    CHECK(tag && strcmp(tag, "007") == 0);

    const int64_t *milestones = NULL;
    size_t count = 0;
    CHECK_OK(lmn_cfg_get_int_list(cfg, NULL, "train.lr_milestones", NULL, 0, &milestones, &count));
    CHECK(count == 2 && milestones[0] == 80 && milestones[1] == 120);
    const double *single = NULL;
    CHECK_OK(lmn_cfg_get_double_list(cfg, NULL, "optimizer.lr", NULL, 0, &single, &count));
    CHECK(count == 1 && single[0] == 0.1);

    static const char *const names[] = {"mlp", "lenet", "resnet20", NULL};
    int index = -1;
    CHECK_OK(lmn_cfg_get_enum(cfg, NULL, "model.name", names, NULL, &index));
    CHECK(index == 1);
    lmn_cfg_free(cfg);
}

static void test_type_errors(void)
{
    lmn_cfg *cfg = parse("optimizer:\n  lr: abc\n  steps: 1.5\n  nan: nan\n  flag: maybe\n"
                         "  big: 99999999999999999999\n  list: [1, x]\n  map: {a: 1}\n"
                         "  name: sgdd\n  epochs: 0\n");
    if (!cfg) return;
    double d = 0;
    int64_t i = 0;
    bool b = false;
    int index = 0;
    CHECK_ERROR(lmn_cfg_get_double(cfg, NULL, "optimizer.lr", NULL, &d), LMN_ERR_CONFIG,
                "exp.yaml:2: key 'optimizer.lr': expected a number, got 'abc'");
    CHECK_ERROR(lmn_cfg_get_int(cfg, NULL, "optimizer.steps", NULL, &i), LMN_ERR_CONFIG,
                "exp.yaml:3: key 'optimizer.steps': expected an integer, got '1.5'");
    CHECK_ERROR(lmn_cfg_get_double(cfg, NULL, "optimizer.nan", NULL, &d), LMN_ERR_CONFIG,
                "exp.yaml:4: key 'optimizer.nan'");
    CHECK_ERROR(lmn_cfg_get_bool(cfg, NULL, "optimizer.flag", NULL, &b), LMN_ERR_CONFIG,
                "exp.yaml:5: key 'optimizer.flag': expected true or false, got 'maybe'");
    CHECK_ERROR(lmn_cfg_get_int(cfg, NULL, "optimizer.big", NULL, &i), LMN_ERR_CONFIG,
                "exp.yaml:6:");
    const double *values = NULL;
    size_t count = 0;
    CHECK_ERROR(lmn_cfg_get_double_list(cfg, NULL, "optimizer.list", NULL, 0, &values, &count),
                LMN_ERR_CONFIG, "key 'optimizer.list[1]': expected a number, got 'x'");
    CHECK_ERROR(lmn_cfg_get_double(cfg, NULL, "optimizer.map", NULL, &d), LMN_ERR_CONFIG,
                "exp.yaml:8: key 'optimizer.map': expected a number, got a map");
    CHECK_ERROR(lmn_cfg_get_double(cfg, NULL, "optimizer.lr.x", NULL, &d), LMN_ERR_CONFIG,
                "key 'optimizer.lr': is a single value");
    static const char *const optimizers[] = {"sgd", "adam", NULL};
    CHECK_ERROR(lmn_cfg_get_enum(cfg, NULL, "optimizer.name", optimizers, NULL, &index),
                LMN_ERR_CONFIG, "unknown value 'sgdd'; valid choices: sgd, adam");
    const int64_t one = 1;
    CHECK_ERROR(lmn_cfg_get_int_range(cfg, NULL, "optimizer.epochs", &one, 1, INT64_MAX, &i),
                LMN_ERR_CONFIG, "exp.yaml:10: key 'optimizer.epochs': must be >= 1, got 0");
    CHECK_ERROR(lmn_cfg_get_double(cfg, NULL, "optimizer.missing", NULL, &d), LMN_ERR_CONFIG,
                "exp.yaml: missing required key 'optimizer.missing'");
    lmn_cfg_node *optimizer = lmn_cfg_find(cfg, NULL, "optimizer");
    CHECK_ERROR(lmn_cfg_get_int(cfg, optimizer, "absent", NULL, &i), LMN_ERR_CONFIG,
                "missing required key 'optimizer.absent'");
    CHECK_ERROR(lmn_cfg_get_double(cfg, NULL, "optimizer..lr", NULL, &d), LMN_ERR_CONFIG,
                "malformed key path 'optimizer..lr'");
    lmn_cfg_free(cfg);
}

static void test_defaults_resolve_and_round_trip(const char *dir)
{
    lmn_cfg *cfg = parse(EXAMPLE);
    if (!cfg) return;
    const double wd_default = 5e-4, lr_default = 1.0;
    const int64_t batch_default = 128, milestones_default[] = {30, 60};
    const bool shuffle_default = true;
    double wd = 0, lr = 0;
    int64_t batch = 0;
    bool shuffle = false;
    const char *name = NULL;
    const int64_t *milestones = NULL;
    size_t count = 0;
    CHECK_OK(lmn_cfg_get_double(cfg, NULL, "optimizer.weight_decay", &wd_default, &wd));
    CHECK(wd == 5e-4);
    CHECK_OK(lmn_cfg_get_double(cfg, NULL, "optimizer.lr", &lr_default, &lr));
    CHECK(lr == 0.1); /* the file wins over the default */
    CHECK_OK(lmn_cfg_get_int(cfg, NULL, "data.loader.batch_size", &batch_default, &batch));
    CHECK(batch == 128);
    CHECK_OK(lmn_cfg_get_bool(cfg, NULL, "data.shuffle", &shuffle_default, &shuffle));
    CHECK(shuffle);
    CHECK_OK(lmn_cfg_get_string(cfg, NULL, "data.name", "fashion-mnist", &name));
    CHECK(strcmp(name, "fashion-mnist") == 0);
    CHECK_OK(lmn_cfg_get_int_list(cfg, NULL, "data.milestones", milestones_default, 2,
                                  &milestones, &count));
    CHECK(count == 2 && milestones[1] == 60);
    lmn_cfg_node *inserted = lmn_cfg_find(cfg, NULL, "data.loader.batch_size");
    CHECK(inserted && strcmp(lmn_cfg_node_source(inserted), "(default)") == 0);

    char path[512];
    snprintf(path, sizeof path, "%s/resolved.yaml", dir);
    CHECK_OK(lmn_cfg_write_file(cfg, path));
    lmn_cfg *again = NULL;
    CHECK_OK(lmn_cfg_load_file(path, &again));
    if (again) {
        CHECK(lmn_cfg_nodes_equal(lmn_cfg_root(cfg), lmn_cfg_root(again)));
        double reread = 0;
        CHECK_OK(lmn_cfg_get_double(again, NULL, "optimizer.weight_decay", NULL, &reread));
        CHECK(reread == 5e-4);
        CHECK_OK(lmn_cfg_get_int(again, NULL, "data.loader.batch_size", NULL, &batch));
        CHECK(batch == 128);
        const char *tag = NULL;
        CHECK_OK(lmn_cfg_get_string(again, NULL, "train.tag", NULL, &tag));
        CHECK(tag && strcmp(tag, "007") == 0);
        lmn_cfg_node *kernel = lmn_cfg_find(again, NULL, "model.layers[0].kernel");
        CHECK(kernel && strcmp(lmn_cfg_node_path(kernel), "model.layers[0].kernel") == 0);
    }
    lmn_cfg_free(again);

    /* Awkward text must survive the emitter too. */
    lmn_cfg *odd = parse("a: ''\nb: 'x: y'\nc: \"line\\nbreak\"\nd: []\ne: {}\nf: '#hash'\n"
                         "g:\nh: [\"\", '[', x]\n");
    char *yaml = NULL;
    size_t length = 0;
    if (odd) CHECK_OK(lmn_cfg_to_yaml(odd, &yaml, &length));
    if (yaml) {
        lmn_cfg *odd_again = NULL;
        CHECK_OK(lmn_cfg_parse_string(yaml, "emitted", &odd_again));
        CHECK_MSG(odd_again && lmn_cfg_nodes_equal(lmn_cfg_root(odd), lmn_cfg_root(odd_again)),
                  "emitted:\n%s", yaml);
        lmn_cfg_free(odd_again);
    }
    lmn_free(yaml);
    lmn_cfg_free(odd);
    lmn_cfg_free(cfg);
}

static void test_unused_keys(void)
{
    lmn_cfg *cfg = parse("optimizer:\n  lr: 0.1\n  lrr: 0.2\nextra:\n  deep: 1\n");
    if (!cfg) return;
    double lr = 0;
    CHECK_OK(lmn_cfg_get_double(cfg, NULL, "optimizer.lr", NULL, &lr));
    CHECK_ERROR(lmn_cfg_check_unused(cfg), LMN_ERR_CONFIG,
                "exp.yaml:3: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)");
    lmn_cfg_mark_used(lmn_cfg_find(cfg, NULL, "optimizer"), true);
    /* A whole untouched section is reported as one key, without a guess. */
    CHECK_ERROR(lmn_cfg_check_unused(cfg), LMN_ERR_CONFIG, "exp.yaml:4: unknown key 'extra'");
    CHECK(strstr(lmn_last_error(), "did you mean") == NULL);
    int64_t deep = 0;
    CHECK_OK(lmn_cfg_get_int(cfg, NULL, "extra.deep", NULL, &deep));
    CHECK_OK(lmn_cfg_check_unused(cfg));
    lmn_cfg_free(cfg);

    /* Unread items of a list that was read are reported by index. */
    cfg = parse("layers:\n  - {out: 3}\n  - {out: 4, oops: 1}\n");
    if (!cfg) return;
    lmn_cfg_node *layers = lmn_cfg_find(cfg, NULL, "layers");
    int64_t out = 0;
    CHECK_OK(lmn_cfg_get_int(cfg, lmn_cfg_seq_item(layers, 0), "out", NULL, &out));
    CHECK_ERROR(lmn_cfg_check_unused(cfg), LMN_ERR_CONFIG, "layers[1]");
    CHECK_OK(lmn_cfg_get_int(cfg, lmn_cfg_seq_item(layers, 1), "out", NULL, &out));
    CHECK_ERROR(lmn_cfg_check_unused(cfg), LMN_ERR_CONFIG,
                "exp.yaml:3: unknown key 'layers[1].oops'");
    lmn_cfg_free(cfg);
}

static void test_overrides(void)
{
    lmn_cfg *cfg = parse(EXAMPLE);
    if (!cfg) return;
    CHECK_OK(lmn_cfg_set(cfg, "optimizer.lr=0.05"));
    CHECK_OK(lmn_cfg_set(cfg, "train.lr_milestones=[10, 20, 30]"));
    CHECK_OK(lmn_cfg_set(cfg, "sync.policy.period=4"));
    CHECK_OK(lmn_cfg_set(cfg, "model=lenet"));
    CHECK_OK(lmn_cfg_set(cfg, " train.note = hello world"));
    double lr = 0;
    CHECK_OK(lmn_cfg_get_double(cfg, NULL, "optimizer.lr", NULL, &lr));
    CHECK(lr == 0.05);
    const int64_t *milestones = NULL;
    size_t count = 0;
    CHECK_OK(lmn_cfg_get_int_list(cfg, NULL, "train.lr_milestones", NULL, 0, &milestones, &count));
    CHECK(count == 3 && milestones[2] == 30);
    int64_t period = 0;
    CHECK_OK(lmn_cfg_get_int(cfg, NULL, "sync.policy.period", NULL, &period));
    CHECK(period == 4);
    const char *model = NULL, *note = NULL;
    CHECK_OK(lmn_cfg_get_string(cfg, NULL, "model", NULL, &model));
    CHECK(strcmp(model, "lenet") == 0);
    CHECK_OK(lmn_cfg_get_string(cfg, NULL, "train.note", NULL, &note));
    CHECK(strcmp(note, "hello world") == 0);
    lmn_cfg_node *period_node = lmn_cfg_find(cfg, NULL, "sync.policy.period");
    CHECK(period_node && strcmp(lmn_cfg_node_source(period_node), "--set") == 0);
    CHECK(period_node && strcmp(lmn_cfg_node_path(period_node), "sync.policy.period") == 0);

    CHECK_OK(lmn_cfg_set(cfg, "train.lr_milestones[1]=25"));
    CHECK_OK(lmn_cfg_get_int_list(cfg, NULL, "train.lr_milestones", NULL, 0, &milestones, &count));
    CHECK(count == 3 && milestones[1] == 25);

    CHECK_OK(lmn_cfg_set(cfg, "optimizer.lr=abc"));
    CHECK_ERROR(lmn_cfg_get_double(cfg, NULL, "optimizer.lr", NULL, &lr), LMN_ERR_CONFIG,
                "--set: key 'optimizer.lr': expected a number, got 'abc'");

    CHECK_ERROR(lmn_cfg_set(cfg, "optimizer.lr"), LMN_ERR_CONFIG, "expected KEY=VALUE");
    CHECK_ERROR(lmn_cfg_set(cfg, "=3"), LMN_ERR_CONFIG, "no key before '='");
    CHECK_ERROR(lmn_cfg_set(cfg, "model.depth=3"), LMN_ERR_CONFIG,
                "key 'model': is a single value, so it has no key 'depth'");
    CHECK_ERROR(lmn_cfg_set(cfg, "train.lr_milestones[7]=1"), LMN_ERR_CONFIG, "has 3 items");
    CHECK_ERROR(lmn_cfg_set(cfg, "train.x=[1, 2"), LMN_ERR_CONFIG, "--set 'train.x=[1, 2'");
    CHECK_ERROR(lmn_cfg_set(cfg, "a..b=1"), LMN_ERR_CONFIG, "malformed key path");
    /* A key must be UTF-8, as the YAML it is written back to (the fuzzer's
     * case: an invalid lead byte; then a stray continuation byte, a
     * surrogate, an overlong '/', one past U+10FFFF and a cut sequence). */
    const char *bad_keys[] = {"ab\xf6\xbf\x8f\x91" "c=1", "a\x80" "b=1", "a\xed\xa0\x80=1",
                              "a\xc0\xaf" "b=1", "a\xf4\x90\x80\x80=1", "a\xe2\x82=1"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++)
        CHECK_ERROR(lmn_cfg_set(cfg, bad_keys[i]), LMN_ERR_CONFIG, "the key is not valid UTF-8");
    CHECK_OK(lmn_cfg_set(cfg, "train.caf\xc3\xa9_\xe2\x82\xac_\xf0\x9f\x98\x80=1"));
    char *yaml = NULL;
    size_t yaml_length = 0;
    CHECK_OK(lmn_cfg_to_yaml(cfg, &yaml, &yaml_length));
    lmn_cfg *again = yaml ? parse(yaml) : NULL;
    CHECK(again && lmn_cfg_nodes_equal(lmn_cfg_root(cfg), lmn_cfg_root(again)));
    lmn_cfg_free(again);
    lmn_free(yaml);
    CHECK_OK(lmn_cfg_unset(cfg, "train.caf\xc3\xa9_\xe2\x82\xac_\xf0\x9f\x98\x80"));
    CHECK(lmn_cfg_find(cfg, NULL, "train.x") == NULL);

    /* An override with a typo is caught by the unused-key check. */
    lmn_cfg *small = parse("optimizer:\n  lr: 0.1\n");
    if (small) {
        CHECK_OK(lmn_cfg_set(small, "optimizer.lrr=0.3"));
        CHECK_OK(lmn_cfg_get_double(small, NULL, "optimizer.lr", NULL, &lr));
        CHECK_ERROR(lmn_cfg_check_unused(small), LMN_ERR_CONFIG,
                    "--set: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)");
    }
    lmn_cfg_free(small);
    lmn_cfg_free(cfg);
}

static void test_load_errors(const char *dir)
{
    lmn_cfg *cfg = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/missing.yaml", dir);
    CHECK_ERROR(lmn_cfg_load_file(path, &cfg), LMN_ERR_IO, "missing.yaml");
    CHECK(cfg == NULL);

    snprintf(path, sizeof path, "%s/broken.yaml", dir);
    FILE *file = fopen(path, "w");
    if (file) {
        fputs("a: 1\nb:\n  c: [1, 2\n  d: 3\n", file);
        fclose(file);
    }
    CHECK_ERROR(lmn_cfg_load_file(path, &cfg), LMN_ERR_CONFIG, "broken.yaml:4:");

    snprintf(path, sizeof path, "%s/empty.yaml", dir);
    file = fopen(path, "w");
    if (file) fclose(file);
    CHECK_OK(lmn_cfg_load_file(path, &cfg));
    if (cfg) {
        CHECK(lmn_cfg_kind(lmn_cfg_root(cfg)) == LMN_CFG_MAP);
        CHECK(lmn_cfg_map_size(lmn_cfg_root(cfg)) == 0);
        CHECK_OK(lmn_cfg_check_unused(cfg));
    }
    lmn_cfg_free(cfg);
    cfg = NULL;

    CHECK_ERROR(lmn_cfg_parse_string("a: 1\nb: 2\na: 3\n", "dup.yaml", &cfg), LMN_ERR_CONFIG,
                "dup.yaml:3: duplicate key 'a' (first defined at line 1)");
    CHECK_ERROR(lmn_cfg_parse_string("m:\n  x: 1\n  x: 2\n", "dup.yaml", &cfg), LMN_ERR_CONFIG,
                "duplicate key 'm.x'");
    CHECK_ERROR(lmn_cfg_parse_string("a: &base 1\nb: *base\n", "alias.yaml", &cfg),
                LMN_ERR_CONFIG, "alias.yaml:1: YAML anchors and aliases");
    CHECK_ERROR(lmn_cfg_parse_string("- 1\n- 2\n", "list.yaml", &cfg), LMN_ERR_CONFIG,
                "top level must be a map");
    CHECK_ERROR(lmn_cfg_parse_string("a: 1\n---\nb: 2\n", "two.yaml", &cfg), LMN_ERR_CONFIG,
                "only one YAML document");
    CHECK_ERROR(lmn_cfg_parse_string("a: [1, 2\n", "flow.yaml", &cfg), LMN_ERR_CONFIG,
                "flow.yaml:2:1:");
    CHECK(cfg == NULL);
}

/* Messages of issue 13: overflow is named, long user text keeps the reason
 * visible, and command-line edits remove keys in order. */
static void test_messages_and_edits(void)
{
    lmn_cfg *cfg = parse("train:\n  batch_size: 9223372036854775808\n  lr: 1e309\n"
                         "  epochs: -9223372036854775809\n");
    if (!cfg) return;
    int64_t value = 0;
    double number = 0.0;
    CHECK_ERROR(lmn_cfg_get_int(cfg, NULL, "train.batch_size", NULL, &value), LMN_ERR_CONFIG,
                "exp.yaml:2: key 'train.batch_size': expected an integer, got "
                "'9223372036854775808': too large for a 64-bit integer");
    CHECK_ERROR(lmn_cfg_get_int(cfg, NULL, "train.epochs", NULL, &value), LMN_ERR_CONFIG,
                "too large for a 64-bit integer");
    CHECK_ERROR(lmn_cfg_get_double(cfg, NULL, "train.lr", NULL, &number), LMN_ERR_CONFIG,
                "got '1e309': too large for a double-precision number");
    /* The malformed-path message's examples are paths lmn_cfg_set accepts. */
    CHECK_ERROR(lmn_cfg_set(cfg, "a..b=1"), LMN_ERR_CONFIG,
                "e.g. optimizer.lr or model[0].kernel");
    CHECK_OK(lmn_cfg_set(cfg, "optimizer.lr=0.1"));
    CHECK_OK(lmn_cfg_set(cfg, "model=[{type: conv}]"));
    CHECK_OK(lmn_cfg_set(cfg, "model[0].kernel=5"));
    /* A 3000-character key: cut in the middle, the reason still there. */
    char long_set[3100];
    memset(long_set, 'x', 3000);
    snprintf(long_set + 3000, sizeof long_set - 3000, ".k=1");
    memcpy(long_set, "model.", 6);
    CHECK_ERROR(lmn_cfg_set(cfg, long_set), LMN_ERR_CONFIG,
                "key 'model': is a list, so it has no key 'xxx");
    CHECK(strstr(lmn_last_error(), "[...]") && strlen(lmn_last_error()) < 1024);
    /* --unset, in command-line order with --set. */
    const lmn_cfg_edit edits[] = {{"--set", "train.note=a"}, {"--unset", "train.note"},
                                  {"--unset", "train.lr"}};
    CHECK_OK(lmn_cfg_apply_edits(cfg, edits, 3));
    CHECK(lmn_cfg_find(cfg, NULL, "train.note") == NULL);
    CHECK(lmn_cfg_find(cfg, NULL, "train.lr") == NULL);
    CHECK(lmn_cfg_find(cfg, NULL, "train.epochs") != NULL);
    const lmn_cfg_edit missing[] = {{"--unset", "train.nope"}};
    CHECK_ERROR(lmn_cfg_apply_edits(cfg, missing, 1), LMN_ERR_CONFIG,
                "--unset 'train.nope': the configuration has no key 'train.nope'");
    const lmn_cfg_edit item[] = {{"--unset", "model[0]"}};
    CHECK_ERROR(lmn_cfg_apply_edits(cfg, item, 1), LMN_ERR_CONFIG, "names a list item");
    lmn_cfg_free(cfg);
}

int main(void)
{
    char dir[] = "/tmp/lmn_test_config_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_nested_structure();
    test_typed_getters();
    test_type_errors();
    test_defaults_resolve_and_round_trip(dir);
    test_unused_keys();
    test_overrides();
    test_load_errors(dir);
    test_messages_and_edits();
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return lmn_test_summary("io_config");
}
