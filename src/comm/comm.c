#include "comm/comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

/* MPI counts are ints: large buffers go in chunks of this many floats. */
enum { CHUNK = 1 << 30 };

static lmn_status mpi_error(int code, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    return lmn_fail(LMN_ERR_MPI, "%s failed: %s", what, text);
}

lmn_status lmn_mpi_init(int *argc, char ***argv)
{
    int initialized = 0, provided = 0;
    MPI_Initialized(&initialized);
    if (initialized) return LMN_OK;
    const int code = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    if (code != MPI_SUCCESS) return mpi_error(code, "MPI_Init_thread");
    return LMN_OK;
}

void lmn_mpi_finalize(void)
{
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
}

lmn_status lmn_comm_create(MPI_Comm parent, lmn_comm **out)
{
    *out = NULL;
    lmn_comm *comm = calloc(1, sizeof *comm);
    if (!comm) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate a communicator");
    int code = MPI_Comm_dup(parent, &comm->comm);
    if (code != MPI_SUCCESS) {
        free(comm);
        return mpi_error(code, "MPI_Comm_dup");
    }
    MPI_Comm_set_errhandler(comm->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm->comm, &comm->rank);
    MPI_Comm_size(comm->comm, &comm->size);
    MPI_Comm node;
    code = MPI_Comm_split_type(comm->comm, MPI_COMM_TYPE_SHARED, comm->rank, MPI_INFO_NULL, &node);
    if (code != MPI_SUCCESS) {
        lmn_comm_free(comm);
        return mpi_error(code, "MPI_Comm_split_type");
    }
    MPI_Comm_rank(node, &comm->local_rank);
    MPI_Comm_size(node, &comm->local_size);
    MPI_Comm_free(&node);
    comm->record = &comm->own_record;
    *out = comm;
    return LMN_OK;
}

void lmn_comm_free(lmn_comm *comm)
{
    if (!comm) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm->comm != MPI_COMM_NULL) MPI_Comm_free(&comm->comm);
    free(comm);
}

void lmn_comm_share_record(lmn_comm *child, lmn_comm *parent) { child->record = parent->record; }

void lmn_comm_enter(lmn_comm *comm, const char *name, size_t count)
{
    lmn_collective_record *r = comm->record;
    if (!r) return;
    atomic_store_explicit(&r->name, name, memory_order_relaxed);
    atomic_store_explicit(&r->count, (long long)count, memory_order_relaxed);
    atomic_store_explicit(&r->entered_ms, (long long)(lmn_now() * 1e3), memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sequence, 1, memory_order_relaxed);
    atomic_store_explicit(&r->inside, 1, memory_order_release);
}

void lmn_comm_leave(lmn_comm *comm)
{
    if (comm->record) atomic_store_explicit(&comm->record->inside, 0, memory_order_release);
}

lmn_status lmn_comm_allreduce_sum(lmn_comm *comm, float *values, size_t count)
{
    if (comm->size == 1) return LMN_OK;
    const double start = lmn_now();
    lmn_comm_enter(comm, "allreduce", count);
    for (size_t done = 0; done < count; done += CHUNK) {
        const int n = (int)(count - done < CHUNK ? count - done : CHUNK);
        const int code = MPI_Allreduce(MPI_IN_PLACE, values + done, n, MPI_FLOAT, MPI_SUM, comm->comm);
        if (code != MPI_SUCCESS) {
            lmn_comm_leave(comm);
            return mpi_error(code, "MPI_Allreduce");
        }
    }
    lmn_comm_leave(comm);
    comm->seconds += lmn_now() - start;
    comm->bytes_sent += 2.0 * (comm->size - 1) / comm->size * (double)count * sizeof(float);
    return LMN_OK;
}

lmn_status lmn_comm_broadcast(lmn_comm *comm, float *values, size_t count, int root)
{
    if (comm->size == 1) return LMN_OK;
    const double start = lmn_now();
    lmn_comm_enter(comm, "broadcast", count);
    for (size_t done = 0; done < count; done += CHUNK) {
        const int n = (int)(count - done < CHUNK ? count - done : CHUNK);
        const int code = MPI_Bcast(values + done, n, MPI_FLOAT, root, comm->comm);
        if (code != MPI_SUCCESS) {
            lmn_comm_leave(comm);
            return mpi_error(code, "MPI_Bcast");
        }
    }
    lmn_comm_leave(comm);
    comm->seconds += lmn_now() - start;
    if (comm->rank == root) comm->bytes_sent += (double)count * sizeof(float);
    return LMN_OK;
}

static lmn_status reduce_doubles(lmn_comm *comm, double *values, int count, MPI_Op op)
{
    if (comm->size == 1) return LMN_OK;
    lmn_comm_enter(comm, "allreduce of scalars", (size_t)count);
    const int code = MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, op, comm->comm);
    lmn_comm_leave(comm);
    return code == MPI_SUCCESS ? LMN_OK : mpi_error(code, "MPI_Allreduce");
}

lmn_status lmn_comm_sum_doubles(lmn_comm *comm, double *values, int count)
{
    return reduce_doubles(comm, values, count, MPI_SUM);
}

lmn_status lmn_comm_max_doubles(lmn_comm *comm, double *values, int count)
{
    return reduce_doubles(comm, values, count, MPI_MAX);
}

lmn_status lmn_comm_agree(lmn_comm *comm, lmn_status local)
{
    if (comm->size == 1) return local;
    /* Lowest failing rank wins: reduce (failed ? rank : size) with MIN. */
    int failing = local != LMN_OK ? comm->rank : comm->size;
    lmn_comm_enter(comm, "error agreement", 1);
    int code = MPI_Allreduce(MPI_IN_PLACE, &failing, 1, MPI_INT, MPI_MIN, comm->comm);
    lmn_comm_leave(comm);
    if (code != MPI_SUCCESS) return mpi_error(code, "MPI_Allreduce (error agreement)");
    if (failing == comm->size) return LMN_OK;
    char message[1024] = {0};
    int status = (int)local;
    if (comm->rank == failing) snprintf(message, sizeof message, "%s", lmn_last_error());
    MPI_Bcast(&status, 1, MPI_INT, failing, comm->comm);
    code = MPI_Bcast(message, sizeof message, MPI_CHAR, failing, comm->comm);
    if (code != MPI_SUCCESS) return mpi_error(code, "MPI_Bcast (error agreement)");
    if (comm->size > 1 && strncmp(message, "rank ", 5) != 0)
        return lmn_fail((lmn_status)status, "rank %d: %s", failing, message);
    return lmn_fail((lmn_status)status, "%s", message);
}
