#include "optim/slimqn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/timer.h"
#include "io/metrics.h"
#include "optim/exact_dot.h"

/* A run of the packed slice that lies in one parameter tensor. */
typedef struct piece {
    size_t full, packed, count;
    bool decay;
} piece;

enum { AVERAGES = 4 }; /* pbar, gbar, pbar_prev, gbar_prev */
enum { SCRATCH = 3 };  /* w, g, d */

struct lmn_slimqn {
    lmn_slimqn_config config;
    piece *pieces;
    int piece_count;
    size_t owned;
    float *average[AVERAGES];
    float *s, *y;          /* [history][owned], a ring from slot `oldest` */
    float *w, *g, *d;      /* scratch: packed parameters, gradient + decay, direction */
    double *sy, *alpha;    /* per slot: s.y (damped), the recursion's alpha */
    int pairs, oldest;
    int64_t steps;         /* steps seen: the averages' age */
    double h0, phi, nu, seconds, reported_seconds;
    int64_t rejected;
    float *restored;       /* a checkpoint's vectors in full layout, until spans are set */
    double *saved_scalars; /* gathered for the checkpoint writer (rank 0) */
    float *saved_vectors;
    int saved_vector_count;
    int restored_vectors;
    size_t restored_total;
};

lmn_status lmn_slimqn_create(const lmn_slimqn_config *config, lmn_slimqn **out)
{
    *out = NULL;
    lmn_slimqn *qn = calloc(1, sizeof *qn);
    double *per_pair = calloc(2 * (size_t)config->history + 1, sizeof(double));
    if (!qn || !per_pair) {
        free(qn);
        free(per_pair);
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the SLIM-QN state");
    }
    qn->config = *config;
    qn->phi = 1.0;
    qn->nu = 1.0;
    qn->sy = per_pair;
    qn->alpha = per_pair + config->history;
    *out = qn;
    return LMN_OK;
}

void lmn_slimqn_free(lmn_slimqn *qn)
{
    if (!qn) return;
    free(qn->pieces);
    for (int k = 0; k < AVERAGES; k++) lmn_free(qn->average[k]);
    lmn_free(qn->s);
    lmn_free(qn->y);
    lmn_free(qn->w);
    lmn_free(qn->g);
    lmn_free(qn->d);
    lmn_free(qn->restored);
    lmn_slimqn_drop_saved(qn);
    free(qn->sy);
    free(qn);
}

size_t lmn_slimqn_owned(const lmn_slimqn *qn) { return qn->owned; }
bool lmn_slimqn_has_spans(const lmn_slimqn *qn) { return qn->pieces != NULL; }

static int slot(const lmn_slimqn *qn, int k) { return (qn->oldest + k) % qn->config.history; }

void lmn_slimqn_pair(const lmn_slimqn *qn, int k, const float **s, const float **y)
{
    const size_t at = (size_t)slot(qn, k) * qn->owned;
    *s = qn->s + at;
    *y = qn->y + at;
}

size_t lmn_slimqn_state_bytes(const lmn_slimqn_config *c, size_t total, int ranges, int rank,
                              int ranks, char *describe, size_t size)
{
    const size_t parts = ranks > 1 ? (size_t)ranks : 1, history = (size_t)c->history;
    const size_t owned = (total + parts - 1) / parts + (size_t)ranges;
    const size_t slice = (2 * history + AVERAGES + SCRATCH) * owned * sizeof(float);
    /* the full-layout vectors and one rank's staging buffer */
    const size_t gathered = rank == 0 ? (2 * history + AVERAGES + 1) * total * sizeof(float) : 0;
    if (describe && size > 0) {
        char checkpoint[96] = "";
        if (gathered)
            snprintf(checkpoint, sizeof checkpoint, "; on rank 0 also %.2f GB to gather it for a "
                     "checkpoint", (double)gathered / 1e9);
        snprintf(describe, size, "SLIM-QN's state will take %.2f GB (optimizer.slimqn.history %zu: "
                 "2 x %zu pairs of %zu floats on this rank, with the averages and scratch%s; "
                 "a smaller history takes less)",
                 (double)(slice + gathered) / 1e9, history, history, owned, checkpoint);
    }
    return slice + gathered;
}

