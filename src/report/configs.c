/* The resolved configs side by side: one row per dotted key (the union over
 * runs, in order of first appearance), the rows whose values differ marked. */
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/sections.h"


typedef struct key_list {
    char **paths;
    int count, capacity;
} key_list;

static void add_key(key_list *keys, const char *path)
{
    for (int i = 0; i < keys->count; i++)
        if (strcmp(keys->paths[i], path) == 0) return;
    if (keys->count == keys->capacity) {
        const int grown = keys->capacity ? 2 * keys->capacity : 64;
        char **paths = realloc(keys->paths, (size_t)grown * sizeof *paths);
        if (!paths) return;
        keys->paths = paths;
        keys->capacity = grown;
    }
    char *copy = strdup(path);
    if (copy) keys->paths[keys->count++] = copy;
}

/* Every scalar or sequence below node, by its dotted path; sequences of
 * maps (model layer lists) are shown as one value, their YAML-ish text. */
static void collect_keys(lmn_cfg_node *node, key_list *keys)
{
    if (lmn_cfg_kind(node) != LMN_CFG_MAP) {
        add_key(keys, lmn_cfg_node_path(node));
        return;
    }
    for (size_t i = 0; i < lmn_cfg_map_size(node); i++) collect_keys(lmn_cfg_map_value(node, i), keys);
}

static void write_node_text(FILE *out, lmn_cfg_node *node)
{
    if (lmn_cfg_kind(node) == LMN_CFG_SCALAR) {
        report_write_escaped(out, lmn_cfg_scalar_text(node));
        return;
    }
    const bool map = lmn_cfg_kind(node) == LMN_CFG_MAP;
    const size_t n = map ? lmn_cfg_map_size(node) : lmn_cfg_seq_length(node);
    fputc(map ? '{' : '[', out);
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        if (map) fprintf(out, "%s: ", lmn_cfg_map_key(node, i));
        write_node_text(out, map ? lmn_cfg_map_value(node, i) : lmn_cfg_seq_item(node, i));
    }
    fputc(map ? '}' : ']', out);
}

/* The value text of path in run into buffer (via a memory stream), or NULL. */
static char *value_text(const report_run *run, const char *path)
{
    if (!run->config) return NULL;
    lmn_cfg_node *node = lmn_cfg_find(run->config, NULL, path);
    if (!node) return NULL;
    char *text = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&text, &length);
    if (!memory) return NULL;
    write_node_text(memory, node);
    fclose(memory);
    return text;
}

static void write_row(FILE *out, const report_run *runs, int count, const char *path)
{
    char **values = calloc((size_t)count, sizeof *values);
    if (!values) return;
    bool differ = false;
    for (int i = 0; i < count; i++) {
        values[i] = value_text(&runs[i], path);
        const char *a = values[i] ? values[i] : "", *b = values[0] ? values[0] : "";
        differ = differ || (values[i] == NULL) != (values[0] == NULL) || strcmp(a, b) != 0;
    }
    fprintf(out, "<tr%s><th>", differ ? " class=\"differs\"" : "");
    report_write_escaped(out, path);
    fputs("</th>", out);
    for (int i = 0; i < count; i++) {
        fputs(values[i] ? "<td>" : "<td class=\"absent\">(absent)", out);
        if (values[i]) report_write_escaped(out, values[i]);
        fputs("</td>", out);
        free(values[i]);
    }
    fputs("</tr>\n", out);
    free(values);
}

void report_write_configs(FILE *out, const report_run *runs, int count)
{
    key_list keys = {0};
    for (int i = 0; i < count; i++)
        if (runs[i].config) collect_keys(lmn_cfg_root(runs[i].config), &keys);
    fputs("<section id=\"configs\"><h2>Resolved configurations</h2>\n", out);
    if (keys.count == 0) {
        fputs("<p class=\"note\">No run has a readable config.yaml.</p></section>\n", out);
        return;
    }
    fputs("<p class=\"note\">Highlighted rows differ between runs.</p>\n<table class=\"configs\"><tr><th>key</th>", out);
    for (int i = 0; i < count; i++) {
        fputs("<th>", out);
        report_write_escaped(out, runs[i].name);
        fputs("</th>", out);
    }
    fputs("</tr>\n", out);
    for (int k = 0; k < keys.count; k++) {
        write_row(out, runs, count, keys.paths[k]);
        free(keys.paths[k]);
    }
    free(keys.paths);
    fputs("</table></section>\n", out);
}
