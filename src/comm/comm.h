/* The MPI layer. Every collective that moves model data goes through
 * here, so bytes and seconds are counted in one place.
 *
 * Byte accounting counts what THIS rank sends under the bandwidth-optimal
 * algorithm of each collective (an allreduce of S bytes over P ranks sends
 * 2 (P-1)/P S per rank; a broadcast sends S from the root). MPI may choose
 * another algorithm internally; the model makes methods comparable. Small
 * control reductions (metrics, agreement on errors) are not counted. */
#ifndef LMN_COMM_COMM_H
#define LMN_COMM_COMM_H

#include <mpi.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/status.h"

/* The collective a communicator is in, for the watchdog (comm/watchdog.h):
 * written by the thread that calls the collective, read by the watchdog's
 * thread, hence atomics (relaxed: a report may be a moment stale). */
typedef struct lmn_collective_record {
    _Atomic(const char *) name;   /* the latest collective entered; NULL = none yet */
    atomic_llong sequence;        /* collectives entered so far (1 = the first) */
    atomic_llong count;           /* elements the latest one moves */
    atomic_llong entered_ms;      /* when it was entered (lmn_now, milliseconds) */
    atomic_int inside;            /* 1 until it returns */
} lmn_collective_record;

typedef struct lmn_comm {
    MPI_Comm comm;   /* owned duplicate */
    int rank, size;
    int local_rank, local_size; /* among ranks on this node */
    double bytes_sent;          /* model traffic sent by this rank, cumulative */
    double seconds;             /* time inside counted collectives, cumulative */
    lmn_collective_record own_record;
    lmn_collective_record *record; /* own_record, or a parent's (lmn_comm_share_record) */
} lmn_comm;

/* Initializes MPI (thread level MULTIPLE requested) unless already done. */
lmn_status lmn_mpi_init(int *argc, char ***argv);
/* Finalizes MPI if lamina initialized it and it is not finalized. */
void lmn_mpi_finalize(void);

/* Wraps a duplicate of parent. Free with lmn_comm_free. */
lmn_status lmn_comm_create(MPI_Comm parent, lmn_comm **out);
void lmn_comm_free(lmn_comm *comm);
/* child's collectives are reported in parent's record: for communicators
 * the same thread uses in turn (local SGD groups), so the watchdog reads
 * one record per thread. parent must outlive child. */
void lmn_comm_share_record(lmn_comm *child, lmn_comm *parent);
/* Marks entry into / exit from a collective named `name` (a string
 * literal) of count elements; every collective here and in reduce.c does. */
void lmn_comm_enter(lmn_comm *comm, const char *name, size_t count);
void lmn_comm_leave(lmn_comm *comm);

/* In-place sum of count floats over all ranks (counted). */
lmn_status lmn_comm_allreduce_sum(lmn_comm *comm, float *values, size_t count);
/* Copies count floats from root to all ranks (counted). */
lmn_status lmn_comm_broadcast(lmn_comm *comm, float *values, size_t count, int root);
/* In-place sum of a few doubles (metrics; not counted). */
lmn_status lmn_comm_sum_doubles(lmn_comm *comm, double *values, int count);
/* In-place maximum of a few doubles (not counted). */
lmn_status lmn_comm_max_doubles(lmn_comm *comm, double *values, int count);

/* Makes every rank agree on failure: returns LMN_OK only if `local` is OK
 * on every rank; otherwise every rank returns the status of the lowest
 * failing rank with its message, prefixed by "rank R". */
lmn_status lmn_comm_agree(lmn_comm *comm, lmn_status local);

#endif
