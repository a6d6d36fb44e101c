#include "io/hdf5_rows.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/memory.h"
#include "data/dataset_internal.h"
#include "io/hdf5_dataset.h"
#include "io/hdf5_lock.h"
#include "io/hdf5_source.h"
#include "nn/finite.h"

static const double MB = 1024.0 * 1024.0;

enum { LABEL_SCAN_ROWS = 1 << 16, MIN_CACHE_SLOTS = 521, SLOTS_PER_CHUNK = 100,
       CONVERSION_BYTES = 1 << 16 };

/* A run of adjacent rows: one hyperslab. */
typedef struct row_run {
    hsize_t first, count;
} row_run;

/* A row wanted at a position of the caller's batch. */
typedef struct row_request {
    uint32_t row;
    int position;
} row_request;

/* One whole chunk of rows held in memory (`chunks` order). */
typedef struct resident_chunk {
    int64_t chunk;      /* -1: empty */
    uint64_t last_use;  /* reader clock at the last hit: least recently used goes first */
    void *rows;
    int32_t *labels;
    float *targets;
} resident_chunk;

typedef struct rows_reader {
    lmn_hdf5_source source; /* its names point into the copies below */
    char *path, *images_name, *labels_name, *targets_name;
    lmn_hdf5_rows_info info;
    struct stat opened;     /* the file as it was when opened */
    int64_t row_values, target_values;
    int num_classes;
    /* Scattered reads: requests sorted here, unique rows read into staging. */
    row_request *requests;
    row_run *runs;
    void *staging;
    int64_t *staging_labels;
    float *staging_targets;
    int capacity;           /* rows the buffers above hold */
    /* Direct reads: unfiltered images whose bytes are the samples as
     * wanted are read with pread at their address, row runs and nothing
     * more; HDF5 1.10 reads a whole chunk for a part of one. */
    int fd;                 /* -1: read through HDF5 */
    /* Reads that convert (uint8 labels to int64, ...) go through this
     * transfer list with our own conversion buffer: by default HDF5 callocs
     * 1 MiB for every H5Dread, which led the profile. */
    hid_t transfer;
    void *conversion;
    haddr_t contiguous_address; /* HADDR_UNDEF when chunked */
    int chunk_rows, rank, ranks, resident_count;
    resident_chunk *resident;
    uint64_t clock;
} rows_reader;

uint64_t lmn_next_prime(uint64_t n)
{
    if (n <= 2) return 2;
    for (uint64_t candidate = n | 1u;; candidate += 2) {
        bool prime = true;
        for (uint64_t d = 3; d * d <= candidate && prime; d += 2) prime = candidate % d != 0;
        if (prime) return candidate;
    }
}

/* ---- The file's description and the memory plan ---- */

static void describe_chunks(const lmn_hdf5_source *s, lmn_hdf5_rows_info *info)
{
    hid_t plist = H5Dget_create_plist(s->images);
    if (plist < 0) return;
    hsize_t chunk[H5S_MAX_RANK], dims[H5S_MAX_RANK];
    hid_t space = H5Dget_space(s->images);
    const int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    if (space >= 0) H5Sclose(space);
    if (rank > 0 && H5Pget_layout(plist) == H5D_CHUNKED &&
        H5Pget_chunk(plist, H5S_MAX_RANK, chunk) == rank) {
        const int64_t element = s->float_images ? 4 : 1;
        info->file_chunk_rows = (int)chunk[0];
        info->chunk_bytes = element;
        info->slab_chunks = 1;
        for (int d = 0; d < rank; d++) info->chunk_bytes *= (int64_t)chunk[d];
        for (int d = 1; d < rank; d++)
            info->slab_chunks *= (int64_t)((dims[d] + chunk[d] - 1) / chunk[d]);
        info->compressed = H5Pget_nfilters(plist) > 0;
    }
    H5Pclose(plist);
}

static void describe(const lmn_hdf5_source *s, lmn_hdf5_rows_info *info)
{
    *info = (lmn_hdf5_rows_info){.count = s->count, .slab_chunks = 1};
    const int64_t values = (int64_t)s->channels * (s->depth > 0 ? s->depth : 1) * s->height * s->width;
    info->row_bytes = values * (s->float_images ? 4 : 1);
    info->float_rows = s->float_images;
    info->extra_row_bytes = s->targets_name ? 4 * lmn_target_shape_size(s->target_shape) : 4;
    describe_chunks(s, info);
}

