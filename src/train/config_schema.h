/* The configuration keys of `lamina train` and `lamina fl`, in one table:
 * each key's help line (default in brackets), the commands that read it and
 * the settings under which it applies. `lamina train --help` and `lamina fl
 * --help` print their key lists from it, so the help cannot drift from the
 * keys; tests/io/test_config.c reads every key through the settings readers
 * (train/settings.c) under its `when` settings and checks that the resolved
 * configuration holds it and re-reads to the same settings, so a key the
 * readers take without a table entry, or an entry no reader takes, fails.
 *
 * Adding a key: one entry here, next to its section, and its reader. */
#ifndef LMN_TRAIN_CONFIG_SCHEMA_H
#define LMN_TRAIN_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "io/config.h"

enum {
    LMN_KEYS_TRAIN = 1,          /* lamina train only */
    LMN_KEYS_FL = 2,             /* lamina fl only */
    LMN_KEYS_COMMON = 1 | 2,     /* both */
    LMN_KEY_NOTE = 4,            /* help text about the keys above, not a key */
    LMN_KEY_MODEL = 8            /* read by the model reader (io/model_config.c) */
};

/* How the table reads a key; LMN_KEY_OTHER: its reader reads it (a list,
 * a default computed from other keys, a word or a number). */
typedef enum lmn_key_type {
    LMN_KEY_OTHER = 0,
    LMN_KEY_INT,
    LMN_KEY_NUMBER,
    LMN_KEY_BOOL,
    LMN_KEY_CHOICE
} lmn_key_type;

typedef struct lmn_config_key {
    const char *key;  /* full path, e.g. "optimizer.lr" */
    unsigned flags;   /* LMN_KEYS_* and LMN_KEY_* */
    /* ';'-separated KEY=VALUE settings under which the key is read (e.g.
     * "optimizer.name=adam"); NULL: with the defaults. Messages quote it:
     * "unknown key 'optimizer.betas' with these settings: it is read only
     * with optimizer.name=adam". */
    const char *when;
    const char *help; /* one paragraph; "[def]" is appended unless it ends in ']' */
    lmn_key_type type;
    const char *def;  /* typed keys: the default as the resolved config writes it; NULL: required */
    int64_t int_min, int_max;   /* LMN_KEY_INT, inclusive */
    double min, max;            /* LMN_KEY_NUMBER, inclusive */
    const char *const *choices; /* LMN_KEY_CHOICE, NULL-terminated; index = the enum's value */
} lmn_config_key;

/* The table, in help order; *count entries. */
const lmn_config_key *lmn_config_keys(size_t *count);
/* The entry of key (notes excluded), or NULL. */
const lmn_config_key *lmn_config_key_find(const char *key);
/* Typed keys read with the table's default, range or choices (defaults
 * are inserted into cfg for the resolved configuration). A key without a
 * table entry of that type is LMN_ERR_INTERNAL; a bad value LMN_ERR_CONFIG
 * naming the key and where it came from. */
lmn_status lmn_config_int64(lmn_cfg *cfg, const char *key, int64_t *out);
lmn_status lmn_config_int(lmn_cfg *cfg, const char *key, int *out);
lmn_status lmn_config_double(lmn_cfg *cfg, const char *key, double *out);
lmn_status lmn_config_bool(lmn_cfg *cfg, const char *key, bool *out);
lmn_status lmn_config_choice(lmn_cfg *cfg, const char *key, int *index);
/* The name of choice index of a LMN_KEY_CHOICE key ("?" if out of range). */
const char *lmn_config_choice_name(const char *key, int index);

/* The table for lmn_cfg_set_catalog: unknown-key messages suggest its keys
 * and say when a key these settings do not read is read. */
const lmn_cfg_catalog *lmn_config_catalog(void);
/* Sets the catalog on cfg and refuses a key the table does not know (nor
 * lies inside a key it knows, as model layers do), with the message and
 * suggestion of lmn_cfg_check_unused: run before data or a network is
 * built, so a typo fails at once. */
lmn_status lmn_config_check_keys(lmn_cfg *cfg);
/* The key list of a command (LMN_KEYS_TRAIN or LMN_KEYS_FL), wrapped to
 * 88 columns: "  KEY  help..." per entry; only_this_command leaves out the
 * keys both commands read (the fl help points to the train help for them). */
void lmn_config_keys_print(FILE *out, unsigned command, bool only_this_command);

#endif
