/* Asynchronous, double-buffered batch production (ALGORITHMS.md section 10).
 *
 * One background I/O thread calls a batch reader for the steps of a range,
 * in step order, into a small ring of buffers while the trainer consumes
 * the batch it was handed last. Hand-over uses a mutex and two condition
 * variables; nobody busy-waits. The reader is given the step number and
 * nothing else changes, so a trainer gets exactly the batches, in exactly
 * the order, it would get by calling the reader itself: results are
 * bitwise identical with prefetching on or off.
 *
 * Buffers: depth + 1 of them. The consumer holds the batch returned by the
 * last lmn_prefetcher_next() while the I/O thread fills up to `depth`
 * further steps; depth 1 is classic double buffering.
 *
 * Threads: every lmn_prefetcher_* function is called from one consumer
 * thread (the trainer's); only the reader runs on the I/O thread. A new
 * I/O thread is started by each lmn_prefetcher_start().
 *
 * OpenMP inside the reader: lmn_dataset_gather() opens OpenMP parallel
 * regions; from the I/O thread they get a team of their own, sized by that
 * thread's ICVs (OMP_NUM_THREADS by default), which then competes for cores
 * with the trainer's compute. A reader that should stay small can call
 * omp_set_num_threads(n) itself: the call affects only the calling (I/O)
 * thread, and since each start() makes a fresh thread, it belongs inside
 * the reader (it is cheap to repeat on every call).
 *
 * Ownership: lmn_prefetcher_create() allocates *out and its buffers; the
 * caller frees everything with lmn_prefetcher_free(). The reader's ctx is
 * borrowed and must outlive the range being read; the caller may change it
 * between ranges (after the previous range was consumed or stopped). */
#ifndef LMN_DATA_PREFETCH_H
#define LMN_DATA_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Produces the batch of `step` into images (at most max_floats floats) and
 * labels (at most max_labels entries), and sets *count to its number of
 * samples (0 <= *count <= max_labels). ctx carries whatever the reader needs
 * to know which samples `step` holds (plan, epoch order, rank, seed, epoch).
 * A failure is reported the usual way: lmn_fail() and a non-OK status. */
typedef lmn_status (*lmn_batch_reader)(void *ctx, int64_t step, float *images, int32_t *labels,
                                       int *count);

typedef struct lmn_prefetcher lmn_prefetcher;

/* Makes a prefetcher with depth + 1 buffers of max_floats floats and
 * max_labels labels each. Starts no thread.
 * Errors: LMN_ERR_ARG for a NULL reader or out, max_floats or max_labels
 * below 1, or depth below 1; LMN_ERR_NOMEM; LMN_ERR_INTERNAL when the
 * mutex or condition variables cannot be made. */
lmn_status lmn_prefetcher_create(lmn_batch_reader read, void *ctx, size_t max_floats,
                                 int max_labels, int depth, lmn_prefetcher **out);

/* Starts reading steps [first_step, end_step) in the background. Allowed on
 * a fresh prefetcher, after lmn_prefetcher_stop(), once every step of the
 * previous range was returned by lmn_prefetcher_next(), or once next() has
 * reported a reader failure. An empty range starts no thread.
 * Errors: LMN_ERR_ARG for end_step < first_step or while the previous range
 * still has steps to hand out; LMN_ERR_INTERNAL when the thread cannot be
 * created. */
lmn_status lmn_prefetcher_start(lmn_prefetcher *p, int64_t first_step, int64_t end_step);

/* Blocks until the next step's batch is ready and points *images, *labels
 * (may be NULL if unwanted) and *count at it. The pointers stay valid until
 * the next call of lmn_prefetcher_next(), stop(), start() or free() on p.
 * When the reader failed on this step, returns its status with its message
 * (copied from the I/O thread); every later call returns the same failure
 * until the next start(). The failing step is never skipped, and earlier
 * steps are handed out normally.
 * Errors: the reader's; LMN_ERR_ARG when no range is active (never started,
 * stopped) or all of the range's steps were already returned. */
lmn_status lmn_prefetcher_next(lmn_prefetcher *p, const float **images, const int32_t **labels,
                               int *count);

/* Cancels the reads not yet begun, waits for the one in progress (a reader
 * call cannot be interrupted), and joins the I/O thread. Afterwards next()
 * fails until start() is called again. Safe to call repeatedly, and on a
 * prefetcher never started. */
void lmn_prefetcher_stop(lmn_prefetcher *p);

/* Total seconds lmn_prefetcher_next() spent blocked waiting for a batch,
 * summed over every range since create. Near zero when reading keeps ahead
 * of computing. */
double lmn_prefetcher_wait_seconds(const lmn_prefetcher *p);

/* Stops the I/O thread if needed and frees p and its buffers; NULL is allowed. */
void lmn_prefetcher_free(lmn_prefetcher *p);

/* A reader that sleeps seconds_per_batch, then delegates to inner: emulates
 * a slow file system in benchmarks and tests. */
struct lmn_slow_reader_ctx {
    lmn_batch_reader inner;
    void *inner_ctx;
    double seconds_per_batch;
};

/* lmn_batch_reader for ctx = struct lmn_slow_reader_ctx *.
 * Errors: LMN_ERR_ARG for a NULL ctx or inner, or a negative or non-finite
 * seconds_per_batch; otherwise the inner reader's. */
lmn_status lmn_slow_reader(void *ctx, int64_t step, float *images, int32_t *labels, int *count);

#endif