lmn_status lmn_hdf5_rows_probe(const char *path, const char *images_name, const char *labels_name,
                               const char *targets_name, lmn_hdf5_rows_info *out)
{
    lmn_hdf5_source source = {.path = path, .images_name = images_name, .labels_name = labels_name,
                              .targets_name = targets_name, .file = -1, .images = -1,
                              .labels = -1, .targets = -1};
    LMN_TRY(lmn_hdf5_check_readable(path));
    lmn_hdf5_silence_errors();
    lmn_hdf5_lock();
    const lmn_status status = lmn_hdf5_source_open(&source, MPI_COMM_NULL);
    if (status == LMN_OK) describe(&source, out);
    lmn_hdf5_source_close(&source);
    lmn_hdf5_unlock();
    return status;
}

/* The chunk cache: enough HDF5 chunks for cache_rows rows (plus one, for a
 * read that straddles), within what max_memory leaves. */
static lmn_status plan_cache(const lmn_hdf5_rows_options *o, const lmn_hdf5_rows_info *info,
                             size_t *cache_bytes, size_t *cache_slots)
{
    *cache_bytes = *cache_slots = 0;
    const double buffers = (double)o->resident_chunks * o->chunk_rows * (double)(info->row_bytes + info->extra_row_bytes) +
                           (double)o->cache_rows * (double)(info->row_bytes + 8 + info->extra_row_bytes);
    const double budget = o->max_memory_mb * MB - o->committed_mb * MB - buffers;
    /* Only compressed chunks go through the cache (see below). */
    const double one_chunk = info->compressed ? (double)info->chunk_bytes : 0.0;
    if (o->max_memory_mb > 0 && budget < one_chunk)
        return lmn_fail(LMN_ERR_CONFIG,
                        "key 'data.max_memory': %g MB is too little for '%s': the trainer's data "
                        "buffers and epoch order take %.1f MB, the reader's row buffers %.1f MB, "
                        "leaving %.1f MB%s; raise data.max_memory or lower data.prefetch_samples / "
                        "data.chunks_per_buffer", o->max_memory_mb, o->path, o->committed_mb,
                        buffers / MB, budget / MB,
                        one_chunk > 0 ? ", less than one chunk of the HDF5 chunk cache of the "
                                        "compressed dataset 'images' needs (or rewrite the file "
                                        "with smaller chunks)" : "");
    /* Uncompressed chunks: no cache at all. A cached partial read pulls
     * the whole chunk in (hundreds of rows for one), while an uncached one
     * reads just the selected rows from the file. */
    if (info->file_chunk_rows <= 0 || !info->compressed) return LMN_OK;
    const int64_t total_chunks = ((info->count + info->file_chunk_rows - 1) / info->file_chunk_rows) *
                                 info->slab_chunks;
    int64_t chunks = ((o->cache_rows + info->file_chunk_rows - 1) / info->file_chunk_rows + 1) *
                     info->slab_chunks;
    if (chunks > total_chunks) chunks = total_chunks;
    if (o->max_memory_mb > 0 && (double)chunks * (double)info->chunk_bytes > budget)
        chunks = (int64_t)(budget / (double)info->chunk_bytes);
    *cache_bytes = (size_t)(chunks * info->chunk_bytes);
    *cache_slots = (size_t)lmn_next_prime((uint64_t)(chunks * SLOTS_PER_CHUNK > MIN_CACHE_SLOTS
                                                        ? chunks * SLOTS_PER_CHUNK : MIN_CACHE_SLOTS));
    return LMN_OK;
}

/* Reopens the images with the planned chunk cache (the default is 1 MiB,
 * which thrashes on chunks of a few hundred rows). */
static lmn_status reopen_images(rows_reader *r, size_t cache_bytes, size_t cache_slots)
{
    if (r->info.file_chunk_rows <= 0) return LMN_OK;
    if (cache_slots == 0) cache_slots = MIN_CACHE_SLOTS;
    hid_t access = H5Pcreate(H5P_DATASET_ACCESS);
    herr_t result = access < 0 ? -1 : H5Pset_chunk_cache(access, cache_slots, cache_bytes, 1.0);
    hid_t images = result < 0 ? -1 : H5Dopen2(r->source.file, r->images_name, access);
    if (access >= 0) H5Pclose(access);
    if (images < 0)
        return lmn_fail(LMN_ERR_FORMAT, "cannot set a %.1f MB chunk cache on dataset '%s' of '%s'",
                        (double)cache_bytes / MB, r->images_name, r->path);
    H5Dclose(r->source.images);
    r->source.images = images;
    return LMN_OK;
}

