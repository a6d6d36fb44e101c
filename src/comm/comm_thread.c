#include "comm/comm_thread.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/timer.h"

enum { QUEUE_CAPACITY = 1024 };

typedef struct queued_job {
    lmn_comm_job job;
    void *ctx;
    int argument;
} queued_job;

struct lmn_comm_thread {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    queued_job queue[QUEUE_CAPACITY];
    uint64_t submitted, completed; /* tickets are 1, 2, ... */
    bool stopping;
    lmn_status failure;
    char failure_message[512];
};

static void record_failure(lmn_comm_thread *t, lmn_status status)
{
    if (status == LMN_OK || t->failure != LMN_OK) return;
    t->failure = status;
    snprintf(t->failure_message, sizeof t->failure_message, "%s", lmn_last_error());
}

static void *run(void *arg)
{
    lmn_comm_thread *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (t->completed == t->submitted && !t->stopping) pthread_cond_wait(&t->changed, &t->lock);
        if (t->completed == t->submitted) break;
        const queued_job next = t->queue[t->completed % QUEUE_CAPACITY];
        pthread_mutex_unlock(&t->lock);
        const lmn_status status = next.job(next.ctx, next.argument);
        pthread_mutex_lock(&t->lock);
        record_failure(t, status);
        t->completed++;
        pthread_cond_broadcast(&t->changed);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

lmn_status lmn_comm_thread_create(lmn_comm_thread **out)
{
    *out = NULL;
    lmn_comm_thread *t = calloc(1, sizeof *t);
    if (!t) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the communication thread");
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->changed, NULL);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->changed);
        free(t);
        return lmn_fail(LMN_ERR_INTERNAL, "cannot start the communication thread");
    }
    *out = t;
    return LMN_OK;
}

void lmn_comm_thread_free(lmn_comm_thread *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->changed);
    free(t);
}

lmn_status lmn_comm_thread_submit(lmn_comm_thread *t, lmn_comm_job job, void *ctx, int argument,
                                  uint64_t *ticket)
{
    pthread_mutex_lock(&t->lock);
    while (t->submitted - t->completed >= QUEUE_CAPACITY) pthread_cond_wait(&t->changed, &t->lock);
    t->queue[t->submitted % QUEUE_CAPACITY] = (queued_job){job, ctx, argument};
    *ticket = ++t->submitted;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
    return LMN_OK;
}

lmn_status lmn_comm_thread_wait(lmn_comm_thread *t, uint64_t ticket, double *waited)
{
    const double start = lmn_now();
    pthread_mutex_lock(&t->lock);
    while (t->completed < ticket) pthread_cond_wait(&t->changed, &t->lock);
    const lmn_status failure = t->failure;
    char message[512];
    snprintf(message, sizeof message, "%s", t->failure_message);
    pthread_mutex_unlock(&t->lock);
    if (waited) *waited = lmn_now() - start;
    if (failure != LMN_OK) return lmn_fail(failure, "communication thread: %s", message);
    return LMN_OK;
}
