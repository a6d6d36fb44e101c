/* lamina report: the HTML comparison of run directories (src/report). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "report/report.h"

static const char *const report_usage =
    "usage: lamina report RUN_DIR... --out REPORT.html [--title TEXT]\n"
    "\n"
    "Writes one self-contained HTML page (inline SVG, no script, nothing fetched) that\n"
    "compares the runs: test accuracy and loss (MSE for regression) against epoch or\n"
    "round, elapsed seconds and cumulative communication bytes (log scale), one curve\n"
    "per run with a legend of its method and key settings; images/s and exposed\n"
    "communication per epoch; each run's per-layer sync plan; FedLAMA's per-layer\n"
    "interval over rounds; the resolved configs side by side, differences highlighted.\n"
    "A run directory holds metrics.jsonl and config.yaml (sync_plan.txt if training).\n"
    "Problems (a directory without metrics, a truncated line, classification next to\n"
    "regression) are reported on stderr and on the page; what can be drawn is drawn.\n"
    "Fails only when no run has anything to draw.\n"
    "\n"
    "  --out FILE     the page to write (replaced atomically)\n"
    "  --title TEXT   the page's heading [lamina report]\n";

typedef struct report_args {
    const char **run_dirs;
    int run_count;
    const char *out_path, *title;
    bool help;
} report_args;

static lmn_status parse_report_args(int argc, char **argv, report_args *args)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const bool takes_value = strcmp(arg, "--out") == 0 || strcmp(arg, "--title") == 0;
        if (takes_value && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
            return lmn_fail(LMN_ERR_ARG, "option %s needs a value", arg);
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) args->help = true;
        else if (strcmp(arg, "--out") == 0) args->out_path = argv[++i];
        else if (strcmp(arg, "--title") == 0) args->title = argv[++i];
        else if (arg[0] == '-') return lmn_fail(LMN_ERR_ARG, "unknown option '%s' (see lamina report --help)", arg);
        else args->run_dirs[args->run_count++] = arg;
    }
    if (args->help) return LMN_OK;
    if (args->run_count == 0) return lmn_fail(LMN_ERR_ARG, "missing RUN_DIR (see lamina report --help)");
    if (!args->out_path) return lmn_fail(LMN_ERR_ARG, "missing --out REPORT.html (see lamina report --help)");
    return LMN_OK;
}

/* Rank 0 writes the report; the others only learn whether it worked. */
lmn_status lmn_command_report(lmn_comm *comm, int argc, char **argv)
{
    report_args args = {0};
    args.run_dirs = calloc((size_t)argc + 1, sizeof *args.run_dirs);
    if (!args.run_dirs) return lmn_fail(LMN_ERR_NOMEM, "cannot list %d arguments", argc);
    lmn_status status = parse_report_args(argc, argv, &args);
    if (status == LMN_OK && comm->rank == 0) {
        if (args.help) fputs(report_usage, stdout);
        else status = lmn_report_write(args.run_dirs, args.run_count, args.out_path, args.title, stderr);
        if (status == LMN_OK && !args.help) printf("lamina: report written to %s\n", args.out_path);
    }
    free(args.run_dirs);
    return lmn_comm_agree(comm, status);
}
