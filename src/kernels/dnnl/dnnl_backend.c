/* The oneDNN backend: engine and stream, the function table, and the
 * generic layout functions (reorder, same_layout), for 4-D (NCHW) and 5-D
 * (NCDHW) activations alike. The ops live in dnnl_conv.c (2-D and 3-D),
 * dnnl_pool.c (2-D and 3-D), dnnl_upsample.c, dnnl_batchnorm.c and
 * dnnl_linear.c. */
#include <oneapi/dnnl/dnnl_debug.h>
#include <string.h>

#include "core/memory.h"
#include "kernels/dnnl/dnnl_internal.h"

/* lmn_backend.reorder is called by layers that convert between a dnnl
 * layout and dense (flatten, the loss, checkpoints) at every step, with a
 * handful of distinct (from, to) pairs: keep the last few primitives. */
enum { REORDER_CACHE_SIZE = 8 };

struct lmn_dnnl_reorder_entry {
    dnnl_memory_desc_t from_md, to_md;
    lmn_dnnl_convert reorder; /* scratch unused: both sides are user buffers */
    unsigned long last_used;  /* 0: empty */
};

static lmn_dnnl *impl_of(lmn_backend *be) { return (lmn_dnnl *)be->impl; }

static lmn_dnnl_reorder_entry *find_reorder(lmn_dnnl *dnnl, const dnnl_memory_desc_t *from,
                                            const dnnl_memory_desc_t *to)
{
    for (int i = 0; i < dnnl->reorder_cache_size; i++) {
        lmn_dnnl_reorder_entry *e = &dnnl->reorder_cache[i];
        if (e->last_used && dnnl_memory_desc_equal(&e->from_md, from) &&
            dnnl_memory_desc_equal(&e->to_md, to))
            return e;
    }
    return NULL;
}

static lmn_status add_reorder(lmn_dnnl *dnnl, const dnnl_memory_desc_t *from,
                              const dnnl_memory_desc_t *to, lmn_dnnl_reorder_entry **out)
{
    lmn_dnnl_reorder_entry *victim = &dnnl->reorder_cache[0];
    for (int i = 1; i < dnnl->reorder_cache_size; i++)
        if (dnnl->reorder_cache[i].last_used < victim->last_used)
            victim = &dnnl->reorder_cache[i];
    lmn_dnnl_convert_free(&victim->reorder);
    victim->last_used = 0;
    dnnl_primitive_desc_t pd = NULL;
    LMN_DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, from, dnnl->engine, to, dnnl->engine,
                                                    NULL),
                 "creating a reorder between activation layouts");
    lmn_status st = lmn_dnnl_primitive(pd, &victim->reorder.reorder, "creating a reorder");
    dnnl_primitive_desc_destroy(pd);
    if (st == LMN_OK) st = lmn_dnnl_memory(dnnl, from, &victim->reorder.from);
    if (st == LMN_OK) st = lmn_dnnl_memory(dnnl, to, &victim->reorder.to);
    if (st != LMN_OK) {
        lmn_dnnl_convert_free(&victim->reorder);
        return st;
    }
    victim->from_md = *from;
    victim->to_md = *to;
    *out = victim;
    return LMN_OK;
}

/* Logical shapes agree, depth included (d = 0 is 2-D). */
static bool same_shape(const lmn_act_desc *a, const lmn_act_desc *b)
{
    return a->n == b->n && a->c == b->c && a->d == b->d && a->h == b->h && a->w == b->w;
}

static lmn_status backend_reorder(lmn_backend *be, const lmn_act_desc *from, const float *src,
                               const lmn_act_desc *to, float *dst)
{
    if (!same_shape(from, to))
        return lmn_fail(LMN_ERR_SHAPE, "reorder needs equal shapes, got [%d,%d,%d,%d] (depth "
                        "%d) -> [%d,%d,%d,%d] (depth %d)", from->n, from->c, from->h, from->w,
                        from->d, to->n, to->c, to->h, to->w, to->d);
    dnnl_memory_desc_t from_md, to_md;
    LMN_TRY(lmn_dnnl_act_md(from, &from_md));
    LMN_TRY(lmn_dnnl_act_md(to, &to_md));
    if (lmn_dnnl_md_same_memory(&from_md, &to_md)) {
        if (dst != src) memcpy(dst, src, dnnl_memory_desc_get_size(&from_md));
        return LMN_OK;
    }
    lmn_dnnl *dnnl = impl_of(be);
    lmn_dnnl_reorder_entry *entry = find_reorder(dnnl, &from_md, &to_md);
    if (!entry) LMN_TRY(add_reorder(dnnl, &from_md, &to_md, &entry));
    entry->last_used = ++dnnl->reorder_clock;
    LMN_TRY(lmn_dnnl_bind(entry->reorder.from, src));
    LMN_TRY(lmn_dnnl_bind(entry->reorder.to, dst));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, entry->reorder.from},
                               {DNNL_ARG_TO, entry->reorder.to}};
    return lmn_dnnl_execute(dnnl, entry->reorder.reorder, 2, args,
                            "reordering an activation");
}

