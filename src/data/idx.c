/* MNIST-style idx files, gzip'd or plain (zlib reads both). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/memory.h"
#include "data/dataset.h"
#include "data/dataset_internal.h"

enum {
    IDX_IMAGES_MAGIC = 2051, /* unsigned bytes, 3 dimensions */
    IDX_LABELS_MAGIC = 2049, /* unsigned bytes, 1 dimension */
    IDX_MAX_SIDE = 4096,
    IDX_CLASSES = 10,
    READ_CHUNK = 1 << 30, /* gzread counts in unsigned int */
    DEFLATE_MAX_RATIO = 1032 /* deflate never expands a byte stream by more than this */
};

static lmn_status idx_open(const char *path, const char *what, gzFile *out)
{
    errno = 0;
    *out = gzopen(path, "rb");
    if (!*out)
        return lmn_fail(LMN_ERR_IO, "cannot open idx %s file '%s': %s", what, path,
                        errno ? strerror(errno) : "out of memory");
    return LMN_OK;
}

/* Reads up to `bytes`; *got says how many arrived. A gzip stream that just
 * stops counts as a short read (truncation is reported by the caller with
 * the sizes); a corrupt one is an error. */
static lmn_status idx_read(gzFile gz, const char *path, void *buffer, size_t bytes, size_t *got)
{
    *got = 0;
    while (*got < bytes) {
        const size_t chunk = bytes - *got < READ_CHUNK ? bytes - *got : READ_CHUNK;
        const int n = gzread(gz, (char *)buffer + *got, (unsigned)chunk);
        if (n > 0) {
            *got += (size_t)n;
            continue;
        }
        int code = Z_OK;
        const char *message = gzerror(gz, &code);
        if (n < 0 && code != Z_BUF_ERROR)
            return lmn_fail(LMN_ERR_FORMAT, "'%s': corrupt gzip data after %zu bytes: %s", path,
                            *got, message);
        break;
    }
    return LMN_OK;
}

static uint32_t big_endian_u32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 |
           (uint32_t)bytes[3];
}

/* Reads the magic number, then `rank` dimensions: the magic comes first
 * so that a wrong kind of file is named as such, not as a short header. */
static lmn_status idx_read_header(gzFile gz, const char *path, const char *what,
                                  uint32_t expected_magic, uint32_t other_magic, int rank,
                                  uint32_t *dims)
{
    uint8_t header[16];
    const size_t want = 4 * (size_t)(1 + rank);
    size_t got, more = 0;
    LMN_TRY(idx_read(gz, path, header, 4, &got));
    const uint32_t magic = got == 4 ? big_endian_u32(header) : 0;
    if (got == 4 && magic != expected_magic)
        return lmn_fail(LMN_ERR_FORMAT, "'%s': magic number %u is not an idx %s file (expected %u)%s",
                        path, magic, what, expected_magic,
                        magic == other_magic ? "; images and labels files swapped?" : "");
    if (got == 4) LMN_TRY(idx_read(gz, path, header + 4, want - 4, &more));
    if (got + more < want)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' is truncated: an idx %s header needs %zu bytes, found %zu", path,
                        what, want, got + more);
    for (int d = 0; d < rank; d++) dims[d] = big_endian_u32(header + 4 + 4 * d);
    if (dims[0] < 1 || dims[0] > INT32_MAX)
        return lmn_fail(LMN_ERR_FORMAT, "'%s': idx %s header claims %u items; need 1..%d", path,
                        what, dims[0], INT32_MAX);
    return LMN_OK;
}

/* Refuses a header that promises more data than the file can hold, before
 * anything is allocated for it: otherwise a 16-byte file claiming 2^31
 * images of 4096 x 4096 makes the reader ask for petabytes. A plain file
 * must hold the payload after its header; a gzip'd one cannot inflate to
 * more than DEFLATE_MAX_RATIO times its size. */
static lmn_status idx_check_payload_fits(gzFile gz, const char *path, size_t header_bytes,
                                         size_t bytes, const char *contents)
{
    struct stat info;
    if (stat(path, &info) != 0 || !S_ISREG(info.st_mode)) return LMN_OK; /* a pipe: read and see */
    const size_t file_bytes = (size_t)info.st_size;
    if (gzdirect(gz)) {
        const size_t available = file_bytes > header_bytes ? file_bytes - header_bytes : 0;
        if (bytes > available)
            return lmn_fail(LMN_ERR_FORMAT,
                            "'%s' is truncated: its header promises %s = %zu bytes of data, "
                            "found %zu",
                            path, contents, bytes, available);
    } else if (bytes / DEFLATE_MAX_RATIO > file_bytes) {
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' is truncated: its header promises %s = %zu bytes of data, more "
                        "than a gzip file of %zu bytes can hold",
                        path, contents, bytes, file_bytes);
    }
    return LMN_OK;
}

