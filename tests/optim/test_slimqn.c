/* SLIM-QN (ALGORITHMS.md 14) on hand-made cases:
 *  - on a quadratic whose Hessian's eigenvectors are the pairs, the
 *    two-loop direction is the exact inverse-Hessian product (1e-5), and
 *    with one pair fewer it is not;
 *  - damping: phi = 0.99 / (1 - tau) below tau = 0.01 (s.y' = 0.01 s.s),
 *    phi = 0 above 1 (y' = s), phi capped at 1 - d;
 *  - pair rejection (s.y' < rho_min), FIFO of the newest M pairs;
 *  - the clip factor nu = min(1, sqrt(k / g.d));
 *  - before the first pair a step is SGD with momentum and weight decay;
 *  - exact dot products do not depend on how the vectors are cut;
 *  - gather / restore of the state resumes bit for bit;
 *  - 60 steps equal ALGORITHMS.md 14 written out in double precision. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/memory.h"
#include "optim/exact_dot.h"
#include "optim/slimqn.h"
#include "test.h"

enum { N = 8 };

static lmn_optimizer *make(lmn_slimqn_config qn, double momentum, double decay, size_t n)
{
    const lmn_param_range range = {.offset = 0, .count = n, .decay = true};
    const lmn_optimizer_config config = {.kind = LMN_OPT_SLIMQN, .momentum = momentum,
                                         .weight_decay = decay, .slimqn = qn};
    lmn_optimizer *opt = NULL;
    CHECK_OK(lmn_optimizer_create(&config, &range, 1, n, &opt));
    const lmn_slimqn_span whole = {0, n};
    if (opt) CHECK_OK(lmn_slimqn_set_spans(opt, &whole, 1));
    return opt;
}

/* A random orthogonal basis (Gram-Schmidt of a fixed pseudo-random matrix). */
static void orthogonal_basis(double q[N][N])
{
    unsigned state = 12345;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            state = state * 1103515245u + 12345u;
            q[i][j] = (double)(state >> 8 & 0xffff) / 65536.0 - 0.5;
        }
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < i; k++) {
            double p = 0;
            for (int j = 0; j < N; j++) p += q[i][j] * q[k][j];
            for (int j = 0; j < N; j++) q[i][j] -= p * q[k][j];
        }
        double norm = 0;
        for (int j = 0; j < N; j++) norm += q[i][j] * q[i][j];
        for (int j = 0; j < N; j++) q[i][j] /= sqrt(norm);
    }
}

/* H = sum lambda_i q_i q_i^T with lambda in [0.05, 0.9] (no damping needed). */
static void check_inverse_hessian(void)
{
    double q[N][N], lambda[N];
    orthogonal_basis(q);
    for (int i = 0; i < N; i++) lambda[i] = 0.05 + 0.85 * i / (N - 1);
    lmn_slimqn_config c = lmn_slimqn_defaults();
    c.history = N;
    c.damping = 0.0;
    c.rho_min = 1e-12;
    lmn_optimizer *opt = make(c, 0.9, 0.0, N);
    if (!opt) return;
    float g[N], d[N];
    for (int j = 0; j < N; j++) g[j] = (float)(0.3 * cos(1.7 * j) + 0.1);
    for (int pairs = 1; pairs <= N; pairs++) {
        const int i = pairs - 1;
        float s[N], y[N];
        for (int j = 0; j < N; j++) {
            s[j] = (float)(0.5 * q[i][j]);
            y[j] = (float)(lambda[i] * s[j]);
        }
        bool kept = false;
        CHECK_OK(lmn_slimqn_offer_pair(opt->qn, s, y, NULL, &kept));
        CHECK(kept);
        double nu = 0;
        CHECK_OK(lmn_slimqn_direction(opt->qn, g, g, d, NULL, &nu));
        double worst = 0, scale = 0;
        for (int j = 0; j < N; j++) {
            double exact = 0; /* H^-1 g */
            for (int k = 0; k < N; k++) {
                double qg = 0;
                for (int m = 0; m < N; m++) qg += q[k][m] * g[m];
                exact += q[k][j] * qg / lambda[k];
            }
            worst = fmax(worst, fabs(d[j] - exact));
            scale = fmax(scale, fabs(exact));
        }
        if (pairs == N) CHECK_MSG(worst <= 1e-5 * scale, "direction off by %g of %g", worst, scale);
        if (pairs == N - 1) CHECK_MSG(worst > 1e-3 * scale, "exact with %d pairs: %g", pairs, worst);
    }
    lmn_optimizer_free(opt);
}

