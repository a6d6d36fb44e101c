/* Optimizers against scalar re-implementations of PyTorch's update rules
 * (torch.optim.SGD / Adam / AdamW, dampening 0) in double precision, over
 * several steps with a changing learning rate, plus the property a
 * sharded update relies on: updating [0, k) and [k, n) separately is the
 * same as updating [0, n) at once. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "optim/optimizer.h"
#include "test.h"

enum { N = 9, STEPS = 5 };

/* Three tensors; the middle one (a bias, say) is exempt from decay. */
static const lmn_param_range RANGES[] = {
    {.offset = 0, .count = 4, .decay = true},
    {.offset = 4, .count = 2, .decay = false},
    {.offset = 6, .count = 3, .decay = true},
};
static const int RANGE_COUNT = 3;

static bool decays(size_t k) { return k < 4 || k >= 6; }

static double lr_at(int step) { return 0.1 / (1.0 + step); }

/* A different, sign-changing gradient at every step. */
static float gradient(size_t k, int step)
{
    return (float)(0.3 * sin(1.3 * (double)k + 0.7 * step) + 0.05 * (double)k - 0.2);
}

static float initial(size_t k) { return (float)(0.5 - 0.15 * (double)k); }

/* PyTorch's SGD: d = g + wd w; buf = m buf + d (buf = d at step 1);
 * w -= lr (nesterov ? d + m buf : buf). */
static void reference_sgd(const lmn_optimizer_config *c, double *w, double *buf, int step)
{
    for (size_t k = 0; k < N; k++) {
        const double d = gradient(k, step) + (decays(k) ? c->weight_decay : 0.0) * w[k];
        if (c->momentum == 0.0) {
            w[k] -= lr_at(step) * d;
            continue;
        }
        buf[k] = step == 0 ? d : c->momentum * buf[k] + d;
        w[k] -= lr_at(step) * (c->nesterov ? d + c->momentum * buf[k] : buf[k]);
    }
}

/* PyTorch's Adam (L2: g += wd w) and AdamW (w *= 1 - lr wd first):
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
static void reference_adam(const lmn_optimizer_config *c, double *w, double *m, double *v,
                           int step)
{
    const double t = step + 1, lr = lr_at(step);
    const bool decoupled = c->kind == LMN_OPT_ADAMW;
    for (size_t k = 0; k < N; k++) {
        const double wd = decays(k) ? c->weight_decay : 0.0;
        double g = gradient(k, step);
        if (decoupled)
            w[k] *= 1.0 - lr * wd;
        else
            g += wd * w[k];
        m[k] = c->beta1 * m[k] + (1.0 - c->beta1) * g;
        v[k] = c->beta2 * v[k] + (1.0 - c->beta2) * g * g;
        const double denom = sqrt(v[k]) / sqrt(1.0 - pow(c->beta2, t)) + c->epsilon;
        w[k] -= lr / (1.0 - pow(c->beta1, t)) * m[k] / denom;
    }
}

/* Runs STEPS updates and compares with the reference after every step. */
static void check_against_reference(const char *name, const lmn_optimizer_config *config)
{
    lmn_optimizer *opt = NULL;
    CHECK_OK(lmn_optimizer_create(config, RANGES, RANGE_COUNT, N, &opt));
    if (!opt) return;
    float params[N], grads[N];
    double w[N], first[N] = {0}, second[N] = {0};
    for (size_t k = 0; k < N; k++) w[k] = params[k] = initial(k);
    for (int step = 0; step < STEPS; step++) {
        for (size_t k = 0; k < N; k++) grads[k] = gradient(k, step);
        lmn_optimizer_update(opt, params, grads, lr_at(step), 0, N);
        lmn_optimizer_finish_step(opt);
        if (config->kind == LMN_OPT_SGD)
            reference_sgd(config, w, first, step);
        else
            reference_adam(config, w, first, second, step);
        double worst = 0.0;
        for (size_t k = 0; k < N; k++) worst = fmax(worst, fabs(params[k] - w[k]));
        CHECK_MSG(worst < 2e-6, "%s step %d: parameters off the reference by %g", name, step + 1,
                  worst);
        /* The gradient buffer is input only. */
        CHECK(grads[N - 1] == gradient(N - 1, step));
    }
    /* Something actually moved, on decayed and exempt tensors alike. */
    CHECK(params[0] != initial(0) && params[5] != initial(5));
    lmn_optimizer_free(opt);
}