/* Reads exactly `bytes` of payload and checks that nothing follows it. */
static lmn_status idx_read_payload(gzFile gz, const char *path, void *buffer, size_t bytes,
                                   const char *contents)
{
    size_t got;
    LMN_TRY(idx_read(gz, path, buffer, bytes, &got));
    if (got < bytes)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' is truncated: its header promises %s = %zu bytes of data, found %zu",
                        path, contents, bytes, got);
    uint8_t extra;
    LMN_TRY(idx_read(gz, path, &extra, 1, &got));
    if (got)
        return lmn_fail(LMN_ERR_FORMAT,
                        "'%s' holds more data than its header promises (%s = %zu bytes); the "
                        "header or the file is wrong",
                        path, contents, bytes);
    return LMN_OK;
}

static lmn_status read_images(const char *path, lmn_dataset **out)
{
    gzFile gz;
    LMN_TRY(idx_open(path, "images", &gz));
    uint32_t dims[3] = {0, 0, 0};
    lmn_status status =
        idx_read_header(gz, path, "images", IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, 3, dims);
    if (status == LMN_OK && (dims[1] < 1 || dims[1] > IDX_MAX_SIDE || dims[2] < 1 ||
                             dims[2] > IDX_MAX_SIDE))
        status = lmn_fail(LMN_ERR_FORMAT, "'%s': images of %u x %u; each side must be 1..%d",
                          path, dims[1], dims[2], IDX_MAX_SIDE);
    char contents[96];
    snprintf(contents, sizeof contents, "%u images of %u x %u", dims[0], dims[1], dims[2]);
    if (status == LMN_OK)
        status = idx_check_payload_fits(gz, path, 16, (size_t)dims[0] * dims[1] * dims[2],
                                        contents);
    if (status == LMN_OK)
        status = lmn_dataset_create(dims[0], 1, (int)dims[1], (int)dims[2], IDX_CLASSES, true,
                                    "idx", out);
    if (status == LMN_OK) {
        status = idx_read_payload(gz, path, (*out)->pixels,
                                  (size_t)dims[0] * dims[1] * dims[2], contents);
        if (status != LMN_OK) {
            lmn_dataset_free(*out);
            *out = NULL;
        }
    }
    gzclose(gz);
    return status;
}

static lmn_status convert_labels(const char *path, const uint8_t *raw, lmn_dataset *ds)
{
    for (int64_t i = 0; i < ds->count; i++) {
        if (raw[i] >= ds->num_classes)
            return lmn_fail(LMN_ERR_FORMAT, "'%s': label %u of item %lld is outside 0..%d", path,
                            raw[i], (long long)i, ds->num_classes - 1);
        ds->labels[i] = raw[i];
    }
    return LMN_OK;
}

static lmn_status read_labels(const char *path, const char *images_path, lmn_dataset *ds)
{
    gzFile gz;
    LMN_TRY(idx_open(path, "labels", &gz));
    uint32_t items = 0;
    uint8_t *raw = NULL;
    lmn_status status =
        idx_read_header(gz, path, "labels", IDX_LABELS_MAGIC, IDX_IMAGES_MAGIC, 1, &items);
    if (status == LMN_OK && items != ds->count)
        status = lmn_fail(LMN_ERR_FORMAT, "'%s' has %u labels but '%s' has %lld images", path,
                          items, images_path, (long long)ds->count);
    if (status == LMN_OK) status = lmn_alloc_bytes((void **)&raw, items, "idx labels");
    if (status == LMN_OK) {
        char contents[48];
        snprintf(contents, sizeof contents, "%u labels", items);
        status = idx_read_payload(gz, path, raw, items, contents);
    }
    if (status == LMN_OK) status = convert_labels(path, raw, ds);
    lmn_free(raw);
    gzclose(gz);
    return status;
}

lmn_status lmn_dataset_load_idx(const char *images_path, const char *labels_path,
                                lmn_dataset **out)
{
    *out = NULL;
    if (!images_path || !labels_path)
        return lmn_fail(LMN_ERR_ARG, "idx loader needs both an images and a labels path");
    lmn_dataset *ds;
    LMN_TRY(read_images(images_path, &ds));
    const lmn_status status = read_labels(labels_path, images_path, ds);
    if (status != LMN_OK) {
        lmn_dataset_free(ds);
        return status;
    }
    *out = ds;
    return LMN_OK;
}