/* One pair in 2-D; returns whether kept, y' in y_out, the reported phi. */
static bool offer(double damping, double rho_min, float s0, float y0, float *y_out, double *phi)
{
    lmn_slimqn_config c = lmn_slimqn_defaults();
    c.damping = damping;
    c.rho_min = rho_min;
    lmn_optimizer *opt = make(c, 0.0, 0.0, 2);
    if (!opt) return false;
    const float s[2] = {s0, 0.0f};
    float y[2] = {y0, 0.0f};
    bool kept = false;
    CHECK_OK(lmn_slimqn_offer_pair(opt->qn, s, y, NULL, &kept));
    lmn_slimqn_report report;
    lmn_slimqn_report_get(opt->qn, &report);
    CHECK(report.pairs == (kept ? 1 : 0) && report.rejected == (kept ? 0 : 1));
    *y_out = y[0];
    *phi = report.damping;
    lmn_optimizer_free(opt);
    return kept;
}

static void check_damping_and_rejection(void)
{
    float y;
    double phi;
    /* tau = 0.005 < 0.01: phi = 0.99 / 0.995, so that s.y' = 0.01 s.s */
    CHECK(offer(0.0, 1e-4, 1.0f, 0.005f, &y, &phi));
    CHECK_CLOSE(phi, 0.99 / 0.995, 1e-7); /* tau is 0.005f, not 0.005 */
    CHECK_CLOSE(y, 0.01, 1e-6);
    /* the same pair with d = 0.2: phi capped at 0.8, y' = 0.8 * 0.005 + 0.2 */
    CHECK(offer(0.2, 1e-4, 1.0f, 0.005f, &y, &phi));
    CHECK_CLOSE(phi, 0.8, 1e-12);
    CHECK_CLOSE(y, 0.204, 1e-6);
    /* tau = 3 > 1: phi = 0, y' = s */
    CHECK(offer(0.2, 1e-4, 1.0f, 3.0f, &y, &phi));
    CHECK(phi == 0.0 && y == 1.0f);
    /* negative curvature tau = -1: phi = 0.495 rescues it (s.y' = 0.01) ... */
    CHECK(offer(0.0, 1e-4, 1.0f, -1.0f, &y, &phi));
    CHECK_CLOSE(y, 0.01, 1e-6);
    /* ... unless rho_min asks for more */
    CHECK(!offer(0.0, 0.02, 1.0f, -1.0f, &y, &phi));
    /* a tiny pair: s.y' = 0.8 * 5e-8 + 0.2 * 1e-6 = 2.4e-7 < 1e-4 */
    CHECK(!offer(0.2, 1e-4, 0.001f, 0.00005f, &y, &phi));
    CHECK(offer(0.2, 2e-7, 0.001f, 0.00005f, &y, &phi));
}