/* With a zero gradient only weight decay moves a parameter: decayed
 * ranges shrink, exempt ranges stay exactly where they are. */
static void check_decay_ranges(lmn_optimizer_kind kind)
{
    const lmn_optimizer_config config = {.kind = kind, .weight_decay = 0.1, .beta1 = 0.9,
                                         .beta2 = 0.999, .epsilon = 1e-8};
    lmn_optimizer *opt = NULL;
    CHECK_OK(lmn_optimizer_create(&config, RANGES, RANGE_COUNT, N, &opt));
    if (!opt) return;
    float params[N], zeros[N] = {0};
    for (size_t k = 0; k < N; k++) params[k] = initial(k) + 1.0f; /* all non-zero */
    lmn_optimizer_update(opt, params, zeros, 0.5, 0, N);
    lmn_optimizer_finish_step(opt);
    for (size_t k = 0; k < N; k++) {
        const float before = initial(k) + 1.0f;
        if (!decays(k)) {
            CHECK_MSG(params[k] == before, "kind %d: exempt parameter %zu moved", kind, k);
        } else {
            CHECK_MSG(fabsf(params[k]) < fabsf(before), "kind %d: parameter %zu did not decay",
                      kind, k);
        }
    }
    if (kind == LMN_OPT_SGD) CHECK_CLOSE(params[0], (initial(0) + 1.0) * (1.0 - 0.05), 1e-6);
    if (kind == LMN_OPT_ADAMW) CHECK_CLOSE(params[0], (initial(0) + 1.0) * (1.0 - 0.05), 1e-6);
    lmn_optimizer_free(opt);
}

/* Updating [0, split) and [split, N) (in either order) equals one update
 * of [0, N) for every split point, including ones inside a tensor. */
static void check_sharded(const char *name, const lmn_optimizer_config *config)
{
    for (size_t split = 0; split <= N; split++) {
        lmn_optimizer *whole = NULL, *sharded = NULL;
        CHECK_OK(lmn_optimizer_create(config, RANGES, RANGE_COUNT, N, &whole));
        CHECK_OK(lmn_optimizer_create(config, RANGES, RANGE_COUNT, N, &sharded));
        if (!whole || !sharded) {
            lmn_optimizer_free(whole);
            lmn_optimizer_free(sharded);
            return;
        }
        float a[N], b[N], grads[N];
        for (size_t k = 0; k < N; k++) a[k] = b[k] = initial(k);
        for (int step = 0; step < 3; step++) {
            for (size_t k = 0; k < N; k++) grads[k] = gradient(k, step);
            lmn_optimizer_update(whole, a, grads, lr_at(step), 0, N);
            if (step % 2) {
                lmn_optimizer_update(sharded, b, grads, lr_at(step), split, N);
                lmn_optimizer_update(sharded, b, grads, lr_at(step), 0, split);
            } else {
                lmn_optimizer_update(sharded, b, grads, lr_at(step), 0, split);
                lmn_optimizer_update(sharded, b, grads, lr_at(step), split, N);
            }
            lmn_optimizer_finish_step(whole);
            lmn_optimizer_finish_step(sharded);
        }
        double worst = 0.0;
        for (size_t k = 0; k < N; k++) worst = fmax(worst, fabs(a[k] - b[k]));
        CHECK_MSG(worst <= 1e-7, "%s split at %zu: sharded update differs by %g", name, split, worst);
        lmn_optimizer_free(whole);
        lmn_optimizer_free(sharded);
    }
}

