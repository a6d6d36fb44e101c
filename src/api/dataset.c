/* include/lamina.h: data the program supplies through callbacks.
 *
 * The program's set is an out-of-core dataset to the rest of lamina
 * (data/dataset.h, lmn_row_reader): each batch is one call of its fill
 * callback with the batch's indices, and the rows it writes are used as
 * float values, normalized with mean 0 and std 1 (that is, as they are). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/memory.h"
#include "data/dataset_internal.h"

typedef struct program_rows {
    lamina_dataset_callbacks callbacks;
    void *user;
    int classes;
    char name[LMN_DATASET_NAME_MAX];
} program_rows;

/* Labels out of range would index past the model's outputs. */
static lmn_status check_labels(const program_rows *rows, const uint32_t *indices, int count,
                               const int32_t *labels)
{
    for (int i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= rows->classes)
            return lmn_fail(LMN_ERR_FORMAT, "dataset '%s': the fill callback gave sample %u the "
                            "label %d, outside [0, %d) (the classes its shape callback declared)",
                            rows->name, indices[i], labels[i], rows->classes);
    return LMN_OK;
}

static lmn_status read_rows(void *ctx, const uint32_t *indices, int count, void *rows_out,
                            int32_t *labels_out, float *targets_out)
{
    program_rows *rows = ctx;
    if (targets_out)
        return lmn_fail(LMN_ERR_ARG, "dataset '%s': a program's dataset holds class labels, "
                        "not regression targets (task: classification)", rows->name);
    const lamina_status status = rows->callbacks.fill(rows->user, indices, count, rows_out,
                                                      labels_out);
    if (status != LAMINA_OK)
        return lmn_fail((lmn_status)(status == LAMINA_ERR_STOPPED ? LAMINA_ERR_ARG : status),
                        "dataset '%s': the fill callback failed (%s) on %d samples from index %u",
                        rows->name, lamina_status_name(status), count, count > 0 ? indices[0] : 0);
    return labels_out ? check_labels(rows, indices, count, labels_out) : LMN_OK;
}

static void release_rows(void *ctx)
{
    program_rows *rows = ctx;
    if (rows->callbacks.release) rows->callbacks.release(rows->user);
    free(rows);
}

static lmn_status check_shape(const char *name, int64_t count, int channels, int height, int width,
                              int classes)
{
    if (count < 1 || count > (int64_t)UINT32_MAX)
        return lmn_fail(LMN_ERR_ARG, "dataset '%s': %lld samples; 1 to 2^32 - 1 are possible", name,
                        (long long)count);
    if (channels < 1 || channels > LMN_MAX_CHANNELS || height < 1 || width < 1 || classes < 2)
        return lmn_fail(LMN_ERR_ARG, "dataset '%s': shape %d x %d x %d with %d classes; lamina "
                        "takes 1..%d channels, a positive height and width and at least 2 "
                        "classes", name, channels, height, width, classes, LMN_MAX_CHANNELS);
    return LMN_OK;
}

static lmn_status make_dataset(program_rows *rows, lmn_dataset **out)
{
    const lamina_dataset_callbacks *c = &rows->callbacks;
    const int64_t count = c->count(rows->user);
    int channels = 0, height = 0, width = 0, classes = 0;
    c->shape(rows->user, &channels, &height, &width, &classes);
    LMN_TRY(check_shape(rows->name, count, channels, height, width, classes));
    rows->classes = classes;
    LMN_TRY(lmn_dataset_create_shaped(count, channels, 0, height, width, classes, false,
                                      rows->name, out));
    /* Labels come with each batch's rows: no array of them. */
    lmn_free((*out)->labels);
    (*out)->labels = NULL;
    (*out)->rows = (lmn_row_reader){rows, read_rows, release_rows, true};
    return LMN_OK;
}

lamina_status lamina_dataset_create(const lamina_dataset_callbacks *callbacks, void *user,
                                    const char *name, lamina_dataset **out)
{
    *out = NULL;
    if (!callbacks || !callbacks->count || !callbacks->shape || !callbacks->fill)
        return lmn_api_status(lmn_fail(LMN_ERR_ARG, "lamina_dataset_create: the count, shape and "
                                       "fill callbacks are required"));
    program_rows *rows = calloc(1, sizeof *rows);
    lamina_dataset *handle = malloc(sizeof *handle);
    if (!rows || !handle) {
        free(rows);
        free(handle);
        return lmn_api_status(lmn_fail(LMN_ERR_NOMEM, "cannot allocate a dataset"));
    }
    *rows = (program_rows){.callbacks = *callbacks, .user = user};
    snprintf(rows->name, sizeof rows->name, "%s", name && *name ? name : "user");
    lmn_dataset *dataset = NULL;
    const lmn_status status = make_dataset(rows, &dataset);
    if (status != LMN_OK) {
        /* Refused: the program keeps user (release is not called). */
        free(rows);
        free(handle);
        return lmn_api_status(status);
    }
    handle->dataset = dataset;
    *out = handle;
    return LAMINA_OK;
}

lmn_dataset *lmn_api_dataset_take(lamina_dataset *handle)
{
    if (!handle) return NULL;
    lmn_dataset *dataset = handle->dataset;
    free(handle);
    return dataset;
}

void lamina_dataset_free(lamina_dataset *handle)
{
    lmn_dataset_free(lmn_api_dataset_take(handle));
}