/* The spans cut by the parameter tensors (whose weight decay differs). */
static lmn_status make_pieces(lmn_slimqn *qn, const lmn_optimizer *opt,
                              const lmn_slimqn_span *spans, int count)
{
    qn->pieces = calloc((size_t)(count + 1) * (size_t)(opt->range_count + 1), sizeof *qn->pieces);
    if (!qn->pieces) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the SLIM-QN slices");
    size_t packed = 0;
    for (int i = 0; i < count; i++)
        for (int r = 0; r < opt->range_count; r++) {
            const lmn_param_range *range = &opt->ranges[r];
            const size_t lo = range->offset > spans[i].begin ? range->offset : spans[i].begin;
            const size_t end = range->offset + range->count;
            const size_t hi = end < spans[i].end ? end : spans[i].end;
            if (lo >= hi) continue;
            qn->pieces[qn->piece_count++] = (piece){lo, packed, hi - lo, range->decay};
            packed += hi - lo;
        }
    qn->owned = packed;
    return LMN_OK;
}

static lmn_status allocate_slice(lmn_slimqn *qn)
{
    const size_t n = qn->owned ? qn->owned : 1, history = (size_t)qn->config.history;
    for (int k = 0; k < AVERAGES; k++)
        LMN_TRY(lmn_alloc_floats(&qn->average[k], n, "SLIM-QN averages"));
    LMN_TRY(lmn_alloc_floats(&qn->s, history * n, "SLIM-QN history (s)"));
    LMN_TRY(lmn_alloc_floats(&qn->y, history * n, "SLIM-QN history (y)"));
    LMN_TRY(lmn_alloc_floats(&qn->w, n, "SLIM-QN scratch"));
    LMN_TRY(lmn_alloc_floats(&qn->g, n, "SLIM-QN scratch"));
    return lmn_alloc_floats(&qn->d, n, "SLIM-QN scratch");
}

/* packed[piece] = full[piece] for every piece of this rank's slice. */
static void pack(const lmn_slimqn *qn, const float *full, float *packed)
{
    for (int p = 0; p < qn->piece_count; p++)
        memcpy(packed + qn->pieces[p].packed, full + qn->pieces[p].full,
               qn->pieces[p].count * sizeof(float));
}

/* A restored checkpoint's full-layout vectors, cut to this rank's slice. */
static void cut_restored(lmn_slimqn *qn)
{
    if (!qn->restored) return;
    const size_t total = qn->restored_total;
    for (int k = 0; k < AVERAGES; k++) pack(qn, qn->restored + (size_t)k * total, qn->average[k]);
    for (int k = 0; k < qn->pairs; k++) {
        const size_t at = (size_t)slot(qn, k) * qn->owned;
        pack(qn, qn->restored + (size_t)(AVERAGES + 2 * k) * total, qn->s + at);
        pack(qn, qn->restored + (size_t)(AVERAGES + 2 * k + 1) * total, qn->y + at);
    }
    lmn_free(qn->restored);
    qn->restored = NULL;
}

lmn_status lmn_slimqn_set_spans(lmn_optimizer *opt, const lmn_slimqn_span *spans, int count)
{
    lmn_slimqn *qn = opt->qn;
    if (qn->pieces) return lmn_fail(LMN_ERR_ARG, "SLIM-QN: the slices are set once per run");
    LMN_TRY(make_pieces(qn, opt, spans, count));
    LMN_TRY(allocate_slice(qn));
    cut_restored(qn);
    return LMN_OK;
}

/* One stage's dot products a[k] . b[k], reduced together. */
static lmn_status dots(const lmn_slimqn *qn, int count, const float *const *a,
                       const float *const *b, lmn_comm *comm, double *out)
{
    lmn_exact_sum sums[3];
    memset(sums, 0, sizeof sums);
    for (int k = 0; k < count; k++) lmn_exact_dot_add(&sums[k], a[k], b[k], qn->owned);
    return lmn_exact_sums_reduce(sums, count, comm, out);
}

