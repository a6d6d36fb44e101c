#include "io/image_folder.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/memory.h"
#include "core/rng.h"
#include "data/dataset_internal.h"
#include "data/image_codec.h"
#include "data/image_transform.h"
#include "io/files.h"

enum { FOLDER_PATH_MAX = 4096, ALLREDUCE_PIECE = 1 << 30 };
static const uint64_t VIEW_STREAM_TAG = 0x696d6776ull; /* "imgv" */
/* The scan only needs to know that a file decodes; the smallest DCT scale
 * still entropy-decodes every coefficient, so corrupt data is found. */
static const double SCAN_SCALE = 0.125;

/* What the dataset's sample source holds: the file list, nothing else. */
typedef struct folder_source {
    char *split_dir;     /* ROOT/train or ROOT/val */
    const char *split;   /* "train" or "val" */
    char *names;         /* "class/file\0" per sample, back to back */
    uint64_t *offsets;   /* where sample i's name starts in names */
    int64_t count, capacity;
    size_t names_length, names_capacity;
    int32_t *labels;     /* moved into the dataset once listed */
    char **classes;
    int class_count;
    int size, resize, channels;
    bool skip_bad_files;
    char *bad_text;      /* "split/class/file: reason\n" per skipped file */
    size_t bad_length;
    int64_t bad_count;
} folder_source;

static void free_names(char **names, int count)
{
    for (int i = 0; names && i < count; i++) free(names[i]);
    free(names);
}

static void free_source(void *ctx)
{
    folder_source *src = ctx;
    if (!src) return;
    free(src->split_dir);
    free(src->names);
    free(src->offsets);
    free(src->labels);
    free_names(src->classes, src->class_count);
    free(src->bad_text);
    free(src);
}

/* ---- listing ---- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_directory(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

/* The entries of dir not starting with '.', sorted byte-wise; with
 * directories_only, only those that are directories (links followed). */
