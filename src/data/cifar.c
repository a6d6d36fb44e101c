/* CIFAR-10 / CIFAR-100 binary files: fixed-size records back to back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"
#include "data/dataset_internal.h"

enum { CIFAR_CHANNELS = 3, CIFAR_SIDE = 32, CIFAR_PIXELS = 3 * 32 * 32 };

/* Records in one file, checking that it holds only whole records. */
static lmn_status count_records(const char *path, size_t record_bytes, int64_t *records)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return lmn_fail(LMN_ERR_IO, "cannot open CIFAR file '%s': %s", path, strerror(errno));
    const size_t bytes = (size_t)info.st_size;
    if (bytes == 0 || bytes % record_bytes != 0)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' has %zu bytes, not a whole number of %zu-byte CIFAR records "
                        "(%zu records and %zu bytes over); the file is truncated or not in "
                        "this CIFAR format",
                        path, bytes, record_bytes, bytes / record_bytes, bytes % record_bytes);
    *records = (int64_t)(bytes / record_bytes);
    return LMN_OK;
}

/* Reads `records` records of one file into ds starting at sample `first`. */
static lmn_status read_records(const char *path, int label_bytes, int64_t first, int64_t records,
                               lmn_dataset *ds)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return lmn_fail(LMN_ERR_IO, "cannot open CIFAR file '%s': %s", path, strerror(errno));
    uint8_t record[2 + CIFAR_PIXELS];
    const size_t record_bytes = (size_t)label_bytes + CIFAR_PIXELS;
    lmn_status status = LMN_OK;
    for (int64_t r = 0; r < records && status == LMN_OK; r++) {
        if (fread(record, 1, record_bytes, file) != record_bytes) {
            status = lmn_fail(LMN_ERR_FORMAT, "'%s': record %lld of %lld is incomplete", path,
                              (long long)r, (long long)records);
            break;
        }
        /* The last label byte is the one we train on (CIFAR-100: fine). */
        const int label = record[label_bytes - 1];
        if (label >= ds->num_classes)
            status = lmn_fail(LMN_ERR_FORMAT, "'%s': label %d of record %lld is outside 0..%d",
                              path, label, (long long)r, ds->num_classes - 1);
        ds->labels[first + r] = label;
        memcpy(ds->pixels + (size_t)(first + r) * CIFAR_PIXELS, record + label_bytes,
               CIFAR_PIXELS);
    }
    fclose(file);
    return status;
}

lmn_status lmn_dataset_load_cifar(const char *const *paths, int file_count, int num_classes,
                                  lmn_dataset **out)
{
    *out = NULL;
    if (num_classes != 10 && num_classes != 100)
        return lmn_fail(LMN_ERR_ARG, "CIFAR with %d classes: use 10 (CIFAR-10) or 100 (CIFAR-100)",
                        num_classes);
    if (file_count < 1 || file_count > 64)
        return lmn_fail(LMN_ERR_ARG, "CIFAR loader given %d files; need 1..64", file_count);
    const int label_bytes = num_classes == 10 ? 1 : 2;
    const size_t record_bytes = (size_t)label_bytes + CIFAR_PIXELS;
    int64_t records[64], total = 0;
    for (int f = 0; f < file_count; f++) {
        LMN_TRY(count_records(paths[f], record_bytes, &records[f]));
        total += records[f];
    }
    lmn_dataset *ds;
    LMN_TRY(lmn_dataset_create(total, CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE, num_classes, true,
                               num_classes == 10 ? "cifar10" : "cifar100", &ds));
    int64_t first = 0;
    for (int f = 0; f < file_count; f++) {
        const lmn_status status = read_records(paths[f], label_bytes, first, records[f], ds);
        if (status != LMN_OK) {
            lmn_dataset_free(ds);
            return status;
        }
        first += records[f];
    }
    *out = ds;
    return LMN_OK;
}