static bool backend_same_layout(const lmn_act_desc *a, const lmn_act_desc *b)
{
    if (!same_shape(a, b)) return false;
    if (!a->layout && !b->layout) return true;
    dnnl_memory_desc_t a_md, b_md;
    if (lmn_dnnl_act_md(a, &a_md) != LMN_OK || lmn_dnnl_act_md(b, &b_md) != LMN_OK) {
        lmn_clear_error();
        return false;
    }
    return lmn_dnnl_md_same_memory(&a_md, &b_md);
}

static void backend_op_destroy(lmn_op *op)
{
    if (op) op->destroy(op);
}

static void backend_destroy(lmn_backend *be)
{
    lmn_dnnl *dnnl = impl_of(be);
    if (dnnl) {
        for (int i = 0; i < dnnl->reorder_cache_size; i++)
            lmn_dnnl_convert_free(&dnnl->reorder_cache[i].reorder);
        lmn_free(dnnl->reorder_cache);
        lmn_free(dnnl->workspace);
        if (dnnl->stream) dnnl_stream_destroy(dnnl->stream);
        if (dnnl->engine) dnnl_engine_destroy(dnnl->engine);
        lmn_free(dnnl);
    }
    lmn_free(be);
}

static lmn_status open_engine(lmn_dnnl *dnnl)
{
    LMN_DNNL_TRY(dnnl_engine_create(&dnnl->engine, dnnl_cpu, 0), "opening the CPU engine");
    LMN_DNNL_TRY(dnnl_stream_create(&dnnl->stream, dnnl->engine, dnnl_stream_default_flags),
                 "creating the CPU stream");
    LMN_TRY(lmn_alloc_bytes((void **)&dnnl->reorder_cache,
                            REORDER_CACHE_SIZE * sizeof *dnnl->reorder_cache,
                            "dnnl reorder cache"));
    dnnl->reorder_cache_size = REORDER_CACHE_SIZE;
    return LMN_OK;
}

lmn_status lmn_dnnl_workspace(lmn_dnnl *dnnl, size_t bytes, void **out)
{
    if (bytes > dnnl->workspace_bytes) {
        void *bigger = NULL;
        LMN_TRY(lmn_alloc_bytes(&bigger, bytes, "the dnnl backend's shared workspace"));
        lmn_free(dnnl->workspace);
        dnnl->workspace = bigger;
        dnnl->workspace_bytes = bytes;
    }
    *out = dnnl->workspace;
    return LMN_OK;
}

bool lmn_dnnl_native_bf16(const char **isa)
{
    const dnnl_cpu_isa_t effective = dnnl_get_effective_cpu_isa();
    if (isa) *isa = dnnl_cpu_isa2str(effective);
    /* The ISA values are bit sets: a level includes the ones below it. */
    return ((unsigned)effective & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
           (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

lmn_status lmn_backend_create_dnnl(lmn_backend **out)
{
    *out = NULL;
    lmn_backend *be = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&be, sizeof *be, "dnnl backend"));
    be->name = "dnnl";
    be->destroy = backend_destroy;
    lmn_status st = lmn_alloc_bytes(&be->impl, sizeof(lmn_dnnl), "dnnl backend state");
    if (st == LMN_OK) st = open_engine(impl_of(be));
    if (st != LMN_OK) {
        backend_destroy(be);
        return st;
    }
    be->conv2d_create = lmn_dnnl_conv2d_create;
    be->conv2d_forward = lmn_dnnl_conv2d_forward;
    be->conv2d_backward_data = lmn_dnnl_conv2d_backward_data;
    be->conv2d_backward_weights = lmn_dnnl_conv2d_backward_weights;
    be->pool2d_create = lmn_dnnl_pool2d_create;
    be->pool2d_forward = lmn_dnnl_pool2d_forward;
    be->pool2d_backward = lmn_dnnl_pool2d_backward;
    be->conv3d_create = lmn_dnnl_conv3d_create;
    be->conv3d_forward = lmn_dnnl_conv3d_forward;
    be->conv3d_backward_data = lmn_dnnl_conv3d_backward_data;
    be->conv3d_backward_weights = lmn_dnnl_conv3d_backward_weights;
    be->pool3d_create = lmn_dnnl_pool3d_create;
    be->pool3d_forward = lmn_dnnl_pool3d_forward;
    be->pool3d_backward = lmn_dnnl_pool3d_backward;
    be->upsample_create = lmn_dnnl_upsample_create;
    be->upsample_forward = lmn_dnnl_upsample_forward;
    be->upsample_backward = lmn_dnnl_upsample_backward;
    be->batchnorm_create = lmn_dnnl_batchnorm_create;
    be->batchnorm_forward_train = lmn_dnnl_batchnorm_forward_train;
    be->batchnorm_forward_infer = lmn_dnnl_batchnorm_forward_infer;
    be->batchnorm_backward = lmn_dnnl_batchnorm_backward;
    be->linear_create = lmn_dnnl_linear_create;
    be->linear_forward = lmn_dnnl_linear_forward;
    be->linear_backward_data = lmn_dnnl_linear_backward_data;
    be->linear_backward_weights = lmn_dnnl_linear_backward_weights;
    be->reorder = backend_reorder;
    be->same_layout = backend_same_layout;
    be->op_destroy = backend_op_destroy;
    *out = be;
    return LMN_OK;
}