static lmn_status list_directory(const char *dir, bool directories_only, char ***out, int *count)
{
    *out = NULL;
    *count = 0;
    DIR *stream = opendir(dir);
    if (!stream) return lmn_fail(LMN_ERR_IO, "cannot list directory '%s': %s", dir, strerror(errno));
    int capacity = 0;
    lmn_status status = LMN_OK;
    for (struct dirent *entry; status == LMN_OK && (entry = readdir(stream));) {
        char path[FOLDER_PATH_MAX];
        if (entry->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        if (directories_only && !is_directory(path)) continue;
        if (*count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            char **grown = realloc(*out, sizeof *grown * (size_t)capacity);
            if (!grown) status = lmn_fail(LMN_ERR_NOMEM, "cannot list directory '%s'", dir);
            else *out = grown;
        }
        if (status == LMN_OK && !((*out)[*count] = strdup(entry->d_name)))
            status = lmn_fail(LMN_ERR_NOMEM, "cannot list directory '%s'", dir);
        if (status == LMN_OK) (*count)++;
    }
    closedir(stream);
    if (status != LMN_OK) {
        free_names(*out, *count);
        *out = NULL;
        *count = 0;
        return status;
    }
    if (*count > 1) qsort(*out, (size_t)*count, sizeof **out, compare_names);
    return LMN_OK;
}

static bool has_image_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static lmn_status add_sample(folder_source *src, const char *class_name, const char *file,
                             int32_t label)
{
    const size_t length = strlen(class_name) + 1 + strlen(file) + 1;
    if (src->count == src->capacity) {
        src->capacity = src->capacity ? 2 * src->capacity : 1024;
        uint64_t *offsets = realloc(src->offsets, sizeof *offsets * (size_t)src->capacity);
        if (offsets) src->offsets = offsets;
        int32_t *labels = realloc(src->labels, sizeof *labels * (size_t)src->capacity);
        if (labels) src->labels = labels;
        if (!offsets || !labels) return lmn_fail(LMN_ERR_NOMEM, "cannot grow the file list");
    }
    if (src->names_length + length > src->names_capacity) {
        src->names_capacity = 2 * (src->names_length + length) + 65536;
        char *names = realloc(src->names, src->names_capacity);
        if (!names) return lmn_fail(LMN_ERR_NOMEM, "cannot grow the file list");
        src->names = names;
    }
    snprintf(src->names + src->names_length, length, "%s/%s", class_name, file);
    src->offsets[src->count] = src->names_length;
    src->labels[src->count++] = label;
    src->names_length += length;
    return LMN_OK;
}

/* Appends "split/relative: reason" to the list of skipped files. */
static lmn_status note_bad_file(folder_source *src, const char *relative, const char *reason)
{
    const size_t length = strlen(src->split) + strlen(relative) + strlen(reason) + 5;
    char *grown = realloc(src->bad_text, src->bad_length + length);
    if (!grown) return lmn_fail(LMN_ERR_NOMEM, "cannot list the bad files");
    src->bad_text = grown;
    src->bad_length += (size_t)snprintf(grown + src->bad_length, length, "%s/%s: %s\n", src->split,
                                        relative, reason);
    src->bad_count++;
    return LMN_OK;
}

static lmn_status fail_extension(const char *dir, const char *file)
{
    return lmn_fail(LMN_ERR_FORMAT, "'%s/%s' is not a .jpg, .jpeg or .png file (any case of the "
                    "extension): image folders hold only those; remove it, or set "
                    "data.skip_bad_files: true to skip it", dir, file);
}

/* Adds the image files of class folder dir (label `label`) to the list. */
static lmn_status list_class(folder_source *src, const char *dir, int label)
{
    char **files = NULL;
    int count = 0;
    LMN_TRY(list_directory(dir, false, &files, &count));
    const int64_t before = src->count;
    lmn_status status = LMN_OK;
    for (int f = 0; status == LMN_OK && f < count; f++) {
        const char *class_name = src->classes[label];
        if (has_image_extension(files[f])) {
            status = add_sample(src, class_name, files[f], label);
        } else if (src->skip_bad_files) {
            char relative[FOLDER_PATH_MAX];
            snprintf(relative, sizeof relative, "%s/%s", class_name, files[f]);
            status = note_bad_file(src, relative, "not a .jpg, .jpeg or .png file");
        } else {
            status = fail_extension(dir, files[f]);
        }
    }
    free_names(files, count);
    if (status == LMN_OK && src->count == before)
        status = lmn_fail(LMN_ERR_FORMAT, "class folder '%s' holds no .jpg, .jpeg or .png files: "
                          "an empty class cannot be learned; remove the folder or add images", dir);
    return status;
}

static int find_class(const folder_source *src, const char *name)
{
    for (int k = 0; k < src->class_count; k++)
        if (!strcmp(src->classes[k], name)) return k;
    return -1;
}

/* A val/ folder may lack classes but may not add any. */
static lmn_status check_split_classes(const folder_source *src)
{
    char **present = NULL;
    int count = 0;
    LMN_TRY(list_directory(src->split_dir, true, &present, &count));
    lmn_status status = LMN_OK;
    for (int k = 0; status == LMN_OK && k < count; k++)
        if (find_class(src, present[k]) < 0)
            status = lmn_fail(LMN_ERR_FORMAT, "class folder '%s/%s' has no counterpart in the "
                              "training folder: the classes are the folders of train/", 
                              src->split_dir, present[k]);
    free_names(present, count);
    return status;
}

static lmn_status list_split(folder_source *src)
{
    if (!is_directory(src->split_dir))
        return lmn_fail(LMN_ERR_IO, "image folder: '%s' is missing or not a directory (the layout "
                        "is ROOT/train/<class>/*.jpg and ROOT/val/<class>/*.jpg)", src->split_dir);
    if (strcmp(src->split, "train") != 0) LMN_TRY(check_split_classes(src));
    for (int k = 0; k < src->class_count; k++) {
        char dir[FOLDER_PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", src->split_dir, src->classes[k]);
        if (!is_directory(dir)) continue; /* val without this class */
        LMN_TRY(list_class(src, dir, k));
    }
    if (src->count == 0)
        return lmn_fail(LMN_ERR_FORMAT, "image folder '%s' holds no images", src->split_dir);
    return LMN_OK;
}

/* The classes: sub-directories of ROOT/train, sorted. */
static lmn_status list_classes(folder_source *src, const char *root)
{
    if (!is_directory(root))
        return lmn_fail(LMN_ERR_IO, "image folder '%s' is missing or not a directory", root);
    char train_dir[FOLDER_PATH_MAX];
    snprintf(train_dir, sizeof train_dir, "%s/train", root);
    if (!is_directory(train_dir))
        return lmn_fail(LMN_ERR_IO, "image folder '%s' has no train/ directory (the layout is "
                        "ROOT/train/<class>/*.jpg and ROOT/val/<class>/*.jpg)", root);
    LMN_TRY(list_directory(train_dir, true, &src->classes, &src->class_count));
    if (src->class_count == 0)
        return lmn_fail(LMN_ERR_FORMAT, "'%s' has no class folders (ROOT/train/<class>/...)",
                        train_dir);
    return LMN_OK;
}

/* ---- decoding one sample ---- */

static lmn_status sample_path(const folder_source *src, int64_t index, char path[FOLDER_PATH_MAX])
{
    const int length = snprintf(path, FOLDER_PATH_MAX, "%s/%s", src->split_dir,
                                src->names + src->offsets[index]);
    if (length < 0 || length >= FOLDER_PATH_MAX)
        return lmn_fail(LMN_ERR_IO, "path of image '%s' is too long", src->names + src->offsets[index]);
    return LMN_OK;
}

/* Reads, decodes and transforms one file: the evaluation transform when
 * rng is NULL, else the training view drawn from rng. */
static lmn_status transform_file(const folder_source *src, const char *path, lmn_rng *rng,
                                 float *values)
{
    uint8_t *data = NULL;
    size_t bytes = 0;
    LMN_TRY(lmn_image_read_file(path, &data, &bytes));
    int width = 0, height = 0;
    lmn_status status = lmn_image_probe(path, data, bytes, &width, &height);
    bool flip = false;
    lmn_crop_box box = {0};
    if (status == LMN_OK && rng) {
        /* The flip first: its draw does not depend on how many crop tries ran. */
        flip = (lmn_rng_u32(rng) & 1u) != 0;
        box = lmn_random_resized_crop_box(rng, width, height);
    } else if (status == LMN_OK) {
        box = lmn_center_crop_box(width, height, src->resize, src->size);
    }
    lmn_image image = {0};
    const double min_scale = src->size / fmin(box.width, box.height);
    if (status == LMN_OK)
        status = lmn_image_decode(path, data, bytes, src->channels, min_scale, &image);
    free(data);
    if (status == LMN_OK) {
        box = lmn_crop_box_scale(box, image.scale);
        status = lmn_image_resample_box(&image, box, src->size, src->size, flip, values);
    }
    lmn_image_free(&image);
    return status;
}

static lmn_status produce_sample(const void *ctx, uint32_t index, float *values, float *targets)
{
    (void)targets; /* classification: no targets */
    if (!values) return LMN_OK;
    const folder_source *src = ctx;
    char path[FOLDER_PATH_MAX];
    LMN_TRY(sample_path(src, index, path));
    return transform_file(src, path, NULL, values);
}

static lmn_status produce_view(const void *ctx, uint32_t index, uint64_t seed, uint64_t epoch,
                               float *values)
{
    const folder_source *src = ctx;
    char path[FOLDER_PATH_MAX];
    LMN_TRY(sample_path(src, index, path));
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(lmn_rng_stream_id(VIEW_STREAM_TAG, epoch),
                                                       index));
    return transform_file(src, path, &rng, values);
}

/* ---- the up-front scan for bad files ---- */

static lmn_status check_file(const folder_source *src, int64_t index)
{
    char path[FOLDER_PATH_MAX];
    LMN_TRY(sample_path(src, index, path));
    uint8_t *data = NULL;
    size_t bytes = 0;
    LMN_TRY(lmn_image_read_file(path, &data, &bytes));
    lmn_image image = {0};
    const lmn_status status = lmn_image_decode(path, data, bytes, src->channels, SCAN_SCALE, &image);
    lmn_image_free(&image);
    free(data);
    return status;
}

/* Every rank checks its contiguous share; the verdicts are OR-ed. */
static lmn_status find_bad_files(const folder_source *src, MPI_Comm comm, uint8_t *bad)
{
    int rank = 0, ranks = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &ranks);
    const int64_t first = src->count * rank / ranks, last = src->count * (rank + 1) / ranks;
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = first; i < last; i++) bad[i] = check_file(src, i) != LMN_OK;
    for (int64_t done = 0; done < src->count; done += ALLREDUCE_PIECE) {
        const int piece = (int)(src->count - done < ALLREDUCE_PIECE ? src->count - done : ALLREDUCE_PIECE);
        if (MPI_Allreduce(MPI_IN_PLACE, bad + done, piece, MPI_UINT8_T, MPI_MAX, comm) != MPI_SUCCESS)
            return lmn_fail(LMN_ERR_MPI, "cannot share the image-folder scan of '%s'", src->split_dir);
    }
    return LMN_OK;
}

