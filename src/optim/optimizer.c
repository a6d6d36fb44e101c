#include "optim/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "optim/slimqn.h"

static const char *const optimizer_names[] = {"sgd", "adam", "adamw", "slimqn", NULL};

const char *const *lmn_optimizer_names(void) { return optimizer_names; }

lmn_status lmn_optimizer_create(const lmn_optimizer_config *config, const lmn_param_range *ranges,
                                int range_count, size_t total, lmn_optimizer **out)
{
    *out = NULL;
    lmn_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate the optimizer");
    opt->config = *config;
    opt->total = total;
    opt->range_count = range_count;
    opt->ranges = malloc(sizeof *ranges * (size_t)(range_count ? range_count : 1));
    lmn_status status = opt->ranges ? LMN_OK : lmn_fail(LMN_ERR_NOMEM, "cannot copy parameter ranges");
    if (status == LMN_OK) {
        memcpy(opt->ranges, ranges, sizeof *ranges * (size_t)range_count);
        status = lmn_alloc_floats(&opt->velocity, total, "optimizer state");
    }
    if (status == LMN_OK && config->kind == LMN_OPT_SLIMQN)
        status = lmn_slimqn_create(&config->slimqn, &opt->qn);
    if (status == LMN_OK && (config->kind == LMN_OPT_ADAM || config->kind == LMN_OPT_ADAMW))
        status = lmn_alloc_floats(&opt->second, total, "Adam second moments");
    if (status != LMN_OK) {
        lmn_optimizer_free(opt);
        return status;
    }
    *out = opt;
    return LMN_OK;
}

size_t lmn_optimizer_pending_bytes(const lmn_optimizer *opt, int rank, int ranks, char *describe,
                                   size_t size)
{
    if (describe && size > 0) describe[0] = '\0';
    if (!opt->qn) return 0; /* velocity and Adam's moments are allocated (and zeroed) already */
    return lmn_slimqn_state_bytes(&opt->config.slimqn, opt->total, opt->range_count, rank, ranks,
                                  describe, size);
}

void lmn_optimizer_free(lmn_optimizer *opt)
{
    if (!opt) return;
    free(opt->ranges);
    lmn_free(opt->velocity);
    lmn_free(opt->second);
    lmn_slimqn_free(opt->qn);
    free(opt);
}

/* v = m v + (g + wd w); w -= lr v (or lr (g' + m v) with Nesterov). */
static void sgd_update(lmn_optimizer *opt, float *w, const float *g, float *v, size_t count,
                       double lr, double decay)
{
    const float m = (float)opt->config.momentum, wd = (float)decay, rate = (float)lr;
    const bool nesterov = opt->config.nesterov;
#pragma omp parallel for simd schedule(static)
    for (size_t k = 0; k < count; k++) {
        const float grad = g[k] + wd * w[k];
        v[k] = m * v[k] + grad;
        w[k] -= rate * (nesterov ? grad + m * v[k] : v[k]);
    }
}

static void adam_update(lmn_optimizer *opt, float *w, const float *g, float *m1, float *m2,
                        size_t count, double lr, double decay)
{
    const lmn_optimizer_config *c = &opt->config;
    const double t = (double)(opt->steps + 1);
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->epsilon;
    const float step = (float)(lr / (1.0 - pow(c->beta1, t)));
    const float root_correction = (float)sqrt(1.0 - pow(c->beta2, t));
    const bool decoupled = c->kind == LMN_OPT_ADAMW;
    const float l2 = decoupled ? 0.0f : (float)decay, shrink = decoupled ? (float)(lr * decay) : 0.0f;
#pragma omp parallel for simd schedule(static)
    for (size_t k = 0; k < count; k++) {
        const float grad = g[k] + l2 * w[k];
        m1[k] = b1 * m1[k] + (1.0f - b1) * grad;
        m2[k] = b2 * m2[k] + (1.0f - b2) * grad * grad;
        w[k] -= shrink * w[k];
        w[k] -= step * m1[k] / (sqrtf(m2[k]) / root_correction + eps);
    }
}

void lmn_optimizer_update(lmn_optimizer *opt, float *params, const float *grads, double lr,
                          size_t begin, size_t end)
{
    for (int r = 0; r < opt->range_count; r++) {
        const lmn_param_range *range = &opt->ranges[r];
        const size_t lo = range->offset > begin ? range->offset : begin;
        const size_t hi = range->offset + range->count < end ? range->offset + range->count : end;
        if (lo >= hi) continue;
        const double decay = range->decay ? opt->config.weight_decay : 0.0;
        if (opt->config.kind == LMN_OPT_SGD || opt->config.kind == LMN_OPT_SLIMQN)
            sgd_update(opt, params + lo, grads + lo, opt->velocity + lo, hi - lo, lr, decay);
        else
            adam_update(opt, params + lo, grads + lo, opt->velocity + lo, opt->second + lo, hi - lo,
                        lr, decay);
    }
}

void lmn_optimizer_finish_step(lmn_optimizer *opt) { opt->steps++; }

lmn_slimqn_config lmn_slimqn_defaults(void)
{
    return (lmn_slimqn_config){.history = 100, .interval = 100, .param_momentum = 0.9,
                               .grad_momentum = 0.99, .damping = 0.2, .clip = 0.005,
                               .rho_min = 1e-4};
}
