/* The configuration tree: YAML parsed with libyaml into maps, sequences and
 * scalars, each node remembering where it came from (file and line, or
 * "--set") and its key path ("model.layers[3].kernel").
 *
 * Reading marks nodes as used, and a key that is absent but has a default
 * gets the default inserted, so after the program has read everything:
 *   - lmn_cfg_check_unused reports the first key nobody read (a typo), and
 *   - lmn_cfg_write_file writes the resolved configuration, defaults
 *     included, which re-parses to the same tree.
 *
 * Paths are dot-separated keys with [N] for sequence items, relative to a
 * base node (NULL = the root); "" names the base itself. Scalars are kept
 * as text and interpreted by the getter that reads them.
 *
 * Lifetime: strings and arrays returned by the getters are owned by the
 * cfg and stay valid until lmn_cfg_free, unless lmn_cfg_set replaces the
 * node they came from. Nodes are owned by the cfg. */
#ifndef LMN_IO_CONFIG_H
#define LMN_IO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct lmn_cfg lmn_cfg;
typedef struct lmn_cfg_node lmn_cfg_node;

typedef enum lmn_cfg_node_kind {
    LMN_CFG_SCALAR,
    LMN_CFG_MAP,
    LMN_CFG_SEQUENCE
} lmn_cfg_node_kind;

/* Loading. A missing or unreadable file is LMN_ERR_IO; YAML syntax errors
 * are LMN_ERR_CONFIG "FILE:LINE:COL: problem"; duplicate keys, anchors and
 * aliases, several documents, and a top level that is not a map are
 * LMN_ERR_CONFIG too. An empty document is an empty map. The caller frees
 * *out with lmn_cfg_free. `origin` names the text in messages. */
lmn_status lmn_cfg_load_file(const char *path, lmn_cfg **out);
lmn_status lmn_cfg_parse_string(const char *text, const char *origin, lmn_cfg **out);
/* An empty configuration (no file), named origin in messages. */
lmn_status lmn_cfg_create_empty(const char *origin, lmn_cfg **out);
void lmn_cfg_free(lmn_cfg *cfg);

/* The file name or origin given at load time. */
const char *lmn_cfg_origin(const lmn_cfg *cfg);
lmn_cfg_node *lmn_cfg_root(lmn_cfg *cfg);

/* Applies a command-line override "a.b[2].c=value". The value is parsed as
 * YAML ("0.1", "lenet", "[80,120]", "{name: sgd}"; empty = empty text) and
 * replaces whatever was at the path; missing maps on the way are created.
 * LMN_ERR_CONFIG if there is no '=', the path is malformed, crosses a
 * scalar, or indexes past the end of a sequence. */
lmn_status lmn_cfg_set(lmn_cfg *cfg, const char *assignment);
/* Removes the key at path (a map key, not a list item) with everything
 * below it: `lamina eval CKPT --unset data.test_path` drops a key of the
 * stored configuration so that it takes its default again. LMN_ERR_CONFIG
 * when there is no such key or the path is malformed. */
lmn_status lmn_cfg_unset(lmn_cfg *cfg, const char *path);

/* One command-line edit of a configuration, applied in command-line order:
 * option "--set" with KEY=VALUE, or "--unset" with KEY. Errors name the
 * option and its argument. */
typedef struct lmn_cfg_edit {
    const char *option;
    const char *argument;
} lmn_cfg_edit;
lmn_status lmn_cfg_apply_edits(lmn_cfg *cfg, const lmn_cfg_edit *edits, int count);

/* Typed getters. `def` NULL means required (absent -> LMN_ERR_CONFIG
 * "ORIGIN: missing required key 'path'"); otherwise an absent key is
 * inserted with the default. Values of the wrong type are LMN_ERR_CONFIG
 * "FILE:LINE: key 'optimizer.lr': expected a number, got 'abc'".
 *   int:    decimal integers only (1.5 and 1e3 are rejected)
 *   double: any finite number (integers included; nan and inf rejected)
 *   bool:   true/false, yes/no, on/off in any letter case */
lmn_status lmn_cfg_get_int(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                           const int64_t *def, int64_t *out);
lmn_status lmn_cfg_get_double(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                              const double *def, double *out);
lmn_status lmn_cfg_get_bool(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                            const bool *def, bool *out);
/* *out is owned by cfg. */
lmn_status lmn_cfg_get_string(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                              const char *def, const char **out);

/* Range-checked getters (bounds inclusive): "key 'train.epochs': must be
 * >= 1, got 0". Use INT64_MIN/INT64_MAX or -INFINITY/INFINITY for no bound. */