/* Drops the bad files from the list (the survivors keep their order) and
 * records why each was bad. */
static lmn_status drop_bad_files(folder_source *src, const uint8_t *bad)
{
    int64_t kept = 0;
    for (int64_t i = 0; i < src->count; i++) {
        if (bad[i]) {
            lmn_clear_error();
            (void)check_file(src, i); /* again, on this thread, for its message */
            char reason[1024];
            snprintf(reason, sizeof reason, "%s", lmn_last_error());
            char *hint = strstr(reason, " (set data.skip_bad_files");
            if (hint) *hint = '\0'; /* it is set */
            LMN_TRY(note_bad_file(src, src->names + src->offsets[i], reason));
            continue;
        }
        src->offsets[kept] = src->offsets[i];
        src->labels[kept++] = src->labels[i];
    }
    src->count = kept;
    if (kept == 0)
        return lmn_fail(LMN_ERR_FORMAT, "image folder '%s': every file is bad (see the messages "
                        "in bad_files.txt)", src->split_dir);
    return LMN_OK;
}

static lmn_status skip_bad_files(folder_source *src, MPI_Comm comm)
{
    uint8_t *bad = calloc((size_t)src->count, 1);
    if (!bad) return lmn_fail(LMN_ERR_NOMEM, "cannot scan %lld files", (long long)src->count);
    lmn_status status = find_bad_files(src, comm, bad);
    if (status == LMN_OK) status = drop_bad_files(src, bad);
    free(bad);
    return status;
}

