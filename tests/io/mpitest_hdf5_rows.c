/* Out-of-core HDF5: the row reader gathers exactly the bits the in-memory
 * loader gathers (contiguous, chunked with a chunk size that does not
 * divide the rows, gzip); the `chunks` order read through it delivers every
 * row exactly once per epoch across the ranks (run on 1, 2 and 3 ranks);
 * a file changed under a reader is reported, naming it; a file whose chunk
 * rank disagrees with its dataset's (corrupt) is refused by name, out of
 * core and in memory. */
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "data/chunk_order.h"
#include "data/dataset.h"
#include "io/hdf5_dataset.h"
#include "io/hdf5_rows.h"
#include "test.h"

enum { ROWS = 1001, SIDE = 4, VALUES = SIDE * SIDE, CHUNK = 7, BATCH = 30, PER_BUFFER = 3 };

typedef enum { CONTIGUOUS, CHUNKED, GZIP } layout_kind;

/* Row i: its index in pixels 0 and 1, then a pattern; label i % 10. */
static void write_file(const char *path, layout_kind kind)
{
    uint8_t *images = malloc((size_t)ROWS * VALUES);
    int64_t labels[ROWS];
    for (int i = 0; i < ROWS; i++) {
        for (int j = 0; j < VALUES; j++) images[i * VALUES + j] = (uint8_t)(i * 7 + j * 13);
        images[i * VALUES] = (uint8_t)(i & 255);
        images[i * VALUES + 1] = (uint8_t)(i >> 8);
        labels[i] = i % 10;
    }
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[4] = {ROWS, 1, SIDE, SIDE}, chunk[4] = {CHUNK, 1, SIDE, SIDE}, count = ROWS;
    hid_t create = H5Pcreate(H5P_DATASET_CREATE);
    if (kind != CONTIGUOUS) H5Pset_chunk(create, 4, chunk);
    if (kind == GZIP) H5Pset_deflate(create, 4);
    hid_t space = H5Screate_simple(4, dims, NULL), label_space = H5Screate_simple(1, &count, NULL);
    hid_t set = H5Dcreate2(file, "images", H5T_NATIVE_UINT8, space, H5P_DEFAULT, create, H5P_DEFAULT);
    CHECK(set >= 0 && H5Dwrite(set, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, images) >= 0);
    H5Dclose(set);
    set = H5Dcreate2(file, "labels", H5T_STD_U8LE, label_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(set >= 0 && H5Dwrite(set, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) >= 0);
    H5Dclose(set);
    H5Sclose(space);
    H5Sclose(label_space);
    H5Pclose(create);
    H5Fclose(file);
    free(images);
}

static lmn_status open_rows(const char *path, int resident, int rank, int ranks, lmn_dataset **out)
{
    const lmn_hdf5_rows_options options = {.path = path, .images_name = "images",
                                           .labels_name = "labels", .cache_rows = 64,
                                           .chunk_rows = CHUNK, .resident_chunks = resident,
                                           .rank = rank, .ranks = ranks};
    return lmn_hdf5_rows_open(&options, out);
}

/* Out of core == in memory, bit for bit, for indices in any order, repeated. */
static void check_same_bits(const char *path)
{
    lmn_dataset *memory = NULL, *rows = NULL;
    CHECK_OK(lmn_dataset_load_hdf5(path, "images", "labels", MPI_COMM_WORLD, &memory));
    CHECK_OK(open_rows(path, 0, 0, 1, &rows));
    if (!memory || !rows) return;
    CHECK(rows->labels == NULL && rows->pixels == NULL && rows->num_classes == 10);
    uint32_t indices[64];
    for (int i = 0; i < 64; i++) indices[i] = (uint32_t)((i * 389 + 11) % ROWS);
    indices[10] = indices[3];       /* a duplicate */
    indices[20] = indices[19] + 1;  /* a run */
    float a[64 * VALUES], b[64 * VALUES];
    int32_t la[64], lb[64];
    CHECK_OK(lmn_dataset_gather(memory, indices, 64, 1, 0, a, la));
    CHECK_OK(lmn_dataset_gather(rows, indices, 64, 1, 0, b, lb));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(la, lb, sizeof la) == 0);
    lmn_dataset_free(memory);
    lmn_dataset_free(rows);
}

