/* ONE communication thread per rank, fed by a FIFO queue (ALGORITHMS.md 1).
 *
 * The compute thread submits jobs (a function and an argument) and later
 * waits for a job's ticket; the thread runs jobs in submission order, so
 * every rank issues its collectives in the same order. Jobs must use their
 * own communicator (not one the compute thread uses at the same time);
 * MPI must provide MPI_THREAD_MULTIPLE (or SERIALIZED use is guaranteed by
 * the caller never calling MPI while jobs are pending). */
#ifndef LMN_COMM_COMM_THREAD_H
#define LMN_COMM_COMM_THREAD_H

#include <stdint.h>

#include "core/status.h"

typedef struct lmn_comm_thread lmn_comm_thread;
typedef lmn_status (*lmn_comm_job)(void *ctx, int argument);

lmn_status lmn_comm_thread_create(lmn_comm_thread **out);
/* Waits for queued jobs, then stops the thread. NULL is allowed. */
void lmn_comm_thread_free(lmn_comm_thread *thread);

/* Queues job(ctx, argument); *ticket identifies it for lmn_comm_thread_wait. */
lmn_status lmn_comm_thread_submit(lmn_comm_thread *thread, lmn_comm_job job, void *ctx,
                                  int argument, uint64_t *ticket);
/* Blocks until the job with this ticket (and every earlier one) is done.
 * Returns the first failure of any job so far, with its message.
 * *waited (may be NULL) receives the seconds spent blocked. */
lmn_status lmn_comm_thread_wait(lmn_comm_thread *thread, uint64_t ticket, double *waited);

#endif
