/* lamina eval and lamina export: using a checkpoint without training. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "train/task.h"
#include "train/trainer.h"

/* Rebuilds the model a checkpoint was written by (its stored, resolved
 * configuration plus --set overrides) with its test set, and loads the
 * model into it. */
static lmn_status open_checkpoint(lmn_comm *comm, const char *given, const lmn_cfg_edit *edits,
                                  int edit_count, lmn_cfg **cfg, lmn_trainer **trainer)
{
    /* A directory stands for its newest complete checkpoint. */
    char path[4096];
    struct stat info;
    snprintf(path, sizeof path, "%s", given);
    if (stat(given, &info) == 0 && S_ISDIR(info.st_mode))
        LMN_TRY(lmn_comm_agree(comm, lmn_checkpoint_find_latest(given, path, sizeof path)));
    char *yaml = NULL;
    lmn_status status = lmn_checkpoint_read_config(path, &yaml);
    if (status == LMN_OK) status = lmn_cfg_parse_string(yaml, path, cfg);
    free(yaml);
    if (status == LMN_OK) status = lmn_cfg_apply_edits(*cfg, edits, edit_count);
    LMN_TRY(lmn_comm_agree(comm, status));
    /* Only the test set and the network: the training data may be gone. */
    const lmn_trainer_options options = {.purpose = LMN_PURPOSE_EVALUATE};
    LMN_TRY(lmn_trainer_open(*cfg, comm, &options, trainer));
    return lmn_comm_agree(comm, lmn_checkpoint_load(path, (*trainer)->net, NULL, NULL, NULL, 0));
}

typedef struct checkpoint_args {
    const char *path, *format, *out;
    lmn_cfg_edit *edits; /* --set and --unset in command-line order; free() it */
    int edit_count;
    bool help;
} checkpoint_args;

