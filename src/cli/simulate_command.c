/* lamina simulate: predicted step time, exposed communication and speedup
 * of every sync policy at many rank counts, from a profile measured here. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "io/config.h"
#include "io/files.h"
#include "train/config_schema.h"
#include "train/simulate.h"
#include "train/sync.h"
#include "train/trainer.h"

enum { MAX_RANK_COUNTS = 64, MAX_SETS = 64, WARMUP_STEPS = 2 };

static const char *const simulate_usage =
    "usage: lamina simulate CONFIG --link GBPS,LATENCY_US [--ranks N[,N...]]\n"
    "                       [--strategies NAME[,NAME...]] [--steps K] [--out FILE.json]\n"
    "                       [--set KEY=VALUE]... [--wire fp32|fp16|bf16] [--bucket-mb MB]\n"
    "                       [--fc-exchange auto|never|always] [--lazy-layers N]\n"
    "                       [--lazy-k K] [--groups G] [--tau T]\n"
    "                       [--algorithm ring|best|halving-doubling|tree]\n"
    "\n"
    "Builds CONFIG's network, times K training steps (forward + backward, random inputs\n"
    "of the dataset's shape) on this one process at local batch train.batch_size / 2\n"
    "with the per-layer profile on, and predicts for each rank count N and strategy\n"
    "(allreduce, overlap, multistep, lazy, localsgd) the time of one step at the same\n"
    "global batch (strong scaling), the part of it spent waiting for communication,\n"
    "the bytes one rank sends and the speedup over one rank (and speedup / N). Each\n"
    "strategy follows the schedule lamina trains with (src/train/simulate.h), its\n"
    "collectives the alpha-beta model of src/comm/cost_model.h. Options default to\n"
    "the configuration's parallel.* keys, then to lamina's defaults.\n"
    "\n"
    "options:\n"
    "  --link GBPS,LATENCY_US  link bandwidth in Gbit/s and latency in microseconds\n"
    "                          (required), e.g. --link 1,50 for 1 Gbit/s Ethernet\n"
    "  --ranks LIST            rank counts [2,4,8,...,4096]\n"
    "  --strategies LIST       strategies to predict [all five]\n"
    "  --steps K               timed steps, after 2 warm-up steps [5]\n"
    "  --out FILE.json         also write the profile and every prediction as JSON\n"
    "  --set KEY=VALUE         override a configuration key (as in lamina train)\n"
    "  --wire FORMAT           gradients on the wire: fp32, fp16, bf16 (parameters and\n"
    "                          activations stay fp32) [fp32]\n"
    "  --bucket-mb MB          overlap: fuse layers into buckets of MB MiB; 0 = per layer\n"
    "                          [0]\n"
    "  --fc-exchange MODE      multistep: linear layers exchange activations when that\n"
    "                          moves fewer bytes (auto), never or always [auto]\n"
    "  --lazy-layers N         lazy: layers with parameters (input side) that sync lazily\n"
    "                          [8; a smaller model keeps its top layer synchronous]\n"
    "  --lazy-k K              lazy: steps between their reductions (lamina adapts k at\n"
    "                          run time; this is the k assumed) [4]\n"
    "  --groups G              localsgd: groups, dividing every N; 0 = one rank each [0]\n"
    "  --tau T                 localsgd: steps between averages (adaptive: give the\n"
    "                          interval to assume) [8]\n"
    "  --algorithm NAME        collective costs: ring (lamina's alltoallv + allgatherv\n"
    "                          reductions), best (the fastest per message, what a tuned\n"
    "                          MPI_Allreduce may reach), halving-doubling, tree [ring]\n";

typedef struct simulate_args {
    const char *config, *out;
    const char *sets[MAX_SETS];
    int set_count;
    int ranks[MAX_RANK_COUNTS];
    int rank_count;
    bool strategy_on[LMN_SIM_STRATEGY_COUNT];
    int steps;
    bool have_link;
    double gbits, latency_us;
    /* Options given on the command line (they win over the configuration). */
    const char *wire, *bucket_mb, *fc_exchange, *lazy_layers, *lazy_k, *groups, *tau, *algorithm;
    bool help;
} simulate_args;

