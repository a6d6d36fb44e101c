/* A per-rank watchdog for hung collectives (parallel.timeout_seconds).
 *
 * A stopped or stuck rank leaves every other rank blocked in a collective
 * forever. The training loop marks progress (a step, an evaluation batch,
 * a checkpoint, a federated round ended); a thread checks that the time
 * since the last mark stays under a deadline. When it does not, the rank
 * prints what it was doing and which collective it is blocked in (read
 * from the communicators' collective records, comm/comm.h), and the job
 * ends through MPI_Abort: nothing is written from the half-done step.
 *
 * A blocked rank cannot tell, without communicating, WHICH rank it waits
 * for. So on expiry every rank sends its one-line report to rank 0 (point
 * to point, once, on its own communicator; nothing per step), and rank 0
 * names the ranks whose report did not arrive within a grace period: those
 * are stopped, dead or stuck outside MPI. If rank 0 itself is the stuck
 * one, the others still print their own reports and abort.
 *
 * Deadline (auto): max(60 s, 20 x the slowest interval seen of the same
 * kind). The first interval of a kind (start-up with oneDNN primitive
 * creation and the first step, the first evaluation batch, the first
 * checkpoint, the first round) and the first step after the batch size
 * changed get max(600 s, 20 x the slowest interval of any kind). A fixed
 * timeout applies to every interval as given. */
#ifndef LMN_COMM_WATCHDOG_H
#define LMN_COMM_WATCHDOG_H

#include <stdint.h>
#include <stdio.h>

#include "comm/comm.h"

typedef enum lmn_watch_activity {
    LMN_WATCH_STARTUP,    /* never adapts: first steps, a new batch size */
    LMN_WATCH_STEP,
    LMN_WATCH_EVALUATION, /* one evaluation batch */
    LMN_WATCH_CHECKPOINT,
    LMN_WATCH_ROUND,      /* one federated round */
    LMN_WATCH_KINDS
} lmn_watch_activity;

typedef struct lmn_watchdog lmn_watchdog;

/* timeout_seconds: < 0 automatic, 0 off (*out = NULL, no thread), > 0
 * fixed. Watches comm (the compute thread's collectives) and, when not
 * NULL, thread_comm (a communication thread's). Collective over comm.
 * Free with lmn_watchdog_stop. */
lmn_status lmn_watchdog_start(lmn_comm *comm, lmn_comm *thread_comm, double timeout_seconds,
                              lmn_watchdog **out);
/* Stops the thread and frees the watchdog; NULL is allowed. Not collective. */
void lmn_watchdog_stop(lmn_watchdog *watchdog);

/* The interval before this call ended; `next` is starting, at training
 * step `step` (global, 0-based). NULL watchdog: nothing. */
void lmn_watchdog_progress(lmn_watchdog *watchdog, lmn_watch_activity next, int64_t step);

/* The deadline for an interval of kind `kind` (seconds; for tests). */
double lmn_watchdog_deadline(const lmn_watchdog *watchdog, lmn_watch_activity kind);

#endif
