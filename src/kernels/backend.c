#include <string.h>

#include "kernels/kernels.h"

static const char *const backend_names[] = {"dnnl", "ref", NULL};

const char *const *lmn_backend_names(void) { return backend_names; }

lmn_status lmn_backend_create(const char *name, lmn_backend **out)
{
    *out = NULL;
    if (strcmp(name, "ref") == 0) return lmn_backend_create_ref(out);
    if (strcmp(name, "dnnl") == 0) return lmn_backend_create_dnnl(out);
    return lmn_fail(LMN_ERR_CONFIG, "unknown kernel backend '%s' (choose dnnl or ref)", name);
}

const char *lmn_precision_name(lmn_precision precision)
{
    return precision == LMN_PRECISION_BF16 ? "bf16" : "fp32";
}

lmn_status lmn_backend_set_precision(lmn_backend *be, lmn_precision precision)
{
    if (precision == LMN_PRECISION_BF16 && strcmp(be->name, "dnnl") != 0)
        return lmn_fail(LMN_ERR_CONFIG,
                        "train.precision: bf16 needs backend: dnnl; the %s backend computes in "
                        "fp32 only (it is the reference the bf16 kernels are tested against)",
                        be->name);
    const char *isa = NULL;
    if (precision == LMN_PRECISION_BF16 && !lmn_dnnl_native_bf16(&isa))
        return lmn_fail(LMN_ERR_CONFIG,
                        "train.precision: bf16 needs a CPU with native bf16 (AVX512-BF16 or "
                        "AMX); oneDNN runs %s here, where bf16 would be emulated and slower "
                        "than fp32: use train.precision: fp32", isa ? isa : "an older ISA");
    be->precision = precision;
    return LMN_OK;
}

void lmn_backend_destroy(lmn_backend *be)
{
    if (be) be->destroy(be);
}

lmn_act_desc lmn_act_dense(int n, int c, int h, int w)
{
    lmn_act_desc desc = {.n = n, .c = c, .h = h, .w = w, .layout = NULL,
                         .floats = (size_t)n * (size_t)c * (size_t)h * (size_t)w};
    return desc;
}

lmn_act_desc lmn_act_dense3d(int n, int c, int d, int h, int w)
{
    lmn_act_desc desc = lmn_act_dense(n, c, h, w);
    desc.d = d;
    desc.floats *= (size_t)(d > 0 ? d : 0);
    return desc;
}

size_t lmn_act_elements(const lmn_act_desc *desc)
{
    const size_t plane = (size_t)desc->n * (size_t)desc->c * (size_t)desc->h * (size_t)desc->w;
    return desc->d > 0 ? plane * (size_t)desc->d : plane;
}