static lmn_status parse_long(const char *option, const char *text, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    const long value = strtol(text, &end, 10);
    if (!*text || *end || errno || value < min || value > max)
        return lmn_fail(LMN_ERR_ARG, "%s %s: expected an integer from %ld to %ld", option, text,
                        min, max);
    *out = value;
    return LMN_OK;
}

static lmn_status parse_ranks(const char *text, simulate_args *args)
{
    args->rank_count = 0;
    const char *cursor = text;
    while (true) {
        const char *comma = strchr(cursor, ',');
        const size_t length = comma ? (size_t)(comma - cursor) : strlen(cursor);
        char item[32] = {0};
        char *end = NULL;
        long value = 0;
        if (length > 0 && length < sizeof item) {
            memcpy(item, cursor, length);
            errno = 0;
            value = strtol(item, &end, 10);
        }
        if (length == 0 || length >= sizeof item || *end || errno || value < 1 || value > (1L << 24))
            return lmn_fail(LMN_ERR_ARG, "--ranks %s: '%.*s' is not a rank count (expected integers "
                            "from 1 to %ld separated by commas, e.g. --ranks 2,4,8)",
                            text, (int)length, cursor, 1L << 24);
        if (args->rank_count == MAX_RANK_COUNTS)
            return lmn_fail(LMN_ERR_ARG, "--ranks %s: at most %d rank counts", text, MAX_RANK_COUNTS);
        args->ranks[args->rank_count++] = (int)value;
        if (!comma) return LMN_OK;
        cursor = comma + 1;
    }
}

static lmn_status parse_link(const char *text, simulate_args *args)
{
    char *end = NULL;
    const double gbits = strtod(text, &end);
    const bool comma = end != text && *end == ',';
    const char *rest = comma ? end + 1 : end;
    const double latency = comma ? strtod(rest, &end) : NAN;
    if (!comma || end == rest || *end || !isfinite(gbits) || !isfinite(latency) || gbits <= 0.0 ||
        latency < 0.0)
        return lmn_fail(LMN_ERR_ARG, "--link %s: expected GBPS,LATENCY_US: a bandwidth in Gbit/s "
                        "> 0 and a latency in microseconds >= 0, e.g. --link 1,50", text);
    args->gbits = gbits;
    args->latency_us = latency;
    args->have_link = true;
    return LMN_OK;
}

static lmn_status parse_strategies(const char *text, simulate_args *args)
{
    memset(args->strategy_on, 0, sizeof args->strategy_on);
    const char *cursor = text;
    while (true) {
        const char *comma = strchr(cursor, ',');
        const size_t length = comma ? (size_t)(comma - cursor) : strlen(cursor);
        char name[32] = {0};
        lmn_sim_strategy strategy;
        if (length < sizeof name) memcpy(name, cursor, length);
        if (length >= sizeof name || !lmn_sim_strategy_from_name(name, &strategy))
            return lmn_fail(LMN_ERR_ARG, "--strategies %s: unknown strategy '%.*s' (choose from "
                            "allreduce, overlap, multistep, lazy, localsgd)",
                            text, (int)length, cursor);
        args->strategy_on[strategy] = true;
        if (!comma) return LMN_OK;
        cursor = comma + 1;
    }
}

enum { SIM_RANKS = 256, SIM_LINK, SIM_STRATEGIES, SIM_STEPS, SIM_OUT, SIM_SET, SIM_WIRE,
       SIM_BUCKET_MB, SIM_FC_EXCHANGE, SIM_LAZY_LAYERS, SIM_LAZY_K, SIM_GROUPS, SIM_TAU,
       SIM_ALGORITHM };