/* Reads this rank's slices of an epoch in `chunks` order and counts rows. */
static void count_epoch(lmn_dataset *rows, int epoch, int rank, int ranks, int *seen)
{
    const lmn_chunk_layout layout = {ROWS, CHUNK, PER_BUFFER, ranks};
    lmn_epoch_plan plan;
    uint32_t order[ROWS];
    CHECK_OK(lmn_epoch_plan_make(ROWS, BATCH, false, &plan));
    CHECK_OK(lmn_chunk_epoch_order(&layout, &plan, 3, (uint64_t)epoch, true, order));
    float images[BATCH * VALUES];
    int32_t labels[BATCH];
    for (int64_t step = 0; step < plan.steps; step++) {
        int64_t first;
        int count;
        lmn_epoch_plan_rank_slice(&plan, step, rank, ranks, &first, &count);
        if (count == 0) continue;
        CHECK_OK(lmn_dataset_gather(rows, order + first, count, 3, (uint64_t)epoch, images, labels));
        for (int k = 0; k < count; k++) {
            const int id = (int)lrintf(images[k * VALUES] * 255.0f) +
                           256 * (int)lrintf(images[k * VALUES + 1] * 255.0f);
            CHECK(id == (int)order[first + k] && labels[k] == id % 10);
            if (id >= 0 && id < ROWS) seen[id]++;
        }
    }
}

