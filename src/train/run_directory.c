/* Output-directory claims (see run_directory.h). */
#include "train/run_directory.h"

#include <errno.h>
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