static const struct option simulate_options[] = {
    {"ranks", required_argument, NULL, SIM_RANKS},
    {"link", required_argument, NULL, SIM_LINK},
    {"strategies", required_argument, NULL, SIM_STRATEGIES},
    {"steps", required_argument, NULL, SIM_STEPS},
    {"out", required_argument, NULL, SIM_OUT},
    {"set", required_argument, NULL, SIM_SET},
    {"wire", required_argument, NULL, SIM_WIRE},
    {"bucket-mb", required_argument, NULL, SIM_BUCKET_MB},
    {"fc-exchange", required_argument, NULL, SIM_FC_EXCHANGE},
    {"lazy-layers", required_argument, NULL, SIM_LAZY_LAYERS},
    {"lazy-k", required_argument, NULL, SIM_LAZY_K},
    {"groups", required_argument, NULL, SIM_GROUPS},
    {"tau", required_argument, NULL, SIM_TAU},
    {"algorithm", required_argument, NULL, SIM_ALGORITHM},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* One option from getopt_long, its value in optarg; unknown is the
 * argument getopt refused. */
static lmn_status take_option(int option, const char *unknown, simulate_args *args)
{
    long number = 0;
    const char *value = optarg;
    switch (option) {
    case 'h': args->help = true; return LMN_OK;
    case SIM_RANKS: return parse_ranks(value, args);
    case SIM_LINK: return parse_link(value, args);
    case SIM_STRATEGIES: return parse_strategies(value, args);
    case SIM_STEPS:
        LMN_TRY(parse_long("--steps", value, 1, 100000, &number));
        args->steps = (int)number;
        return LMN_OK;
    case SIM_OUT: args->out = value; return LMN_OK;
    case SIM_SET:
        if (args->set_count == MAX_SETS)
            return lmn_fail(LMN_ERR_ARG, "at most %d --set options", MAX_SETS);
        args->sets[args->set_count++] = value;
        return LMN_OK;
    case SIM_WIRE: args->wire = value; return LMN_OK;
    case SIM_BUCKET_MB: args->bucket_mb = value; return LMN_OK;
    case SIM_FC_EXCHANGE: args->fc_exchange = value; return LMN_OK;
    case SIM_LAZY_LAYERS: args->lazy_layers = value; return LMN_OK;
    case SIM_LAZY_K: args->lazy_k = value; return LMN_OK;
    case SIM_GROUPS: args->groups = value; return LMN_OK;
    case SIM_TAU: args->tau = value; return LMN_OK;
    case SIM_ALGORITHM: args->algorithm = value; return LMN_OK;
    case ':':
        for (const struct option *o = simulate_options; o->name; o++)
            if (o->val == optopt) return lmn_fail(LMN_ERR_ARG, "option --%s needs a value", o->name);
        return lmn_fail(LMN_ERR_ARG, "an option needs a value");
    default:
        return lmn_fail(LMN_ERR_ARG, "unknown option '%s' (see lamina simulate --help)", unknown);
    }
}

/* argv[0] is "simulate"; options through getopt_long. */
static lmn_status parse_args(int argc, char **argv, simulate_args *args)
{
    memset(args, 0, sizeof *args);
    args->steps = 5;
    for (int s = 0; s < LMN_SIM_STRATEGY_COUNT; s++) args->strategy_on[s] = true;
    for (int n = 2; n <= 4096; n *= 2) args->ranks[args->rank_count++] = n;
    opterr = 0; /* our messages, on rank 0 only */
    optind = 0; /* glibc: start afresh */
    for (int option; (option = getopt_long(argc, argv, ":h", simulate_options, NULL)) != -1;) {
        LMN_TRY(take_option(option, argv[optind - 1], args));
        if (args->help) return LMN_OK;
    }
    for (int i = optind; i < argc; i++) {
        if (args->config)
            return lmn_fail(LMN_ERR_ARG, "unexpected argument '%s': one CONFIG file only", argv[i]);
        args->config = argv[i];
    }
    if (!args->config) return lmn_fail(LMN_ERR_ARG, "missing CONFIG (see lamina simulate --help)");
    if (!args->have_link)
        return lmn_fail(LMN_ERR_ARG, "missing --link GBPS,LATENCY_US (e.g. --link 1,50 for "
                        "1 Gbit/s with 50 us latency; see lamina simulate --help)");
    return LMN_OK;
}

/* ---- the sync-policy options: command line, else parallel.*, else default ---- */

static int wire_bytes_of(const char *name)
{
    if (!strcmp(name, "fp32")) return 4;
    if (!strcmp(name, "fp16") || !strcmp(name, "bf16")) return 2;
    return 0;
}

/* Index - 1 is lmn_sim_options.fc_exchange. */
static const char *const *exchange_modes(void)
{
    return lmn_config_key_find("parallel.fc_exchange")->choices;
}

typedef struct sim_setup {
    lmn_sim_options options;
    const char *wire_name;
    bool lazy_layers_given; /* else the default, capped at the model's layers */
} sim_setup;

/* Reads parallel.KEY if the configuration has it (marking it used). */
static lmn_status config_int(lmn_cfg *cfg, const char *key, int64_t min, int *value)
{
    if (!lmn_cfg_find(cfg, NULL, key)) return LMN_OK;
    int64_t read = 0;
    LMN_TRY(lmn_cfg_get_int_range(cfg, NULL, key, NULL, min, INT32_MAX, &read));
    *value = (int)read;
    return LMN_OK;
}

static lmn_status read_config_options(lmn_cfg *cfg, sim_setup *setup)
{
    lmn_sim_options *o = &setup->options;
    /* The configuration's own strategy does not matter: all are predicted. */
    lmn_cfg_find(cfg, NULL, "parallel.strategy");
    if (lmn_cfg_find(cfg, NULL, "parallel.wire")) {
        int index = 0;
        LMN_TRY(lmn_config_choice(cfg, "parallel.wire", &index));
        setup->wire_name = lmn_config_choice_name("parallel.wire", index);
    }
    if (lmn_cfg_find(cfg, NULL, "parallel.bucket_mb"))
        LMN_TRY(lmn_cfg_get_double_range(cfg, NULL, "parallel.bucket_mb", NULL, 0.0, INFINITY,
                                         &o->bucket_mb));
    if (lmn_cfg_find(cfg, NULL, "parallel.fc_exchange")) {
        int index = 0;
        LMN_TRY(lmn_config_choice(cfg, "parallel.fc_exchange", &index));
        o->fc_exchange = index - 1;
    }
    lmn_cfg_node *lazy = lmn_cfg_find(cfg, NULL, "parallel.lazy_layers");
    const char *lazy_text = lazy ? lmn_cfg_scalar_text(lazy) : NULL;
    /* auto (a resolved configuration's default) keeps the simulator's choice. */
    if (lazy && !(lazy_text && strcmp(lazy_text, "auto") == 0)) {
        LMN_TRY(config_int(cfg, "parallel.lazy_layers", 0, &o->lazy_layers));
        setup->lazy_layers_given = true;
    }
    LMN_TRY(config_int(cfg, "parallel.groups", 0, &o->groups));
    lmn_cfg_node *tau = lmn_cfg_find(cfg, NULL, "parallel.tau");
    /* tau: adaptive keeps a fixed interval: the model has no gradients to adapt to. */
    if (tau && strcmp(lmn_cfg_scalar_text(tau) ? lmn_cfg_scalar_text(tau) : "", "adaptive") != 0)
        LMN_TRY(config_int(cfg, "parallel.tau", 1, &o->tau));
    return LMN_OK;
}

static lmn_status command_line_options(const simulate_args *args, sim_setup *setup)
{
    lmn_sim_options *o = &setup->options;
    long number = 0;
    if (args->wire) {
        if (!wire_bytes_of(args->wire))
            return lmn_fail(LMN_ERR_ARG, "--wire %s: choose fp32, fp16 or bf16", args->wire);
        setup->wire_name = args->wire;
    }
    if (args->bucket_mb) {
        char *end = NULL;
        o->bucket_mb = strtod(args->bucket_mb, &end);
        if (!*args->bucket_mb || *end || !isfinite(o->bucket_mb) || o->bucket_mb < 0.0)
            return lmn_fail(LMN_ERR_ARG, "--bucket-mb %s: expected a size in MiB >= 0", args->bucket_mb);
    }
    if (args->fc_exchange) {
        const char *const *modes = exchange_modes();
        int index = 0;
        while (modes[index] && strcmp(modes[index], args->fc_exchange) != 0) index++;
        if (!modes[index])
            return lmn_fail(LMN_ERR_ARG, "--fc-exchange %s: choose auto, never or always",
                            args->fc_exchange);
        o->fc_exchange = index - 1;
    }
    if (args->lazy_layers) {
        LMN_TRY(parse_long("--lazy-layers", args->lazy_layers, 0, 1 << 20, &number));
        o->lazy_layers = (int)number;
        setup->lazy_layers_given = true;
    }
    if (args->lazy_k) {
        LMN_TRY(parse_long("--lazy-k", args->lazy_k, 1, 1 << 20, &number));
        o->lazy_k = (int)number;
    }
    if (args->groups) {
        LMN_TRY(parse_long("--groups", args->groups, 0, 1 << 24, &number));
        o->groups = (int)number;
    }
    if (args->tau) {
        LMN_TRY(parse_long("--tau", args->tau, 1, 1 << 20, &number));
        o->tau = (int)number;
    }
    if (args->algorithm && !lmn_collective_algorithm_from_name(args->algorithm, &o->algorithm))
        return lmn_fail(LMN_ERR_ARG, "--algorithm %s: choose best, ring, halving-doubling or tree",
                        args->algorithm);
    o->wire_bytes = wire_bytes_of(setup->wire_name);
    o->link = lmn_link_from_gbits(args->gbits, args->latency_us);
    if (args->strategy_on[LMN_SIM_LOCALSGD])
        for (int i = 0; i < args->rank_count; i++)
            if (o->groups > 0 && args->ranks[i] % o->groups != 0)
                return lmn_fail(LMN_ERR_ARG, "localsgd: %d groups do not divide %d ranks; give "
                                "--groups G dividing every --ranks count, or leave localsgd out "
                                "of --strategies", o->groups, args->ranks[i]);
    return LMN_OK;
}

/* ---- output ---- */

static void notes_for(const lmn_step_profile *profile, lmn_sim_strategy strategy,
                      const lmn_sim_options *o, const lmn_sim_result *r, const lmn_sim_path *paths,
                      int ranks, char *notes, size_t size)
{
    size_t used = 0;
    notes[0] = '\0';
    switch (strategy) {
    case LMN_SIM_OVERLAP: used = (size_t)snprintf(notes, size, "%d reduction%s", r->buckets,
                                                  r->buckets == 1 ? "" : "s"); break;
    case LMN_SIM_LAZY: used = (size_t)snprintf(notes, size, "%d lazy layers, k=%d", o->lazy_layers,
                                               o->lazy_k); break;
    case LMN_SIM_LOCALSGD: used = (size_t)snprintf(notes, size, "G=%d p=%d tau=%d", r->groups,
                                                   ranks / r->groups, o->tau); break;
    default: break;
    }
    if (strategy != LMN_SIM_MULTISTEP) return;
    const char *lead = used ? "; act:" : "act:";
    bool any = false;
    for (int l = 0; l < profile->count && used < size; l++) {
        if (paths[l] != LMN_SIM_PATH_ACTIVATIONS) continue;
        used += (size_t)snprintf(notes + used, size - used, "%s%s", any ? "," : lead,
                                 profile->layers[l].name);
        any = true;
    }
}

static void json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(out, "\\%c", *c);
        else if (*c < 0x20) fprintf(out, "\\u%04x", *c);
        else fputc(*c, out);
    }
    fputc('"', out);
}

