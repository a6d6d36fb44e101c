#include "io/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/memory.h"
#include "io/files.h"
#include "io/text.h"

static const char SET_SOURCE[] = "--set";
static const char DEFAULT_SOURCE[] = "(default)";

typedef struct cfg_entry {
    char *key;
    lmn_cfg_node *value;
} cfg_entry;

struct lmn_cfg_node {
    lmn_cfg_node_kind kind;
    char *path;
    const char *source; /* cfg->origin or one of the static sources above */
    int line;
    bool used;
    bool quoted;        /* scalar written in quotes: keep it quoted on output */
    char *text;         /* scalar */
    cfg_entry *entries; /* map */
    lmn_cfg_node **items; /* sequence */
    size_t count, capacity;
};

struct lmn_cfg {
    lmn_cfg_node *root;
    char *origin;
    const lmn_cfg_catalog *catalog; /* NULL: suggestions from read siblings only */
    void **owned; /* arrays handed out by the list getters */
    size_t owned_count, owned_capacity;
};

/* ------------------------------------------------------------------ nodes */

static lmn_status new_node(lmn_cfg_node_kind kind, const char *source, int line, lmn_cfg_node **out)
{
    /* Not the aligned allocator: see lmn_grow_array (io/text.c). */
    *out = calloc(1, sizeof **out);
    if (!*out) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a config node");
    (*out)->kind = kind;
    (*out)->source = source;
    (*out)->line = line;
    return LMN_OK;
}

static lmn_status new_scalar(const char *text, size_t length, const char *source, int line,
                             lmn_cfg_node **out)
{
    LMN_TRY(new_node(LMN_CFG_SCALAR, source, line, out));
    lmn_status status = lmn_copy_text(&(*out)->text, text, length, "config value");
    if (status != LMN_OK) {
        lmn_free(*out);
        *out = NULL;
    }
    return status;
}

static void free_node(lmn_cfg_node *node)
{
    if (!node) return;
    for (size_t i = 0; i < node->count; i++) {
        if (node->kind == LMN_CFG_MAP) {
            lmn_free(node->entries[i].key);
            free_node(node->entries[i].value);
        } else {
            free_node(node->items[i]);
        }
    }
    lmn_free(node->entries);
    lmn_free(node->items);
    lmn_free(node->text);
    lmn_free(node->path);
    lmn_free(node);
}

/* Takes ownership of key and value (both freed on failure). */
static lmn_status map_append(lmn_cfg_node *map, char *key, lmn_cfg_node *value)
{
    lmn_status status = lmn_grow_array((void **)&map->entries, &map->capacity, map->count + 1,
                                       sizeof *map->entries, "config map");
    if (status != LMN_OK) {
        lmn_free(key);
        free_node(value);
        return status;
    }
    map->entries[map->count++] = (cfg_entry){key, value};
    return LMN_OK;
}

/* Takes ownership of item (freed on failure). */
static lmn_status seq_append(lmn_cfg_node *seq, lmn_cfg_node *item)
{
    lmn_status status = lmn_grow_array((void **)&seq->items, &seq->capacity, seq->count + 1,
                                       sizeof *seq->items, "config sequence");
    if (status != LMN_OK) {
        free_node(item);
        return status;
    }
    seq->items[seq->count++] = item;
    return LMN_OK;
}

static cfg_entry *map_lookup(const lmn_cfg_node *map, const char *key, size_t key_length)
{
    for (size_t i = 0; i < map->count; i++)
        if (strlen(map->entries[i].key) == key_length &&
            memcmp(map->entries[i].key, key, key_length) == 0)
            return &map->entries[i];
    return NULL;
}

/* "parent.key", or "key" below the root. */
static lmn_status key_path(const char *parent, const char *key, size_t key_length, char **out)
{
    lmn_text path = {0};
    lmn_status status = lmn_text_appendf(&path, "%s%s%.*s", parent, parent[0] ? "." : "",
                                         (int)key_length, key);
    *out = path.data;
    if (status != LMN_OK) lmn_text_free(&path);
    return status;
}

static lmn_status item_path(const char *parent, size_t index, char **out)
{
    lmn_text path = {0};
    lmn_status status = lmn_text_appendf(&path, "%s[%zu]", parent, index);
    *out = path.data;
    if (status != LMN_OK) lmn_text_free(&path);
    return status;
}

/* Gives node and everything below it paths rooted at path (a copy is kept). */
static lmn_status assign_paths(lmn_cfg_node *node, const char *path)
{
    lmn_free(node->path);
    LMN_TRY(lmn_copy_text(&node->path, path, strlen(path), "config key path"));
    for (size_t i = 0; i < node->count; i++) {
        char *child = NULL;
        lmn_cfg_node *value;
        if (node->kind == LMN_CFG_MAP) {
            LMN_TRY(key_path(path, node->entries[i].key, strlen(node->entries[i].key), &child));
            value = node->entries[i].value;
        } else {
            LMN_TRY(item_path(path, i, &child));
            value = node->items[i];
        }
        lmn_status status = assign_paths(value, child);
        lmn_free(child);
        LMN_TRY(status);
    }
    return LMN_OK;
}

/* User text quoted in a message (a key path, a value, a --set argument):
 * a long one keeps its start and its end and loses its middle, so that the
 * reason written after it still fits in the message. */
enum { SHOWN_TEXT_MAX = 200 };
typedef struct shown_text {
    char text[SHOWN_TEXT_MAX + 1];
} shown_text;

/* The first length characters of text, shortened as above. */
static shown_text shown_span(const char *text, size_t length)
{
    shown_text out;
    if (length <= SHOWN_TEXT_MAX) {
        memcpy(out.text, text, length);
        out.text[length] = '\0';
        return out;
    }
    static const char gap[] = "[...]";
    const size_t keep = (SHOWN_TEXT_MAX - (sizeof gap - 1)) / 2;
    memcpy(out.text, text, keep);
    memcpy(out.text + keep, gap, sizeof gap - 1);
    memcpy(out.text + keep + sizeof gap - 1, text + length - keep, keep);
    out.text[keep * 2 + sizeof gap - 1] = '\0';
    return out;
}

static shown_text shown(const char *text) { return shown_span(text, strlen(text)); }

/* "FILE:LINE" for nodes read from a file, the bare source otherwise. */
static void node_location(const lmn_cfg_node *node, char *out, size_t capacity)
{
    if (node->line > 0)
        snprintf(out, capacity, "%s:%d", shown(node->source).text, node->line);
    else
        snprintf(out, capacity, "%s", shown(node->source).text);
}

enum { LOCATION_CAPACITY = 512 };

/* Fails with "LOCATION: key 'PATH': <message>". */
static lmn_status __attribute__((format(printf, 2, 3)))
node_fail(const lmn_cfg_node *node, const char *fmt, ...)
{
    char location[LOCATION_CAPACITY], message[1024];
    node_location(node, location, sizeof location);
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    return lmn_fail(LMN_ERR_CONFIG, "%s: key '%s': %s", location, shown(node->path).text, message);
}

static const char *kind_name(lmn_cfg_node_kind kind)
{
    switch (kind) {
    case LMN_CFG_SCALAR: return "a single value";
    case LMN_CFG_MAP: return "a map";
    case LMN_CFG_SEQUENCE: return "a list";
    }
    return "?";
}

/* ---------------------------------------------------------------- parsing */

typedef struct parse_context {
    yaml_parser_t parser;
    const char *origin; /* names the text in syntax errors */
    const char *source; /* stored in the nodes */
    bool has_lines;     /* false for --set values: their lines mean nothing */
} parse_context;

