/* lamina data convert / concat: preparing HDF5 training files. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "io/data_tools.h"
#include "io/image_convert.h"

static const char *const data_usage =
    "usage: lamina data convert NAME DIR OUT.h5 [--test] [--gzip LEVEL]\n"
    "       lamina data convert images ROOT OUT.h5 --size S [--channels 3|1] [--test] [--gzip LEVEL]\n"
    "       lamina data concat OUT.h5 IN.h5 [IN.h5]... [--gzip LEVEL]\n"
    "\n"
    "convert  reads a known dataset (fashion-mnist, mnist, cifar10, cifar100) from DIR\n"
    "         (the training split, or the test split with --test) and writes OUT.h5 with\n"
    "         'images' (uint8, N x C x H x W), 'labels' (int32, N) and the attributes\n"
    "         mean, std, num_classes; train on it with data.name: hdf5.\n"
    "         With NAME images, ROOT is an image folder (ROOT/train/<class>/*.jpg, ROOT/val/...):\n"
    "         every image goes through the evaluation transform (shorter side resized to\n"
    "         round(S * 256 / 224), centre S x S crop); under mpirun the ranks decode disjoint\n"
    "         files and write them collectively.\n"
    "concat   appends every dataset of the IN files, in order, into OUT.h5; under mpirun\n"
    "         the input files are split across ranks and written collectively.\n"
    "--gzip   compression level 0-9 of the output datasets [0]\n";

static lmn_status parse_gzip(const char *text, int *level)
{
    char *end = NULL;
    const long value = strtol(text, &end, 10);
    if (!*text || *end || value < 0 || value > 9)
        return lmn_fail(LMN_ERR_ARG, "--gzip %s: expected a level from 0 to 9", text);
    *level = (int)value;
    return LMN_OK;
}

/* --size S and --channels C of `data convert images`. */
typedef struct image_options {
    int size, channels;
} image_options;

static lmn_status parse_count(const char *option, const char *text, int low, int high, int *out)
{
    char *end = NULL;
    const long value = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end || value < low || value > high)
        return lmn_fail(LMN_ERR_ARG, "%s %s: expected an integer from %d to %d", option,
                        text ? text : "(missing)", low, high);
    *out = (int)value;
    return LMN_OK;
}

static const struct option data_options[] = {
    {"size", required_argument, NULL, 's'}, {"channels", required_argument, NULL, 'c'},
    {"test", no_argument, NULL, 't'},       {"gzip", required_argument, NULL, 'g'},
    {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};

/* One option from getopt_long; unknown is the argument getopt refused. */
static lmn_status take_option(int option, const char *unknown, bool *test, int *gzip, bool *help,
                              image_options *image)
{
    switch (option) {
    case 'h': *help = true; return LMN_OK;
    case 't': *test = true; return LMN_OK;
    case 's': return parse_count("--size", optarg, 1, 8192, &image->size);
    case 'c': return parse_count("--channels", optarg, 1, 3, &image->channels);
    case 'g': return parse_gzip(optarg, gzip);
    case ':':
        return lmn_fail(LMN_ERR_ARG, "option --%s needs a value",
                        optopt == 'g' ? "gzip" : optopt == 's' ? "size" : "channels");
    default:
        return lmn_fail(LMN_ERR_ARG, "unknown option '%s' (see lamina data --help)", unknown);
    }
}

/* argv[0] is "data"; options through getopt_long, the rest positional. */
static lmn_status parse(int argc, char **argv, const char **positional, int *count, bool *test,
                        int *gzip, bool *help, image_options *image)
{
    *count = 0;
    *test = *help = false;
    *gzip = 0;
    *image = (image_options){0, 3};
    opterr = 0; /* our messages, on rank 0 only */
    optind = 0; /* glibc: start afresh */
    for (int option; (option = getopt_long(argc, argv, ":h", data_options, NULL)) != -1;)
        LMN_TRY(take_option(option, argv[optind - 1], test, gzip, help, image));
    for (int i = optind; i < argc; i++) positional[(*count)++] = argv[i];
    return LMN_OK;
}

lmn_status lmn_command_data(lmn_comm *comm, int argc, char **argv)
{
    const char **positional = calloc((size_t)argc + 1, sizeof *positional);
    if (!positional) return lmn_fail(LMN_ERR_NOMEM, "cannot parse arguments");
    int count = 0, gzip = 0;
    bool test = false, help = false;
    image_options image;
    lmn_status status = parse(argc, argv, positional, &count, &test, &gzip, &help, &image);
    status = lmn_comm_agree(comm, status);
    if (status == LMN_OK && (help || count == 0)) {
        if (comm->rank == 0) fputs(data_usage, stdout);
        if (!help) status = lmn_fail(LMN_ERR_ARG, "missing 'convert' or 'concat'");
    } else if (status == LMN_OK && !strcmp(positional[0], "convert") && count == 4 &&
               !strcmp(positional[1], "images")) {
        status = image.size > 0 ? lmn_data_convert_images(positional[2], !test, image.size,
                                                          image.channels, positional[3], gzip,
                                                          comm->comm)
                                : lmn_fail(LMN_ERR_ARG, "data convert images needs --size S");
        status = lmn_comm_agree(comm, status);
        if (status == LMN_OK && comm->rank == 0) printf("wrote %s\n", positional[3]);
    } else if (status == LMN_OK && !strcmp(positional[0], "convert")) {
        if (count != 4)
            status = lmn_fail(LMN_ERR_ARG, "data convert needs NAME DIR OUT.h5 (see lamina data --help)");
        else if (comm->rank == 0)
            status = lmn_data_convert(positional[1], positional[2], !test, positional[3], gzip);
        status = lmn_comm_agree(comm, status);
        if (status == LMN_OK && comm->rank == 0) printf("wrote %s\n", positional[3]);
    } else if (status == LMN_OK && !strcmp(positional[0], "concat")) {
        if (count < 3)
            status = lmn_fail(LMN_ERR_ARG, "data concat needs OUT.h5 and at least one IN.h5");
        else
            status = lmn_data_concat(positional + 2, count - 2, positional[1], gzip, comm->comm);
        status = lmn_comm_agree(comm, status);
        if (status == LMN_OK && comm->rank == 0)
            printf("wrote %s from %d file%s\n", positional[1], count - 2, count == 3 ? "" : "s");
    } else if (status == LMN_OK) {
        status = lmn_fail(LMN_ERR_ARG, "unknown data command '%s' (convert, concat)", positional[0]);
    }
    free(positional);
    return status;
}