/* history 2, three pairs: the oldest leaves; clip nu = sqrt(k / g.d). */
static void check_fifo_and_clip(void)
{
    lmn_slimqn_config c = lmn_slimqn_defaults();
    c.history = 2;
    c.damping = 0.0;
    c.clip = 0.01;
    lmn_optimizer *opt = make(c, 0.0, 0.0, 3);
    if (!opt) return;
    for (int k = 0; k < 3; k++) {
        float s[3] = {0}, y[3] = {0};
        s[k] = 1.0f;
        y[k] = 0.5f;
        bool kept = false;
        CHECK_OK(lmn_slimqn_offer_pair(opt->qn, s, y, NULL, &kept));
    }
    const float *s, *y;
    lmn_slimqn_pair(opt->qn, 0, &s, &y);
    CHECK(s[1] == 1.0f && s[0] == 0.0f && y[1] == 0.5f);
    lmn_slimqn_pair(opt->qn, 1, &s, &y);
    CHECK(s[2] == 1.0f);
    /* H = diag(h0, 2, 2) with h0 = s.y / y.y = 2 of the newest: d = 2 g */
    const float g[3] = {1.0f, 0.0f, 0.0f};
    float d[3];
    double nu = 0;
    CHECK_OK(lmn_slimqn_direction(opt->qn, g, g, d, NULL, &nu));
    CHECK_CLOSE(d[0], 2.0, 1e-6);
    CHECK_CLOSE(nu, sqrt(0.01 / 2.0), 1e-9);
    /* measured against another (raw) gradient: raw.d = 0.5 * 2 */
    const float raw[3] = {0.5f, 0.0f, 0.0f};
    CHECK_OK(lmn_slimqn_direction(opt->qn, g, raw, d, NULL, &nu));
    CHECK_CLOSE(nu, sqrt(0.01 / 1.0), 1e-9);
    lmn_optimizer_free(opt);
}

/* Before the first pair is kept, a step is exactly torch-style SGD. */
static void check_sgd_before_first_pair(void)
{
    enum { M = 5 };
    lmn_slimqn_config c = lmn_slimqn_defaults(); /* interval 100: no pair in 4 steps */
    lmn_optimizer *qn = make(c, 0.9, 0.01, M);
    const lmn_param_range range = {.offset = 0, .count = M, .decay = true};
    const lmn_optimizer_config sgd_config = {.kind = LMN_OPT_SGD, .momentum = 0.9, .weight_decay = 0.01};
    lmn_optimizer *sgd = NULL;
    CHECK_OK(lmn_optimizer_create(&sgd_config, &range, 1, M, &sgd));
    if (!qn || !sgd) return;
    float w1[M], w2[M], g[M];
    for (int i = 0; i < M; i++) w1[i] = w2[i] = (float)(0.1 * i - 0.2);
    for (int step = 0; step < 4; step++) {
        for (int i = 0; i < M; i++) g[i] = (float)sin(0.9 * i + step);
        CHECK_OK(lmn_slimqn_step(qn, w1, g, 0.1, NULL));
        lmn_optimizer_update(sgd, w2, g, 0.1, 0, M);
    }
    CHECK(memcmp(w1, w2, sizeof w1) == 0);
    lmn_optimizer_free(qn);
    lmn_optimizer_free(sgd);
}

/* The same dot product from any cut, summed in any order: the same bits. */
static void check_exact_dot(void)
{
    enum { LONG = 100003 };
    float *a = NULL, *b = NULL;
    CHECK_OK(lmn_alloc_floats(&a, LONG, "test"));
    CHECK_OK(lmn_alloc_floats(&b, LONG, "test"));
    if (!a || !b) return;
    long double reference = 0;
    for (size_t i = 0; i < LONG; i++) {
        a[i] = (float)(sin(0.37 * i) * pow(10.0, (double)(i % 13) - 6));
        b[i] = (float)(cos(1.1 * i) * pow(10.0, 3.0 - (double)(i % 7)));
        reference += (long double)a[i] * b[i];
    }
    lmn_exact_sum whole = {{0}}, pieces = {{0}};
    lmn_exact_dot_add(&whole, a, b, LONG);
    const size_t cuts[] = {0, 7, 5000, 5001, 77777, LONG};
    for (int k = 4; k >= 0; k--) /* backwards */
        lmn_exact_dot_add(&pieces, a + cuts[k], b + cuts[k], cuts[k + 1] - cuts[k]);
    const double x = lmn_exact_sum_value(&whole), y = lmn_exact_sum_value(&pieces);
    CHECK(memcmp(&x, &y, sizeof x) == 0);
    CHECK_CLOSE(x, (double)reference, 1e-15);
    const float inf = INFINITY;
    lmn_exact_sum bad = {{0}};
    lmn_exact_dot_add(&bad, &inf, &inf, 1);
    CHECK(isnan(lmn_exact_sum_value(&bad)));
    lmn_free(a);
    lmn_free(b);
}