static lmn_status syntax_error(const parse_context *ctx)
{
    const yaml_parser_t *p = &ctx->parser;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    char location[LOCATION_CAPACITY];
    if (ctx->has_lines)
        snprintf(location, sizeof location, "%s:%zu:%zu", ctx->origin, p->problem_mark.line + 1,
                 p->problem_mark.column + 1);
    else
        snprintf(location, sizeof location, "%s (column %zu)", ctx->origin,
                 p->problem_mark.column + 1);
    if (p->context && ctx->has_lines)
        return lmn_fail(LMN_ERR_CONFIG, "%s: %s (%s started at line %zu)", location, problem,
                        p->context, p->context_mark.line + 1);
    if (p->context) return lmn_fail(LMN_ERR_CONFIG, "%s: %s (%s)", location, problem, p->context);
    return lmn_fail(LMN_ERR_CONFIG, "%s: %s", location, problem);
}

static lmn_status next_event(parse_context *ctx, yaml_event_t *event)
{
    if (!yaml_parser_parse(&ctx->parser, event)) return syntax_error(ctx);
    return LMN_OK;
}

static int event_line(const parse_context *ctx, const yaml_event_t *event)
{
    return ctx->has_lines ? (int)event->start_mark.line + 1 : 0;
}

/* Fails with "ORIGIN:LINE: <message>" located at event. */
static lmn_status __attribute__((format(printf, 3, 4)))
event_fail(const parse_context *ctx, const yaml_event_t *event, const char *fmt, ...)
{
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    if (ctx->has_lines)
        return lmn_fail(LMN_ERR_CONFIG, "%s:%d: %s", ctx->origin, event_line(ctx, event), message);
    return lmn_fail(LMN_ERR_CONFIG, "%s: %s", ctx->origin, message);
}

/* Anchors and aliases would make one node appear at several paths, which
 * breaks "used" tracking and error locations; configs are small enough to
 * write out in full. */
static lmn_status reject_anchor(const parse_context *ctx, const yaml_event_t *event)
{
    const yaml_char_t *anchor = NULL;
    if (event->type == YAML_SCALAR_EVENT) anchor = event->data.scalar.anchor;
    if (event->type == YAML_SEQUENCE_START_EVENT) anchor = event->data.sequence_start.anchor;
    if (event->type == YAML_MAPPING_START_EVENT) anchor = event->data.mapping_start.anchor;
    if (event->type == YAML_ALIAS_EVENT) anchor = event->data.alias.anchor;
    if (!anchor) return LMN_OK;
    return event_fail(ctx, event, "YAML anchors and aliases ('%s') are not supported; "
                      "write the value out in full", (const char *)anchor);
}

static lmn_status parse_node(parse_context *ctx, yaml_event_t *event, const char *path,
                             lmn_cfg_node **out);

static lmn_status parse_map_entry(parse_context *ctx, lmn_cfg_node *map,
                                  const yaml_event_t *key_event)
{
    LMN_TRY(reject_anchor(ctx, key_event));
    if (key_event->type != YAML_SCALAR_EVENT)
        return event_fail(ctx, key_event, "keys of '%s' must be plain names, not lists or maps",
                          map->path[0] ? map->path : "the top level");
    const char *key = (const char *)key_event->data.scalar.value;
    const size_t key_length = key_event->data.scalar.length;
    char *path = NULL, *key_copy = NULL;
    LMN_TRY(key_path(map->path, key, key_length, &path));
    const cfg_entry *previous = map_lookup(map, key, key_length);
    lmn_status status = LMN_OK;
    if (previous)
        status = event_fail(ctx, key_event, "duplicate key '%s' (first defined at line %d)", path,
                            previous->value->line);
    if (status == LMN_OK) status = lmn_copy_text(&key_copy, key, key_length, "config key");
    yaml_event_t value_event;
    if (status == LMN_OK) status = next_event(ctx, &value_event);
    lmn_cfg_node *value = NULL;
    if (status == LMN_OK) status = parse_node(ctx, &value_event, path, &value);
    lmn_free(path);
    if (status != LMN_OK) {
        lmn_free(key_copy);
        return status;
    }
    /* Report a map value at its key's line: for a nested map the value's
     * own start is the line of its first key. */
    value->line = event_line(ctx, key_event);
    return map_append(map, key_copy, value);
}

static lmn_status parse_map_entries(parse_context *ctx, lmn_cfg_node *map)
{
    for (;;) {
        yaml_event_t key_event;
        LMN_TRY(next_event(ctx, &key_event));
        if (key_event.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key_event);
            return LMN_OK;
        }
        lmn_status status = parse_map_entry(ctx, map, &key_event);
        yaml_event_delete(&key_event);
        LMN_TRY(status);
    }
}

static lmn_status parse_sequence_items(parse_context *ctx, lmn_cfg_node *seq)
{
    for (;;) {
        yaml_event_t event;
        LMN_TRY(next_event(ctx, &event));
        if (event.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&event);
            return LMN_OK;
        }
        char *path = NULL;
        lmn_status status = item_path(seq->path, seq->count, &path);
        if (status != LMN_OK) {
            yaml_event_delete(&event);
            return status;
        }
        lmn_cfg_node *item = NULL;
        status = parse_node(ctx, &event, path, &item);
        lmn_free(path);
        LMN_TRY(status);
        LMN_TRY(seq_append(seq, item));
    }
}

/* Builds the node that starts with event (which this deletes), reading
 * events up to its end. */
static lmn_status parse_node(parse_context *ctx, yaml_event_t *event, const char *path,
                             lmn_cfg_node **out)
{
    *out = NULL;
    const int line = event_line(ctx, event);
    lmn_status status = reject_anchor(ctx, event);
    if (status == LMN_OK) {
        switch (event->type) {
        case YAML_SCALAR_EVENT:
            status = new_scalar((const char *)event->data.scalar.value, event->data.scalar.length,
                                ctx->source, line, out);
            if (status == LMN_OK) (*out)->quoted = !event->data.scalar.plain_implicit;
            break;
        case YAML_MAPPING_START_EVENT: status = new_node(LMN_CFG_MAP, ctx->source, line, out); break;
        case YAML_SEQUENCE_START_EVENT:
            status = new_node(LMN_CFG_SEQUENCE, ctx->source, line, out);
            break;
        default: status = event_fail(ctx, event, "unexpected YAML structure (event %d)", event->type);
        }
    }
    yaml_event_delete(event);
    if (status == LMN_OK) status = lmn_copy_text(&(*out)->path, path, strlen(path), "config key path");
    if (status == LMN_OK && (*out)->kind == LMN_CFG_MAP) status = parse_map_entries(ctx, *out);
    if (status == LMN_OK && (*out)->kind == LMN_CFG_SEQUENCE)
        status = parse_sequence_items(ctx, *out);
    if (status != LMN_OK) {
        free_node(*out);
        *out = NULL;
    }
    return status;
}

/* Reads one YAML document; *root is NULL for an empty stream. */
static lmn_status parse_document(parse_context *ctx, lmn_cfg_node **root)
{
    *root = NULL;
    yaml_event_t event;
    LMN_TRY(next_event(ctx, &event)); /* stream start */
    yaml_event_delete(&event);
    LMN_TRY(next_event(ctx, &event));
    const bool empty = event.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&event); /* stream end, or document start */
    if (empty) return LMN_OK;
    LMN_TRY(next_event(ctx, &event));
    LMN_TRY(parse_node(ctx, &event, "", root));
    lmn_status status = next_event(ctx, &event); /* document end */
    if (status == LMN_OK) {
        yaml_event_delete(&event);
        status = next_event(ctx, &event);
    }
    if (status == LMN_OK) {
        if (event.type != YAML_STREAM_END_EVENT)
            status = event_fail(ctx, &event, "only one YAML document is allowed (remove the "
                                "second '---')");
        yaml_event_delete(&event);
    }
    if (status != LMN_OK) {
        free_node(*root);
        *root = NULL;
    }
    return status;
}