/* ---- Reading ---- */

static lmn_status check_unchanged(const rows_reader *r)
{
    struct stat now;
    if (stat(r->path, &now) != 0)
        return lmn_fail(LMN_ERR_IO, "HDF5 file '%s' disappeared during training (%s); it is read in "
                        "place and must stay until training ends", r->path, strerror(errno));
    if (now.st_size == r->opened.st_size && now.st_ino == r->opened.st_ino &&
        now.st_dev == r->opened.st_dev && now.st_mtim.tv_sec == r->opened.st_mtim.tv_sec &&
        now.st_mtim.tv_nsec == r->opened.st_mtim.tv_nsec)
        return LMN_OK;
    return lmn_fail(LMN_ERR_IO,
                    "HDF5 file '%s' changed during training (%s; %lld -> %lld bytes) while dataset "
                    "'%s' of %lld rows was being read in place; restore the file (or train on a "
                    "copy) and resume with --resume auto",
                    r->path, now.st_ino != r->opened.st_ino ? "replaced by another file"
                    : now.st_size < r->opened.st_size ? "truncated" : "modified",
                    (long long)r->opened.st_size, (long long)now.st_size, r->images_name,
                    (long long)r->info.count);
}

/* Reads rows [run.first, run.first + run.count) of dataset into buffer. */
static herr_t read_run(hid_t dataset, hid_t file_space, int rank, const hsize_t *dims,
                       hid_t mem_type, hid_t transfer, row_run run, void *buffer)
{
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    memcpy(count, dims, (size_t)rank * sizeof *count);
    start[0] = run.first;
    count[0] = run.count;
    /* The memory space has the selection's shape: with a flat one HDF5
     * maps every element onto the chunks one by one. */
    hid_t mem_space = H5Screate_simple(rank, count, NULL);
    herr_t result = mem_space < 0 ? -1 : H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start,
                                                              NULL, count, NULL);
    if (result >= 0) result = H5Dread(dataset, mem_type, mem_space, file_space, transfer, buffer);
    if (mem_space >= 0) H5Sclose(mem_space);
    return result;
}

/* The runs (whole rows) back to back into buffer: one H5Dread per run. A
 * single union-of-hyperslabs read would be one call, but HDF5 1.10 maps an
 * irregular selection onto chunks element by element (H5S_select_iterate
 * led the profile), slower than a regular hyperslab per run. */
static lmn_status read_runs(const rows_reader *r, hid_t dataset, const char *name, hid_t mem_type,
                            int64_t values_per_row, const row_run *runs, int run_count, void *buffer)
{
    hsize_t dims[H5S_MAX_RANK];
    hid_t file_space = H5Dget_space(dataset);
    const int rank = file_space < 0 ? -1 : H5Sget_simple_extent_dims(file_space, dims, NULL);
    herr_t result = rank < 1 ? -1 : 0;
    const size_t row_bytes = H5Tget_size(mem_type) * (size_t)values_per_row;
    hsize_t rows = 0;
    for (int i = 0; i < run_count && result >= 0; i++) {
        result = read_run(dataset, file_space, rank, dims, mem_type, r->transfer, runs[i],
                          (char *)buffer + rows * row_bytes);
        rows += runs[i].count;
    }
    if (file_space >= 0) H5Sclose(file_space);
    if (result >= 0) return LMN_OK;
    LMN_TRY(check_unchanged(r));
    return lmn_fail(LMN_ERR_FORMAT, "cannot read rows %llu..%llu of dataset '%s' in '%s' (file "
                    "truncated or corrupt?)", (unsigned long long)runs[0].first,
                    (unsigned long long)(runs[run_count - 1].first + runs[run_count - 1].count - 1),
                    name, r->path);
}

/* The file address of `row`'s bytes; HADDR_UNDEF when it has none (a chunk
 * never written: HDF5 then supplies the fill value). */
static haddr_t row_address(const rows_reader *r, hsize_t row)
{
    if (r->contiguous_address != HADDR_UNDEF)
        return r->contiguous_address + row * (hsize_t)r->info.row_bytes;
    const hsize_t chunk_first = row / (hsize_t)r->info.file_chunk_rows * (hsize_t)r->info.file_chunk_rows;
    hsize_t offset[H5S_MAX_RANK] = {chunk_first};
    unsigned filter_mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(r->source.images, offset, &filter_mask, &address, &size) < 0 ||
        address == HADDR_UNDEF)
        return HADDR_UNDEF;
    return address + (row - chunk_first) * (hsize_t)r->info.row_bytes;
}