static void json_number(FILE *out, double value)
{
    if (isfinite(value)) fprintf(out, "%.17g", value);
    else fputs("null", out);
}

static void json_field(FILE *out, const char *key, double value, bool comma)
{
    fprintf(out, "\"%s\":", key);
    json_number(out, value);
    if (comma) fputc(',', out);
}

typedef struct run_info {
    const char *model, *dataset, *wire_name;
    int global_batch, threads, steps;
    double gbits, latency_us;
} run_info;

static void json_header(FILE *out, const run_info *info, const lmn_step_profile *p,
                        const lmn_sim_options *o)
{
    fputs("{\"model\":", out);
    json_string(out, info->model);
    fputs(",\"dataset\":", out);
    json_string(out, info->dataset);
    fprintf(out, ",\"global_batch\":%d,\"measured_local_batch\":%d,\"small_batch\":%d,"
            "\"threads\":%d,\"steps\":%d,\"warmup_steps\":%d,",
            info->global_batch, p->measured_batch, p->small_batch, info->threads, info->steps,
            WARMUP_STEPS);
    fputs("\"link\":{", out);
    json_field(out, "gbits_per_second", info->gbits, true);
    json_field(out, "latency_us", info->latency_us, false);
    fprintf(out, ",\"algorithm\":\"%s\"},\"wire\":\"%s\",", lmn_collective_algorithm_name(o->algorithm),
            info->wire_name);
    json_field(out, "bucket_mb", o->bucket_mb, true);
    fprintf(out, "\"fc_exchange\":\"%s\",\"lazy_layers\":%d,\"lazy_k\":%d,\"groups\":%d,"
            "\"tau\":%d,", exchange_modes()[o->fc_exchange + 1], o->lazy_layers, o->lazy_k,
            o->groups, o->tau);
    json_field(out, "update_seconds", p->update_seconds, true);
    json_field(out, "single_rank_step_seconds", lmn_sim_single_rank_seconds(p, info->global_batch), true);
    fputs("\"layers\":[", out);
    for (int l = 0; l < p->count; l++) {
        const lmn_layer_profile *layer = &p->layers[l];
        fputs(l ? ",{\"name\":" : "{\"name\":", out);
        json_string(out, layer->name);
        fprintf(out, ",\"type\":\"%s\",\"params\":%zu,", lmn_layer_kind_name(layer->kind),
                layer->param_count);
        json_field(out, "forward_seconds", layer->forward_seconds, true);
        json_field(out, "backward_seconds", layer->backward_seconds, true);
        json_field(out, "forward_fixed_seconds", layer->forward_fixed_seconds, true);
        json_field(out, "backward_fixed_seconds", layer->backward_fixed_seconds, true);
        json_field(out, "input_floats", layer->input_floats, true);
        json_field(out, "output_floats", layer->output_floats, false);
        fputc('}', out);
    }
    fputs("],\"results\":[", out);
}

