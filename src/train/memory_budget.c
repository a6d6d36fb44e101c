/* train.max_memory_gb: a step's buffers are estimated and refused before
 * they are allocated. Without it, a batch too large for the node is found by
 * the kernel's OOM killer, which ends one rank with no message while the
 * others wait in a collective. */
#include "train/memory_budget.h"

#include <stdio.h>
#include <unistd.h>

#include "nn/plan.h"
#include "optim/optimizer.h"

static double node_memory_gb(void)
{
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page / 1e9 : 0.0;
}

/* What this rank holds now (data in memory, model, libraries). */
static double resident_gb(void)
{
    FILE *statm = fopen("/proc/self/statm", "r");
    long total = 0, resident = 0;
    const bool read = statm && fscanf(statm, "%ld %ld", &total, &resident) == 2;
    if (statm) fclose(statm);
    return read ? (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e9 : 0.0;
}

static double limit_gb(const lmn_trainer *t, bool *by_default)
{
    *by_default = t->settings.max_memory_gb < 0;
    if (!*by_default) return t->settings.max_memory_gb;
    const int ranks_here = t->comm->local_size > 0 ? t->comm->local_size : 1;
    return node_memory_gb() / ranks_here;
}

static lmn_status explain(lmn_status status, double limit, bool by_default)
{
    return lmn_fail_context(status, "train.max_memory_gb is %.2f GB per rank%s; lower "
                            "train.batch_size or train.eval_batch_size, or raise "
                            "train.max_memory_gb (0 turns the check off)", limit,
                            by_default ? " (the default: this node's memory / its ranks)" : "");
}

lmn_status lmn_trainer_reserve_memory(lmn_trainer *t, int local_batch)
{
    bool by_default = false;
    const double limit = limit_gb(t, &by_default);
    if (limit <= 0) return LMN_OK;
    const double held = resident_gb();
    /* what the optimizer allocates later (SLIM-QN's history) is counted now */
    char later[384] = "";
    const double pending = t->optimizer ? (double)lmn_optimizer_pending_bytes(
        t->optimizer, t->comm->rank, t->comm->size, later, sizeof later) / 1e9 : 0.0;
    if (held + pending >= limit)
        return explain(lmn_fail(LMN_ERR_NOMEM, "this rank already holds %.2f GB (data, model)%s%s",
                                held, pending > 0 ? " and " : "", later), limit, by_default);
    t->net->activation_budget_bytes = (size_t)((limit - held - pending) * 1e9);
    lmn_plan *plan = NULL;
    lmn_status status = LMN_OK;
    if (!t->evaluation_only) status = lmn_plan_for_batch(t->net, local_batch, &plan);
    const bool evaluates = t->settings.eval || t->evaluation_only || t->federated;
    if (status == LMN_OK && evaluates && t->test_set && t->test_set->count > 0) {
        const int64_t count = t->test_set->count;
        const int eval_batch = count < t->settings.eval_batch_size ? (int)count
                                                                   : t->settings.eval_batch_size;
        status = lmn_plan_for_batch(t->net, eval_batch, &plan);
    }
    return status == LMN_OK ? LMN_OK : explain(status, limit, by_default);
}
