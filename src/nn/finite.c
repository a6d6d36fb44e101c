/* Non-finite checks (see finite.h). */
#include "nn/finite.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

bool lmn_floats_finite(const float *x, size_t count)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        /* All exponent bits set: infinity or NaN. */
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

/* The first non-finite element among the views, reading learnable tensors
 * from `learnable` (params or grads); false when all are finite. */
static bool find_non_finite(const lmn_network *net, const float *learnable, bool with_statistics,
                            const lmn_tensor_view **where, size_t *index)
{
    for (int k = 0; k < net->tensor_count; k++) {
        const lmn_tensor_view *v = &net->tensors[k];
        const bool statistic = lmn_tensor_is_statistic(v);
        if (statistic && !with_statistics) continue;
        const float *x = (statistic ? net->state : learnable) + v->offset;
        if (lmn_floats_finite(x, v->count)) continue;
        for (size_t i = 0; i < v->count; i++)
            if (!isfinite(x[i])) {
                *where = v;
                *index = i;
                return true;
            }
    }
    return false;
}

static lmn_status report(const lmn_network *net, const float *learnable, bool statistics,
                         const char *what, const char *kind)
{
    const lmn_tensor_view *v = NULL;
    size_t i = 0;
    if (!find_non_finite(net, learnable, statistics, &v, &i)) return LMN_OK;
    const float *x = (lmn_tensor_is_statistic(v) ? net->state : learnable) + v->offset;
    size_t bad = 0;
    for (size_t j = 0; j < v->count; j++) bad += !isfinite(x[j]);
    return lmn_fail(LMN_ERR_NUMERIC, "%s: %s '%s' holds %zu non-finite value%s of %zu (element %zu "
                    "is %g)", what, kind, v->name, bad, bad == 1 ? "" : "s", v->count, i, (double)x[i]);
}

lmn_status lmn_network_check_finite(const lmn_network *net, const char *what)
{
    return report(net, net->params, true, what, "tensor");
}

lmn_status lmn_network_check_grads_finite(const lmn_network *net, const char *what)
{
    return report(net, net->grads, false, what, "the gradient of");
}