static void run_steps(lmn_optimizer *opt, float *w, int from, int to)
{
    float g[N];
    for (int step = from; step < to; step++) {
        for (int i = 0; i < N; i++) g[i] = (float)((0.2 + 0.1 * i) * w[i] + 0.05 * sin(step + i));
        CHECK_OK(lmn_slimqn_step(opt, w, g, 0.2, NULL));
    }
}

/* 30 steps straight = 17 steps, gather, restore into a fresh optimizer, 13 more. */
static void check_resume(void)
{
    lmn_slimqn_config c = lmn_slimqn_defaults();
    c.history = 3;
    c.interval = 4;
    lmn_optimizer *straight = make(c, 0.9, 0.001, N), *first = make(c, 0.9, 0.001, N);
    const lmn_param_range range = {.offset = 0, .count = N, .decay = true};
    const lmn_optimizer_config config = {.kind = LMN_OPT_SLIMQN, .momentum = 0.9,
                                         .weight_decay = 0.001, .slimqn = c};
    lmn_optimizer *second = NULL;
    CHECK_OK(lmn_optimizer_create(&config, &range, 1, N, &second));
    if (!straight || !first || !second) return;
    float a[N], b[N];
    for (int i = 0; i < N; i++) a[i] = b[i] = (float)(1.0 - 0.2 * i);
    run_steps(straight, a, 0, 30);
    run_steps(first, b, 0, 17);
    CHECK_OK(lmn_slimqn_gather(first, NULL));
    const double *scalars = NULL;
    const float *vectors = NULL;
    int count = 0, expected = 0;
    CHECK_OK(lmn_slimqn_saved(first->qn, &scalars, &vectors, &count));
    CHECK_OK(lmn_slimqn_check_state(second, scalars, lmn_slimqn_scalar_count(second->qn), &expected));
    CHECK(count == expected && count == 4 + 2 * 3);
    float *copy = NULL;
    CHECK_OK(lmn_alloc_floats(&copy, (size_t)count * N, "test"));
    memcpy(copy, vectors, sizeof(float) * (size_t)count * N);
    lmn_slimqn_restore(second, scalars, copy);
    memcpy(second->velocity, first->velocity, sizeof(float) * N);
    run_steps(second, b, 17, 30);
    CHECK(memcmp(a, b, sizeof a) == 0);
    lmn_slimqn_report report;
    lmn_slimqn_report_get(second->qn, &report);
    CHECK(report.pairs == 3);
    lmn_optimizer_free(straight);
    lmn_optimizer_free(first);
    lmn_optimizer_free(second);
}


/* ALGORITHMS.md 14 written out in double precision, one tensor, for the
 * step-path check below. */
enum { RN = 6, RM = 3 };
typedef struct reference {
    double pbar[RN], gbar[RN], pprev[RN], gprev[RN], s[RM][RN], y[RM][RN], sy[RM], v[RN], h0;
    int pairs, steps;
} reference;

static double rdot(const double *a, const double *b)
{
    double sum = 0;
    for (int i = 0; i < RN; i++) sum += a[i] * b[i];
    return sum;
}

static void reference_pair(reference *r, const lmn_slimqn_config *c)
{
    double s[RN], y[RN];
    for (int i = 0; i < RN; i++) {
        s[i] = r->pbar[i] - r->pprev[i];
        y[i] = r->gbar[i] - r->gprev[i];
        r->pprev[i] = r->pbar[i];
        r->gprev[i] = r->gbar[i];
    }
    const double tau = rdot(s, y) / rdot(s, s);
    double phi = tau < 0.01 ? 0.99 / (1 - tau) : tau > 1 ? 0 : 1;
    phi = fmin(phi, 1 - c->damping);
    for (int i = 0; i < RN; i++) y[i] = phi * y[i] + (1 - phi) * s[i];
    if (!(rdot(s, y) >= c->rho_min)) return;
    if (r->pairs == RM) { /* FIFO */
        memmove(r->s, r->s[1], sizeof r->s[0] * (RM - 1));
        memmove(r->y, r->y[1], sizeof r->y[0] * (RM - 1));
        memmove(r->sy, r->sy + 1, sizeof r->sy[0] * (RM - 1));
        r->pairs--;
    }
    memcpy(r->s[r->pairs], s, sizeof s);
    memcpy(r->y[r->pairs], y, sizeof y);
    r->sy[r->pairs++] = rdot(s, y);
    r->h0 = rdot(s, y) / rdot(y, y);
}

