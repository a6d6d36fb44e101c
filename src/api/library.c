/* include/lamina.h: starting and ending the library, errors, configurations. */
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/memory.h"

/* The public codes are the internal ones under other names. */
_Static_assert((int)LAMINA_ERR_ARG == (int)LMN_ERR_ARG, "status codes");
_Static_assert((int)LAMINA_ERR_INTERNAL == (int)LMN_ERR_INTERNAL, "status codes");

/* Whether lamina_init started MPI, and so lamina_finalize must end it. */
static bool mpi_started_here;

lamina_status lmn_api_status(lmn_status status)
{
    return (lamina_status)status;
}

lamina_status lamina_init(int *argc, char ***argv)
{
    int initialized = 0, finalized = 0, provided = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (finalized)
        return lmn_api_status(lmn_fail(LMN_ERR_MPI, "lamina_init: MPI was already finalized in "
                                       "this process; MPI cannot be started twice"));
    if (initialized) return LAMINA_OK; /* the program's MPI: it finalizes it */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return lmn_api_status(lmn_fail(LMN_ERR_MPI, "lamina_init: MPI_Init_thread failed"));
    mpi_started_here = true;
    return LAMINA_OK;
}

void lamina_finalize(void)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (mpi_started_here && !finalized) MPI_Finalize();
    mpi_started_here = false;
}

static int world(int (*query)(MPI_Comm, int *))
{
    int initialized = 0, value = 0;
    MPI_Initialized(&initialized);
    if (!initialized) return -1;
    query(MPI_COMM_WORLD, &value);
    return value;
}

int lamina_rank(void) { return world(MPI_Comm_rank); }
int lamina_size(void) { return world(MPI_Comm_size); }

const char *lamina_last_error(void) { return lmn_last_error(); }

const char *lamina_status_name(lamina_status status)
{
    if (status == LAMINA_ERR_STOPPED) return "stopped by the epoch callback";
    return lmn_status_name((lmn_status)status);
}

const char *lamina_version(void) { return LMN_VERSION; }

static lamina_status wrap_config(lmn_status status, lmn_cfg *cfg, lamina_config **out)
{
    if (status != LMN_OK) return lmn_api_status(status);
    *out = malloc(sizeof **out);
    if (!*out) {
        lmn_cfg_free(cfg);
        return lmn_api_status(lmn_fail(LMN_ERR_NOMEM, "cannot allocate a configuration"));
    }
    (*out)->cfg = cfg;
    return LAMINA_OK;
}

lamina_status lamina_config_from_file(const char *path, lamina_config **out)
{
    *out = NULL;
    if (!path) return lmn_api_status(lmn_fail(LMN_ERR_ARG, "lamina_config_from_file: no path"));
    lmn_cfg *cfg = NULL;
    const lmn_status status = lmn_cfg_load_file(path, &cfg);
    return wrap_config(status, cfg, out);
}

lamina_status lamina_config_from_string(const char *yaml, lamina_config **out)
{
    *out = NULL;
    if (!yaml) return lmn_api_status(lmn_fail(LMN_ERR_ARG, "lamina_config_from_string: no text"));
    lmn_cfg *cfg = NULL;
    const lmn_status status = lmn_cfg_parse_string(yaml, "lamina_config_from_string", &cfg);
    return wrap_config(status, cfg, out);
}

lamina_status lamina_config_set(lamina_config *config, const char *key, const char *value)
{
    if (!config || !key || !value || !*key || strchr(key, '='))
        return lmn_api_status(lmn_fail(LMN_ERR_ARG, "lamina_config_set: needs a configuration, "
                                       "a key without '=' and a value (key '%s')",
                                       key ? key : "(null)"));
    const size_t length = strlen(key) + strlen(value) + 2;
    char *assignment = malloc(length);
    if (!assignment) return lmn_api_status(lmn_fail(LMN_ERR_NOMEM, "cannot copy key '%s'", key));
    snprintf(assignment, length, "%s=%s", key, value);
    lmn_status status = lmn_cfg_set(config->cfg, assignment);
    if (status != LMN_OK) status = lmn_fail_context(status, "lamina_config_set %s", assignment);
    free(assignment);
    return lmn_api_status(status);
}

lamina_status lamina_config_to_yaml(const lamina_config *config, char **out)
{
    *out = NULL;
    char *text = NULL;
    size_t length = 0;
    const lmn_status status = lmn_cfg_to_yaml(config->cfg, &text, &length);
    if (status != LMN_OK) return lmn_api_status(status);
    /* The caller frees with free(): a plain malloc'ed copy. */
    *out = malloc(length + 1);
    if (*out) {
        memcpy(*out, text, length);
        (*out)[length] = '\0';
    }
    lmn_free(text);
    return *out ? LAMINA_OK
                : lmn_api_status(lmn_fail(LMN_ERR_NOMEM, "cannot copy the configuration text"));
}

void lamina_config_free(lamina_config *config)
{
    if (!config) return;
    lmn_cfg_free(config->cfg);
    free(config);
}