static lmn_status parse_text(const char *text, const char *origin, const char *source,
                             bool has_lines, lmn_cfg_node **root)
{
    parse_context ctx = {.origin = origin, .source = source, .has_lines = has_lines};
    if (!yaml_parser_initialize(&ctx.parser))
        return lmn_fail(LMN_ERR_NOMEM, "cannot create a YAML parser for %s", origin);
    yaml_parser_set_input_string(&ctx.parser, (const unsigned char *)text, strlen(text));
    lmn_status status = parse_document(&ctx, root);
    yaml_parser_delete(&ctx.parser);
    return status;
}

/* ------------------------------------------------------------- the tree */

lmn_status lmn_cfg_create_empty(const char *origin, lmn_cfg **out)
{
    *out = NULL;
    lmn_cfg *cfg = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&cfg, sizeof *cfg, "configuration"));
    lmn_status status = lmn_copy_text(&cfg->origin, origin, strlen(origin), "config origin");
    if (status == LMN_OK) status = new_node(LMN_CFG_MAP, cfg->origin, 0, &cfg->root);
    if (status == LMN_OK) status = assign_paths(cfg->root, "");
    if (status != LMN_OK) {
        lmn_cfg_free(cfg);
        return status;
    }
    *out = cfg;
    return LMN_OK;
}

/* An empty document ("" or a lone "---") means "no settings". */
static bool is_empty_document(const lmn_cfg_node *root)
{
    return root->kind == LMN_CFG_SCALAR && !root->quoted && root->text[0] == '\0';
}

lmn_status lmn_cfg_parse_string(const char *text, const char *origin, lmn_cfg **out)
{
    lmn_cfg *cfg = NULL;
    LMN_TRY(lmn_cfg_create_empty(origin, &cfg));
    lmn_cfg_node *root = NULL;
    lmn_status status = parse_text(text, cfg->origin, cfg->origin, true, &root);
    if (status == LMN_OK && root && !is_empty_document(root)) {
        if (root->kind != LMN_CFG_MAP)
            status = lmn_fail(LMN_ERR_CONFIG, "%s:%d: the top level must be a map of keys "
                              "(key: value lines), got %s", origin, root->line,
                              kind_name(root->kind));
        else {
            free_node(cfg->root);
            cfg->root = root;
            root = NULL;
        }
    }
    free_node(root);
    if (status != LMN_OK) {
        lmn_cfg_free(cfg);
        return status;
    }
    *out = cfg;
    return LMN_OK;
}

static lmn_status read_whole_file(const char *path, lmn_text *content)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return lmn_fail(LMN_ERR_IO, "cannot open config file '%s': %s", path, strerror(errno));
    lmn_status status = lmn_text_append(content, "", 0); /* an empty file is "" */
    char chunk[8192];
    size_t got;
    while (status == LMN_OK && (got = fread(chunk, 1, sizeof chunk, file)) > 0)
        status = lmn_text_append(content, chunk, got);
    if (status == LMN_OK && ferror(file))
        status = lmn_fail(LMN_ERR_IO, "cannot read config file '%s': %s", path, strerror(errno));
    fclose(file);
    return status;
}

/* YAML text ends at a NUL byte: the rest of the file, its mistakes
 * included, would be dropped without a word. */
static lmn_status refuse_nul_byte(const char *path, const char *text, size_t length)
{
    const char *nul = memchr(text, '\0', length);
    if (!nul) return LMN_OK;
    int line = 1;
    for (const char *c = text; c < nul; c++) line += *c == '\n';
    return lmn_fail(LMN_ERR_CONFIG, "%s:%d: a NUL byte (offset %zu) in the config file; a "
                    "config is text: is it a binary or corrupted file?", path, line,
                    (size_t)(nul - text));
}

lmn_status lmn_cfg_load_file(const char *path, lmn_cfg **out)
{
    *out = NULL;
    lmn_text content = {0};
    lmn_status status = read_whole_file(path, &content);
    if (status == LMN_OK) status = refuse_nul_byte(path, content.data, content.length);
    if (status == LMN_OK) status = lmn_cfg_parse_string(content.data, path, out);
    lmn_text_free(&content);
    return status;
}

void lmn_cfg_free(lmn_cfg *cfg)
{
    if (!cfg) return;
    free_node(cfg->root);
    for (size_t i = 0; i < cfg->owned_count; i++) lmn_free(cfg->owned[i]);
    lmn_free(cfg->owned);
    lmn_free(cfg->origin);
    lmn_free(cfg);
}

const char *lmn_cfg_origin(const lmn_cfg *cfg) { return cfg->origin; }
lmn_cfg_node *lmn_cfg_root(lmn_cfg *cfg) { return cfg->root; }

/* ------------------------------------------------------------ key paths */

typedef struct path_step {
    const char *key; /* NULL for a [N] step */
    size_t key_length;
    size_t index;
} path_step;

static lmn_status malformed_path(const char *path)
{
    return lmn_fail(LMN_ERR_CONFIG, "malformed key path '%s' (expected names separated by '.', "
                    "with [N] for list items, e.g. optimizer.lr or model[0].kernel)",
                    shown(path).text);
}

/* Reads the step at *cursor and advances past it; *done at the end. */
static lmn_status next_step(const char **cursor, const char *path, path_step *step, bool *done)
{
    const char *c = *cursor;
    *done = *c == '\0';
    if (*done) return LMN_OK;
    if (*c == '[') {
        if (!isdigit((unsigned char)c[1])) return malformed_path(path);
        char *end = NULL;
        errno = 0;
        const unsigned long long index = strtoull(c + 1, &end, 10);
        if (*end != ']' || errno == ERANGE || index > SIZE_MAX) return malformed_path(path);
        *step = (path_step){.key = NULL, .index = (size_t)index};
        c = end + 1;
    } else {
        const size_t length = strcspn(c, ".[]");
        if (length == 0) return malformed_path(path);
        *step = (path_step){.key = c, .key_length = length};
        c += length;
    }
    if (*c == '.') {
        c++;
        if (*c == '\0' || *c == '.' || *c == '[') return malformed_path(path);
    } else if (*c != '\0' && *c != '[') {
        return malformed_path(path);
    }
    *cursor = c;
    return LMN_OK;
}

/* Where node keeps its child for step (*slot NULL if the key is absent);
 * fails when node cannot have such a child. */
static lmn_status child_slot(lmn_cfg_node *node, const path_step *step, lmn_cfg_node ***slot)
{
    *slot = NULL;
    if (step->key) {
        if (node->kind != LMN_CFG_MAP)
            return node_fail(node, "is %s, so it has no key '%s'", kind_name(node->kind),
                             shown_span(step->key, step->key_length).text);
        cfg_entry *entry = map_lookup(node, step->key, step->key_length);
        if (entry) *slot = &entry->value;
        return LMN_OK;
    }
    if (node->kind != LMN_CFG_SEQUENCE)
        return node_fail(node, "is %s, not a list, so it has no item [%zu]", kind_name(node->kind),
                         step->index);
    if (step->index >= node->count)
        return node_fail(node, "has %zu items, so it has no item [%zu]", node->count, step->index);
    *slot = &node->items[step->index];
    return LMN_OK;
}

