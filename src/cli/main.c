/* The `lamina` command. */
#include <dnnl.h>
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/help.h"
#include "comm/comm.h"
#include "io/config.h"
#include "kernels/kernels.h"
#include "train/federated.h"
#include "train/stop.h"
#include "train/sync.h"
#include "train/trainer.h"

typedef struct train_args {
    const char *config;
    const char *out_dir;
    lmn_cfg_edit *edits; /* --set and --unset in command-line order; free() it */
    int edit_count;
    bool describe_partition; /* fl only */
    const char *resume;      /* checkpoint file, directory or "auto" */
    bool dry_run;            /* train only: print the sync plan, do not train */
    bool overwrite;          /* --overwrite: replace a run already in out_dir */
    char default_out[1024];
} train_args;

enum { OPT_SET = 's', OPT_UNSET = 'u', OPT_OUT = 'o', OPT_RESUME = 'r', OPT_OVERWRITE = 'w',
       OPT_DRY_RUN = 'n', OPT_DESCRIBE = 'd', OPT_HELP = 'h' };

static const struct option train_options[] = {
    {"set", required_argument, NULL, OPT_SET},       {"unset", required_argument, NULL, OPT_UNSET},
    {"out", required_argument, NULL, OPT_OUT},       {"resume", required_argument, NULL, OPT_RESUME},
    {"overwrite", no_argument, NULL, OPT_OVERWRITE}, {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"help", no_argument, NULL, OPT_HELP},           {NULL, 0, NULL, 0}};
static const struct option fl_options[] = {
    {"set", required_argument, NULL, OPT_SET},       {"unset", required_argument, NULL, OPT_UNSET},
    {"out", required_argument, NULL, OPT_OUT},       {"overwrite", no_argument, NULL, OPT_OVERWRITE},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"describe-partition", no_argument, NULL, OPT_DESCRIBE},
    {"help", no_argument, NULL, OPT_HELP},           {NULL, 0, NULL, 0}};

static const char *option_name(const struct option *options, int value)
{
    for (; options->name; options++)
        if (options->val == value) return options->name;
    return "?";
}

/* One option getopt_long returned, with its value in optarg. */
static lmn_status take_option(int option, const char *value, train_args *args)
{
    switch (option) {
    case OPT_SET:
    case OPT_UNSET:
        args->edits[args->edit_count++] =
            (lmn_cfg_edit){option == OPT_SET ? "--set" : "--unset", value};
        return LMN_OK;
    case OPT_OUT: args->out_dir = value; return LMN_OK;
    case OPT_RESUME: args->resume = value; return LMN_OK;
    case OPT_OVERWRITE: args->overwrite = true; return LMN_OK;
    case OPT_DRY_RUN: args->dry_run = true; return LMN_OK;
    case OPT_DESCRIBE: args->describe_partition = true; return LMN_OK;
    default: return lmn_fail(LMN_ERR_INTERNAL, "option %d has no handler", option);
    }
}

/* The options of argv (argv[0] is the command's name) through getopt_long. */
static lmn_status parse_options(int argc, char **argv, bool federated, train_args *args,
                                bool *help)
{
    const struct option *options = federated ? fl_options : train_options;
    const char *command = federated ? "fl" : "train";
    opterr = 0;  /* our messages, on rank 0 only */
    optind = 0;  /* glibc: start afresh */
    for (;;) {
        const int option = getopt_long(argc, argv, ":h", options, NULL);
        if (option == -1) return LMN_OK;
        if (option == OPT_HELP) return *help = true, LMN_OK;
        if (option == ':')
            return lmn_fail(LMN_ERR_ARG, "option --%s needs a value%s",
                            option_name(options, optopt), optopt == OPT_SET ? " (KEY=VALUE)" : "");
        if (option == '?' && optopt)
            return lmn_fail(LMN_ERR_ARG, "unknown option '-%c' (see lamina %s --help)", optopt,
                            command);
        if (option == '?')
            return lmn_fail(LMN_ERR_ARG, "unknown option '%s' (see lamina %s --help)",
                            argv[optind - 1], command);
        /* `--set --out DIR` is a forgotten value, not a key named --out. */
        if (optarg && strncmp(optarg, "--", 2) == 0)
            return lmn_fail(LMN_ERR_ARG, "option --%s needs a value%s, got the option '%s'",
                            option_name(options, option), option == OPT_SET ? " (KEY=VALUE)" : "",
                            optarg);
        LMN_TRY(take_option(option, optarg, args));
    }
}