static bool read_fully(int fd, void *buffer, size_t bytes, off_t offset)
{
    for (size_t done = 0; done < bytes;) {
        const ssize_t got = pread(fd, (char *)buffer + done, bytes - done, offset + (off_t)done);
        if (got <= 0 && !(got < 0 && errno == EINTR)) return false;
        if (got > 0) done += (size_t)got;
    }
    return true;
}

/* A run of image rows by pread, one read per run piece inside a chunk;
 * false when some row has no address (then HDF5 reads the run). */
static bool read_run_direct(const rows_reader *r, row_run run, void *buffer)
{
    const hsize_t per_chunk = r->contiguous_address != HADDR_UNDEF ? run.count
                                                                   : (hsize_t)r->info.file_chunk_rows;
    for (hsize_t row = run.first, end = run.first + run.count; row < end;) {
        const hsize_t chunk_end = (row / per_chunk + 1) * per_chunk;
        const hsize_t piece_end = r->contiguous_address != HADDR_UNDEF || chunk_end > end ? end : chunk_end;
        const haddr_t address = row_address(r, row);
        const size_t bytes = (size_t)((piece_end - row) * (hsize_t)r->info.row_bytes);
        if (address == HADDR_UNDEF ||
            !read_fully(r->fd, (char *)buffer + (row - run.first) * (hsize_t)r->info.row_bytes, bytes,
                        (off_t)address))
            return false;
        row = piece_end;
    }
    return true;
}

/* Image rows of the runs: direct where possible, else through HDF5. */
static lmn_status read_image_runs(const rows_reader *r, const row_run *runs, int run_count,
                                  void *rows)
{
    const hid_t mem_type = r->source.float_images ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8;
    char *out = rows;
    for (int i = 0; i < run_count; i++) {
        if (r->fd < 0 || !read_run_direct(r, runs[i], out)) {
            LMN_TRY(check_unchanged(r));
            LMN_TRY(read_runs(r, r->source.images, r->images_name, mem_type, r->row_values,
                              &runs[i], 1, out));
        }
        /* A NaN input poisons the gradients while the loss may stay finite. */
        if (r->source.float_images &&
            !lmn_floats_finite((const float *)out, runs[i].count * (hsize_t)r->row_values))
            return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s': rows %llu..%llu hold a non-finite "
                            "value; inputs must be finite numbers", r->path, r->images_name,
                            (unsigned long long)runs[i].first,
                            (unsigned long long)(runs[i].first + runs[i].count - 1));
        out += runs[i].count * (hsize_t)r->info.row_bytes;
    }
    return LMN_OK;
}

/* Reads the labels of the runs as int32, checking each against the classes. */
static lmn_status read_labels(const rows_reader *r, const row_run *runs, int run_count,
                              int64_t *wide, int32_t *out)
{
    LMN_TRY(read_runs(r, r->source.labels, r->labels_name, H5T_NATIVE_INT64, 1, runs, run_count, wide));
    int64_t i = 0;
    for (int k = 0; k < run_count; k++)
        for (hsize_t j = 0; j < runs[k].count; j++, i++) {
            if (wide[i] < 0 || wide[i] >= r->num_classes)
                return lmn_fail(LMN_ERR_FORMAT, "'%s' dataset '%s': label %lld at row %llu is "
                                "outside 0..%d", r->path, r->labels_name, (long long)wide[i],
                                (unsigned long long)(runs[k].first + j), r->num_classes - 1);
            out[i] = (int32_t)wide[i];
        }
    return LMN_OK;
}

/* Images, labels and targets of the runs, as wanted (NULL: not wanted). */
static lmn_status read_rows_of_runs(const rows_reader *r, const row_run *runs, int run_count,
                                    void *rows, int32_t *labels, int64_t *wide_labels, float *targets)
{
    if (rows) LMN_TRY(read_image_runs(r, runs, run_count, rows));
    if (labels && r->labels_name) LMN_TRY(read_labels(r, runs, run_count, wide_labels, labels));
    if (targets && r->targets_name)
        LMN_TRY(read_runs(r, r->source.targets, r->targets_name, H5T_NATIVE_FLOAT, r->target_values,
                          runs, run_count, targets));
    return LMN_OK;
}

static int compare_requests(const void *a, const void *b)
{
    const row_request *x = a, *y = b;
    return x->row < y->row ? -1 : x->row > y->row ? 1 : x->position - y->position;
}