/* The node at path below base (NULL = root), or NULL if a key is absent. */
static lmn_status lookup(lmn_cfg *cfg, lmn_cfg_node *base, const char *path, lmn_cfg_node **out)
{
    *out = NULL;
    lmn_cfg_node *node = base ? base : cfg->root;
    const char *cursor = path;
    for (;;) {
        path_step step = {0};
        bool done;
        LMN_TRY(next_step(&cursor, path, &step, &done));
        if (done) break;
        lmn_cfg_node **slot = NULL;
        LMN_TRY(child_slot(node, &step, &slot));
        if (!slot) return LMN_OK;
        node = *slot;
    }
    *out = node;
    return LMN_OK;
}

/* Adds key -> value to map, giving value its path; takes ownership of value. */
static lmn_status add_key(lmn_cfg_node *map, const path_step *step, lmn_cfg_node *value)
{
    char *path = NULL, *key = NULL;
    lmn_status status = key_path(map->path, step->key, step->key_length, &path);
    if (status == LMN_OK) status = assign_paths(value, path);
    if (status == LMN_OK) status = lmn_copy_text(&key, step->key, step->key_length, "config key");
    lmn_free(path);
    if (status != LMN_OK) {
        free_node(value);
        return status;
    }
    return map_append(map, key, value);
}

/* Puts value at step below parent: replaces what slot holds, or adds the key. */
static lmn_status place(lmn_cfg_node *parent, lmn_cfg_node **slot, const path_step *step,
                        lmn_cfg_node *value)
{
    if (!slot) return add_key(parent, step, value);
    lmn_status status = assign_paths(value, (*slot)->path);
    if (status != LMN_OK) {
        free_node(value);
        return status;
    }
    free_node(*slot);
    *slot = value;
    return LMN_OK;
}

/* Puts value (owned, freed on failure) at path below base, replacing what
 * is there and creating missing maps on the way. */
static lmn_status install(lmn_cfg *cfg, lmn_cfg_node *base, const char *path, lmn_cfg_node *value)
{
    lmn_cfg_node *node = base ? base : cfg->root;
    const char *cursor = path;
    path_step step = {0}, next = {0};
    bool done = false;
    lmn_status status = next_step(&cursor, path, &step, &done);
    if (status == LMN_OK && done) status = malformed_path(path);
    while (status == LMN_OK) {
        lmn_cfg_node **slot = NULL;
        status = child_slot(node, &step, &slot);
        if (status == LMN_OK) status = next_step(&cursor, path, &next, &done);
        if (status != LMN_OK) break;
        if (done) return place(node, slot, &step, value);
        if (!slot) {
            lmn_cfg_node *map = NULL;
            LMN_TRY(new_node(LMN_CFG_MAP, value->source, value->line, &map));
            status = add_key(node, &step, map);
            slot = &node->entries[node->count - 1].value;
        }
        node = *slot;
        step = next;
    }
    free_node(value);
    return status;
}

/* True when text[0..length) is well-formed UTF-8, as every YAML file must
 * be: no stray continuation byte, overlong form, surrogate or code point
 * above U+10FFFF. A --set key is the one text that reaches the tree
 * without the YAML parser's check (a value goes through the parser). */
static bool valid_utf8(const char *text, size_t length)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < length) {
        const unsigned lead = s[i];
        size_t more;
        unsigned point, least;
        if (lead < 0x80) {
            i++;
            continue;
        }
        if ((lead & 0xE0u) == 0xC0u) more = 1, point = lead & 0x1Fu, least = 0x80;
        else if ((lead & 0xF0u) == 0xE0u) more = 2, point = lead & 0x0Fu, least = 0x800;
        else if ((lead & 0xF8u) == 0xF0u) more = 3, point = lead & 0x07u, least = 0x10000;
        else return false;
        if (length - i <= more) return false;
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xC0u) != 0x80u) return false;
            point = (point << 6) | (s[i + k] & 0x3Fu);
        }
        if (point < least || point > 0x10FFFFu || (point >= 0xD800u && point <= 0xDFFFu))
            return false;
        i += more + 1;
    }
    return true;
}

lmn_status lmn_cfg_set(lmn_cfg *cfg, const char *assignment)
{
    const char *equals = strchr(assignment, '=');
    if (!equals)
        return lmn_fail(LMN_ERR_CONFIG, "--set '%s': expected KEY=VALUE, e.g. optimizer.lr=0.1",
                        shown(assignment).text);
    lmn_text key = {0}, origin = {0};
    const char *key_start = assignment, *key_end = equals;
    while (key_start < key_end && isspace((unsigned char)*key_start)) key_start++;
    while (key_end > key_start && isspace((unsigned char)key_end[-1])) key_end--;
    lmn_status status = lmn_text_append(&key, key_start, (size_t)(key_end - key_start));
    if (status == LMN_OK) status = lmn_text_appendf(&origin, "--set '%s'", shown(assignment).text);
    if (status == LMN_OK && key.length == 0)
        status = lmn_fail(LMN_ERR_CONFIG, "%s: no key before '='", origin.data);
    if (status == LMN_OK && !valid_utf8(key.data, key.length))
        status = lmn_fail(LMN_ERR_CONFIG, "%s: the key is not valid UTF-8", origin.data);
    lmn_cfg_node *value = NULL;
    if (status == LMN_OK) status = parse_text(equals + 1, origin.data, SET_SOURCE, false, &value);
    if (status == LMN_OK && !value) status = new_scalar("", 0, SET_SOURCE, 0, &value);
    if (status == LMN_OK) {
        status = install(cfg, NULL, key.data, value);
        if (status != LMN_OK) lmn_fail_context(status, "%s", origin.data);
    }
    lmn_text_free(&key);
    lmn_text_free(&origin);
    return status;
}

/* Removes the key that entry_value belongs to from map. */
static void remove_entry(lmn_cfg_node *map, const lmn_cfg_node *entry_value)
{
    for (size_t i = 0; i < map->count; i++) {
        if (map->entries[i].value != entry_value) continue;
        free_node(map->entries[i].value);
        lmn_free(map->entries[i].key);
        memmove(&map->entries[i], &map->entries[i + 1],
                (map->count - i - 1) * sizeof *map->entries);
        map->count--;
        return;
    }
}

lmn_status lmn_cfg_unset(lmn_cfg *cfg, const char *path)
{
    lmn_cfg_node *node = cfg->root;
    const char *cursor = path;
    path_step step = {0}, next = {0};
    bool done = false;
    LMN_TRY(next_step(&cursor, path, &step, &done));
    if (done) return malformed_path(path);
    for (;;) {
        lmn_cfg_node **slot = NULL;
        LMN_TRY(child_slot(node, &step, &slot));
        if (!slot)
            return lmn_fail(LMN_ERR_CONFIG, "the configuration has no key '%s'", shown(path).text);
        LMN_TRY(next_step(&cursor, path, &next, &done));
        if (done && !step.key)
            return lmn_fail(LMN_ERR_CONFIG, "'%s' names a list item; only keys can be removed "
                            "(set the whole list instead)", shown(path).text);
        if (done) {
            remove_entry(node, *slot);
            return LMN_OK;
        }
        node = *slot;
        step = next;
    }
}

