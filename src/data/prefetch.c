#include "data/prefetch.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/memory.h"
#include "core/timer.h"

/* Large enough for any lmn_fail() message (status.c keeps 2048 bytes). */
enum { PREFETCH_MESSAGE_CAPACITY = 2048 };

typedef struct batch_slot {
    float *images;
    int32_t *labels;
    int count;
} batch_slot;

/* Steps of the active range are numbered 0..total-1 relative to first_step
 * and step i lives in slot i % slot_count. Counters only grow within a range:
 *   released <= consumed <= produced <= total,
 * and the I/O thread may fill step `produced` only while fewer than
 * slot_count steps are produced but not yet released, so it never writes
 * the slot the consumer still holds; slot contents are written outside the
 * lock under that rule. The fields from `lock` on are shared with the I/O
 * thread and guarded by it, except first_step and total, which start()
 * sets before the thread exists. */
struct lmn_prefetcher {
    lmn_batch_reader read;
    void *ctx;
    int max_labels;
    int slot_count;
    batch_slot *slots;
    double wait_seconds; /* touched by the consumer thread only */

    pthread_t thread;
    bool thread_running; /* created and not yet joined; consumer-side */
    bool active;         /* a range was started and not stopped; consumer-side */

    pthread_mutex_t lock;
    pthread_cond_t batch_ready; /* produced grew or the reader failed */
    pthread_cond_t slot_free;   /* released grew or cancel was set */
    int64_t first_step, total;
    int64_t produced, consumed, released;
    bool cancel;
    lmn_status failure;   /* LMN_OK, or the reader's status at step `produced` */
    char failure_message[PREFETCH_MESSAGE_CAPACITY];
};

/* Frees the buffers and p itself; the synchronization objects are the
 * caller's business (they may not exist yet). */
static void free_buffers(lmn_prefetcher *p)
{
    if (p->slots)
        for (int i = 0; i < p->slot_count; i++) {
            lmn_free(p->slots[i].images);
            lmn_free(p->slots[i].labels);
        }
    lmn_free(p->slots);
    lmn_free(p);
}

static lmn_status allocate_slots(lmn_prefetcher *p, size_t max_floats)
{
    LMN_TRY(lmn_alloc_bytes((void **)&p->slots, sizeof *p->slots * (size_t)p->slot_count,
                            "prefetcher slots"));
    for (int i = 0; i < p->slot_count; i++) {
        LMN_TRY(lmn_alloc_floats(&p->slots[i].images, max_floats, "prefetch image buffer"));
        LMN_TRY(lmn_alloc_bytes((void **)&p->slots[i].labels,
                                sizeof(int32_t) * (size_t)p->max_labels, "prefetch label buffer"));
    }
    return LMN_OK;
}

/* Makes the mutex and both condition variables, or none of them. */
static lmn_status init_sync(lmn_prefetcher *p)
{
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return lmn_fail(LMN_ERR_INTERNAL, "lmn_prefetcher_create: pthread_mutex_init failed");
    if (pthread_cond_init(&p->batch_ready, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        return lmn_fail(LMN_ERR_INTERNAL, "lmn_prefetcher_create: pthread_cond_init failed");
    }
    if (pthread_cond_init(&p->slot_free, NULL) != 0) {
        pthread_cond_destroy(&p->batch_ready);
        pthread_mutex_destroy(&p->lock);
        return lmn_fail(LMN_ERR_INTERNAL, "lmn_prefetcher_create: pthread_cond_init failed");
    }
    return LMN_OK;
}

lmn_status lmn_prefetcher_create(lmn_batch_reader read, void *ctx, size_t max_floats,
                                 int max_labels, int depth, lmn_prefetcher **out)
{
    if (!out) return lmn_fail(LMN_ERR_ARG, "lmn_prefetcher_create: out is NULL");
    *out = NULL;
    if (!read) return lmn_fail(LMN_ERR_ARG, "lmn_prefetcher_create: the batch reader is NULL");
    if (max_floats < 1 || max_labels < 1)
        return lmn_fail(LMN_ERR_ARG,
                        "lmn_prefetcher_create: buffers of %zu floats and %d labels are too "
                        "small; size them for the largest batch (both at least 1)",
                        max_floats, max_labels);
    if (depth < 1)
        return lmn_fail(LMN_ERR_ARG,
                        "lmn_prefetcher_create: depth %d must be at least 1 (1 = double buffering)",
                        depth);

    lmn_prefetcher *p = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&p, sizeof *p, "prefetcher"));
    p->read = read;
    p->ctx = ctx;
    p->max_labels = max_labels;
    p->slot_count = depth + 1;
    lmn_status status = allocate_slots(p, max_floats);
    if (status == LMN_OK) status = init_sync(p);
    if (status != LMN_OK) {
        free_buffers(p);
        return status;
    }
    *out = p;
    return LMN_OK;
}

