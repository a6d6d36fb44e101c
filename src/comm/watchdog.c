#include "comm/watchdog.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/timer.h"

/* Why these numbers: a step's time varies little once its primitives
 * exist, so 20 x the slowest seen absorbs load spikes and sanitizer builds;
 * the floors keep tiny models from tripping on a scheduler hiccup, and the
 * first-of-a-kind floor covers oneDNN primitive creation and cold caches. */
enum { AUTO_FACTOR = 20 };
static const double AUTO_FLOOR_SECONDS = 60.0, FIRST_FLOOR_SECONDS = 600.0;
/* How long rank 0 collects the other ranks' reports, and how long the
 * others wait for rank 0's abort before aborting themselves. */
static const double REPORT_GRACE_SECONDS = 5.0;
/* Polls are 0.25 s apart; a gap this long means the process was frozen. */
static const double SUSPENDED_SECONDS = 2.0;
enum { REPORT_CHARS = 512, REPORT_TAG = 7013 };

static const char *const activity_names[LMN_WATCH_KINDS] = {
    "start-up (first step or a new batch size)", "training step", "evaluation",
    "checkpoint", "federated round"};

struct lmn_watchdog {
    lmn_comm *comm, *thread_comm;  /* borrowed: their collective records are read */
    MPI_Comm report_comm;          /* own duplicate for the expiry reports */
    bool can_report;               /* MPI_THREAD_MULTIPLE: this thread may call MPI */
    double timeout;                /* > 0 fixed, < 0 automatic */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    /* Guarded by lock. */
    double last_mark;
    lmn_watch_activity current;
    int64_t step;
    double slowest[LMN_WATCH_KINDS]; /* 0 = none seen */
};

static double deadline_locked(const lmn_watchdog *w, lmn_watch_activity kind)
{
    if (w->timeout > 0) return w->timeout;
    double any = 0.0;
    for (int k = 0; k < LMN_WATCH_KINDS; k++) any = w->slowest[k] > any ? w->slowest[k] : any;
    if (kind == LMN_WATCH_STARTUP || w->slowest[kind] <= 0.0)
        return AUTO_FACTOR * any > FIRST_FLOOR_SECONDS ? AUTO_FACTOR * any : FIRST_FLOOR_SECONDS;
    const double adaptive = AUTO_FACTOR * w->slowest[kind];
    return adaptive > AUTO_FLOOR_SECONDS ? adaptive : AUTO_FLOOR_SECONDS;
}

double lmn_watchdog_deadline(const lmn_watchdog *w, lmn_watch_activity kind)
{
    lmn_watchdog *mutable = (lmn_watchdog *)w;
    pthread_mutex_lock(&mutable->lock);
    const double seconds = deadline_locked(w, kind);
    pthread_mutex_unlock(&mutable->lock);
    return seconds;
}

void lmn_watchdog_progress(lmn_watchdog *w, lmn_watch_activity next, int64_t step)
{
    if (!w) return;
    const double now = lmn_now();
    pthread_mutex_lock(&w->lock);
    const double took = now - w->last_mark;
    if (took > w->slowest[w->current]) w->slowest[w->current] = took;
    /* A new batch size makes the step times seen so far meaningless. */
    if (next == LMN_WATCH_STARTUP) w->slowest[LMN_WATCH_STEP] = 0.0;
    w->current = next;
    w->step = step;
    w->last_mark = now;
    pthread_mutex_unlock(&w->lock);
}

/* "in allreduce #57 (1600 values) for 12.0 s" or where it was last. */
static void describe_record(const lmn_comm *comm, const char *who, char *text, size_t size)
{
    const lmn_collective_record *r = comm->record;
    const char *name = r ? atomic_load_explicit(&r->name, memory_order_relaxed) : NULL;
    if (!name) {
        snprintf(text, size, "%s: no collective entered yet", who);
        return;
    }
    const long long sequence = atomic_load_explicit(&r->sequence, memory_order_relaxed);
    const long long count = atomic_load_explicit(&r->count, memory_order_relaxed);
    const double since = lmn_now() - (double)atomic_load_explicit(&r->entered_ms, memory_order_relaxed) / 1e3;
    if (atomic_load_explicit(&r->inside, memory_order_acquire))
        snprintf(text, size, "%s: waiting in %s (collective #%lld, %lld values) for %.1f s", who, name,
                 sequence, count, since);
    else
        snprintf(text, size, "%s: not in a collective (the latest was %s #%lld, %.1f s ago)", who,
                 name, sequence, since);
}

static void describe(lmn_watchdog *w, double idle, double limit, char *text, size_t size)
{
    char main_part[200], thread_part[200] = "";
    describe_record(w->comm, "compute thread", main_part, sizeof main_part);
    if (w->thread_comm) {
        char record[190];
        describe_record(w->thread_comm, "communication thread", record, sizeof record);
        snprintf(thread_part, sizeof thread_part, "; %s", record);
    }
    pthread_mutex_lock(&w->lock);
    const lmn_watch_activity activity = w->current;
    const long long step = (long long)w->step + 1;
    pthread_mutex_unlock(&w->lock);
    snprintf(text, size, "rank %d: no progress for %.1f s (limit %.1f s, parallel.timeout_seconds) "
             "in %s, %s %lld; %s%s", w->comm->rank, idle, limit, activity_names[activity],
             activity == LMN_WATCH_ROUND ? "round" : "step", step, main_part, thread_part);
}

static void pause_seconds(double seconds)
{
    const struct timespec pause = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&pause, NULL);
}