lmn_status lmn_cfg_get_int_range(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                 const int64_t *def, int64_t min, int64_t max, int64_t *out);
lmn_status lmn_cfg_get_double_range(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                    const double *def, double min, double max, double *out);
/* A double that must be > 0 (learning rates, scales). */
lmn_status lmn_cfg_get_positive_double(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                       const double *def, double *out);

/* Lists: a YAML sequence of numbers, or a single number (a list of one).
 * `def` NULL means required; for an empty default pass any non-NULL
 * pointer with def_count 0. *out (owned by cfg) has *count elements. */
lmn_status lmn_cfg_get_double_list(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                   const double *def, size_t def_count,
                                   const double **out, size_t *count);
lmn_status lmn_cfg_get_int_list(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                                const int64_t *def, size_t def_count,
                                const int64_t **out, size_t *count);

/* One of a NULL-terminated list of choices; *index_out is its position.
 * def NULL means required; a def that is not a choice is LMN_ERR_ARG.
 * A bad value lists the valid choices in the message. */
lmn_status lmn_cfg_get_enum(lmn_cfg *cfg, lmn_cfg_node *base, const char *path,
                            const char *const *choices, const char *def, int *index_out);

/* Structured access. lmn_cfg_find returns the node at path (NULL if
 * absent, or if the path crosses a non-map) and marks it used; so do
 * lmn_cfg_seq_item and lmn_cfg_map_value for the node they return. The
 * queries below return 0/NULL for a node of another kind. */
lmn_cfg_node *lmn_cfg_find(lmn_cfg *cfg, lmn_cfg_node *base, const char *path);
lmn_cfg_node_kind lmn_cfg_kind(const lmn_cfg_node *node);
size_t lmn_cfg_seq_length(const lmn_cfg_node *node);
lmn_cfg_node *lmn_cfg_seq_item(lmn_cfg_node *node, size_t index);
size_t lmn_cfg_map_size(const lmn_cfg_node *node);
const char *lmn_cfg_map_key(const lmn_cfg_node *node, size_t index);
lmn_cfg_node *lmn_cfg_map_value(lmn_cfg_node *node, size_t index);
const char *lmn_cfg_scalar_text(const lmn_cfg_node *node);
const char *lmn_cfg_node_path(const lmn_cfg_node *node);   /* "" for the root */
const char *lmn_cfg_node_source(const lmn_cfg_node *node); /* file, "--set" or "(default)" */
int lmn_cfg_node_line(const lmn_cfg_node *node);            /* 1-based; 0 if not from a file */
void lmn_cfg_mark_used(lmn_cfg_node *node, bool recursive);

/* The keys a program knows, for the messages of lmn_cfg_check_unused:
 * key(i) is a full key path ("" to skip entry i), when(i) the settings
 * under which it is read ("optimizer.name=adam"; ';' between several) or
 * NULL. The catalog must outlive cfg. */
typedef struct lmn_cfg_catalog {
    size_t count;
    const char *(*key)(size_t index);
    const char *(*when)(size_t index);
} lmn_cfg_catalog;
void lmn_cfg_set_catalog(lmn_cfg *cfg, const lmn_cfg_catalog *catalog);

/* LMN_ERR_CONFIG for the first key (in document order) that nothing read:
 * "FILE:LINE: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)".
 * The suggestion is the closest sibling key that was read, if close, else
 * the closest key of the catalog. A catalog key (or a map above catalog
 * keys) that these settings do not read says so: "unknown key
 * 'optimizer.betas' with these settings: it is read only with
 * optimizer.name=adam". */
lmn_status lmn_cfg_check_unused(const lmn_cfg *cfg);

/* Before anything is read: LMN_ERR_CONFIG, with lmn_cfg_check_unused's
 * message and the closest catalog key, for the first key (document order)
 * that is neither a catalog key, a map above catalog keys, nor inside a
 * catalog key's value. Whether these settings read a known key is left to
 * lmn_cfg_check_unused. No catalog: LMN_OK. */
lmn_status lmn_cfg_check_known(const lmn_cfg *cfg);

/* Writes the tree as YAML, atomically (temporary file + rename). */
lmn_status lmn_cfg_write_file(const lmn_cfg *cfg, const char *path);
/* The same YAML text; the caller frees *out with lmn_free. */
lmn_status lmn_cfg_to_yaml(const lmn_cfg *cfg, char **out, size_t *length);

/* True when both trees have the same shape, keys (in order) and scalar text. */
bool lmn_cfg_nodes_equal(const lmn_cfg_node *a, const lmn_cfg_node *b);

#endif
