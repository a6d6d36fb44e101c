/* CIFAR-10 / CIFAR-100 binary readers. The first byte picks the format
 * (even: CIFAR-10, odd: CIFAR-100) and how many files the rest is split
 * into (1..4, equal parts), which the loader concatenates. */
#include "fuzz_common.h"

#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 20) return 0;
    const int classes = data[0] & 1 ? 100 : 10;
    const int files = 1 + (data[0] >> 1) % 4;
    data++;
    size--;
    fuzz_file file[4];
    const char *paths[4];
    const size_t part = size / (size_t)files;
    for (int f = 0; f < files; f++) {
        const size_t begin = (size_t)f * part, end = f == files - 1 ? size : begin + part;
        fuzz_file_open(&file[f], data + begin, end - begin);
        paths[f] = file[f].path;
    }
    lmn_dataset *ds = NULL;
    if (lmn_dataset_load_cifar(paths, files, classes, &ds) == LMN_OK) {
        for (int64_t i = 0; i < ds->count; i++)
            if (ds->labels[i] < 0 || ds->labels[i] >= classes) abort();
        lmn_dataset_free(ds);
    }
    for (int f = 0; f < files; f++) fuzz_file_close(&file[f]);
    return 0;
}