/* tau = s.y / s.s; phi = 1, or 0.99 / (1 - tau) below 0.01, or 0 above 1;
 * then at most 1 - damping. */
static double damping_factor(const lmn_slimqn_config *c, double tau)
{
    double phi = 1.0;
    if (tau < 0.01) phi = 0.99 / (1.0 - tau);
    if (tau > 1.0) phi = 0.0;
    return phi < 1.0 - c->damping ? phi : 1.0 - c->damping;
}

static void store_pair(lmn_slimqn *qn, const float *s, const float *y, double sy, double yy)
{
    const int history = qn->config.history;
    const int at = qn->pairs < history ? slot(qn, qn->pairs) : qn->oldest;
    if (qn->pairs < history) qn->pairs++;
    else qn->oldest = (qn->oldest + 1) % history;
    memcpy(qn->s + (size_t)at * qn->owned, s, qn->owned * sizeof(float));
    memcpy(qn->y + (size_t)at * qn->owned, y, qn->owned * sizeof(float));
    qn->sy[at] = sy;
    qn->h0 = sy / yy;
}

lmn_status lmn_slimqn_offer_pair(lmn_slimqn *qn, const float *s, float *y, lmn_comm *comm,
                                 bool *kept)
{
    const float *a[3] = {s, s, y}, *b[3] = {s, y, y};
    double v[3]; /* s.s, s.y, y.y */
    LMN_TRY(dots(qn, 3, a, b, comm, v));
    *kept = false;
    if (!(v[0] > 0.0) || !isfinite(v[0] + v[1] + v[2])) {
        qn->rejected++;
        return LMN_OK;
    }
    const double phi = damping_factor(&qn->config, v[1] / v[0]);
    qn->phi = phi;
    const float keep = (float)phi, mix = (float)(1.0 - phi);
    for (size_t i = 0; i < qn->owned; i++) y[i] = keep * y[i] + mix * s[i];
    /* the damped pair's products follow from the three already reduced */
    const double sy = phi * v[1] + (1.0 - phi) * v[0];
    const double yy = phi * phi * v[2] + 2.0 * phi * (1.0 - phi) * v[1] + (1.0 - phi) * (1.0 - phi) * v[0];
    if (!(sy >= qn->config.rho_min) || !(yy > 0.0)) {
        qn->rejected++;
        return LMN_OK;
    }
    store_pair(qn, s, y, sy, yy);
    *kept = true;
    return LMN_OK;
}

/* A chunk of d small enough to stay in cache between its update and the
 * dot product that reads it. */
enum { FUSED_CHUNK = 1 << 14 };

/* One stage of the recursion in one pass over memory: d -= a v (v NULL:
 * none), then d *= scale (1: none), then out = u . d reduced over the
 * ranks. The same bits as separate passes: the update is elementwise and
 * the sum exact. */
typedef struct stage {
    double a;
    const float *v;
    double scale;
    const float *u;
} stage;

static void stage_chunk(const stage *st, float *d, size_t at, size_t count, lmn_exact_accumulator *acc)
{
    float *x = d + at;
    if (st->v) {
        const float f = (float)st->a, *y = st->v + at;
#pragma omp simd
        for (size_t i = 0; i < count; i++) x[i] -= f * y[i];
    }
    if (st->scale != 1.0) {
        const float h = (float)st->scale;
#pragma omp simd
        for (size_t i = 0; i < count; i++) x[i] *= h;
    }
    lmn_exact_accumulate(acc, st->u + at, x, count);
}

static lmn_status run_stage(const lmn_slimqn *qn, const stage *st, float *d, lmn_comm *comm,
                            double *out)
{
    const size_t n = qn->owned;
    lmn_exact_sum sum;
    memset(&sum, 0, sizeof sum);
#pragma omp parallel
    {
        lmn_exact_accumulator *acc = lmn_exact_accumulator_create();
#pragma omp for schedule(static) nowait
        for (size_t at = 0; at < n; at += FUSED_CHUNK)
            stage_chunk(st, d, at, n - at < FUSED_CHUNK ? n - at : FUSED_CHUNK, acc);
        lmn_exact_accumulator_finish(acc, &sum);
    }
    return lmn_exact_sums_reduce(&sum, 1, comm, out);
}