static void reference_step(reference *r, const lmn_slimqn_config *c, double *w, const double *g,
                           double lr, double momentum, double wd)
{
    const double mp = c->param_momentum, mg = c->grad_momentum;
    for (int i = 0; i < RN; i++) {
        r->pbar[i] = r->steps ? mp * r->pbar[i] + (1 - mp) * w[i] : w[i];
        r->gbar[i] = r->steps ? mg * r->gbar[i] + (1 - mg) * g[i] : g[i];
        if (!r->steps) r->pprev[i] = w[i], r->gprev[i] = g[i];
    }
    if (r->steps && r->steps % c->interval == 0) reference_pair(r, c);
    double d[RN], alpha[RM], nu = 1;
    for (int i = 0; i < RN; i++) d[i] = g[i] + wd * w[i];
    if (r->pairs) {
        for (int k = r->pairs - 1; k >= 0; k--) {
            alpha[k] = rdot(r->s[k], d) / r->sy[k];
            for (int i = 0; i < RN; i++) d[i] -= alpha[k] * r->y[k][i];
        }
        for (int i = 0; i < RN; i++) d[i] *= r->h0;
        for (int k = 0; k < r->pairs; k++) {
            const double beta = rdot(r->y[k], d) / r->sy[k];
            for (int i = 0; i < RN; i++) d[i] += (alpha[k] - beta) * r->s[k][i];
        }
        nu = fmin(1, sqrt(c->clip / rdot(g, d)));
    }
    for (int i = 0; i < RN; i++) {
        r->v[i] = momentum * r->v[i] + nu * d[i];
        w[i] -= lr * r->v[i];
    }
    r->steps++;
}

/* 60 steps of lmn_slimqn_step against the reference on a noisy quadratic
 * with uneven curvature (pairs every 4 steps, FIFO of 3, some damped). */
static void check_against_reference(void)
{
    lmn_slimqn_config c = lmn_slimqn_defaults();
    c.history = RM;
    c.interval = 4;
    c.param_momentum = 0.5;
    c.grad_momentum = 0.6;
    c.rho_min = 1e-7;
    c.clip = 0.001; /* binds: nu < 1 */
    lmn_optimizer *opt = make(c, 0.8, 0.01, RN);
    if (!opt) return;
    reference r = {0};
    float w[RN], g[RN];
    double wr[RN], gr[RN], worst = 0;
    for (int i = 0; i < RN; i++) wr[i] = w[i] = (float)(1.0 - 0.3 * i);
    for (int step = 0; step < 60; step++) {
        for (int i = 0; i < RN; i++) {
            const double curvature = 0.2 * (i + 1), noise = 0.02 * sin(2.3 * step + i);
            g[i] = (float)(curvature * w[i] + noise);
            gr[i] = g[i]; /* both take the same float gradient */
        }
        CHECK_OK(lmn_slimqn_step(opt, w, g, 0.1, NULL));
        reference_step(&r, &c, wr, gr, 0.1, 0.8, 0.01);
        for (int i = 0; i < RN; i++) worst = fmax(worst, fabs(w[i] - wr[i]) / fmax(1e-2, fabs(wr[i])));
    }
    lmn_slimqn_report report;
    lmn_slimqn_report_get(opt->qn, &report);
    CHECK(report.pairs == r.pairs && r.pairs == RM && report.clip < 1.0);
    printf("reference: worst %g, pairs %d, damping %g, clip %g, rejected %lld\n", worst, r.pairs, report.damping, report.clip, (long long)report.rejected);
    CHECK_MSG(worst < 1e-4, "step path differs from the double-precision reference by %g", worst);
    lmn_optimizer_free(opt);
}

int main(void)
{
    check_inverse_hessian();
    check_damping_and_rejection();
    check_fifo_and_clip();
    check_sgd_before_first_pair();
    check_exact_dot();
    check_resume();
    check_against_reference();
    return lmn_test_summary("slimqn");
}