lmn_status lmn_cfg_apply_edits(lmn_cfg *cfg, const lmn_cfg_edit *edits, int count)
{
    for (int i = 0; i < count; i++) {
        const bool unset = strcmp(edits[i].option, "--unset") == 0;
        const lmn_status status = unset ? lmn_cfg_unset(cfg, edits[i].argument)
                                        : lmn_cfg_set(cfg, edits[i].argument);
        /* lmn_cfg_set names its argument already. */
        if (status != LMN_OK && !unset) return status;
        if (status != LMN_OK)
            return lmn_fail_context(status, "%s '%s'", edits[i].option,
                                    shown(edits[i].argument).text);
    }
    return LMN_OK;
}

/* --------------------------------------------------------------- getters */

static lmn_status missing_key(const lmn_cfg *cfg, const lmn_cfg_node *base, const char *path)
{
    const char *base_path = base ? base->path : "";
    const char *separator = base_path[0] && path[0] && path[0] != '[' ? "." : "";
    char full[SHOWN_TEXT_MAX * 2 + 2];
    snprintf(full, sizeof full, "%s%s%s", shown(base_path).text, separator, shown(path).text);
    return lmn_fail(LMN_ERR_CONFIG, "%s: missing required key '%s'", cfg->origin, full);
}

/* Why text, which looks like a number, is not one (NULL: it does not). */
static const char *overflow_reason(const char *text)
{
    const char *digits = text + (text[0] == '+' || text[0] == '-');
    if (!isdigit((unsigned char)digits[0]) && digits[0] != '.') return NULL;
    char *end = NULL;
    errno = 0;
    (void)strtoll(text, &end, 10);
    if (*end == '\0' && errno == ERANGE)
        return "too large for a 64-bit integer (from -9223372036854775808 to "
               "9223372036854775807)";
    errno = 0;
    const double value = strtod(text, &end);
    if (*end == '\0' && errno == ERANGE && isinf(value))
        return "too large for a double-precision number (largest magnitude about 1.8e308)";
    return NULL;
}

static lmn_status value_error(const lmn_cfg_node *node, const char *expected)
{
    const char *overflow = overflow_reason(node->text);
    if (overflow) return node_fail(node, "expected %s, got '%s': %s", expected,
                                   shown(node->text).text, overflow);
    return node_fail(node, "expected %s, got '%s'", expected, shown(node->text).text);
}

/* The scalar at path, marked used; an absent key gets default_text inserted
 * (NULL default_text: the key is required). */
static lmn_status get_scalar(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                             const char *default_text, const char *expected, lmn_cfg_node **out)
{
    *out = NULL;
    lmn_cfg_node *node = NULL;
    LMN_TRY(lookup(cfg, base, path, &node));
    if (!node) {
        if (!default_text) return missing_key(cfg, base, path);
        LMN_TRY(new_scalar(default_text, strlen(default_text), DEFAULT_SOURCE, 0, &node));
        LMN_TRY(install(cfg, base, path, node));
    }
    node->used = true;
    if (node->kind != LMN_CFG_SCALAR)
        return node_fail(node, "expected %s, got %s", expected, kind_name(node->kind));
    *out = node;
    return LMN_OK;
}

static bool parse_int_text(const char *text, int64_t *out)
{
    const char *digits = text + (text[0] == '+' || text[0] == '-');
    if (!isdigit((unsigned char)digits[0])) return false;
    char *end = NULL;
    errno = 0;
    const long long value = strtoll(text, &end, 10);
    if (*end != '\0' || errno == ERANGE) return false;
    *out = value;
    return true;
}

static bool parse_double_text(const char *text, double *out)
{
    if (!text[0] || isspace((unsigned char)text[0])) return false;
    char *end = NULL;
    const double value = strtod(text, &end);
    if (*end != '\0' || !isfinite(value)) return false;
    *out = value;
    return true;
}

static bool parse_bool_text(const char *text, bool *out)
{
    static const char *const truths[] = {"true", "yes", "on"};
    static const char *const falsehoods[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(text, truths[i]) == 0) return *out = true, true;
        if (strcasecmp(text, falsehoods[i]) == 0) return *out = false, true;
    }
    return false;
}

static lmn_status get_int_node(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                               const int64_t *def, int64_t *out, lmn_cfg_node **node)
{
    char text[32];
    if (def) snprintf(text, sizeof text, "%" PRId64, *def);
    LMN_TRY(get_scalar(cfg, base, path, def ? text : NULL, "an integer", node));
    if (!parse_int_text((*node)->text, out)) return value_error(*node, "an integer");
    return LMN_OK;
}

static lmn_status get_double_node(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                  const double *def, double *out, lmn_cfg_node **node)
{
    char text[LMN_DOUBLE_TEXT_CAPACITY];
    if (def) {
        if (!isfinite(*def))
            return lmn_fail(LMN_ERR_ARG, "default for config key '%s' is not finite", path);
        lmn_format_double(*def, text);
    }
    LMN_TRY(get_scalar(cfg, base, path, def ? text : NULL, "a number", node));
    if (!parse_double_text((*node)->text, out)) return value_error(*node, "a number");
    return LMN_OK;
}

lmn_status lmn_cfg_get_int(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                           const int64_t *def, int64_t *out)
{
    lmn_cfg_node *node = NULL;
    return get_int_node(cfg, base, path, def, out, &node);
}

lmn_status lmn_cfg_get_double(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                              const double *def, double *out)
{
    lmn_cfg_node *node = NULL;
    return get_double_node(cfg, base, path, def, out, &node);
}

lmn_status lmn_cfg_get_bool(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                            const bool *def, bool *out)
{
    lmn_cfg_node *node = NULL;
    const char *default_text = def ? (*def ? "true" : "false") : NULL;
    LMN_TRY(get_scalar(cfg, base, path, default_text, "true or false", &node));
    if (!parse_bool_text(node->text, out)) return value_error(node, "true or false");
    return LMN_OK;
}

lmn_status lmn_cfg_get_string(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                              const char *def, const char **out)
{
    lmn_cfg_node *node = NULL;
    LMN_TRY(get_scalar(cfg, base, path, def, "a single value", &node));
    *out = node->text;
    return LMN_OK;
}

lmn_status lmn_cfg_get_int_range(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                 const int64_t *def, int64_t min, int64_t max, int64_t *out)
{
    lmn_cfg_node *node = NULL;
    LMN_TRY(get_int_node(cfg, base, path, def, out, &node));
    if (*out >= min && *out <= max) return LMN_OK;
    if (max == INT64_MAX)
        return node_fail(node, "must be >= %" PRId64 ", got %" PRId64, min, *out);
    if (min == INT64_MIN)
        return node_fail(node, "must be <= %" PRId64 ", got %" PRId64, max, *out);
    return node_fail(node, "must be between %" PRId64 " and %" PRId64 ", got %" PRId64, min, max,
                     *out);
}

lmn_status lmn_cfg_get_double_range(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                    const double *def, double min, double max, double *out)
{
    lmn_cfg_node *node = NULL;
    LMN_TRY(get_double_node(cfg, base, path, def, out, &node));
    if (*out >= min && *out <= max) return LMN_OK;
    if (isinf(max)) return node_fail(node, "must be >= %g, got %s", min, node->text);
    if (isinf(min)) return node_fail(node, "must be <= %g, got %s", max, node->text);
    return node_fail(node, "must be between %g and %g, got %s", min, max, node->text);
}

lmn_status lmn_cfg_get_positive_double(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                       const double *def, double *out)
{
    lmn_cfg_node *node = NULL;
    LMN_TRY(get_double_node(cfg, base, path, def, out, &node));
    if (*out > 0) return LMN_OK;
    return node_fail(node, "must be > 0, got %s", node->text);
}

