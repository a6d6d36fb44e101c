/* Known datasets by name: file layout and published normalization. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"

enum { PATH_MAX_LEN = 4096, CIFAR10_TRAIN_FILES = 5 };

typedef enum dataset_format { FORMAT_IDX, FORMAT_CIFAR10, FORMAT_CIFAR100 } dataset_format;

typedef struct named_dataset {
    const char *name;
    dataset_format format;
    float mean[3], std[3];
} named_dataset;

/* Per-channel statistics of each training set, as commonly published. */
static const named_dataset NAMED_DATASETS[] = {
    {"fashion-mnist", FORMAT_IDX, {0.2860f}, {0.3530f}},
    {"mnist", FORMAT_IDX, {0.1307f}, {0.3081f}},
    {"cifar10", FORMAT_CIFAR10, {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}},
    {"cifar100", FORMAT_CIFAR100, {0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}},
};

/* dir/base.gz if readable, else dir/base if readable. */
static lmn_status find_idx_file(const char *dataset, const char *dir, const char *base,
                                char *path)
{
    snprintf(path, PATH_MAX_LEN, "%s/%s.gz", dir, base);
    if (access(path, R_OK) == 0) return LMN_OK;
    snprintf(path, PATH_MAX_LEN, "%s/%s", dir, base);
    if (access(path, R_OK) == 0) return LMN_OK;
    return lmn_fail(LMN_ERR_IO,
                    "dataset '%s': found neither %s.gz nor %s in directory '%s'; point the data "
                    "directory at the folder holding the idx files",
                    dataset, base, base, dir);
}

static lmn_status load_idx_named(const char *name, const char *dir, bool train,
                                 lmn_dataset **out)
{
    const char *split = train ? "train" : "t10k";
    char base[64], images[PATH_MAX_LEN], labels[PATH_MAX_LEN];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    LMN_TRY(find_idx_file(name, dir, base, images));
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    LMN_TRY(find_idx_file(name, dir, base, labels));
    return lmn_dataset_load_idx(images, labels, out);
}

static lmn_status load_cifar_named(dataset_format format, const char *dir, bool train,
                                   lmn_dataset **out)
{
    char storage[CIFAR10_TRAIN_FILES][PATH_MAX_LEN];
    const char *paths[CIFAR10_TRAIN_FILES];
    int files = 1;
    if (format == FORMAT_CIFAR100) {
        snprintf(storage[0], PATH_MAX_LEN, "%s/%s", dir, train ? "train.bin" : "test.bin");
    } else if (!train) {
        snprintf(storage[0], PATH_MAX_LEN, "%s/test_batch.bin", dir);
    } else {
        files = CIFAR10_TRAIN_FILES;
        for (int f = 0; f < files; f++)
            snprintf(storage[f], PATH_MAX_LEN, "%s/data_batch_%d.bin", dir, f + 1);
    }
    for (int f = 0; f < files; f++) paths[f] = storage[f];
    return lmn_dataset_load_cifar(paths, files, format == FORMAT_CIFAR100 ? 100 : 10, out);
}

lmn_status lmn_dataset_load_named(const char *name, const char *dir, bool train,
                                  lmn_dataset **out)
{
    *out = NULL;
    const named_dataset *known = NULL;
    const size_t known_count = sizeof NAMED_DATASETS / sizeof NAMED_DATASETS[0];
    for (size_t i = 0; i < known_count && name; i++)
        if (strcmp(name, NAMED_DATASETS[i].name) == 0) known = &NAMED_DATASETS[i];
    if (!known)
        return lmn_fail(LMN_ERR_ARG,
                        "unknown dataset '%s'; known: fashion-mnist, mnist, cifar10, cifar100",
                        name ? name : "(null)");
    if (!dir) return lmn_fail(LMN_ERR_ARG, "dataset '%s' needs a data directory", name);
    lmn_dataset *ds;
    if (known->format == FORMAT_IDX)
        LMN_TRY(load_idx_named(name, dir, train, &ds));
    else
        LMN_TRY(load_cifar_named(known->format, dir, train, &ds));
    for (int c = 0; c < ds->channels; c++) {
        ds->mean[c] = known->mean[c];
        ds->std[c] = known->std[c];
    }
    snprintf(ds->name, sizeof ds->name, "%s", known->name);
    if (known->format != FORMAT_IDX && train) {
        ds->augment = true;
        ds->crop_pad = 4;
        ds->flip = true;
    }
    *out = ds;
    return LMN_OK;
}
