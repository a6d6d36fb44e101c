#include "comm/reduce.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/timer.h"

lmn_status lmn_reducer_init(lmn_reducer *r, lmn_comm *comm, lmn_wire wire, float predivide)
{
    *r = (lmn_reducer){.comm = comm, .wire = wire,
                       .predivide = predivide > 0.0f ? predivide : (float)comm->size};
    r->counts = calloc(2 * (size_t)comm->size, sizeof *r->counts);
    if (!r->counts) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate reduction counts");
    r->displacements = r->counts + comm->size;
    return LMN_OK;
}

void lmn_reducer_free(lmn_reducer *r)
{
    free(r->send);
    free(r->receive);
    free(r->counts);
    *r = (lmn_reducer){0};
}

void lmn_slice(size_t count, int parts, int index, size_t *first, size_t *length)
{
    const size_t base = count / (size_t)parts, extra = count % (size_t)parts;
    const size_t i = (size_t)index;
    *first = i * base + (i < extra ? i : extra);
    *length = base + (i < extra ? 1 : 0);
}

static lmn_status reserve(lmn_reducer *r, size_t bytes)
{
    if (bytes <= r->capacity) return LMN_OK;
    void *send = realloc(r->send, bytes), *receive = NULL;
    if (send) r->send = send;
    if (send) receive = realloc(r->receive, bytes);
    if (!send || !receive) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate %zu bytes for a reduction", bytes);
    r->receive = receive;
    r->capacity = bytes;
    return LMN_OK;
}

static lmn_status check_count(size_t count)
{
    if (count > (size_t)INT_MAX)
        return lmn_fail(LMN_ERR_ARG, "a reduction of %zu values is larger than MPI's int counts", count);
    return LMN_OK;
}

static void slice_layout(const lmn_reducer *r, size_t count, int scale)
{
    for (int i = 0; i < r->comm->size; i++) {
        size_t first, length;
        lmn_slice(count, r->comm->size, i, &first, &length);
        r->counts[i] = (int)length * scale;
        r->displacements[i] = (int)first * scale;
    }
}

static void charge(lmn_reducer *r, double bytes, double start)
{
    r->comm->bytes_sent += bytes;
    r->comm->seconds += lmn_now() - start;
}

/* Completes a non-blocking collective: MPI_Wait, or polling every 20 us
 * when polite. */
static int wait_for(const lmn_reducer *r, MPI_Request *request)
{
    if (!r->polite) return MPI_Wait(request, MPI_STATUS_IGNORE);
    const struct timespec pause = {0, 20000};
    for (;;) {
        int done = 0;
        const int code = MPI_Test(request, &done, MPI_STATUS_IGNORE);
        if (code != MPI_SUCCESS || done) return code;
        nanosleep(&pause, NULL);
    }
}

/* The wait is where a rank blocks on a missing peer: the watchdog sees it. */
static int finish(const lmn_reducer *r, MPI_Request *request, const char *name, size_t count)
{
    lmn_comm_enter(r->comm, name, count);
    const int code = wait_for(r, request);
    lmn_comm_leave(r->comm);
    return code;
}

static lmn_status mpi_failed(const char *what)
{
    return lmn_fail(LMN_ERR_MPI, "%s failed during a gradient reduction", what);
}

/* Sums the P received copies of this rank's slice, in rank order. */
static void sum_received(const lmn_reducer *r, float *slice, size_t length)
{
    const int ranks = r->comm->size;
    if (r->wire == LMN_WIRE_FP32) {
        const float *copies = r->receive;
        memcpy(slice, copies, length * sizeof(float));
        for (int k = 1; k < ranks; k++)
            for (size_t j = 0; j < length; j++) slice[j] += copies[(size_t)k * length + j];
        return;
    }
    /* Decoded in blocks that stay in cache, then added in rank order. */
    enum { BLOCK = 2048 };
    const uint16_t *copies = r->receive;
    float decoded[BLOCK];
    for (size_t begin = 0; begin < length; begin += BLOCK) {
        const size_t n = length - begin < BLOCK ? length - begin : BLOCK;
        lmn_wire_decode(r->wire, copies + begin, slice + begin, n, 1.0f);
        for (int k = 1; k < ranks; k++) {
            lmn_wire_decode(r->wire, copies + (size_t)k * length + begin, decoded, n, 1.0f);
            for (size_t j = 0; j < n; j++) slice[begin + j] += decoded[j];
        }
    }
}

/* Scatter half of a reduction; the slice keeps the pre-divided scale. */
static lmn_status scatter_and_sum(lmn_reducer *r, float *values, size_t count)
{
    const int ranks = r->comm->size, rank = r->comm->rank;
    const size_t bytes = lmn_wire_bytes(r->wire);
    size_t first, length;
    lmn_slice(count, ranks, rank, &first, &length);
    LMN_TRY(reserve(r, count * bytes > length * ranks * bytes ? count * bytes : length * ranks * bytes));
    const void *send = values;
    if (r->wire != LMN_WIRE_FP32) {
        lmn_wire_encode(r->wire, values, r->send, count, 1.0f / r->predivide);
        send = r->send;
    }
    slice_layout(r, count, 1);
    int *receive_counts = malloc(2 * sizeof(int) * (size_t)ranks);
    if (!receive_counts) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate reduction counts");
    int *receive_displacements = receive_counts + ranks;
    for (int k = 0; k < ranks; k++) {
        receive_counts[k] = (int)length;
        receive_displacements[k] = k * (int)length;
    }
    const MPI_Datatype type = r->wire == LMN_WIRE_FP32 ? MPI_FLOAT : MPI_UINT16_T;
    MPI_Request request;
    int code = MPI_Ialltoallv(send, r->counts, r->displacements, type, r->receive, receive_counts,
                              receive_displacements, type, r->comm->comm, &request);
    if (code == MPI_SUCCESS) code = finish(r, &request, "reduce-scatter (alltoallv)", count);
    free(receive_counts);
    if (code != MPI_SUCCESS) return mpi_failed("MPI_Alltoallv");
    sum_received(r, values + first, length);
    return LMN_OK;
}