lmn_status lmn_cfg_get_enum(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                            const char *const *choices, const char *def, int *index_out)
{
    int def_index = -1;
    for (int i = 0; def && choices[i]; i++)
        if (strcmp(choices[i], def) == 0) def_index = i;
    if (def && def_index < 0)
        return lmn_fail(LMN_ERR_ARG, "default '%s' for config key '%s' is not one of its choices",
                        def, path);
    lmn_cfg_node *node = NULL;
    LMN_TRY(get_scalar(cfg, base, path, def, "one of a list of names", &node));
    for (int i = 0; choices[i]; i++) {
        if (strcmp(choices[i], node->text) == 0) {
            *index_out = i;
            return LMN_OK;
        }
    }
    lmn_text valid = {0};
    lmn_status status = LMN_OK;
    for (int i = 0; choices[i] && status == LMN_OK; i++)
        status = lmn_text_appendf(&valid, "%s%s", i ? ", " : "", choices[i]);
    if (status == LMN_OK)
        status = node_fail(node, "unknown value '%s'; valid choices: %s", shown(node->text).text,
                           valid.data);
    lmn_text_free(&valid);
    return status;
}

/* Hands array (freed on failure) to cfg to free with it. */
static lmn_status keep_owned(lmn_cfg *cfg, void *array)
{
    lmn_status status = lmn_grow_array((void **)&cfg->owned, &cfg->owned_capacity,
                                       cfg->owned_count + 1, sizeof *cfg->owned, "config lists");
    if (status != LMN_OK) {
        lmn_free(array);
        return status;
    }
    cfg->owned[cfg->owned_count++] = array;
    return LMN_OK;
}

typedef bool (*parse_element_fn)(const char *text, void *element);
static bool parse_int_element(const char *text, void *element) { return parse_int_text(text, element); }
static bool parse_double_element(const char *text, void *element)
{
    return parse_double_text(text, element);
}

typedef struct list_type {
    const char *element_name; /* "a number" */
    const char *list_name;    /* "a list of numbers" */
    size_t element_size;
    parse_element_fn parse;
} list_type;

static const list_type DOUBLE_LIST = {"a number", "a list of numbers", sizeof(double),
                                      parse_double_element};
static const list_type INT_LIST = {"an integer", "a list of integers", sizeof(int64_t),
                                   parse_int_element};

/* The list at path decoded into a cfg-owned array; default_seq (owned,
 * NULL = required) is inserted when the key is absent. */
static lmn_status get_list(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                           lmn_cfg_node *default_seq, const list_type *type, void **out,
                           size_t *count)
{
    lmn_cfg_node *node = NULL;
    lmn_status status = lookup(cfg, base, path, &node);
    if (status == LMN_OK && !node) {
        if (!default_seq) {
            status = missing_key(cfg, base, path);
        } else {
            node = default_seq;
            default_seq = NULL;
            status = install(cfg, base, path, node);
        }
    }
    free_node(default_seq);
    LMN_TRY(status);
    lmn_cfg_mark_used(node, true);
    if (node->kind == LMN_CFG_MAP) return node_fail(node, "expected %s, got a map", type->list_name);
    const size_t length = node->kind == LMN_CFG_SCALAR ? 1 : node->count;
    char *array = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&array, length * type->element_size, "config list"));
    LMN_TRY(keep_owned(cfg, array));
    for (size_t i = 0; i < length; i++) {
        const lmn_cfg_node *item = node->kind == LMN_CFG_SCALAR ? node : node->items[i];
        if (item->kind != LMN_CFG_SCALAR)
            return node_fail(item, "expected %s, got %s", type->element_name, kind_name(item->kind));
        if (!type->parse(item->text, array + i * type->element_size))
            return value_error(item, type->element_name);
    }
    *out = array;
    *count = length;
    return LMN_OK;
}

/* A sequence of default values, already formatted as text. */
static lmn_status default_sequence(const char *const *texts, size_t count, lmn_cfg_node **out)
{
    LMN_TRY(new_node(LMN_CFG_SEQUENCE, DEFAULT_SOURCE, 0, out));
    for (size_t i = 0; i < count; i++) {
        lmn_cfg_node *item = NULL;
        lmn_status status = new_scalar(texts[i], strlen(texts[i]), DEFAULT_SOURCE, 0, &item);
        if (status == LMN_OK) status = seq_append(*out, item);
        if (status != LMN_OK) {
            free_node(*out);
            *out = NULL;
            return status;
        }
    }
    return LMN_OK;
}

typedef char number_text[LMN_DOUBLE_TEXT_CAPACITY];

/* Formats count numbers with format_one and builds their default sequence. */
static lmn_status numbers_sequence(const void *values, size_t count, size_t element_size,
                                   void (*format_one)(const void *value, char *text),
                                   lmn_cfg_node **out)
{
    number_text *texts = NULL;
    const char **pointers = NULL;
    lmn_status status = lmn_alloc_bytes((void **)&texts, count * sizeof *texts, "config default");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&pointers, count * sizeof *pointers, "config default");
    for (size_t i = 0; status == LMN_OK && i < count; i++) {
        format_one((const char *)values + i * element_size, texts[i]);
        pointers[i] = texts[i];
    }
    if (status == LMN_OK) status = default_sequence(pointers, count, out);
    lmn_free(pointers);
    lmn_free(texts);
    return status;
}

static void format_double_value(const void *value, char *text)
{
    lmn_format_double(*(const double *)value, text);
}

static void format_int_value(const void *value, char *text)
{
    snprintf(text, LMN_DOUBLE_TEXT_CAPACITY, "%" PRId64, *(const int64_t *)value);
}

lmn_status lmn_cfg_get_double_list(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                   const double *def, size_t def_count,
                                   const double **out, size_t *count)
{
    lmn_cfg_node *default_seq = NULL;
    for (size_t i = 0; def && i < def_count; i++)
        if (!isfinite(def[i]))
            return lmn_fail(LMN_ERR_ARG, "default for config key '%s' is not finite", path);
    if (def) LMN_TRY(numbers_sequence(def, def_count, sizeof *def, format_double_value, &default_seq));
    return get_list(cfg, base, path, default_seq, &DOUBLE_LIST, (void **)out, count);
}

lmn_status lmn_cfg_get_int_list(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                const int64_t *def, size_t def_count,
                                const int64_t **out, size_t *count)
{
    lmn_cfg_node *default_seq = NULL;
    if (def) LMN_TRY(numbers_sequence(def, def_count, sizeof *def, format_int_value, &default_seq));
    return get_list(cfg, base, path, default_seq, &INT_LIST, (void **)out, count);
}

/* ------------------------------------------------------- node access */

lmn_cfg_node *lmn_cfg_find(lmn_cfg *cfg, lmn_cfg_node *base, const char *path)
{
    lmn_cfg_node *node = NULL;
    if (lookup(cfg, base, path, &node) != LMN_OK || !node) return NULL;
    node->used = true;
    return node;
}

lmn_cfg_node_kind lmn_cfg_kind(const lmn_cfg_node *node) { return node->kind; }

size_t lmn_cfg_seq_length(const lmn_cfg_node *node)
{
    return node->kind == LMN_CFG_SEQUENCE ? node->count : 0;
}

lmn_cfg_node *lmn_cfg_seq_item(lmn_cfg_node *node, size_t index)
{
    if (node->kind != LMN_CFG_SEQUENCE || index >= node->count) return NULL;
    node->items[index]->used = true;
    return node->items[index];
}

size_t lmn_cfg_map_size(const lmn_cfg_node *node)
{
    return node->kind == LMN_CFG_MAP ? node->count : 0;
}

const char *lmn_cfg_map_key(const lmn_cfg_node *node, size_t index)
{
    if (node->kind != LMN_CFG_MAP || index >= node->count) return NULL;
    return node->entries[index].key;
}