/* The two-loop recursion, each update fused with the next stage's dot
 * product: one pass over d and one allreduce per stage; the last update
 * is returned in *last for the caller's pass (the clip's product). */
static lmn_status two_loop(lmn_slimqn *qn, float *d, lmn_comm *comm, stage *last)
{
    stage st = {0.0, NULL, 1.0, NULL};
    for (int k = qn->pairs - 1; k >= 0; k--) {
        const float *s, *y;
        lmn_slimqn_pair(qn, k, &s, &y);
        st.u = s;
        double sq;
        LMN_TRY(run_stage(qn, &st, d, comm, &sq));
        qn->alpha[k] = sq / qn->sy[slot(qn, k)];
        st = (stage){qn->alpha[k], y, 1.0, NULL};
    }
    st.scale = qn->h0;
    for (int k = 0; k < qn->pairs; k++) {
        const float *s, *y;
        lmn_slimqn_pair(qn, k, &s, &y);
        st.u = y;
        double yr;
        LMN_TRY(run_stage(qn, &st, d, comm, &yr));
        st = (stage){-(qn->alpha[k] - yr / qn->sy[slot(qn, k)]), s, 1.0, NULL};
    }
    *last = st;
    return LMN_OK;
}

lmn_status lmn_slimqn_direction(lmn_slimqn *qn, const float *g, const float *raw, float *d,
                                lmn_comm *comm, double *nu)
{
    if (d != g) memcpy(d, g, qn->owned * sizeof(float));
    *nu = 1.0;
    if (qn->pairs == 0) return LMN_OK; /* SGD with momentum until the first pair */
    stage last;
    LMN_TRY(two_loop(qn, d, comm, &last));
    last.u = raw;
    double gd;
    LMN_TRY(run_stage(qn, &last, d, comm, &gd));
    if (gd > 0.0 && qn->config.clip / gd < 1.0) *nu = sqrt(qn->config.clip / gd);
    return LMN_OK;
}

/* pbar <- mp pbar + (1 - mp) w, gbar <- mg gbar + (1 - mg) g; the first
 * step sets them (and the reference of the first pair) to w and g. */
static void update_averages(lmn_slimqn *qn, const float *params, const float *grads)
{
    float *pbar = qn->average[0], *gbar = qn->average[1];
    if (qn->steps == 0) {
        pack(qn, params, pbar);
        pack(qn, grads, gbar);
        memcpy(qn->average[2], pbar, qn->owned * sizeof(float));
        memcpy(qn->average[3], gbar, qn->owned * sizeof(float));
        return;
    }
    const float mp = (float)qn->config.param_momentum, mg = (float)qn->config.grad_momentum;
    for (int p = 0; p < qn->piece_count; p++) {
        const piece *c = &qn->pieces[p];
        float *pb = pbar + c->packed, *gb = gbar + c->packed;
        const float *w = params + c->full, *g = grads + c->full;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < c->count; i++) {
            pb[i] = mp * pb[i] + (1.0f - mp) * w[i];
            gb[i] = mg * gb[i] + (1.0f - mg) * g[i];
        }
    }
}

/* s and y are the averages' change since the last pair (in scratch). */
static lmn_status maybe_offer_pair(lmn_slimqn *qn, lmn_comm *comm)
{
    if (qn->steps == 0 || qn->steps % qn->config.interval != 0) return LMN_OK;
    float *s = qn->w, *y = qn->g;
    for (size_t i = 0; i < qn->owned; i++) {
        s[i] = qn->average[0][i] - qn->average[2][i];
        y[i] = qn->average[1][i] - qn->average[3][i];
    }
    memcpy(qn->average[2], qn->average[0], qn->owned * sizeof(float));
    memcpy(qn->average[3], qn->average[1], qn->owned * sizeof(float));
    bool kept = false;
    return lmn_slimqn_offer_pair(qn, s, y, comm, &kept);
}