static void json_result(FILE *out, bool first, lmn_sim_strategy strategy, const lmn_sim_result *r,
                        const lmn_step_profile *p, const lmn_sim_path *paths)
{
    fprintf(out, "%s{\"ranks\":%d,\"strategy\":\"%s\",\"local_batch\":%d,", first ? "" : ",",
            r->ranks, lmn_sim_strategy_name(strategy), r->local_batch);
    json_field(out, "step_seconds", r->step_seconds, true);
    json_field(out, "compute_seconds", r->compute_seconds, true);
    json_field(out, "exposed_comm_seconds", r->exposed_seconds, true);
    json_field(out, "comm_seconds", r->comm_seconds, true);
    json_field(out, "bytes_per_rank", r->bytes_per_rank, true);
    json_field(out, "speedup", r->speedup, true);
    json_field(out, "efficiency", r->efficiency, true);
    fputs("\"activation_exchange\":[", out);
    bool any = false;
    for (int l = 0; l < p->count; l++) {
        if (paths[l] != LMN_SIM_PATH_ACTIVATIONS) continue;
        if (any) fputc(',', out);
        json_string(out, p->layers[l].name);
        any = true;
    }
    fputs("]}", out);
}

static void print_profile(const run_info *info, const lmn_step_profile *p, const lmn_sim_options *o)
{
    printf("lamina: simulating %s on %s, global batch %d; link %g Gbit/s + %g us (%s collectives), "
           "wire %s\n", info->model, info->dataset, info->global_batch, info->gbits,
           info->latency_us, lmn_collective_algorithm_name(o->algorithm), info->wire_name);
    printf("profile: 1 rank x %d thread%s, local batch %d, %d steps after %d warm-up", info->threads,
           info->threads == 1 ? "" : "s", p->measured_batch, info->steps, WARMUP_STEPS);
    if (p->small_batch) printf("; fixed per-layer part from local batch %d", p->small_batch);
    printf("\n  %-20s %-14s %10s %9s %9s %9s %9s\n", "layer", "type", "params", "fwd ms",
           "bwd ms", "fixed fwd", "fixed bwd");
    double forward = 0.0, backward = 0.0;
    for (int l = 0; l < p->count; l++) {
        const lmn_layer_profile *layer = &p->layers[l];
        printf("  %-20s %-14s %10zu %9.3f %9.3f %9.3f %9.3f\n", layer->name,
               lmn_layer_kind_name(layer->kind), layer->param_count, 1e3 * layer->forward_seconds,
               1e3 * layer->backward_seconds, 1e3 * layer->forward_fixed_seconds,
               1e3 * layer->backward_fixed_seconds);
        forward += layer->forward_seconds;
        backward += layer->backward_seconds;
    }
    printf("  %-20s %-14s %10s %9.3f %9.3f   update %.3f ms\n", "total", "", "", 1e3 * forward,
           1e3 * backward, 1e3 * p->update_seconds);
    printf("one rank, global batch %d: %.3f ms per step (the speedup baseline)\n\n",
           info->global_batch, 1e3 * lmn_sim_single_rank_seconds(p, info->global_batch));
    printf("%7s  %-9s %6s %10s %10s %10s %12s %9s %7s  %s\n", "ranks", "strategy", "local",
           "step ms", "compute ms", "exposed ms", "MB/rank/step", "speedup", "effic.", "notes");
}

