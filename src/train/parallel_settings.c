#include "train/parallel_settings.h"

#include <stdlib.h>
#include <string.h>

#include "train/config_schema.h"

const char *lmn_strategy_name(lmn_strategy strategy)
{
    return lmn_config_choice_name("parallel.strategy", (int)strategy);
}

static lmn_status get_int(lmn_cfg *cfg, const char *key, int64_t def, int64_t min, int64_t max,
                          int *out)
{
    int64_t value;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, key, &def, min, max, &value));
    *out = (int)value;
    return LMN_OK;
}

/* parallel.tau is a step count or the word "adaptive". */
static lmn_status read_tau(lmn_cfg *cfg, lmn_parallel_settings *s)
{
    const char *text = NULL;
    LMN_TRY(lmn_cfg_get_string(cfg, NULL, "parallel.tau", "8", &text));
    if (strcmp(text, "adaptive") == 0) {
        s->tau = 0;
        LMN_TRY(lmn_config_int(cfg, "parallel.tau_start", &s->tau_start));
        return get_int(cfg, "parallel.tau_max", 64, s->tau_start, 1 << 20, &s->tau_max);
    }
    char *end = NULL;
    const long tau = strtol(text, &end, 10);
    if (end == text || *end != '\0' || tau < 1 || tau > (1 << 20))
        return lmn_fail(LMN_ERR_CONFIG, "key 'parallel.tau': '%s' is neither a step count >= 1 nor "
                        "'adaptive'", text);
    s->tau = s->tau_start = s->tau_max = (int)tau;
    return LMN_OK;
}

/* parallel.lazy_layers: a count, or auto (8, or every convolution but the
 * top one of a smaller model). auto is written into the resolved
 * configuration, so that reading it again keeps the choice open. */
static lmn_status read_lazy_layers(lmn_cfg *cfg, lmn_parallel_settings *s)
{
    const char *text = NULL;
    LMN_TRY(lmn_cfg_get_string(cfg, NULL, "parallel.lazy_layers", "auto", &text));
    s->lazy_layers_given = strcmp(text, "auto") != 0;
    if (!s->lazy_layers_given) {
        s->lazy_layers = 8;
        return LMN_OK;
    }
    char *end = NULL;
    const long layers = strtol(text, &end, 10);
    if (end == text || *end != '\0' || layers < 0 || layers > (1 << 20))
        return lmn_fail(LMN_ERR_CONFIG, "key 'parallel.lazy_layers': '%s' is neither a layer count "
                        "from 0 to %d nor 'auto'", text, 1 << 20);
    s->lazy_layers = (int)layers;
    return LMN_OK;
}

lmn_status lmn_parallel_settings_read(lmn_cfg *cfg, lmn_parallel_settings *s)
{
    memset(s, 0, sizeof *s);
    int index = 0;
    LMN_TRY(lmn_config_choice(cfg, "parallel.strategy", &index));
    s->strategy = (lmn_strategy)index;
    LMN_TRY(lmn_config_choice(cfg, "parallel.wire", &index));
    s->wire = (lmn_wire)index;
    LMN_TRY(lmn_config_double(cfg, "parallel.predivide", &s->predivide));
    if (s->predivide > 0.0 && s->predivide < 1.0)
        return lmn_fail(LMN_ERR_CONFIG, "key 'parallel.predivide': %g must be 0 (the rank count) "
                        "or >= 1", s->predivide);
    switch (s->strategy) {
    case LMN_STRATEGY_OVERLAP:
        return lmn_config_double(cfg, "parallel.bucket_mb", &s->bucket_mb);
    case LMN_STRATEGY_MULTISTEP:
        LMN_TRY(lmn_config_choice(cfg, "parallel.fc_exchange", &index));
        s->fc_exchange = index == 0 ? -1 : index == 2;
        return LMN_OK;
    case LMN_STRATEGY_LAZY:
        LMN_TRY(read_lazy_layers(cfg, s));
        return lmn_config_int(cfg, "parallel.lazy_max_k", &s->lazy_max_k);
    case LMN_STRATEGY_LOCALSGD:
        LMN_TRY(lmn_config_int(cfg, "parallel.groups", &s->groups));
        return read_tau(cfg, s);
    default:
        return LMN_OK;
    }
}