/* ---- the dataset ---- */

lmn_image_folder_options lmn_image_folder_defaults(int image_size, int channels)
{
    lmn_image_folder_options o = {.image_size = image_size, .channels = channels};
    o.resize = (int)floor(image_size * 256.0 / 224.0 + 0.5);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; c++) {
        o.mean[c] = channels == 1 ? 0.449f : mean[c];
        o.std[c] = channels == 1 ? 0.226f : std[c];
    }
    return o;
}

static lmn_status check_options(const lmn_image_folder_options *o)
{
    if (o->image_size < 1 || o->image_size > 8192)
        return lmn_fail(LMN_ERR_ARG, "image size %d: use 1 to 8192 pixels", o->image_size);
    if (o->resize < o->image_size)
        return lmn_fail(LMN_ERR_ARG, "resize %d is smaller than the crop %d: the centre crop "
                        "would leave the image", o->resize, o->image_size);
    if (o->channels != 1 && o->channels != 3)
        return lmn_fail(LMN_ERR_ARG, "image folders give 1 (gray) or 3 (RGB) channels, not %d",
                        o->channels);
    for (int c = 0; c < o->channels; c++)
        if (!(o->std[c] > 0.0f))
            return lmn_fail(LMN_ERR_ARG, "std of channel %d is %g: must be > 0", c, o->std[c]);
    return LMN_OK;
}

static lmn_status make_source(const char *root, bool train, const lmn_image_folder_options *o,
                              MPI_Comm comm, folder_source **out)
{
    folder_source *src = calloc(1, sizeof *src);
    if (!src) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate an image folder");
    *out = src;
    src->split = train ? "train" : "val";
    src->size = o->image_size;
    src->resize = o->resize;
    src->channels = o->channels;
    src->skip_bad_files = o->skip_bad_files;
    src->split_dir = malloc(strlen(root) + 8);
    if (!src->split_dir) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate an image folder");
    sprintf(src->split_dir, "%s/%s", root, src->split);
    LMN_TRY(list_classes(src, root));
    LMN_TRY(list_split(src));
    if (src->count > (int64_t)UINT32_MAX)
        return lmn_fail(LMN_ERR_FORMAT, "image folder '%s' holds %lld files; at most %u are "
                        "supported", src->split_dir, (long long)src->count, UINT32_MAX);
    return o->skip_bad_files ? skip_bad_files(src, comm) : LMN_OK;
}