static lmn_status grow_buffers(rows_reader *r, int rows)
{
    if (rows <= r->capacity) return LMN_OK;
    lmn_free(r->requests);
    lmn_free(r->runs);
    lmn_free(r->staging);
    lmn_free(r->staging_labels);
    lmn_free(r->staging_targets);
    r->requests = NULL, r->runs = NULL, r->staging = NULL;
    r->staging_labels = NULL, r->staging_targets = NULL;
    r->capacity = 0;
    LMN_TRY(lmn_alloc_bytes((void **)&r->requests, (size_t)rows * sizeof *r->requests, "row requests"));
    LMN_TRY(lmn_alloc_bytes((void **)&r->runs, (size_t)rows * sizeof *r->runs, "row runs"));
    LMN_TRY(lmn_alloc_bytes(&r->staging, (size_t)rows * (size_t)r->info.row_bytes, "rows being read"));
    LMN_TRY(lmn_alloc_bytes((void **)&r->staging_labels, (size_t)rows * sizeof(int64_t),
                            "labels being read"));
    if (r->target_values > 0)
        LMN_TRY(lmn_alloc_floats(&r->staging_targets, (size_t)rows * (size_t)r->target_values,
                                 "targets being read"));
    r->capacity = rows;
    return LMN_OK;
}

/* Sorted requests -> unique rows in runs; slot[i] = unique index of request i. */
static int coalesce(row_request *requests, int n, row_run *runs, int *slots)
{
    int run_count = 0, unique = -1;
    for (int i = 0; i < n; i++) {
        const bool repeat = i > 0 && requests[i].row == requests[i - 1].row;
        if (!repeat) unique++;
        slots[i] = unique;
        if (repeat) continue;
        if (run_count > 0 && runs[run_count - 1].first + runs[run_count - 1].count == requests[i].row)
            runs[run_count - 1].count++;
        else
            runs[run_count++] = (row_run){requests[i].row, 1};
    }
    return run_count;
}

/* Copies unique row `slot` of the staging buffers to batch position `position`. */
static void scatter_one(const rows_reader *r, int slot, int position, void *rows_out,
                        int32_t *labels_out, const int32_t *labels, float *targets_out)
{
    const size_t row_bytes = (size_t)r->info.row_bytes, target = (size_t)r->target_values;
    if (rows_out)
        memcpy((char *)rows_out + (size_t)position * row_bytes,
               (const char *)r->staging + (size_t)slot * row_bytes, row_bytes);
    if (labels_out) labels_out[position] = r->labels_name ? labels[slot] : 0;
    if (targets_out && target)
        memcpy(targets_out + (size_t)position * target, r->staging_targets + (size_t)slot * target,
               target * sizeof(float));
}

/* Any rows, any order: sort, merge duplicates, coalesce, one read per
 * dataset, scatter back. requests[0..n) are in r->requests. */
static lmn_status read_scattered(rows_reader *r, int n, void *rows_out, int32_t *labels_out,
                                 float *targets_out)
{
    if (n == 0) return LMN_OK;
    qsort(r->requests, (size_t)n, sizeof *r->requests, compare_requests);
    int *slots;
    LMN_TRY(lmn_alloc_bytes((void **)&slots, (size_t)n * sizeof *slots, "row slots"));
    const int run_count = coalesce(r->requests, n, r->runs, slots);
    int32_t *labels = NULL; /* per unique row; staging_labels holds them as read (int64) */
    lmn_status status = lmn_alloc_bytes((void **)&labels, (size_t)n * sizeof *labels, "labels");
    if (status == LMN_OK)
        status = read_rows_of_runs(r, r->runs, run_count, rows_out ? r->staging : NULL,
                                   labels_out ? labels : NULL, r->staging_labels,
                                   targets_out ? r->staging_targets : NULL);
    for (int i = 0; i < n && status == LMN_OK; i++)
        scatter_one(r, slots[i], r->requests[i].position, rows_out, labels_out, labels, targets_out);
    lmn_free(labels);
    lmn_free(slots);
    return status;
}

/* ---- Resident chunks (`chunks` order) ---- */

static lmn_status load_chunk(rows_reader *r, int64_t chunk, resident_chunk *slot)
{
    const int64_t first = chunk * r->chunk_rows;
    const int64_t end = first + r->chunk_rows < r->info.count ? first + r->chunk_rows : r->info.count;
    const row_run run = {(hsize_t)first, (hsize_t)(end - first)};
    slot->chunk = -1;
    LMN_TRY(read_rows_of_runs(r, &run, 1, slot->rows, slot->labels, r->staging_labels,
                              slot->targets));
    slot->chunk = chunk;
    return LMN_OK;
}