lmn_status lmn_reduce_scatter(lmn_reducer *r, float *values, size_t count)
{
    if (r->comm->size == 1) return LMN_OK;
    LMN_TRY(check_count(count));
    const double start = lmn_now();
    LMN_TRY(scatter_and_sum(r, values, count));
    size_t first, length;
    lmn_slice(count, r->comm->size, r->comm->rank, &first, &length);
    if (r->wire != LMN_WIRE_FP32)
        for (size_t j = first; j < first + length; j++) values[j] *= r->predivide;
    charge(r, (double)(count - length) * (double)lmn_wire_bytes(r->wire), start);
    return LMN_OK;
}

/* Every rank's slice of buffer (count values of type) reaches every rank. */
static lmn_status gather_in_place(lmn_reducer *r, void *buffer, size_t count, MPI_Datatype type)
{
    slice_layout(r, count, 1);
    MPI_Request request;
    int code = MPI_Iallgatherv(MPI_IN_PLACE, 0, type, buffer, r->counts, r->displacements, type,
                               r->comm->comm, &request);
    if (code == MPI_SUCCESS) code = finish(r, &request, "allgather", count);
    return code == MPI_SUCCESS ? LMN_OK : mpi_failed("MPI_Allgatherv");
}

static lmn_status gather_fp32(lmn_reducer *r, float *values, size_t count)
{
    return gather_in_place(r, values, count, MPI_FLOAT);
}

lmn_status lmn_allgather_slices(lmn_reducer *r, float *values, size_t count)
{
    if (r->comm->size == 1) return LMN_OK;
    LMN_TRY(check_count(count));
    const double start = lmn_now();
    LMN_TRY(gather_fp32(r, values, count));
    size_t first, length;
    lmn_slice(count, r->comm->size, r->comm->rank, &first, &length);
    charge(r, (double)length * (r->comm->size - 1) * sizeof(float), start);
    return LMN_OK;
}

/* Allgather of the summed slices in the wire format; every rank decodes the
 * same 16-bit values, the owner included. */
static lmn_status gather_wire(lmn_reducer *r, float *values, size_t count)
{
    size_t first, length;
    lmn_slice(count, r->comm->size, r->comm->rank, &first, &length);
    uint16_t *wire = r->send;
    lmn_wire_encode(r->wire, values + first, wire + first, length, 1.0f);
    LMN_TRY(gather_in_place(r, wire, count, MPI_UINT16_T));
    lmn_wire_decode(r->wire, wire, values, count, r->predivide);
    return LMN_OK;
}

lmn_status lmn_allreduce(lmn_reducer *r, float *values, size_t count)
{
    if (r->comm->size == 1) return LMN_OK;
    LMN_TRY(check_count(count));
    const double start = lmn_now();
    LMN_TRY(scatter_and_sum(r, values, count));
    LMN_TRY(r->wire == LMN_WIRE_FP32 ? gather_fp32(r, values, count) : gather_wire(r, values, count));
    size_t first, length;
    lmn_slice(count, r->comm->size, r->comm->rank, &first, &length);
    const double sent = (double)(count - length) + (double)length * (r->comm->size - 1);
    charge(r, sent * (double)lmn_wire_bytes(r->wire), start);
    return LMN_OK;
}

lmn_status lmn_allgather_pieces(lmn_reducer *r, const float *mine, size_t mine_count, float *all,
                                size_t *all_count)
{
    const int ranks = r->comm->size;
    LMN_TRY(check_count(mine_count));
    const double start = lmn_now();
    int mine_int = (int)mine_count;
    lmn_comm_enter(r->comm, "allgather of piece sizes", 1);
    const int sized = MPI_Allgather(&mine_int, 1, MPI_INT, r->counts, 1, MPI_INT, r->comm->comm);
    lmn_comm_leave(r->comm);
    if (sized != MPI_SUCCESS) return mpi_failed("MPI_Allgather of piece sizes");
    size_t total = 0;
    for (int k = 0; k < ranks; k++) {
        if (total > (size_t)INT_MAX) return check_count(total);
        r->displacements[k] = (int)total;
        total += (size_t)r->counts[k];
    }
    LMN_TRY(check_count(total));
    MPI_Request request;
    int code = MPI_Iallgatherv(mine, mine_int, MPI_FLOAT, all, r->counts, r->displacements,
                               MPI_FLOAT, r->comm->comm, &request);
    if (code == MPI_SUCCESS) code = finish(r, &request, "allgather of pieces", mine_count);
    if (code != MPI_SUCCESS) return mpi_failed("MPI_Allgatherv");
    *all_count = total;
    charge(r, (double)mine_count * (ranks - 1) * sizeof(float), start);
    return LMN_OK;
}