static void check_chunks_once(const char *path, int rank, int ranks)
{
    lmn_dataset *rows = NULL;
    CHECK_OK(open_rows(path, 2 * PER_BUFFER, rank, ranks, &rows));
    if (!rows) return;
    for (int epoch = 0; epoch < 2; epoch++) {
        int seen[ROWS] = {0};
        count_epoch(rows, epoch, rank, ranks, seen);
        MPI_Allreduce(MPI_IN_PLACE, seen, ROWS, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        int wrong = 0;
        for (int i = 0; i < ROWS; i++) wrong += seen[i] != 1;
        CHECK_MSG(wrong == 0, "epoch %d on %d ranks: %d rows not read exactly once", epoch, ranks,
                  wrong);
    }
    lmn_dataset_free(rows);
}

/* Appending to the file under an open reader: the next read says so. */
static void check_changed_file(const char *path, int rank)
{
    lmn_dataset *rows = NULL;
    CHECK_OK(open_rows(path, 0, 0, 1, &rows));
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        FILE *file = fopen(path, "ab");
        CHECK(file && fputs("more", file) >= 0);
        if (file) fclose(file);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const uint32_t index = 5;
    float image[VALUES];
    int32_t label;
    const lmn_status status = rows ? lmn_dataset_gather(rows, &index, 1, 1, 0, image, &label) : LMN_OK;
    CHECK(status == LMN_ERR_IO);
    CHECK_MSG(strstr(lmn_last_error(), "changed during training") && strstr(lmn_last_error(), path),
              "message: %s", lmn_last_error());
    lmn_dataset_free(rows);
}

/* The layout message of a chunked 4-D dataset (HDF5 1.10, version 3):
 * version 3, class 2 (chunked), the chunk's rank + 1, the B-tree address (8
 * bytes), then the chunk's dimensions (4 bytes each). Patching it leaves a
 * corrupt file HDF5 still opens: chunks of another rank (the row reader's
 * rows-per-chunk arithmetic divided by zero, found by the hdf5_dataset
 * fuzzer), larger than a fixed dimension (HDF5 then reads past its
 * buffers), or empty (HDF5 cannot open the dataset: the message must not
 * say it is missing). Out of core and in memory, each is refused by name. */
typedef struct layout_patch {
    int offset; /* from the rank byte */
    uint32_t value;
    int width;
    const char *expected;
} layout_patch;

static void patch_layout(const char *path, layout_patch patch)
{
    FILE *file = fopen(path, "r+b");
    CHECK(file != NULL);
    if (!file) return;
    uint8_t bytes[4096];
    const size_t size = fread(bytes, 1, sizeof bytes, file);
    long at = -1;
    int found = 0;
    for (size_t i = 0; i + 2 < size; i++)
        if (bytes[i] == 3 && bytes[i + 1] == 2 && bytes[i + 2] == 5) at = (long)i + 2, found++;
    CHECK_MSG(found == 1, "layout messages found: %d", found);
    const uint8_t little_endian[4] = {(uint8_t)patch.value, (uint8_t)(patch.value >> 8),
                                      (uint8_t)(patch.value >> 16), (uint8_t)(patch.value >> 24)};
    if (found == 1 && fseek(file, at + patch.offset, SEEK_SET) == 0)
        CHECK(fwrite(little_endian, 1, (size_t)patch.width, file) == (size_t)patch.width);
    fclose(file);
}

static void check_corrupt_layout(const char *path, layout_patch patch)
{
    patch_layout(path, patch);
    lmn_hdf5_rows_info info;
    CHECK(lmn_hdf5_rows_probe(path, "images", "labels", NULL, &info) == LMN_ERR_FORMAT);
    CHECK_MSG(strstr(lmn_last_error(), path) && strstr(lmn_last_error(), patch.expected) &&
              strstr(lmn_last_error(), "corrupt"), "message: %s", lmn_last_error());
    lmn_dataset *rows = NULL;
    CHECK(open_rows(path, 0, 0, 1, &rows) == LMN_ERR_FORMAT && rows == NULL);
    CHECK_MSG(strstr(lmn_last_error(), patch.expected), "message: %s", lmn_last_error());
    lmn_dataset_free(rows);
    lmn_dataset *loaded = NULL;
    CHECK(lmn_dataset_load_hdf5(path, "images", "labels", MPI_COMM_SELF, &loaded) == LMN_ERR_FORMAT);
    CHECK_MSG(strstr(lmn_last_error(), patch.expected), "message: %s", lmn_last_error());
    lmn_dataset_free(loaded);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    char dir[256] = "";
    if (rank == 0) snprintf(dir, sizeof dir, "/tmp/lmn_rows_%d", (int)getpid());
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    static const char *const names[] = {"contiguous", "chunked", "gzip"};
    for (int kind = CONTIGUOUS; kind <= GZIP; kind++) {
        char path[300];
        snprintf(path, sizeof path, "%s_%s.h5", dir, names[kind]);
        if (rank == 0) write_file(path, (layout_kind)kind);
        MPI_Barrier(MPI_COMM_WORLD);
        check_same_bits(path);
        check_chunks_once(path, rank, ranks);
        if (kind == CHUNKED) check_changed_file(path, rank);
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) unlink(path);
    }
    static const layout_patch patches[] = {
        {0, 4, 1, "chunks of rank 3"},          {0, 6, 1, "chunks of rank 5"},
        {1 + 8 + 2 * 4, 65536, 4, "along dimension 2"}, {1 + 8 + 1 * 4, 0, 4, "cannot open as a dataset"}};
    for (size_t i = 0; rank == 0 && i < sizeof patches / sizeof *patches; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s_layout_%zu.h5", dir, i);
        write_file(path, CHUNKED);
        check_corrupt_layout(path, patches[i]);
        unlink(path);
    }
    const int failed = lmn_test_summary("mpitest_hdf5_rows");
    int worst = failed;
    MPI_Allreduce(&failed, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return worst;
}