/* The resident slot of chunk, loading it into the least recently used slot if needed. */
static lmn_status find_chunk(rows_reader *r, int64_t chunk, resident_chunk **out)
{
    resident_chunk *oldest = &r->resident[0];
    for (int i = 0; i < r->resident_count; i++) {
        resident_chunk *slot = &r->resident[i];
        if (slot->chunk == chunk) {
            *out = slot;
            slot->last_use = ++r->clock;
            return LMN_OK;
        }
        if (slot->chunk < 0 || (oldest->chunk >= 0 && slot->last_use < oldest->last_use)) oldest = slot;
    }
    LMN_TRY(load_chunk(r, chunk, oldest));
    oldest->last_use = ++r->clock;
    *out = oldest;
    return LMN_OK;
}

static void copy_resident(const rows_reader *r, const resident_chunk *slot, uint32_t row,
                          int position, void *rows_out, int32_t *labels_out, float *targets_out)
{
    const size_t at = (size_t)(row - (uint64_t)slot->chunk * (uint64_t)r->chunk_rows);
    const size_t row_bytes = (size_t)r->info.row_bytes, target = (size_t)r->target_values;
    if (rows_out)
        memcpy((char *)rows_out + (size_t)position * row_bytes,
               (const char *)slot->rows + at * row_bytes, row_bytes);
    if (labels_out) labels_out[position] = r->labels_name ? slot->labels[at] : 0;
    if (targets_out && target)
        memcpy(targets_out + (size_t)position * target, slot->targets + at * target,
               target * sizeof(float));
}

/* Rows of chunks this rank owns come from resident chunks; the rest (rows
 * lent by another rank at the end of an epoch) are queued for a scattered read. */
static lmn_status serve_resident(rows_reader *r, const uint32_t *indices, int count, void *rows_out,
                                 int32_t *labels_out, float *targets_out, int *queued)
{
    *queued = 0;
    for (int i = 0; i < count; i++) {
        const int64_t chunk = indices[i] / (uint32_t)r->chunk_rows;
        if (chunk % r->ranks != r->rank) {
            r->requests[(*queued)++] = (row_request){indices[i], i};
            continue;
        }
        resident_chunk *slot;
        LMN_TRY(find_chunk(r, chunk, &slot));
        copy_resident(r, slot, indices[i], i, rows_out, labels_out, targets_out);
    }
    return LMN_OK;
}

static lmn_status read_locked(rows_reader *r, const uint32_t *indices, int count, void *rows_out,
                              int32_t *labels_out, float *targets_out)
{
    for (int i = 0; i < count; i++)
        if (indices[i] >= r->info.count)
            return lmn_fail(LMN_ERR_ARG, "row %u requested from dataset '%s' of '%s', which has "
                            "%lld rows", indices[i], r->images_name, r->path, (long long)r->info.count);
    LMN_TRY(check_unchanged(r));
    LMN_TRY(grow_buffers(r, count));
    int queued = count;
    if (r->resident_count > 0)
        LMN_TRY(serve_resident(r, indices, count, rows_out, labels_out, targets_out, &queued));
    else
        for (int i = 0; i < count; i++) r->requests[i] = (row_request){indices[i], i};
    return read_scattered(r, queued, rows_out, labels_out, targets_out);
}

static lmn_status read_rows(void *ctx, const uint32_t *indices, int count, void *rows_out,
                            int32_t *labels_out, float *targets_out)
{
    if (count <= 0) return LMN_OK;
    lmn_hdf5_lock();
    const lmn_status status = read_locked(ctx, indices, count, rows_out, labels_out, targets_out);
    lmn_hdf5_unlock();
    return status;
}

/* ---- Opening and closing ---- */

static void free_reader(void *ctx)
{
    rows_reader *r = ctx;
    if (!r) return;
    lmn_hdf5_lock();
    lmn_hdf5_source_close(&r->source);
    if (r->transfer != H5P_DEFAULT) H5Pclose(r->transfer);
    lmn_hdf5_unlock();
    if (r->fd >= 0) close(r->fd);
    lmn_free(r->conversion);
    for (int i = 0; r->resident && i < r->resident_count; i++) {
        lmn_free(r->resident[i].rows);
        lmn_free(r->resident[i].labels);
        lmn_free(r->resident[i].targets);
    }
    lmn_free(r->resident);
    lmn_free(r->requests);
    lmn_free(r->runs);
    lmn_free(r->staging);
    lmn_free(r->staging_labels);
    lmn_free(r->staging_targets);
    free(r->path);
    free(r->images_name);
    free(r->labels_name);
    free(r->targets_name);
    lmn_free(r);
}