typedef struct prediction {
    lmn_sim_strategy strategy;
    lmn_sim_result result;
    lmn_sim_path *paths; /* one per layer */
} prediction;

typedef struct prediction_set {
    prediction *rows;
    int count;
    lmn_sim_path *paths; /* owns every row's paths */
} prediction_set;

static void predictions_free(prediction_set *set)
{
    free(set->rows);
    free(set->paths);
    memset(set, 0, sizeof *set);
}

/* Predicts every (N, strategy) the arguments ask for. */
static lmn_status predict(const simulate_args *args, const lmn_step_profile *p,
                          const lmn_sim_options *o, prediction_set *set)
{
    memset(set, 0, sizeof *set);
    const size_t capacity = (size_t)args->rank_count * LMN_SIM_STRATEGY_COUNT;
    set->rows = calloc(capacity, sizeof *set->rows);
    set->paths = calloc(capacity * (size_t)p->count, sizeof *set->paths);
    if (!set->rows || !set->paths) {
        predictions_free(set);
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate %zu predictions", capacity);
    }
    for (int i = 0; i < args->rank_count; i++) {
        for (int s = 0; s < LMN_SIM_STRATEGY_COUNT; s++) {
            if (!args->strategy_on[s]) continue;
            prediction *row = &set->rows[set->count];
            row->strategy = (lmn_sim_strategy)s;
            row->paths = set->paths + (size_t)set->count * (size_t)p->count;
            const lmn_status status = lmn_simulate(p, row->strategy, args->ranks[i], o,
                                                   &row->result, row->paths);
            if (status != LMN_OK) {
                predictions_free(set);
                return lmn_fail_context(status, "%s at %d ranks", lmn_sim_strategy_name(s),
                                        args->ranks[i]);
            }
            set->count++;
        }
    }
    return LMN_OK;
}