/* Reads one step on the I/O thread, outside the lock, and checks the count
 * the reader reports so that a bad one cannot reach the consumer. */
static lmn_status read_step(lmn_prefetcher *p, int64_t index, batch_slot *slot)
{
    const int64_t step = p->first_step + index;
    int count = 0;
    LMN_TRY(p->read(p->ctx, step, slot->images, slot->labels, &count));
    if (count < 0 || count > p->max_labels)
        return lmn_fail(LMN_ERR_INTERNAL,
                        "prefetch: the batch reader returned %d samples for step %lld; it "
                        "must return between 0 and max_labels = %d",
                        count, (long long)step, p->max_labels);
    slot->count = count;
    return LMN_OK;
}

static void *io_thread_main(void *arg)
{
    lmn_prefetcher *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->cancel && p->produced < p->total &&
               p->produced - p->released >= p->slot_count)
            pthread_cond_wait(&p->slot_free, &p->lock);
        if (p->cancel || p->produced == p->total) break;
        const int64_t index = p->produced;
        pthread_mutex_unlock(&p->lock);

        const lmn_status status = read_step(p, index, &p->slots[index % p->slot_count]);

        pthread_mutex_lock(&p->lock);
        if (status != LMN_OK) {
            /* lmn_last_error() is thread-local: copy it for the consumer. */
            snprintf(p->failure_message, sizeof p->failure_message, "%s", lmn_last_error());
            p->failure = status;
        } else {
            p->produced++;
        }
        pthread_cond_signal(&p->batch_ready);
        if (status != LMN_OK) break;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Has the consumer received everything the current range will ever give? */
static bool range_finished(lmn_prefetcher *p)
{
    pthread_mutex_lock(&p->lock);
    const bool finished = p->consumed == p->total || p->failure != LMN_OK;
    pthread_mutex_unlock(&p->lock);
    return finished;
}

static void join_io_thread(lmn_prefetcher *p)
{
    if (!p->thread_running) return;
    pthread_join(p->thread, NULL);
    p->thread_running = false;
}

lmn_status lmn_prefetcher_start(lmn_prefetcher *p, int64_t first_step, int64_t end_step)
{
    if (!p) return lmn_fail(LMN_ERR_ARG, "lmn_prefetcher_start: the prefetcher is NULL");
    if (end_step < first_step)
        return lmn_fail(LMN_ERR_ARG,
                        "lmn_prefetcher_start: the range [%lld, %lld) ends before it starts",
                        (long long)first_step, (long long)end_step);
    if (p->active && !range_finished(p))
        return lmn_fail(LMN_ERR_ARG,
                        "lmn_prefetcher_start: steps [%lld, %lld) are not all consumed yet; "
                        "call lmn_prefetcher_stop() before starting another range",
                        (long long)(p->first_step + p->consumed),
                        (long long)(p->first_step + p->total));
    /* A finished range's thread has exited or is about to: nothing blocks it. */
    join_io_thread(p);

    /* No other thread runs now, so the shared state needs no lock. */
    p->first_step = first_step;
    p->total = end_step - first_step;
    p->produced = p->consumed = p->released = 0;
    p->cancel = false;
    p->failure = LMN_OK;
    p->failure_message[0] = '\0';
    p->active = true;
    if (p->total == 0) return LMN_OK;
    const int error = pthread_create(&p->thread, NULL, io_thread_main, p);
    if (error != 0) {
        p->active = false;
        return lmn_fail(LMN_ERR_INTERNAL,
                        "lmn_prefetcher_start: cannot create the I/O thread (error %d%s)", error,
                        error == EAGAIN ? ": too many threads or no resources" : "");
    }
    p->thread_running = true;
    return LMN_OK;
}

