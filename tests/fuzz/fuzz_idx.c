/* MNIST idx readers (plain or gzip): input = images file, then labels file.
 * The first 4 bytes (little endian) give the images file's length; the
 * rest is the labels file. A dataset that loads is gathered once. */
#include "fuzz_common.h"

#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 1 << 20) return 0;
    size_t split = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
                   (size_t)data[3] << 24;
    data += 4;
    size -= 4;
    if (split > size) split = size;
    fuzz_file images, labels;
    fuzz_file_open(&images, data, split);
    fuzz_file_open(&labels, data + split, size - split);
    lmn_dataset *ds = NULL;
    if (lmn_dataset_load_idx(images.path, labels.path, &ds) == LMN_OK) {
        const size_t sample = (size_t)ds->channels * (size_t)ds->height * (size_t)ds->width;
        float *x = malloc(sample * sizeof *x);
        int32_t label;
        const uint32_t last = (uint32_t)(ds->count - 1);
        if (lmn_dataset_gather(ds, &last, 1, 1, 0, x, &label) != LMN_OK) abort();
        if (label < 0 || label >= ds->num_classes) abort();
        free(x);
        lmn_dataset_free(ds);
    }
    fuzz_file_close(&images);
    fuzz_file_close(&labels);
    return 0;
}