static lmn_status parse_train_args(int argc, char **argv, bool federated, train_args *args,
                                   bool *help)
{
    memset(args, 0, sizeof *args);
    *help = false;
    /* As many --set options as the command line holds. */
    args->edits = calloc((size_t)argc + 1, sizeof *args->edits);
    if (!args->edits) return lmn_fail(LMN_ERR_NOMEM, "cannot list %d arguments", argc);
    LMN_TRY(parse_options(argc, argv, federated, args, help));
    if (*help) return LMN_OK;
    for (int i = optind; i < argc; i++) {
        if (args->config)
            return lmn_fail(LMN_ERR_ARG, "unexpected argument '%s': one CONFIG file only", argv[i]);
        args->config = argv[i];
    }
    if (args->overwrite && args->resume)
        return lmn_fail(LMN_ERR_ARG, "--overwrite and --resume contradict each other: --resume "
                        "continues the run in the output directory, --overwrite replaces it");
    if (!args->config)
        return lmn_fail(LMN_ERR_ARG, "missing CONFIG (see lamina %s --help)", federated ? "fl" : "train");
    if (!args->out_dir) {
        const char *base = strrchr(args->config, '/');
        base = base ? base + 1 : args->config;
        const char *dot = strrchr(base, '.');
        const int stem = dot ? (int)(dot - base) : (int)strlen(base);
        snprintf(args->default_out, sizeof args->default_out, "runs/%.*s", stem, base);
        args->out_dir = args->default_out;
    }
    return LMN_OK;
}

/* An empty file would train every default: almost always the wrong file. */
static lmn_status refuse_empty_config(const train_args *args, lmn_cfg *cfg)
{
    if (lmn_cfg_map_size(lmn_cfg_root(cfg)) > 0 || args->edit_count > 0) return LMN_OK;
    return lmn_fail(LMN_ERR_CONFIG, "%s: the configuration file holds no keys, so every key would "
                    "take its default; name what to train (e.g. 'model: lenet'), or give the keys "
                    "with --set", args->config);
}

static lmn_status load_config(const train_args *args, lmn_cfg **cfg)
{
    LMN_TRY(lmn_cfg_load_file(args->config, cfg));
    LMN_TRY(refuse_empty_config(args, *cfg));
    return lmn_cfg_apply_edits(*cfg, args->edits, args->edit_count);
}

/* How a run may use its output directory (train/run_directory.h). */
static lmn_run_claim claim_of(const train_args *args)
{
    if (args->overwrite) return LMN_CLAIM_OVERWRITE;
    return args->resume ? LMN_CLAIM_CONTINUE : LMN_CLAIM_FRESH;
}

static lmn_status command_fl(lmn_comm *comm, const train_args *args_in)
{
    const train_args args = *args_in;
    lmn_cfg *cfg = NULL;
    lmn_status status = lmn_comm_agree(comm, load_config(&args, &cfg));
    lmn_trainer *trainer = NULL;
    const char *out_dir = args.describe_partition ? NULL : args.out_dir;
    /* Before the set-up: a stop then ends the run after its first round. */
    lmn_stop_signals_install();
    if (status == LMN_OK)
        status = lmn_trainer_create_federated(cfg, comm, out_dir, stdout, &trainer);
    if (status == LMN_OK) trainer->claim = claim_of(&args);
    if (status == LMN_OK && args.describe_partition) {
        status = lmn_federated_describe_partition(trainer, stdout);
    } else if (status == LMN_OK) {
        const lmn_fl_settings *fl = &trainer->fl;
        if (comm->rank == 0)
            printf("lamina: federated %s, %s on %s, %d clients (%.0f%% active), %d rounds, "
                   "%d rank%s x %d thread%s, output %s\n",
                   lmn_aggregator_name(fl->aggregator), trainer->model_name, trainer->train_set->name,
                   fl->clients, 100.0 * fl->active_ratio, fl->rounds, comm->size,
                   comm->size > 1 ? "s" : "", trainer->threads, trainer->threads > 1 ? "s" : "",
                   args.out_dir);
        status = lmn_federated_run_from(trainer, args.resume);
    }
    lmn_trainer_free(trainer);
    lmn_cfg_free(cfg);
    return status;
}