lmn_status lmn_prefetcher_next(lmn_prefetcher *p, const float **images, const int32_t **labels,
                               int *count)
{
    if (!p || !images || !count)
        return lmn_fail(LMN_ERR_ARG, "lmn_prefetcher_next: prefetcher, images and count must "
                                     "not be NULL");
    if (!p->active)
        return lmn_fail(LMN_ERR_ARG, "lmn_prefetcher_next: no range is active; call "
                                     "lmn_prefetcher_start() first");
    pthread_mutex_lock(&p->lock);
    /* Calling again gives back the batch handed out last time. */
    if (p->released < p->consumed) {
        p->released = p->consumed;
        pthread_cond_signal(&p->slot_free);
    }
    if (p->consumed == p->total) {
        const int64_t end = p->first_step + p->total;
        pthread_mutex_unlock(&p->lock);
        return lmn_fail(LMN_ERR_ARG,
                        "lmn_prefetcher_next: every step before %lld was already returned; "
                        "call lmn_prefetcher_start() for the next range",
                        (long long)end);
    }
    if (p->produced == p->consumed && p->failure == LMN_OK) {
        const double began = lmn_now();
        while (p->produced == p->consumed && p->failure == LMN_OK)
            pthread_cond_wait(&p->batch_ready, &p->lock);
        p->wait_seconds += lmn_now() - began;
    }
    if (p->produced == p->consumed) { /* the reader failed on exactly this step */
        const lmn_status failure = p->failure;
        pthread_mutex_unlock(&p->lock);
        return lmn_fail(failure, "%s", p->failure_message);
    }
    const batch_slot *slot = &p->slots[p->consumed % p->slot_count];
    p->consumed++;
    pthread_mutex_unlock(&p->lock);
    *images = slot->images;
    if (labels) *labels = slot->labels;
    *count = slot->count;
    return LMN_OK;
}

void lmn_prefetcher_stop(lmn_prefetcher *p)
{
    if (!p) return;
    if (p->thread_running) {
        pthread_mutex_lock(&p->lock);
        p->cancel = true;
        pthread_cond_signal(&p->slot_free);
        pthread_mutex_unlock(&p->lock);
        join_io_thread(p);
    }
    p->active = false;
}

double lmn_prefetcher_wait_seconds(const lmn_prefetcher *p) { return p ? p->wait_seconds : 0.0; }

void lmn_prefetcher_free(lmn_prefetcher *p)
{
    if (!p) return;
    lmn_prefetcher_stop(p);
    pthread_cond_destroy(&p->slot_free);
    pthread_cond_destroy(&p->batch_ready);
    pthread_mutex_destroy(&p->lock);
    free_buffers(p);
}

lmn_status lmn_slow_reader(void *ctx, int64_t step, float *images, int32_t *labels, int *count)
{
    const struct lmn_slow_reader_ctx *slow = ctx;
    if (!slow || !slow->inner)
        return lmn_fail(LMN_ERR_ARG, "lmn_slow_reader: ctx and its inner reader must not be NULL");
    if (!isfinite(slow->seconds_per_batch) || slow->seconds_per_batch < 0.0)
        return lmn_fail(LMN_ERR_ARG,
                        "lmn_slow_reader: seconds_per_batch = %g must be finite and >= 0",
                        slow->seconds_per_batch);
    struct timespec remaining;
    remaining.tv_sec = (time_t)slow->seconds_per_batch;
    remaining.tv_nsec = (long)((slow->seconds_per_batch - (double)remaining.tv_sec) * 1e9);
    /* A signal cuts nanosleep short; sleep the rest so the delay holds. */
    while (nanosleep(&remaining, &remaining) != 0 && errno == EINTR) {
    }
    return slow->inner(slow->inner_ctx, step, images, labels, count);
}