static lmn_status allocate_resident(rows_reader *r)
{
    if (r->resident_count == 0) return LMN_OK;
    LMN_TRY(lmn_alloc_bytes((void **)&r->resident, (size_t)r->resident_count * sizeof *r->resident,
                            "resident chunks"));
    const size_t rows = (size_t)r->chunk_rows;
    for (int i = 0; i < r->resident_count; i++) {
        resident_chunk *slot = &r->resident[i];
        slot->chunk = -1;
        LMN_TRY(lmn_alloc_bytes(&slot->rows, rows * (size_t)r->info.row_bytes, "chunk rows"));
        LMN_TRY(lmn_alloc_bytes((void **)&slot->labels, rows * sizeof(int32_t), "chunk labels"));
        if (r->target_values > 0)
            LMN_TRY(lmn_alloc_floats(&slot->targets, rows * (size_t)r->target_values, "chunk targets"));
    }
    return grow_buffers(r, r->chunk_rows);
}

/* Direct reads need rows stored whole, unfiltered, in the native type. */
static lmn_status prepare_direct_reads(rows_reader *r)
{
    LMN_TRY(lmn_alloc_bytes(&r->conversion, CONVERSION_BYTES, "HDF5 conversion buffer"));
    r->transfer = H5Pcreate(H5P_DATASET_XFER);
    if (r->transfer < 0 || H5Pset_buffer(r->transfer, CONVERSION_BYTES, r->conversion, NULL) < 0)
        return lmn_fail(LMN_ERR_INTERNAL, "cannot set up HDF5 reads of '%s'", r->path);
    r->contiguous_address = HADDR_UNDEF;
    hid_t plist = H5Dget_create_plist(r->source.images), type = H5Dget_type(r->source.images);
    const H5D_layout_t layout = plist >= 0 ? H5Pget_layout(plist) : H5D_LAYOUT_ERROR;
    const bool native = type >= 0 && H5Tequal(type, r->source.float_images ? H5T_NATIVE_FLOAT
                                                                            : H5T_NATIVE_UINT8) > 0;
    const bool whole_rows = layout == H5D_CONTIGUOUS ||
                            (layout == H5D_CHUNKED && r->info.file_chunk_rows > 0 &&
                             r->info.slab_chunks == 1 && !r->info.compressed);
    if (plist >= 0) H5Pclose(plist);
    if (type >= 0) H5Tclose(type);
    if (!native || !whole_rows) return LMN_OK;
    if (layout == H5D_CONTIGUOUS) {
        r->contiguous_address = H5Dget_offset(r->source.images);
        if (r->contiguous_address == HADDR_UNDEF) return LMN_OK;
    }
    r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return lmn_fail(LMN_ERR_IO, "cannot open '%s' for reading: %s", r->path, strerror(errno));
    return LMN_OK;
}

/* num_classes: the attribute, else one pass over the labels in blocks. */
static lmn_status find_num_classes(rows_reader *r)
{
    int64_t declared = 0, largest = 0;
    LMN_TRY(lmn_hdf5_source_num_classes(&r->source, &declared));
    if (!r->labels_name) {
        r->num_classes = 1;
        return LMN_OK;
    }
    r->num_classes = declared > 0 ? (int)declared : INT_MAX;
    int32_t *labels;
    int64_t *wide;
    LMN_TRY(lmn_alloc_bytes((void **)&labels, LABEL_SCAN_ROWS * sizeof *labels, "label scan"));
    lmn_status status = lmn_alloc_bytes((void **)&wide, LABEL_SCAN_ROWS * sizeof *wide, "label scan");
    for (int64_t first = 0; first < r->info.count && status == LMN_OK; first += LABEL_SCAN_ROWS) {
        const int64_t rows = r->info.count - first < LABEL_SCAN_ROWS ? r->info.count - first
                                                                      : LABEL_SCAN_ROWS;
        const row_run run = {(hsize_t)first, (hsize_t)rows};
        status = read_labels(r, &run, 1, wide, labels);
        for (int64_t i = 0; i < rows && status == LMN_OK; i++)
            if (labels[i] > largest) largest = labels[i];
    }
    lmn_free(wide);
    lmn_free(labels);
    if (declared == 0) r->num_classes = (int)largest + 1;
    return status;
}

