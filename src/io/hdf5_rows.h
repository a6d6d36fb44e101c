/* Out-of-core HDF5 datasets: each rank reads the rows it needs, when it
 * needs them, from the file in place (ALGORITHMS.md section 10, "At scale").
 *
 * The file layout is hdf5_dataset.h's. lmn_hdf5_rows_open() opens the file
 * on this rank alone, read-only, with the default POSIX (sec2) driver: no
 * collective call, so reads can run on the prefetcher's I/O thread while
 * the trainer's thread computes and communicates. The returned lmn_dataset
 * holds no samples, labels or targets; its row reader (dataset.h) serves
 * every batch:
 *
 *   - rows of chunks this rank owns in `chunks` order (resident_chunks >
 *     0): the whole chunk (rows [c * chunk_rows, (c+1) * chunk_rows), the
 *     last one maybe short) is read with one contiguous hyperslab read and
 *     kept among resident_chunks chunks in memory (least recently used
 *     goes first), so each chunk is read once per epoch;
 *   - every other row (all rows in `global` order): per read call the rows
 *     are sorted, duplicates merged, runs of adjacent rows coalesced into
 *     one union-of-hyperslabs selection, read with ONE H5Dread per dataset
 *     (images, labels or targets), then scattered back to batch order.
 *
 * Memory per rank: the resident chunks, a staging buffer of the largest
 * read, the HDF5 chunk cache of a chunked images dataset (sized for
 * cache_rows rows: that many rows' chunks plus one, a hash table of a prime
 * number of slots well above the chunk count); nothing grows with the
 * file. With max_memory_mb > 0 these plus committed_mb (what the caller
 * already holds for the data: prefetch buffers) must fit, else
 * LMN_ERR_CONFIG naming data.max_memory; a chunk cache that cannot hold one
 * chunk within the limit is refused the same way.
 *
 * HDF5 here is not thread-safe: every read takes lmn_hdf5_lock().
 *
 * Bad input, each with a message naming the file, dataset and rows: the
 * file changed (size, modification time or inode differ from when it was
 * opened: rewritten, appended, truncated or replaced; checked on every
 * read), a read that fails, a label outside [0, num_classes). */
#ifndef LMN_IO_HDF5_ROWS_H
#define LMN_IO_HDF5_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"

/* What a file holds, before committing any memory to it. */
typedef struct lmn_hdf5_rows_info {
    int64_t count;          /* rows */
    int64_t row_bytes;      /* one sample as stored (uint8 or float32) */
    int64_t extra_row_bytes; /* its label or targets as held in memory (int32 / float32) */
    int file_chunk_rows;    /* rows per HDF5 chunk of the images; 0 = not chunked */
    int64_t chunk_bytes;    /* bytes of one HDF5 chunk of the images; 0 = not chunked */
    int64_t slab_chunks;    /* HDF5 chunks side by side that whole rows span (1 usually) */
    bool compressed;        /* the images have a filter (gzip, ...) */
    bool float_rows;        /* float32 samples (else uint8) */
} lmn_hdf5_rows_info;

/* Opens the file on this rank alone, checks it as the loader does and
 * describes it. labels_name or targets_name is NULL (classification vs
 * regression). Errors: as lmn_dataset_load_hdf5's. */
lmn_status lmn_hdf5_rows_probe(const char *path, const char *images_name, const char *labels_name,
                               const char *targets_name, lmn_hdf5_rows_info *out);

typedef struct lmn_hdf5_rows_options {
    const char *path, *images_name, *labels_name, *targets_name; /* labels or targets NULL */
    int cache_rows;       /* the most rows one read asks for: sizes the chunk cache */
    int chunk_rows;       /* `chunks` order: rows per chunk (> 0 when resident_chunks > 0) */
    int resident_chunks;  /* `chunks` order: whole chunks kept in memory; 0 = none (`global`) */
    int rank, ranks;      /* `chunks` order: this rank owns chunks c with c % ranks == rank */
    double max_memory_mb; /* 0 = no limit */
    double committed_mb;  /* data memory the caller already holds, counted against the limit */
} lmn_hdf5_rows_options;

/* Opens an out-of-core dataset (see above); caller frees with
 * lmn_dataset_free, which closes the file. num_classes is the root
 * attribute, else found by one streaming pass over the labels (in blocks,
 * no O(N) memory). Normalization and name as the in-memory loader's. */
lmn_status lmn_hdf5_rows_open(const lmn_hdf5_rows_options *options, lmn_dataset **out);

/* The smallest prime >= n (n >= 2): HDF5's chunk-cache hash size. */
uint64_t lmn_next_prime(uint64_t n);

#endif