static lmn_status command_train(lmn_comm *comm, const train_args *args_in)
{
    const train_args args = *args_in;
    lmn_cfg *cfg = NULL;
    lmn_status status = lmn_comm_agree(comm, load_config(&args, &cfg));
    lmn_trainer *trainer = NULL;
    /* Installed before the (possibly long) set-up: a stop that arrives then
     * ends the run after its first step, with a checkpoint. */
    lmn_stop_signals_install();
    if (status == LMN_OK) status = lmn_trainer_create(cfg, comm, args.out_dir, stdout, &trainer);
    if (status == LMN_OK) trainer->claim = claim_of(&args);
    if (status == LMN_OK && args.dry_run) {
        if (comm->rank == 0) lmn_sync_describe(trainer->sync, trainer->settings.batch_size, stdout);
        lmn_trainer_free(trainer);
        lmn_cfg_free(cfg);
        return LMN_OK;
    }
    if (status == LMN_OK && args.resume) status = lmn_trainer_resume(trainer, args.resume);
    if (status == LMN_OK && comm->rank == 0 && !trainer->already_finished)
        printf("lamina: training %s on %s, %d rank%s x %d thread%s, global batch %d, "
               "backend %s, output %s\n",
               trainer->model_name, trainer->train_set->name, comm->size, comm->size > 1 ? "s" : "",
               trainer->threads, trainer->threads > 1 ? "s" : "", trainer->settings.batch_size,
               trainer->settings.backend, args.out_dir);
    if (status == LMN_OK) status = lmn_trainer_run(trainer);
    lmn_trainer_free(trainer);
    lmn_cfg_free(cfg);
    return status;
}

/* lamina train and lamina fl: parse, print help or run. */
static lmn_status command_run(lmn_comm *comm, int argc, char **argv, bool federated)
{
    train_args args;
    bool help = false;
    lmn_status status = lmn_comm_agree(comm, parse_train_args(argc, argv, federated, &args, &help));
    if (status == LMN_OK && help && comm->rank == 0)
        (federated ? lmn_print_fl_help : lmn_print_train_help)(stdout);
    if (status == LMN_OK && !help)
        status = federated ? command_fl(comm, &args) : command_train(comm, &args);
    free(args.edits);
    return status;
}

static lmn_status command_info(lmn_comm *comm)
{
    if (comm->rank != 0) return LMN_OK;
    const dnnl_version_t *dnnl = dnnl_version();
    char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
    int length = 0;
    MPI_Get_library_version(mpi_version, &length);
    char *newline = strchr(mpi_version, '\n');
    if (newline) *newline = '\0';
    printf("lamina %s\n", LMN_VERSION);
    printf("kernel backends: dnnl (oneDNN %d.%d.%d, default), ref (plain loops)\n", dnnl->major,
           dnnl->minor, dnnl->patch);
    const char *isa = NULL;
    const bool bf16 = lmn_dnnl_native_bf16(&isa);
    printf("bf16: %s (oneDNN ISA %s)%s\n", bf16 ? "native" : "not native", isa ? isa : "?",
           bf16 ? "; train.precision: bf16 available"
                : "; train.precision: bf16 is refused on this CPU");
    printf("mpi: %s\n", mpi_version);
    printf("ranks: %d (%d on this node)\n", comm->size, comm->local_size);
    printf("cores online: %ld, OpenMP max threads: %d\n", sysconf(_SC_NPROCESSORS_ONLN),
           omp_get_max_threads());
    return LMN_OK;
}

static lmn_status dispatch(lmn_comm *comm, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (comm->rank == 0) lmn_print_usage(stdout);
        return argc < 2 ? lmn_fail(LMN_ERR_ARG, "missing COMMAND") : LMN_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        if (comm->rank == 0) printf("lamina %s\n", LMN_VERSION);
        return LMN_OK;
    }
    if (strcmp(argv[1], "train") == 0) return command_run(comm, argc - 1, argv + 1, false);
    if (strcmp(argv[1], "fl") == 0) return command_run(comm, argc - 1, argv + 1, true);
    if (strcmp(argv[1], "eval") == 0) return lmn_command_eval(comm, argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0) return lmn_command_export(comm, argc - 1, argv + 1);
    if (strcmp(argv[1], "data") == 0) return lmn_command_data(comm, argc - 1, argv + 1);
    if (strcmp(argv[1], "simulate") == 0) return lmn_command_simulate(comm, argc - 1, argv + 1);
    if (strcmp(argv[1], "report") == 0) return lmn_command_report(comm, argc - 2, argv + 2);
    if (strcmp(argv[1], "info") == 0) return command_info(comm);
    return lmn_fail(LMN_ERR_ARG, "unknown command '%s' (commands: train, fl, eval, export, data, simulate, report, info; see "
                    "lamina --help)",
                    argv[1]);
}

int main(int argc, char **argv)
{
    lmn_status status = lmn_mpi_init(&argc, &argv);
    if (status != LMN_OK) {
        fprintf(stderr, "lamina: error: %s\n", lmn_last_error());
        return 1;
    }
    lmn_comm *comm = NULL;
    status = lmn_comm_create(MPI_COMM_WORLD, &comm);
    if (status == LMN_OK) status = dispatch(comm, argc, argv);
    if (status != LMN_OK && (!comm || comm->rank == 0)) {
        fflush(stdout);
        fprintf(stderr, "lamina: error: %s\n", lmn_last_error());
    }
    lmn_comm_free(comm);
    lmn_mpi_finalize();
    return status == LMN_OK ? 0 : 1;
}