/* g + wd w on the packed slice. */
static void decayed_gradient(lmn_slimqn *qn, const float *params, const float *grads, double wd)
{
    for (int p = 0; p < qn->piece_count; p++) {
        const piece *c = &qn->pieces[p];
        const float decay = c->decay ? (float)wd : 0.0f;
        const float *w = params + c->full, *g = grads + c->full;
        float *out = qn->g + c->packed;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < c->count; i++) out[i] = g[i] + decay * w[i];
    }
}

/* v = m v + nu d; w -= lr v, inside this rank's slice. */
static void apply(lmn_slimqn *qn, float *params, float *velocity, double momentum, double lr)
{
    const float m = (float)momentum, nu = (float)qn->nu, rate = (float)lr;
    for (int p = 0; p < qn->piece_count; p++) {
        const piece *c = &qn->pieces[p];
        float *w = params + c->full, *v = velocity + c->full;
        const float *d = qn->d + c->packed;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < c->count; i++) {
            v[i] = m * v[i] + nu * d[i];
            w[i] -= rate * v[i];
        }
    }
}

lmn_status lmn_slimqn_step(lmn_optimizer *opt, float *params, const float *grads, double lr,
                           lmn_comm *comm)
{
    lmn_slimqn *qn = opt->qn;
    if (!qn->pieces) {
        const lmn_slimqn_span whole = {0, opt->total};
        LMN_TRY(lmn_slimqn_set_spans(opt, &whole, 1));
    }
    const double start = lmn_now();
    update_averages(qn, params, grads);
    LMN_TRY(maybe_offer_pair(qn, comm));
    decayed_gradient(qn, params, grads, opt->config.weight_decay);
    pack(qn, grads, qn->w); /* the clip measures the step against the raw gradient */
    LMN_TRY(lmn_slimqn_direction(qn, qn->g, qn->w, qn->d, comm, &qn->nu));
    apply(qn, params, opt->velocity, opt->config.momentum, lr);
    qn->steps++;
    qn->seconds += lmn_now() - start;
    return LMN_OK;
}

void lmn_slimqn_report_get(const lmn_slimqn *qn, lmn_slimqn_report *report)
{
    *report = (lmn_slimqn_report){qn->pairs, qn->phi, qn->nu, qn->rejected, qn->seconds};
}

size_t lmn_slimqn_scalar_count(const lmn_slimqn *qn)
{
    return LMN_SLIMQN_SCALARS + (size_t)qn->config.history;
}

static void write_scalars(const lmn_slimqn *qn, size_t total, double *scalars)
{
    const double head[LMN_SLIMQN_SCALARS] = {qn->config.history, (double)qn->steps, qn->pairs,
                                             qn->h0, qn->phi, qn->nu, (double)qn->rejected,
                                             (double)total};
    memcpy(scalars, head, sizeof head);
    for (int k = 0; k < qn->config.history; k++)
        scalars[LMN_SLIMQN_SCALARS + k] = k < qn->pairs ? qn->sy[slot(qn, k)] : 0.0;
}

/* Vector v of this rank's slice: the averages, then s and y per pair. */
static const float *slice_vector(const lmn_slimqn *qn, int v)
{
    if (v < AVERAGES) return qn->average[v];
    const float *s, *y;
    lmn_slimqn_pair(qn, (v - AVERAGES) / 2, &s, &y);
    return (v - AVERAGES) % 2 ? y : s;
}