static void print_predictions(const prediction_set *set, const lmn_step_profile *p,
                              const lmn_sim_options *o)
{
    for (int i = 0; i < set->count; i++) {
        const prediction *row = &set->rows[i];
        const lmn_sim_result *r = &row->result;
        char notes[256];
        notes_for(p, row->strategy, o, r, row->paths, r->ranks, notes, sizeof notes);
        printf("%7d  %-9s %6d %10.3f %10.3f %10.3f %12.4f %9.2f %7.3f  %s\n", r->ranks,
               lmn_sim_strategy_name(row->strategy), r->local_batch, 1e3 * r->step_seconds,
               1e3 * r->compute_seconds, 1e3 * r->exposed_seconds, r->bytes_per_rank / 1e6,
               r->speedup, r->efficiency, notes);
    }
}

static lmn_status write_json(const char *path, const run_info *info, const prediction_set *set,
                             const lmn_step_profile *p, const lmn_sim_options *o)
{
    char *text = NULL;
    size_t length = 0;
    FILE *json = open_memstream(&text, &length);
    if (!json) return lmn_fail(LMN_ERR_NOMEM, "cannot buffer the JSON output for %s", path);
    json_header(json, info, p, o);
    for (int i = 0; i < set->count; i++)
        json_result(json, i == 0, set->rows[i].strategy, &set->rows[i].result, p,
                    set->rows[i].paths);
    fputs("]}\n", json);
    fclose(json);
    const lmn_status status = lmn_write_file_atomic(path, text, length);
    free(text);
    return status == LMN_OK ? LMN_OK : lmn_fail_context(status, "--out %s", path);
}