/* "1, 3, 4": the ranks whose report did not arrive (the first 32). */
static void list_missing(const bool *arrived, int size, char *text, size_t capacity)
{
    size_t used = 0;
    int listed = 0, missing = 0;
    text[0] = '\0';
    for (int r = 1; r < size; r++) {
        if (arrived[r]) continue;
        missing++;
        if (listed < 32 && used < capacity) {
            used += (size_t)snprintf(text + used, capacity - used, "%s%d", listed ? ", " : "", r);
            listed++;
        }
    }
    if (missing > listed && used < capacity)
        snprintf(text + used, capacity - used, " and %d more", missing - listed);
}

/* Rank 0: which ranks report within the grace period. Polls; never blocks
 * on a peer, since a peer may be the stopped one. */
static void collect_reports(lmn_watchdog *w)
{
    const int size = w->comm->size;
    char *reports = calloc((size_t)size, REPORT_CHARS);
    MPI_Request *requests = calloc((size_t)size, sizeof *requests);
    bool *arrived = calloc((size_t)size, sizeof *arrived);
    char missing[400];
    if (!reports || !requests || !arrived) goto done;
    for (int r = 1; r < size; r++)
        MPI_Irecv(reports + (size_t)r * REPORT_CHARS, REPORT_CHARS, MPI_CHAR, r, REPORT_TAG,
                  w->report_comm, &requests[r]);
    int waiting = size - 1;
    for (const double until = lmn_now() + REPORT_GRACE_SECONDS; waiting > 0 && lmn_now() < until;) {
        for (int r = 1; r < size; r++) {
            int done = 0;
            if (!arrived[r] && MPI_Test(&requests[r], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done) {
                arrived[r] = true;
                waiting--;
            }
        }
        pause_seconds(0.05);
    }
    list_missing(arrived, size, missing, sizeof missing);
    if (waiting > 0)
        fprintf(stderr, "lamina: watchdog: rank 0: no report within %.0f s from rank(s) %s: they are "
                "stopped, dead or stuck outside MPI, and the others wait for them\n",
                REPORT_GRACE_SECONDS, missing);
    else
        fprintf(stderr, "lamina: watchdog: rank 0: every rank reported: all of them wait in "
                "collectives (a deadlock, or parallel.timeout_seconds is too short)\n");
done:
    free(reports);
    free(requests);
    free(arrived);
}

/* Rank > 0: hands its report to rank 0 and gives rank 0 time to collect
 * and abort the job; aborts itself if rank 0 is the stuck one. */
static void send_report(lmn_watchdog *w, const char *report)
{
    MPI_Request request;
    char buffer[REPORT_CHARS];
    snprintf(buffer, sizeof buffer, "%s", report);
    if (MPI_Isend(buffer, REPORT_CHARS, MPI_CHAR, 0, REPORT_TAG, w->report_comm, &request) != MPI_SUCCESS)
        return;
    for (const double until = lmn_now() + 2 * REPORT_GRACE_SECONDS; lmn_now() < until;) {
        int done = 0;
        MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        pause_seconds(0.05);
    }
}

/* No return: the job ends here, before the blocked step can finish and
 * anything (a checkpoint above all) is written from it. */
static void expire(lmn_watchdog *w, double idle, double limit)
{
    char report[REPORT_CHARS];
    describe(w, idle, limit, report, sizeof report);
    fprintf(stderr, "lamina: watchdog: %s\n", report);
    fflush(stderr);
    if (w->can_report) {
        if (w->comm->rank == 0) collect_reports(w);
        else send_report(w, report);
    }
    fprintf(stderr, "lamina: watchdog: rank %d: aborting the job (no checkpoint is written)\n",
            w->comm->rank);
    fflush(stderr);
    MPI_Abort(w->comm->comm, 1);
    abort();
}

static void *watch(void *arg)
{
    lmn_watchdog *w = arg;
    pthread_mutex_lock(&w->lock);
    double last_poll = lmn_now();
    while (!w->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->wake, &w->lock, &until);
        if (w->stopping) break;
        /* A gap between polls means this process itself was suspended
         * (SIGSTOP, a paused VM): not a peer's fault, so not counted. */
        const double now = lmn_now();
        if (now - last_poll > SUSPENDED_SECONDS) w->last_mark += now - last_poll;
        last_poll = now;
        const double idle = lmn_now() - w->last_mark, limit = deadline_locked(w, w->current);
        if (idle > limit) {
            pthread_mutex_unlock(&w->lock);
            expire(w, idle, limit);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

lmn_status lmn_watchdog_start(lmn_comm *comm, lmn_comm *thread_comm, double timeout_seconds,
                              lmn_watchdog **out)
{
    *out = NULL;
    /* One rank waits for no one. */
    if (timeout_seconds == 0.0 || comm->size == 1) return LMN_OK;
    lmn_watchdog *w = calloc(1, sizeof *w);
    if (!w) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the watchdog");
    if (MPI_Comm_dup(comm->comm, &w->report_comm) != MPI_SUCCESS) {
        free(w);
        return lmn_fail(LMN_ERR_MPI, "MPI_Comm_dup for the watchdog failed");
    }
    int provided = 0;
    MPI_Query_thread(&provided);
    w->can_report = provided == MPI_THREAD_MULTIPLE;
    w->comm = comm;
    w->thread_comm = thread_comm;
    w->timeout = timeout_seconds;
    w->current = LMN_WATCH_STARTUP;
    w->last_mark = lmn_now();
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, watch, w) != 0) {
        MPI_Comm_free(&w->report_comm);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        free(w);
        return lmn_fail(LMN_ERR_INTERNAL, "cannot start the watchdog thread");
    }
    *out = w;
    return LMN_OK;
}

void lmn_watchdog_stop(lmn_watchdog *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&w->report_comm);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    free(w);
}