/* An update of [begin, end) leaves everything outside it untouched. */
static void check_partial_range(void)
{
    const lmn_optimizer_config config = {.kind = LMN_OPT_SGD, .momentum = 0.9, .weight_decay = 0.01};
    lmn_optimizer *opt = NULL;
    CHECK_OK(lmn_optimizer_create(&config, RANGES, RANGE_COUNT, N, &opt));
    if (!opt) return;
    float params[N], grads[N];
    for (size_t k = 0; k < N; k++) {
        params[k] = initial(k);
        grads[k] = 1.0f;
    }
    lmn_optimizer_update(opt, params, grads, 0.1, 3, 7);
    for (size_t k = 0; k < N; k++) {
        const bool inside = k >= 3 && k < 7;
        CHECK_MSG((params[k] != initial(k)) == inside, "parameter %zu %s", k,
                  inside ? "was not updated" : "was updated outside [3, 7)");
        CHECK_MSG((opt->velocity[k] != 0.0f) == inside, "velocity %zu %s", k,
                  inside ? "was not set" : "was set outside [3, 7)");
    }
    lmn_optimizer_free(opt);
}

int main(void)
{
    const lmn_optimizer_config plain = {.kind = LMN_OPT_SGD};
    const lmn_optimizer_config momentum = {.kind = LMN_OPT_SGD, .momentum = 0.9};
    const lmn_optimizer_config nesterov = {.kind = LMN_OPT_SGD, .momentum = 0.9, .nesterov = true};
    const lmn_optimizer_config decayed = {.kind = LMN_OPT_SGD, .momentum = 0.8, .weight_decay = 0.05};
    const lmn_optimizer_config nesterov_decayed = {.kind = LMN_OPT_SGD, .momentum = 0.8,
                                                   .nesterov = true, .weight_decay = 0.05};
    const lmn_optimizer_config decay_only = {.kind = LMN_OPT_SGD, .weight_decay = 0.05};
    const lmn_optimizer_config adam = {.kind = LMN_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999,
                                       .epsilon = 1e-8};
    const lmn_optimizer_config adam_l2 = {.kind = LMN_OPT_ADAM, .beta1 = 0.8, .beta2 = 0.99,
                                          .epsilon = 1e-6, .weight_decay = 0.1};
    const lmn_optimizer_config adamw = {.kind = LMN_OPT_ADAMW, .beta1 = 0.8, .beta2 = 0.99,
                                        .epsilon = 1e-6, .weight_decay = 0.1};

    check_against_reference("sgd", &plain);
    check_against_reference("sgd momentum", &momentum);
    check_against_reference("sgd nesterov", &nesterov);
    check_against_reference("sgd momentum + weight decay", &decayed);
    check_against_reference("sgd nesterov + weight decay", &nesterov_decayed);
    check_against_reference("sgd weight decay only", &decay_only);
    check_against_reference("adam", &adam);
    check_against_reference("adam + L2", &adam_l2);
    check_against_reference("adamw", &adamw);

    check_decay_ranges(LMN_OPT_SGD);
    check_decay_ranges(LMN_OPT_ADAM);
    check_decay_ranges(LMN_OPT_ADAMW);

    check_sharded("sgd nesterov + weight decay", &nesterov_decayed);
    check_sharded("adam + L2", &adam_l2);
    check_sharded("adamw", &adamw);
    check_partial_range();

    int names = 0;
    for (const char *const *name = lmn_optimizer_names(); *name; name++) names++;
    CHECK(names == 4 && strcmp(lmn_optimizer_names()[2], "adamw") == 0 &&
          strcmp(lmn_optimizer_names()[3], "slimqn") == 0);
    return lmn_test_summary("optim_test_optimizer");
}