/* Where each rank's pieces lie: rank 0 learns every rank's (full, count). */
static lmn_status gather_layout(const lmn_slimqn *qn, MPI_Comm comm, int size, int **piece_counts,
                                uint64_t **layout)
{
    int *counts = calloc(2 * (size_t)size + 1, sizeof *counts);
    uint64_t *mine = malloc(2 * sizeof *mine * (size_t)(qn->piece_count + 1));
    if (!counts || !mine) {
        free(counts);
        free(mine);
        return lmn_fail(LMN_ERR_NOMEM, "cannot gather the SLIM-QN layout");
    }
    for (int p = 0; p < qn->piece_count; p++) {
        mine[2 * p] = qn->pieces[p].full;
        mine[2 * p + 1] = qn->pieces[p].count;
    }
    const int words = 2 * qn->piece_count;
    MPI_Gather(&words, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
    int *displs = counts + size, all = 0;
    for (int r = 0; r < size; r++) {
        displs[r] = all;
        all += counts[r];
    }
    *layout = malloc(sizeof **layout * (size_t)(all + 1));
    MPI_Gatherv(mine, words, MPI_UINT64_T, *layout, counts, displs, MPI_UINT64_T, 0, comm);
    free(mine);
    *piece_counts = counts;
    return *layout ? LMN_OK : lmn_fail(LMN_ERR_NOMEM, "cannot gather the SLIM-QN layout");
}

/* Rank 0 writes one vector's slices of every rank into full. */
static void place(const uint64_t *layout, int words, const float *packed, float *full)
{
    size_t at = 0;
    for (int k = 0; k < words; k += 2) {
        memcpy(full + layout[k], packed + at, layout[k + 1] * sizeof(float));
        at += layout[k + 1];
    }
}

static void place_local(const lmn_slimqn *qn, const float *packed, float *full)
{
    for (int p = 0; p < qn->piece_count; p++)
        memcpy(full + qn->pieces[p].full, packed + qn->pieces[p].packed,
               qn->pieces[p].count * sizeof(float));
}

/* Every vector of every rank's slice into rank 0's full-layout buffer. */
static lmn_status gather_vectors(const lmn_slimqn *qn, lmn_comm *comm, size_t total, int vectors,
                                 float *full, float *staging)
{
    const int size = comm->size, root = comm->rank == 0;
    int *words = NULL;
    uint64_t *layout = NULL;
    LMN_TRY(gather_layout(qn, comm->comm, size, &words, &layout));
    int *counts = words + size, *displs = calloc((size_t)size + 1, sizeof *displs);
    if (!displs) return lmn_fail(LMN_ERR_NOMEM, "cannot gather the SLIM-QN state");
    int sent = 0, at = 0; /* floats and layout words before rank r */
    for (int r = 0; root && r < size; r++) {
        size_t owned = 0;
        for (int k = 0; k < words[r]; k += 2) owned += layout[at + k + 1];
        displs[r] = sent;
        at += words[r];
        counts[r] = (int)owned; /* the displacements no longer need this space */
        sent += (int)owned;
    }
    for (int v = 0; v < vectors; v++) {
        MPI_Gatherv(slice_vector(qn, v), (int)qn->owned, MPI_FLOAT, staging, counts, displs,
                    MPI_FLOAT, 0, comm->comm);
        for (int r = 0, w = 0; root && r < size; w += words[r], r++)
            place(layout + w, words[r], staging + displs[r], full + (size_t)v * total);
    }
    free(words);
    free(layout);
    free(displs);
    return LMN_OK;
}

lmn_status lmn_slimqn_gather(lmn_optimizer *opt, lmn_comm *comm)
{
    lmn_slimqn *qn = opt->qn;
    const size_t total = opt->total;
    lmn_slimqn_drop_saved(qn);
    const int vectors = qn->steps > 0 ? AVERAGES + 2 * qn->pairs : 0;
    const bool root = !comm || comm->rank == 0;
    lmn_status status = LMN_OK;
    float *full = NULL, *staging = NULL;
    if (root && vectors > 0) {
        status = lmn_alloc_floats(&full, (size_t)vectors * total, "the SLIM-QN checkpoint");
        if (status == LMN_OK) status = lmn_alloc_floats(&staging, total, "the SLIM-QN checkpoint");
    }
    if (comm && comm->size > 1) status = lmn_comm_agree(comm, status);
    if (status == LMN_OK && (!comm || comm->size == 1))
        for (int v = 0; v < vectors; v++) place_local(qn, slice_vector(qn, v), full + (size_t)v * total);
    else if (status == LMN_OK && vectors > 0)
        status = gather_vectors(qn, comm, total, vectors, full, staging);
    lmn_free(staging);
    if (status == LMN_OK && root)
        status = lmn_alloc_bytes((void **)&qn->saved_scalars,
                                 sizeof(double) * lmn_slimqn_scalar_count(qn), "SLIM-QN scalars");
    if (status != LMN_OK) {
        lmn_free(full);
        return status;
    }
    if (root) write_scalars(qn, total, qn->saved_scalars);
    qn->saved_vectors = full;
    qn->saved_vector_count = vectors;
    return LMN_OK;
}

lmn_status lmn_slimqn_saved(const lmn_slimqn *qn, const double **scalars, const float **vectors,
                            int *vector_count)
{
    if (!qn->saved_scalars)
        return lmn_fail(LMN_ERR_ARG, "the SLIM-QN state was not gathered before the checkpoint "
                        "(lmn_slimqn_gather on every rank)");
    *scalars = qn->saved_scalars;
    *vectors = qn->saved_vectors;
    *vector_count = qn->saved_vector_count;
    return LMN_OK;
}

void lmn_slimqn_drop_saved(lmn_slimqn *qn)
{
    lmn_free(qn->saved_scalars);
    lmn_free(qn->saved_vectors);
    qn->saved_scalars = NULL;
    qn->saved_vectors = NULL;
    qn->saved_vector_count = 0;
}

lmn_status lmn_slimqn_check_state(const lmn_optimizer *opt, const double *x, size_t count,
                                  int *vector_count)
{
    const lmn_slimqn *qn = opt->qn;
    if (count != lmn_slimqn_scalar_count(qn) || x[0] != qn->config.history)
        return lmn_fail(LMN_ERR_FORMAT, "the SLIM-QN state was saved with optimizer.slimqn.history "
                        "%.0f but this run has %d; resume with the same history",
                        count >= 1 ? x[0] : 0.0, qn->config.history);
    if (x[7] != (double)opt->total)
        return lmn_fail(LMN_ERR_FORMAT, "the SLIM-QN state covers %.0f parameters, the model has %zu",
                        x[7], opt->total);
    if (!(x[2] >= 0 && x[2] <= x[0] && x[1] >= 0 && x[2] == floor(x[2]) && x[1] == floor(x[1])))
        return lmn_fail(LMN_ERR_FORMAT, "the SLIM-QN state is inconsistent: %g pairs after %g steps",
                        x[2], x[1]);
    *vector_count = x[1] > 0 ? AVERAGES + 2 * (int)x[2] : 0;
    return LMN_OK;
}

void lmn_slimqn_restore(lmn_optimizer *opt, const double *scalars, float *vectors)
{
    lmn_slimqn *qn = opt->qn;
    qn->steps = (int64_t)scalars[1];
    qn->pairs = (int)scalars[2];
    qn->oldest = 0;
    qn->h0 = scalars[3];
    qn->phi = scalars[4];
    qn->nu = scalars[5];
    qn->rejected = (int64_t)scalars[6];
    for (int k = 0; k < qn->config.history; k++) qn->sy[k] = scalars[LMN_SLIMQN_SCALARS + k];
    lmn_free(qn->restored);
    qn->restored = vectors;
    qn->restored_total = opt->total;
    if (qn->pieces) cut_restored(qn);
}

lmn_status lmn_slimqn_write_metrics(lmn_slimqn *qn, lmn_metrics *m, double train_seconds)
{
    const double seconds = qn->seconds - qn->reported_seconds;
    qn->reported_seconds = qn->seconds;
    LMN_TRY(lmn_metrics_int(m, "slimqn_pairs", qn->pairs));
    LMN_TRY(lmn_metrics_double(m, "slimqn_damping", qn->phi));
    LMN_TRY(lmn_metrics_double(m, "slimqn_clip", qn->nu));
    LMN_TRY(lmn_metrics_int(m, "slimqn_rejected", qn->rejected));
    return lmn_metrics_double(m, "optimizer_share", train_seconds > 0 ? seconds / train_seconds : 0.0);
}