lmn_status lmn_dataset_load_image_folder(const char *root, bool train,
                                         const lmn_image_folder_options *options, MPI_Comm comm,
                                         lmn_dataset **out)
{
    *out = NULL;
    if (!root) return lmn_fail(LMN_ERR_ARG, "image folder: data.path (ROOT) is required");
    LMN_TRY(check_options(options));
    folder_source *src = NULL;
    lmn_status status = make_source(root, train, options, comm, &src);
    lmn_dataset *ds = NULL;
    if (status == LMN_OK)
        status = lmn_dataset_create(src->count, options->channels, options->image_size,
                                    options->image_size, src->class_count, false, "images", &ds);
    if (status != LMN_OK) {
        free_source(src);
        return status;
    }
    memcpy(ds->labels, src->labels, sizeof(int32_t) * (size_t)src->count);
    free(src->labels); /* the dataset holds the labels from now on */
    src->labels = NULL;
    for (int c = 0; c < options->channels; c++) {
        ds->mean[c] = options->mean[c];
        ds->std[c] = options->std[c];
    }
    ds->source = (lmn_sample_source){.ctx = src, .produce = produce_sample,
                                     .produce_view = produce_view, .free = free_source};
    ds->augment = train;
    ds->flip = train; /* done by the source, with the random-resized-crop */
    *out = ds;
    return LMN_OK;
}

bool lmn_dataset_is_image_folder(const lmn_dataset *ds)
{
    return ds && ds->source.free == free_source;
}

int64_t lmn_image_folder_bad_count(const lmn_dataset *ds)
{
    return lmn_dataset_is_image_folder(ds) ? ((const folder_source *)ds->source.ctx)->bad_count : 0;
}

static lmn_status write_classes(const folder_source *src, const char *out_dir)
{
    size_t length = 0;
    for (int k = 0; k < src->class_count; k++) length += strlen(src->classes[k]) + 1;
    char *text = malloc(length + 1), path[FOLDER_PATH_MAX];
    if (!text) return lmn_fail(LMN_ERR_NOMEM, "cannot list the classes");
    size_t at = 0;
    for (int k = 0; k < src->class_count; k++)
        at += (size_t)sprintf(text + at, "%s\n", src->classes[k]);
    snprintf(path, sizeof path, "%s/classes.txt", out_dir);
    const lmn_status status = lmn_write_file_atomic(path, text, at);
    free(text);
    return status;
}

lmn_status lmn_image_folder_write_outputs(const lmn_dataset *train_set,
                                          const lmn_dataset *test_set, const char *out_dir,
                                          FILE *log)
{
    if (!lmn_dataset_is_image_folder(train_set) || !out_dir) return LMN_OK;
    const folder_source *train = train_set->source.ctx;
    const folder_source *test = lmn_dataset_is_image_folder(test_set) ? test_set->source.ctx : NULL;
    LMN_TRY(write_classes(train, out_dir));
    if (!train->skip_bad_files) return LMN_OK;
    const size_t length = train->bad_length + (test ? test->bad_length : 0);
    char *text = malloc(length + 1), path[FOLDER_PATH_MAX];
    if (!text) return lmn_fail(LMN_ERR_NOMEM, "cannot list the bad files");
    if (train->bad_length) memcpy(text, train->bad_text, train->bad_length);
    if (test && test->bad_length) memcpy(text + train->bad_length, test->bad_text, test->bad_length);
    snprintf(path, sizeof path, "%s/bad_files.txt", out_dir);
    const lmn_status status = lmn_write_file_atomic(path, text, length);
    free(text);
    const int64_t skipped = train->bad_count + (test ? test->bad_count : 0);
    if (status == LMN_OK && log)
        fprintf(log, "lamina: skipped %lld bad image file%s (listed in %s)\n", (long long)skipped,
                skipped == 1 ? "" : "s", path);
    return status;
}

lmn_status lmn_image_folder_read_bytes(const lmn_dataset *ds, uint32_t index, uint8_t *out)
{
    if (!lmn_dataset_is_image_folder(ds) || index >= ds->count)
        return lmn_fail(LMN_ERR_ARG, "read_bytes: not an image folder sample");
    const size_t size = (size_t)lmn_dataset_sample_size(ds);
    float *values = malloc(sizeof(float) * size);
    if (!values) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate one image");
    const lmn_status status = produce_sample(ds->source.ctx, index, values, NULL);
    for (size_t j = 0; status == LMN_OK && j < size; j++) {
        const float v = nearbyintf(values[j] * 255.0f);
        out[j] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
    }
    free(values);
    return status;
}