static lmn_status copy_names(rows_reader *r, const lmn_hdf5_rows_options *o)
{
    r->path = strdup(o->path);
    r->images_name = strdup(o->images_name);
    r->labels_name = o->labels_name ? strdup(o->labels_name) : NULL;
    r->targets_name = o->targets_name ? strdup(o->targets_name) : NULL;
    if (!r->path || !r->images_name || (o->labels_name && !r->labels_name) ||
        (o->targets_name && !r->targets_name))
        return lmn_fail(LMN_ERR_NOMEM, "cannot copy the names of '%s'", o->path);
    r->source = (lmn_hdf5_source){.path = r->path, .images_name = r->images_name,
                                  .labels_name = r->labels_name, .targets_name = r->targets_name,
                                  .file = -1, .images = -1, .labels = -1, .targets = -1};
    r->chunk_rows = o->chunk_rows;
    r->resident_count = o->resident_chunks;
    r->rank = o->rank;
    r->ranks = o->ranks > 0 ? o->ranks : 1;
    return LMN_OK;
}

/* The dataset around the reader: shape and constants, no samples. */
static lmn_status make_dataset(rows_reader *r, lmn_dataset **out)
{
    const lmn_hdf5_source *s = &r->source;
    char name[LMN_DATASET_NAME_MAX];
    lmn_hdf5_source_name(s, name);
    lmn_dataset *ds;
    LMN_TRY(lmn_dataset_create_shaped(s->count, s->channels, s->depth, s->height, s->width,
                                      r->num_classes, false, name, &ds));
    /* Labels come with the rows: drop the O(N) array create made. */
    lmn_free(ds->labels);
    ds->labels = NULL;
    ds->has_targets = s->targets_name != NULL;
    ds->target_shape = s->target_shape;
    ds->image_targets = s->image_targets;
    const lmn_status status = lmn_hdf5_source_normalization(s, ds);
    if (status != LMN_OK) {
        lmn_dataset_free(ds);
        return status;
    }
    *out = ds;
    return LMN_OK;
}

static lmn_status open_locked(rows_reader *r, const lmn_hdf5_rows_options *o, lmn_dataset **out)
{
    LMN_TRY(lmn_hdf5_source_open(&r->source, MPI_COMM_NULL));
    if (stat(r->path, &r->opened) != 0)
        return lmn_fail(LMN_ERR_IO, "cannot stat '%s': %s", r->path, strerror(errno));
    describe(&r->source, &r->info);
    r->row_values = r->info.row_bytes / (r->source.float_images ? 4 : 1);
    r->target_values = r->targets_name ? lmn_target_shape_size(r->source.target_shape) : 0;
    size_t cache_bytes, cache_slots;
    LMN_TRY(plan_cache(o, &r->info, &cache_bytes, &cache_slots));
    LMN_TRY(reopen_images(r, cache_bytes, cache_slots));
    LMN_TRY(prepare_direct_reads(r));
    LMN_TRY(find_num_classes(r));
    LMN_TRY(allocate_resident(r));
    return make_dataset(r, out);
}

lmn_status lmn_hdf5_rows_open(const lmn_hdf5_rows_options *o, lmn_dataset **out)
{
    *out = NULL;
    if (!o || !o->path || !o->images_name || (!o->labels_name == !o->targets_name) ||
        (o->resident_chunks > 0 && o->chunk_rows < 1) || o->cache_rows < 1)
        return lmn_fail(LMN_ERR_ARG, "out-of-core HDF5: need a path, images and either labels or "
                        "targets, a positive cache_rows and, with resident chunks, chunk_rows");
    LMN_TRY(lmn_hdf5_check_readable(o->path));
    lmn_hdf5_silence_errors();
    rows_reader *r;
    LMN_TRY(lmn_alloc_bytes((void **)&r, sizeof *r, "HDF5 row reader"));
    r->fd = -1;
    r->transfer = H5P_DEFAULT;
    lmn_status status = copy_names(r, o);
    lmn_hdf5_lock();
    if (status == LMN_OK) status = open_locked(r, o, out);
    lmn_hdf5_unlock();
    if (status != LMN_OK) {
        free_reader(r);
        return status;
    }
    (*out)->rows = (lmn_row_reader){r, read_rows, free_reader, r->source.float_images};
    return LMN_OK;
}
