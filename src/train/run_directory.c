/* Output-directory claims (see run_directory.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "train/run_directory.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/checkpoint.h"
#include "io/files.h"

static bool file_exists(const char *dir, const char *name)
{
    char path[4096];
    struct stat info;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &info) == 0;
}

bool lmn_run_directory_in_use(const char *dir)
{
    char latest[4096];
    return file_exists(dir, "config.yaml") || file_exists(dir, "metrics.jsonl") ||
           lmn_checkpoint_find_latest(dir, latest, sizeof latest) == LMN_OK;
}

/* Whether dir/config.yaml exists and differs from config_yaml. */
static bool holds_other_config(const char *dir, const char *config_yaml)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    FILE *file = fopen(path, "rb");
    if (!file) return false;
    const size_t length = strlen(config_yaml);
    char *text = malloc(length + 2);
    const size_t got = text ? fread(text, 1, length + 1, file) : 0;
    fclose(file);
    const bool differs = !text || got != length || memcmp(text, config_yaml, length) != 0;
    free(text);
    return differs;
}

lmn_status lmn_run_directory_check(const char *dir, lmn_run_claim claim, bool starts_fresh,
                                   const char *config_yaml)
{
    if (!dir || claim == LMN_CLAIM_OVERWRITE) return LMN_OK;
    if (claim == LMN_CLAIM_FRESH && lmn_run_directory_in_use(dir))
        return lmn_fail(LMN_ERR_ARG, "output directory '%s' already holds a run (config.yaml, "
                        "metrics.jsonl or checkpoints); nothing was changed: continue it with "
                        "--resume auto, replace it with --overwrite, or choose another --out", dir);
    if (claim == LMN_CLAIM_CONTINUE && starts_fresh && config_yaml &&
        holds_other_config(dir, config_yaml))
        return lmn_fail(LMN_ERR_ARG, "output directory '%s' holds no checkpoint to resume and its "
                        "config.yaml is another configuration's; nothing was changed: replace that "
                        "run with --overwrite, or choose another --out", dir);
    return LMN_OK;
}

lmn_status lmn_run_directory_prepare(const char *dir, lmn_run_claim claim)
{
    LMN_TRY(lmn_make_directory(dir));
    if (claim != LMN_CLAIM_OVERWRITE) return LMN_OK;
    return lmn_checkpoint_prune(dir, 0);
}

/* Whether the checkpoint at path lies in dir (the same directory, however
 * either is spelled). */
static bool checkpoint_in(const char *dir, const char *path)
{
    char copy[4096], dir_real[PATH_MAX], parent_real[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    return realpath(dir, dir_real) && realpath(dirname(copy), parent_real) &&
           strcmp(dir_real, parent_real) == 0;
}

lmn_status lmn_run_directory_check_resume(const char *dir, lmn_run_claim claim, const char *from,
                                          const char *path)
{
    if (!dir || claim == LMN_CLAIM_OVERWRITE || !lmn_run_directory_in_use(dir) ||
        checkpoint_in(dir, path))
        return LMN_OK;
    return lmn_fail(LMN_ERR_ARG, "--resume %s: output directory '%s' holds another run, and this "
                    "checkpoint is not one of its own; nothing was changed: resume into a new "
                    "or empty --out (or remove that run first)", from, dir);
}

lmn_status lmn_run_directory_resume_source(const char *dir, const char *from, char *path,
                                           size_t size, bool *fresh)
{
    *fresh = false;
    if (strcmp(from, "auto") == 0) {
        if (!dir) return lmn_fail(LMN_ERR_ARG, "--resume auto needs an output directory (--out)");
        if (lmn_checkpoint_find_latest(dir, path, size) != LMN_OK) *fresh = true;
        return LMN_OK;
    }
    struct stat info;
    if (stat(from, &info) != 0)
        return lmn_fail(LMN_ERR_IO, "--resume %s: no such checkpoint file or directory", from);
    if (S_ISDIR(info.st_mode)) return lmn_checkpoint_find_latest(from, path, size);
    snprintf(path, size, "%s", from);
    return LMN_OK;
}

/* Appends length bytes of line to the growing buffer *kept. */
static bool keep_line(char **kept, size_t *used, size_t *capacity, const char *line, size_t length)
{
    if (*used + length > *capacity) {
        const size_t grown_capacity = 2 * (*used + length);
        char *grown = realloc(*kept, grown_capacity);
        if (!grown) return false;
        *kept = grown;
        *capacity = grown_capacity;
    }
    memcpy(*kept + *used, line, length);
    *used += length;
    return true;
}

/* Whether a metrics line starts with {"key":N and N <= last. */
static bool line_within(const char *line, const char *key, long long last)
{
    const size_t key_length = strlen(key);
    if (strncmp(line, "{\"", 2) != 0 || strncmp(line + 2, key, key_length) != 0 ||
        strncmp(line + 2 + key_length, "\":", 2) != 0)
        return false;
    long long value = 0;
    return sscanf(line + 4 + key_length, "%lld", &value) == 1 && value <= last;
}

lmn_status lmn_run_directory_rewind_metrics(const char *dir, const char *key, long long last)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *file = fopen(path, "r");
    /* A checkpoint resumed into a new directory: no metrics to rewind yet. */
    if (!file && errno == ENOENT) return LMN_OK;
    if (!file) return lmn_fail(LMN_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    char *kept = NULL, *line = NULL;
    size_t used = 0, capacity = 0, line_capacity = 0;
    bool ok = true;
    ssize_t length;
    errno = 0; /* getline reports running out of memory only through errno */
    while (ok && (length = getline(&line, &line_capacity, file)) >= 0)
        if (line_within(line, key, last)) ok = keep_line(&kept, &used, &capacity, line, (size_t)length);
    const bool read_failed = ferror(file) || errno == ENOMEM;
    fclose(file);
    free(line);
    lmn_status status = LMN_OK;
    if (!ok || read_failed)
        status = lmn_fail(ok ? LMN_ERR_IO : LMN_ERR_NOMEM, "cannot rewind '%s' to the checkpoint's "
                          "%s %lld: %s; the file is unchanged", path, key, last,
                          ok ? "read error" : "out of memory");
    else
        status = lmn_write_file_atomic(path, kept ? kept : "", used);
    free(kept);
    return status;
}