lmn_cfg_node *lmn_cfg_map_value(lmn_cfg_node *node, size_t index)
{
    if (node->kind != LMN_CFG_MAP || index >= node->count) return NULL;
    node->entries[index].value->used = true;
    return node->entries[index].value;
}

const char *lmn_cfg_scalar_text(const lmn_cfg_node *node)
{
    return node->kind == LMN_CFG_SCALAR ? node->text : NULL;
}

const char *lmn_cfg_node_path(const lmn_cfg_node *node) { return node->path; }
const char *lmn_cfg_node_source(const lmn_cfg_node *node) { return node->source; }
int lmn_cfg_node_line(const lmn_cfg_node *node) { return node->line; }

static lmn_cfg_node *child_at(const lmn_cfg_node *node, size_t index)
{
    return node->kind == LMN_CFG_MAP ? node->entries[index].value : node->items[index];
}

void lmn_cfg_mark_used(lmn_cfg_node *node, bool recursive)
{
    node->used = true;
    for (size_t i = 0; recursive && i < node->count; i++)
        lmn_cfg_mark_used(child_at(node, i), true);
}

/* ---------------------------------------------------------- unused keys */

/* Whether anything at or below node was read. */
static bool touched(const lmn_cfg_node *node)
{
    if (node->used) return true;
    for (size_t i = 0; i < node->count; i++)
        if (touched(child_at(node, i))) return true;
    return false;
}

/* The first node (document order) below node that nothing read, reported
 * as a whole rather than key by key; *container is its parent. */
static const lmn_cfg_node *first_unread(const lmn_cfg_node *node, const lmn_cfg_node **container)
{
    for (size_t i = 0; i < node->count; i++) {
        const lmn_cfg_node *child = child_at(node, i);
        if (!touched(child)) {
            *container = node;
            return child;
        }
        const lmn_cfg_node *found = first_unread(child, container);
        if (found) return found;
    }
    return NULL;
}

enum { MAX_SUGGESTED_KEY = 64 };

/* Levenshtein distance; keys longer than MAX_SUGGESTED_KEY are never close. */
static size_t edit_distance(const char *a, const char *b)
{
    const size_t la = strlen(a), lb = strlen(b);
    if (la > MAX_SUGGESTED_KEY || lb > MAX_SUGGESTED_KEY) return SIZE_MAX;
    size_t previous[MAX_SUGGESTED_KEY + 1], current[MAX_SUGGESTED_KEY + 1];
    for (size_t j = 0; j <= lb; j++) previous[j] = j;
    for (size_t i = 1; i <= la; i++) {
        current[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            const size_t substitute = previous[j - 1] + (a[i - 1] != b[j - 1]);
            const size_t insert = current[j - 1] + 1, remove = previous[j] + 1;
            current[j] = substitute < insert ? substitute : insert;
            if (remove < current[j]) current[j] = remove;
        }
        memcpy(previous, current, (lb + 1) * sizeof *previous);
    }
    return previous[lb];
}

/* The path of the read sibling whose key is closest to unread's, if it is
 * close enough to be a likely typo; NULL otherwise. */
static const char *suggest_sibling(const lmn_cfg_node *map, const lmn_cfg_node *unread)
{
    const char *unread_key = NULL;
    for (size_t i = 0; i < map->count; i++)
        if (map->entries[i].value == unread) unread_key = map->entries[i].key;
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t i = 0; unread_key && i < map->count; i++) {
        const cfg_entry *entry = &map->entries[i];
        if (entry->value == unread || !touched(entry->value)) continue;
        const size_t distance = edit_distance(unread_key, entry->key);
        if (distance <= 2 && distance < strlen(entry->key) && distance < best_distance) {
            best = entry->value->path;
            best_distance = distance;
        }
    }
    return best;
}

void lmn_cfg_set_catalog(lmn_cfg *cfg, const lmn_cfg_catalog *catalog) { cfg->catalog = catalog; }

/* The catalog entry that is path or lies below it; SIZE_MAX if none. */
static size_t catalog_entry_under(const lmn_cfg_catalog *catalog, const char *path)
{
    const size_t length = strlen(path);
    for (size_t i = 0; catalog && i < catalog->count; i++) {
        const char *key = catalog->key(i);
        if (strncmp(key, path, length) == 0 && (key[length] == '\0' || key[length] == '.'))
            return i;
    }
    return SIZE_MAX;
}

/* The catalog key closest to path (edit distance <= 2), or NULL. */
static const char *catalog_suggestion(const lmn_cfg_catalog *catalog, const char *path)
{
    const char *best = NULL;
    size_t best_distance = 3;
    for (size_t i = 0; catalog && i < catalog->count; i++) {
        const size_t distance = edit_distance(path, catalog->key(i));
        if (distance < best_distance && distance < strlen(path)) {
            best = catalog->key(i);
            best_distance = distance;
        }
    }
    return best;
}

/* A known key (or a map of known keys) that these settings did not read. */
static lmn_status not_read_here(const char *location, const lmn_cfg_node *unread,
                                const lmn_cfg_catalog *catalog, size_t entry)
{
    const char *key = catalog->key(entry), *when = catalog->when(entry);
    const bool below = strcmp(key, unread->path) != 0;
    char settings[512];
    snprintf(settings, sizeof settings, "%s", when ? when : "");
    for (char *c = settings; *c; c++)
        if (*c == ';') *c = ','; /* "a=1;b=2" reads "a=1, b=2" */
    if (!when)
        return lmn_fail(LMN_ERR_CONFIG, "%s: unknown key '%s' with these settings: %s read under "
                        "other settings (see lamina train --help)", location,
                        shown(unread->path).text, below ? "its keys are" : "it is");
    return lmn_fail(LMN_ERR_CONFIG, "%s: unknown key '%s' with these settings: %s read only "
                    "with %s", location, shown(unread->path).text, below ? "its keys are" : "it is",
                    settings);
}

lmn_status lmn_cfg_check_unused(const lmn_cfg *cfg)
{
    const lmn_cfg_node *container = NULL;
    const lmn_cfg_node *unread = first_unread(cfg->root, &container);
    if (!unread) return LMN_OK;
    char location[LOCATION_CAPACITY];
    node_location(unread, location, sizeof location);
    if (container->kind == LMN_CFG_SEQUENCE)
        return lmn_fail(LMN_ERR_CONFIG, "%s: list item '%s' was never used", location,
                        shown(unread->path).text);
    const char *suggestion = suggest_sibling(container, unread);
    if (!suggestion) {
        const size_t entry = catalog_entry_under(cfg->catalog, unread->path);
        if (entry != SIZE_MAX) return not_read_here(location, unread, cfg->catalog, entry);
        suggestion = catalog_suggestion(cfg->catalog, unread->path);
    }
    if (suggestion)
        return lmn_fail(LMN_ERR_CONFIG, "%s: unknown key '%s' (did you mean '%s'?)", location,
                        shown(unread->path).text, shown(suggestion).text);
    return lmn_fail(LMN_ERR_CONFIG, "%s: unknown key '%s'", location, shown(unread->path).text);
}

/* Whether path is a catalog key, a map above one, or lies inside one (a
 * key's value, a map or a list, is its reader's to check). */
static bool catalog_knows(const lmn_cfg_catalog *catalog, const char *path)
{
    const size_t length = strlen(path);
    for (size_t i = 0; i < catalog->count; i++) {
        const char *key = catalog->key(i);
        const size_t key_length = strlen(key);
        if (key_length == 0) continue;
        if (strncmp(key, path, length) == 0 && strchr(".[", key[length])) return true;
        if (strncmp(path, key, key_length) == 0 && strchr(".[", path[key_length]) &&
            path[key_length] != '\0')
            return true;
    }
    return false;
}