/* lazy_layers counts convolutions with parameters: an explicit value
 * beyond the model's is an error; the default fits as sync_lazy.c fits it. */
static lmn_status fit_lazy_layers(const simulate_args *args, const lmn_step_profile *profile,
                                  sim_setup *setup)
{
    const int layers = lmn_step_profile_conv_layers(profile);
    setup->options.lazy_layers = lmn_lazy_layers_fit(setup->options.lazy_layers,
                                                     setup->lazy_layers_given, layers);
    if (setup->options.lazy_layers <= layers) return LMN_OK;
    if (!args->strategy_on[LMN_SIM_LAZY]) return LMN_OK;
    return lmn_fail(LMN_ERR_ARG, "%s %d: the model has only %d convolution layers",
                    args->lazy_layers ? "--lazy-layers" : "parallel.lazy_layers",
                    setup->options.lazy_layers, layers);
}

static lmn_status simulate(const simulate_args *args)
{
    lmn_cfg *cfg = NULL;
    lmn_comm *self = NULL;
    lmn_trainer *trainer = NULL;
    lmn_step_profile profile = {0};
    sim_setup setup = {.options = lmn_sim_options_default(), .wire_name = "fp32"};
    lmn_status status = lmn_cfg_load_file(args->config, &cfg);
    for (int i = 0; status == LMN_OK && i < args->set_count; i++) {
        status = lmn_cfg_set(cfg, args->sets[i]);
        if (status != LMN_OK) status = lmn_fail_context(status, "--set %s", args->sets[i]);
    }
    if (status == LMN_OK) status = read_config_options(cfg, &setup);
    if (status == LMN_OK) status = command_line_options(args, &setup);
    /* One rank on its own: the trainer's model code, no peers; the test set
     * gives the shapes (the training set is not opened). */
    const lmn_trainer_options options = {.purpose = LMN_PURPOSE_PROFILE};
    if (status == LMN_OK) status = lmn_comm_create(MPI_COMM_SELF, &self);
    if (status == LMN_OK) status = lmn_trainer_open(cfg, self, &options, &trainer);
    const int global_batch = trainer ? trainer->settings.batch_size : 0;
    if (status == LMN_OK) {
        setup.options.global_batch = global_batch;
        const int local = global_batch / 2 > 0 ? global_batch / 2 : 1;
        status = lmn_step_profile_measure(trainer->net, trainer->optimizer, local, args->steps,
                                          WARMUP_STEPS, trainer->settings.seed, &profile);
    }
    if (status == LMN_OK) status = fit_lazy_layers(args, &profile, &setup);
    if (status == LMN_OK) {
        const run_info info = {trainer->model_name, trainer->test_set->name, setup.wire_name,
                               global_batch, trainer->threads, args->steps, args->gbits,
                               args->latency_us};
        prediction_set set;
        status = predict(args, &profile, &setup.options, &set);
        if (status == LMN_OK) {
            print_profile(&info, &profile, &setup.options);
            print_predictions(&set, &profile, &setup.options);
        }
        if (status == LMN_OK && args->out)
            status = write_json(args->out, &info, &set, &profile, &setup.options);
        if (status == LMN_OK && args->out) printf("\nwrote %s\n", args->out);
        predictions_free(&set);
    }
    lmn_step_profile_free(&profile);
    lmn_trainer_free(trainer);
    lmn_comm_free(self);
    lmn_cfg_free(cfg);
    return status;
}

lmn_status lmn_command_simulate(lmn_comm *comm, int argc, char **argv)
{
    simulate_args args;
    LMN_TRY(lmn_comm_agree(comm, parse_args(argc, argv, &args)));
    if (args.help) {
        if (comm->rank == 0) fputs(simulate_usage, stdout);
        return LMN_OK;
    }
    /* The prediction needs one process: rank 0 measures and predicts. */
    return lmn_comm_agree(comm, comm->rank == 0 ? simulate(&args) : LMN_OK);
}