static const struct option eval_options[] = {{"set", required_argument, NULL, 's'},
                                             {"unset", required_argument, NULL, 'u'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
static const struct option export_options[] = {{"format", required_argument, NULL, 'f'},
                                               {"out", required_argument, NULL, 'o'},
                                               {"help", no_argument, NULL, 'h'},
                                               {NULL, 0, NULL, 0}};

/* One option getopt_long returned; unknown names the option getopt refused. */
static lmn_status take_option(int option, const struct option *options, const char *unknown,
                              checkpoint_args *args)
{
    if (option == 'h') return args->help = true, LMN_OK;
    if (option == ':') {
        for (; options->name && options->val != optopt; options++) continue;
        return lmn_fail(LMN_ERR_ARG, "option --%s needs a value", options->name ? options->name : "?");
    }
    if (option == '?' && optopt) return lmn_fail(LMN_ERR_ARG, "unknown option '-%c'", optopt);
    if (option == '?') return lmn_fail(LMN_ERR_ARG, "unknown option '%s'", unknown);
    if (option == 's' || option == 'u')
        args->edits[args->edit_count++] = (lmn_cfg_edit){option == 's' ? "--set" : "--unset", optarg};
    else if (option == 'f') args->format = optarg;
    else if (option == 'o') args->out = optarg;
    return LMN_OK;
}

/* argv[0] is the command's name; options through getopt_long. */
static lmn_status parse(int argc, char **argv, bool export, checkpoint_args *args)
{
    memset(args, 0, sizeof *args);
    /* As many --set options as the command line holds. */
    args->edits = calloc((size_t)argc + 1, sizeof *args->edits);
    if (!args->edits) return lmn_fail(LMN_ERR_NOMEM, "cannot list %d arguments", argc);
    const struct option *options = export ? export_options : eval_options;
    opterr = 0; /* our messages, on rank 0 only */
    optind = 0; /* glibc: start afresh */
    for (int option; (option = getopt_long(argc, argv, ":h", options, NULL)) != -1;) {
        LMN_TRY(take_option(option, options, argv[optind - 1], args));
        if (args->help) return LMN_OK;
    }
    for (int i = optind; i < argc; i++) {
        if (args->path) return lmn_fail(LMN_ERR_ARG, "unexpected argument '%s'", argv[i]);
        args->path = argv[i];
    }
    if (!args->path) return lmn_fail(LMN_ERR_ARG, "missing CHECKPOINT (see lamina --help)");
    return LMN_OK;
}

/* Regression checkpoints report errors, not accuracy. */
static lmn_status evaluate_regression(lmn_comm *comm, const checkpoint_args *args, lmn_trainer *trainer)
{
    lmn_regression_metrics metrics;
    LMN_TRY(lmn_task_evaluate_regression(trainer, &metrics));
    if (comm->rank != 0) return LMN_OK;
    printf("checkpoint %s: %s on %s test set (%lld samples)\n", args->path, trainer->model_name,
           trainer->test_set->name, (long long)trainer->test_set->count);
    printf("test_loss %.6g  test_mse %.6g  test_mae %.6g", metrics.loss, metrics.mse, metrics.mae);
    if (trainer->task_scores.psnr) printf("  test_psnr %.3f dB", metrics.psnr);
    if (!isnan(trainer->task_scores.baseline_psnr))
        printf("  (bicubic %.3f dB)", trainer->task_scores.baseline_psnr);
    printf("\n");
    return LMN_OK;
}

static lmn_status eval_checkpoint(lmn_comm *comm, const checkpoint_args *args_in)
{
    const checkpoint_args args = *args_in;
    if (args.help) {
        if (comm->rank == 0)
            puts("usage: lamina eval CHECKPOINT [--set KEY=VALUE]... [--unset KEY]...\n\n"
                 "Evaluates the checkpoint's model on its test set (override with e.g.\n"
                 "--set data.path=DIR) and prints loss, accuracy and per-class accuracy.\n"
                 "The checkpoint's stored configuration is edited in command-line order:\n"
                 "--set replaces a key, --unset KEY removes one so that it takes its default\n"
                 "(e.g. --set data.name=synthetic --unset data.path).");
        return LMN_OK;
    }
    lmn_cfg *cfg = NULL;
    lmn_trainer *trainer = NULL;
    lmn_status status = open_checkpoint(comm, args.path, args.edits, args.edit_count, &cfg, &trainer);
    if (status == LMN_OK && trainer->settings.task.kind == LMN_TASK_REGRESSION) {
        status = evaluate_regression(comm, &args, trainer);
        lmn_trainer_free(trainer);
        lmn_cfg_free(cfg);
        return status;
    }
    const int classes = trainer ? trainer->net->num_outputs : 0;
    int64_t *correct = calloc((size_t)classes + 1, sizeof *correct);
    int64_t *total = calloc((size_t)classes + 1, sizeof *total);
    double loss = 0.0, accuracy = 0.0;
    if (status == LMN_OK && (!correct || !total))
        status = lmn_fail(LMN_ERR_NOMEM, "cannot allocate class counts");
    if (status == LMN_OK)
        status = lmn_trainer_evaluate_classes(trainer, &loss, &accuracy, correct, total);
    if (status == LMN_OK && comm->rank == 0) {
        printf("checkpoint %s: %s on %s test set (%lld samples)\n", args.path, trainer->model_name,
               trainer->test_set->name, (long long)trainer->test_set->count);
        printf("test_loss %.4f  test_acc %.4f\nper-class accuracy:\n", loss, accuracy);
        for (int k = 0; k < classes; k++)
            printf("  class %2d  %.4f  (%lld samples)\n", k,
                   total[k] ? (double)correct[k] / (double)total[k] : 0.0, (long long)total[k]);
    }
    free(correct);
    free(total);
    lmn_trainer_free(trainer);
    lmn_cfg_free(cfg);
    return status;
}

/* export never replaces its own input nor any other HDF5 file (a
 * checkpoint, a dataset): only a missing file or an earlier export. */
static lmn_status check_export_target(const char *checkpoint, const char *out)
{
    struct stat in_info, out_info;
    if (stat(out, &out_info) != 0) return LMN_OK;
    if (stat(checkpoint, &in_info) == 0 && in_info.st_dev == out_info.st_dev &&
        in_info.st_ino == out_info.st_ino)
        return lmn_fail(LMN_ERR_ARG, "--out %s is the checkpoint being exported; nothing was "
                        "written: choose another file (default: the checkpoint's name with "
                        ".safetensors)", out);
    static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8] = {0};
    FILE *file = fopen(out, "rb");
    const bool hdf5 = file && fread(head, 1, sizeof head, file) == sizeof head &&
                      memcmp(head, hdf5_signature, sizeof head) == 0;
    if (file) fclose(file);
    if (hdf5)
        return lmn_fail(LMN_ERR_ARG, "--out %s is an HDF5 file (a checkpoint or a dataset?); "
                        "nothing was written: export replaces only an earlier .safetensors file",
                        out);
    return LMN_OK;
}

static lmn_status export_checkpoint(lmn_comm *comm, const checkpoint_args *args_in)
{
    const checkpoint_args args = *args_in;
    if (args.help) {
        if (comm->rank == 0)
            puts("usage: lamina export CHECKPOINT --format safetensors [--out FILE]\n\n"
                 "Writes the model's tensors (PyTorch state_dict names and shapes) to FILE\n"
                 "(default: the checkpoint's name with .safetensors). In Python:\n"
                 "  from safetensors.torch import load_file; model.load_state_dict(load_file(FILE))");
        return LMN_OK;
    }
    if (!args.format || strcmp(args.format, "safetensors") != 0)
        return lmn_fail(LMN_ERR_ARG, "--format %s: the supported format is safetensors",
                        args.format ? args.format : "(missing)");
    char out[4096];
    if (args.out) {
        snprintf(out, sizeof out, "%s", args.out);
    } else {
        const char *dot = strrchr(args.path, '.');
        const int stem = dot ? (int)(dot - args.path) : (int)strlen(args.path);
        snprintf(out, sizeof out, "%.*s.safetensors", stem, args.path);
    }
    lmn_cfg *cfg = NULL;
    lmn_trainer *trainer = NULL;
    lmn_status status = lmn_comm_agree(comm, comm->rank == 0 ? check_export_target(args.path, out)
                                                             : LMN_OK);
    if (status == LMN_OK) status = open_checkpoint(comm, args.path, NULL, 0, &cfg, &trainer);
    if (status == LMN_OK && comm->rank == 0) {
        status = lmn_export_safetensors(out, trainer->net);
        if (status == LMN_OK) printf("wrote %s\n", out);
    }
    status = lmn_comm_agree(comm, status);
    lmn_trainer_free(trainer);
    lmn_cfg_free(cfg);
    return status;
}

/* Parses, runs eval or export, and frees the parsed arguments. */
static lmn_status run(lmn_comm *comm, int argc, char **argv, bool export)
{
    checkpoint_args args;
    lmn_status status = lmn_comm_agree(comm, parse(argc, argv, export, &args));
    if (status == LMN_OK) status = export ? export_checkpoint(comm, &args) : eval_checkpoint(comm, &args);
    free(args.edits);
    return status;
}

lmn_status lmn_command_eval(lmn_comm *comm, int argc, char **argv)
{
    return run(comm, argc, argv, false);
}

lmn_status lmn_command_export(lmn_comm *comm, int argc, char **argv)
{
    return run(comm, argc, argv, true);
}