/* The catalog key, or map above catalog keys ("optimizer" for
 * "optimiser"), closest to path (edit distance <= 2) into out; false if
 * none is close. */
static bool catalog_map_suggestion(const lmn_cfg_catalog *catalog, const char *path,
                                   char out[MAX_SUGGESTED_KEY + 1])
{
    size_t best_distance = 3;
    char prefix[MAX_SUGGESTED_KEY + 1];
    for (size_t i = 0; i < catalog->count; i++) {
        const char *key = catalog->key(i);
        for (size_t end = 1; end <= strlen(key) && end <= MAX_SUGGESTED_KEY; end++) {
            if (key[end] != '\0' && key[end] != '.') continue;
            memcpy(prefix, key, end);
            prefix[end] = '\0';
            const size_t distance = edit_distance(path, prefix);
            if (distance < best_distance && distance < strlen(path)) {
                memcpy(out, prefix, end + 1);
                best_distance = distance;
            }
        }
    }
    return best_distance < 3;
}

/* The first node (document order) below node whose path catalog_knows not. */
static const lmn_cfg_node *first_unknown(const lmn_cfg_catalog *catalog, const lmn_cfg_node *node)
{
    for (size_t i = 0; i < node->count; i++) {
        const lmn_cfg_node *child = child_at(node, i);
        if (!catalog_knows(catalog, child->path)) return child;
        const lmn_cfg_node *found = first_unknown(catalog, child);
        if (found) return found;
    }
    return NULL;
}

lmn_status lmn_cfg_check_known(const lmn_cfg *cfg)
{
    if (!cfg->catalog) return LMN_OK;
    const lmn_cfg_node *unknown = first_unknown(cfg->catalog, cfg->root);
    if (!unknown) return LMN_OK;
    char location[LOCATION_CAPACITY];
    node_location(unknown, location, sizeof location);
    char suggestion[MAX_SUGGESTED_KEY + 1];
    if (catalog_map_suggestion(cfg->catalog, unknown->path, suggestion))
        return lmn_fail(LMN_ERR_CONFIG, "%s: unknown key '%s' (did you mean '%s'?)", location,
                        shown(unknown->path).text, shown(suggestion).text);
    return lmn_fail(LMN_ERR_CONFIG, "%s: unknown key '%s'", location, shown(unknown->path).text);
}

/* ---------------------------------------------------------------- output */

static int collect_yaml(void *data, unsigned char *buffer, size_t size)
{
    return lmn_text_append(data, (const char *)buffer, size) == LMN_OK;
}

static bool emit_scalar(yaml_emitter_t *emitter, const char *text, bool quoted)
{
    /* Plain unless the source was quoted; libyaml still quotes text that
     * would not read back as the same plain scalar. */
    yaml_event_t event;
    return yaml_scalar_event_initialize(&event, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
                                        !quoted, 1,
                                        quoted ? YAML_SINGLE_QUOTED_SCALAR_STYLE
                                               : YAML_ANY_SCALAR_STYLE) &&
           yaml_emitter_emit(emitter, &event);
}

static bool only_scalars(const lmn_cfg_node *seq)
{
    for (size_t i = 0; i < seq->count; i++)
        if (seq->items[i]->kind != LMN_CFG_SCALAR) return false;
    return true;
}

static bool emit_node(yaml_emitter_t *emitter, const lmn_cfg_node *node)
{
    yaml_event_t event;
    if (node->kind == LMN_CFG_SCALAR) return emit_scalar(emitter, node->text, node->quoted);
    if (node->kind == LMN_CFG_MAP) {
        /* Empty maps only exist as "{}" in block YAML. */
        if (!yaml_mapping_start_event_initialize(
                &event, NULL, NULL, 1,
                node->count ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE) ||
            !yaml_emitter_emit(emitter, &event))
            return false;
        for (size_t i = 0; i < node->count; i++)
            if (!emit_scalar(emitter, node->entries[i].key, false) ||
                !emit_node(emitter, node->entries[i].value))
                return false;
        return yaml_mapping_end_event_initialize(&event) && yaml_emitter_emit(emitter, &event);
    }
    /* Lists of numbers read best on one line: "milestones: [80, 120]". */
    if (!yaml_sequence_start_event_initialize(
            &event, NULL, NULL, 1,
            only_scalars(node) ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE) ||
        !yaml_emitter_emit(emitter, &event))
        return false;
    for (size_t i = 0; i < node->count; i++)
        if (!emit_node(emitter, node->items[i])) return false;
    return yaml_sequence_end_event_initialize(&event) && yaml_emitter_emit(emitter, &event);
}

static bool emit_document(yaml_emitter_t *emitter, const lmn_cfg_node *root)
{
    yaml_event_t event;
    return yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING) &&
           yaml_emitter_emit(emitter, &event) &&
           yaml_document_start_event_initialize(&event, NULL, NULL, NULL, 1) &&
           yaml_emitter_emit(emitter, &event) && emit_node(emitter, root) &&
           yaml_document_end_event_initialize(&event, 1) && yaml_emitter_emit(emitter, &event) &&
           yaml_stream_end_event_initialize(&event) && yaml_emitter_emit(emitter, &event) &&
           yaml_emitter_flush(emitter);
}

lmn_status lmn_cfg_to_yaml(const lmn_cfg *cfg, char **out, size_t *length)
{
    *out = NULL;
    yaml_emitter_t emitter;
    if (!yaml_emitter_initialize(&emitter))
        return lmn_fail(LMN_ERR_NOMEM, "cannot create a YAML emitter");
    lmn_text text = {0};
    yaml_emitter_set_output(&emitter, collect_yaml, &text);
    yaml_emitter_set_unicode(&emitter, 1);
    yaml_emitter_set_width(&emitter, -1);
    yaml_emitter_set_indent(&emitter, 2);
    lmn_status status = LMN_OK;
    if (!emit_document(&emitter, cfg->root))
        status = lmn_fail(LMN_ERR_INTERNAL, "cannot write the configuration from %s as YAML: %s",
                          cfg->origin, emitter.problem ? emitter.problem : "out of memory");
    yaml_emitter_delete(&emitter);
    if (status != LMN_OK) {
        lmn_text_free(&text);
        return status;
    }
    *out = text.data;
    *length = text.length;
    return LMN_OK;
}

lmn_status lmn_cfg_write_file(const lmn_cfg *cfg, const char *path)
{
    char *yaml = NULL;
    size_t length = 0;
    LMN_TRY(lmn_cfg_to_yaml(cfg, &yaml, &length));
    lmn_status status = lmn_write_file_atomic(path, yaml, length);
    lmn_free(yaml);
    if (status != LMN_OK)
        return lmn_fail_context(status, "cannot write the resolved configuration");
    return LMN_OK;
}

bool lmn_cfg_nodes_equal(const lmn_cfg_node *a, const lmn_cfg_node *b)
{
    if (a->kind != b->kind || a->count != b->count) return false;
    if (a->kind == LMN_CFG_SCALAR) return strcmp(a->text, b->text) == 0;
    for (size_t i = 0; i < a->count; i++) {
        if (a->kind == LMN_CFG_MAP && strcmp(a->entries[i].key, b->entries[i].key) != 0)
            return false;
        if (!lmn_cfg_nodes_equal(child_at(a, i), child_at(b, i))) return false;
    }
    return true;
}
