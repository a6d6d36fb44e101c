/* Helpers shared by the oneDNN ops: sliding windows, memory descs, memory
 * objects, layout conversions. */
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdio.h>
#include <string.h>

#include "core/memory.h"
#include "kernels/dnnl/dnnl_internal.h"

lmn_status lmn_dnnl_check(dnnl_status_t status, const char *call, const char *context)
{
    if (status == dnnl_success) return LMN_OK;
    return lmn_fail(LMN_ERR_BACKEND, "oneDNN refused %s (%s) while %s", call,
                    dnnl_status2str(status), context);
}

/* Number of dims of a desc's memory: 5 for NCDHW (d > 0), else 4. */
static int act_ndims(const lmn_act_desc *desc) { return desc->d > 0 ? 5 : 4; }

/* The desc's logical dims in oneDNN order (N, C, [D,] H, W). */
static int act_dims(const lmn_act_desc *desc, dnnl_dims_t dims)
{
    const int ndims = act_ndims(desc);
    dims[0] = desc->n;
    dims[1] = desc->c;
    if (ndims == 5) dims[2] = desc->d;
    dims[ndims - 2] = desc->h;
    dims[ndims - 1] = desc->w;
    return ndims;
}

const char *lmn_dnnl_axes_text(const int *v, int spatial, char *buf, size_t size)
{
    if (spatial == 3)
        snprintf(buf, size, "%dx%dx%d", v[0], v[1], v[2]);
    else
        snprintf(buf, size, "%dx%d", v[0], v[1]);
    return buf;
}

const char *lmn_dnnl_window_text(const lmn_dnnl_window *w, char *buf, size_t size)
{
    char k[40], st[40], pd[40];
    snprintf(buf, size, "kernel %s, stride %s, pad %s",
             lmn_dnnl_axes_text(w->kernel, w->spatial, k, sizeof k),
             lmn_dnnl_axes_text(w->stride, w->spatial, st, sizeof st),
             lmn_dnnl_axes_text(w->pad, w->spatial, pd, sizeof pd));
    return buf;
}

bool lmn_dnnl_window_valid(const lmn_dnnl_window *w)
{
    bool valid = true;
    for (int a = 0; a < w->spatial; a++)
        valid = valid && w->kernel[a] > 0 && w->stride[a] > 0 && w->pad[a] >= 0;
    return valid;
}

static lmn_status check_window_rank(const lmn_dnnl_window *w, const lmn_act_desc *in)
{
    if ((w->spatial == 3) == (in->d > 0)) return LMN_OK;
    return lmn_fail(LMN_ERR_SHAPE, "%s: input [%d,%d,%d,%d] has depth %d; %s", w->name, in->n,
                    in->c, in->h, in->w, in->d,
                    w->spatial == 3 ? "a 3-D op needs a 3-D (NCDHW) input"
                                    : "a 2-D op needs a 2-D input (depth 0), use its 3-D version");
}

lmn_status lmn_dnnl_window_geometry(const lmn_dnnl_window *w, const lmn_act_desc *in,
                                    dnnl_dim_t *in_dims, dnnl_dim_t *out_dims,
                                    dnnl_dim_t *strides, dnnl_dim_t *padding)
{
    LMN_TRY(check_window_rank(w, in));
    const int extent[3] = {w->spatial == 3 ? in->d : in->h, w->spatial == 3 ? in->h : in->w,
                           in->w};
    for (int a = 0; a < w->spatial; a++) {
        const int span = extent[a] + 2 * w->pad[a] - w->kernel[a];
        if (span < 0) {
            char k[40], pd[40];
            return lmn_fail(LMN_ERR_SHAPE, "%s: kernel %s larger than the padded input "
                            "(axis %d of %d, pad %s)", w->name,
                            lmn_dnnl_axes_text(w->kernel, w->spatial, k, sizeof k), a,
                            extent[a], lmn_dnnl_axes_text(w->pad, w->spatial, pd, sizeof pd));
        }
        in_dims[a] = extent[a];
        out_dims[a] = span / w->stride[a] + 1;
        strides[a] = w->stride[a];
        padding[a] = w->pad[a];
    }
    return LMN_OK;
}

lmn_status lmn_dnnl_dense_md(const lmn_act_desc *desc, dnnl_memory_desc_t *md)
{
    if (desc->n <= 0 || desc->c <= 0 || desc->h <= 0 || desc->w <= 0 || desc->d < 0)
        return lmn_fail(LMN_ERR_SHAPE, "activation shape [%d,%d,%d,%d] (depth %d) must be "
                        "positive", desc->n, desc->c, desc->h, desc->w, desc->d);
    dnnl_dims_t dims;
    const int ndims = act_dims(desc, dims);
    LMN_DNNL_TRY(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32,
                                              ndims == 5 ? dnnl_ncdhw : dnnl_nchw),
                 "describing a dense NCHW / NCDHW activation");
    return LMN_OK;
}

lmn_status lmn_dnnl_act_md(const lmn_act_desc *desc, dnnl_memory_desc_t *md)
{
    if (!desc->layout) return lmn_dnnl_dense_md(desc, md);
    const dnnl_memory_desc_t *given = &desc->layout->md;
    dnnl_dims_t dims;
    const int ndims = act_dims(desc, dims);
    bool match = given->ndims == ndims;
    for (int d = 0; match && d < ndims; d++) match = given->dims[d] == dims[d];
    if (!match)
        return lmn_fail(LMN_ERR_SHAPE,
                        "activation layout does not match its shape [%d,%d,%d,%d] (depth %d) "
                        "(a layout from another op or backend?)",
                        desc->n, desc->c, desc->h, desc->w, desc->d);
    *md = *given;
    return LMN_OK;
}

/* Physical offset (in elements) of a logical index, following oneDNN's
 * blocked-format definition: inner blocks innermost, outer dims by stride. */
static dnnl_dim_t blocked_offset(const dnnl_memory_desc_t *md, const dnnl_dim_t *index)
{
    const dnnl_blocking_desc_t *blk = &md->format_desc.blocking;
    dnnl_dims_t pos;
    for (int d = 0; d < md->ndims; d++) pos[d] = index[d] + md->padded_offsets[d];
    dnnl_dim_t offset = md->offset0, block_stride = 1;
    for (int b = blk->inner_nblks - 1; b >= 0; b--) {
        int d = (int)blk->inner_idxs[b];
        offset += (pos[d] % blk->inner_blks[b]) * block_stride;
        pos[d] /= blk->inner_blks[b];
        block_stride *= blk->inner_blks[b];
    }
    for (int d = 0; d < md->ndims; d++) offset += pos[d] * blk->strides[d];
    return offset;
}

/* Walks every element in dense order and checks its offset; false at the
 * first element out of place (a real blocked layout fails within a few). */
static bool offsets_are_dense(const dnnl_memory_desc_t *md)
{
    dnnl_dim_t count = 1, index[DNNL_MAX_NDIMS] = {0};
    for (int d = 0; d < md->ndims; d++) count *= md->dims[d];
    for (dnnl_dim_t expected = 0; expected < count; expected++) {
        if (blocked_offset(md, index) != expected) return false;
        for (int d = md->ndims - 1; d >= 0 && ++index[d] == md->dims[d]; d--) index[d] = 0;
    }
    return true;
}

bool lmn_dnnl_md_is_dense_nchw(const dnnl_memory_desc_t *md)
{
    if ((md->ndims != 4 && md->ndims != 5) || md->data_type != dnnl_f32 ||
        md->format_kind != dnnl_blocked)
        return false;
    dnnl_dim_t count = 1;
    for (int d = 0; d < md->ndims; d++) count *= md->dims[d];
    if (dnnl_memory_desc_get_size(md) != (size_t)count * sizeof(float)) return false;
    dnnl_memory_desc_t dense;
    if (dnnl_memory_desc_init_by_tag(&dense, md->ndims, md->dims, dnnl_f32,
                                     md->ndims == 5 ? dnnl_ncdhw : dnnl_nchw) != dnnl_success)
        return false;
    if (dnnl_memory_desc_equal(md, &dense)) return true;
    /* Other formats coincide with NCHW in degenerate shapes (nChw16c at
     * 1x1 with C % 16 == 0). Runs only at op creation. */
    return offsets_are_dense(md);
}

bool lmn_dnnl_md_same_memory(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    if (dnnl_memory_desc_equal(a, b)) return true;
    if (a->ndims != b->ndims) return false;
    for (int d = 0; d < a->ndims; d++)
        if (a->dims[d] != b->dims[d]) return false;
    return lmn_dnnl_md_is_dense_nchw(a) && lmn_dnnl_md_is_dense_nchw(b);
}

size_t lmn_dnnl_md_floats(const dnnl_memory_desc_t *md)
{
    /* Rounded up: a bf16 buffer of an odd element count needs the last
     * half float too. */
    return (dnnl_memory_desc_get_size(md) + sizeof(float) - 1) / sizeof(float);
}

dnnl_memory_desc_t lmn_dnnl_md_with_type(const dnnl_memory_desc_t *md, dnnl_data_type_t type)
{
    /* Blocked strides count elements, not bytes, so the layout carries over. */
    dnnl_memory_desc_t typed = *md;
    typed.data_type = type;
    return typed;
}

dnnl_data_type_t lmn_dnnl_compute_type(const lmn_backend *be)
{
    return be->precision == LMN_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
}

void lmn_dnnl_describe_act(const dnnl_memory_desc_t *md, lmn_layout *storage, lmn_act_desc *out)
{
    const int ndims = md->ndims;
    out->n = (int)md->dims[0];
    out->c = (int)md->dims[1];
    out->d = ndims == 5 ? (int)md->dims[2] : 0;
    out->h = (int)md->dims[ndims - 2];
    out->w = (int)md->dims[ndims - 1];
    out->floats = lmn_dnnl_md_floats(md);
    out->elem = md->data_type == dnnl_bf16 ? LMN_ELEM_BF16 : LMN_ELEM_F32;
    storage->md = *md;
    out->layout = lmn_dnnl_md_is_dense_nchw(md) ? NULL : storage;
}

lmn_status lmn_dnnl_memory(lmn_dnnl *dnnl, const dnnl_memory_desc_t *md, dnnl_memory_t *mem)
{
    LMN_DNNL_TRY(dnnl_memory_create(mem, md, dnnl->engine, DNNL_MEMORY_NONE),
                 "creating a memory object");
    return LMN_OK;
}

lmn_status lmn_dnnl_bind(dnnl_memory_t mem, const void *data)
{
    /* oneDNN takes a non-const handle for inputs too; it does not write them. */
    LMN_DNNL_TRY(dnnl_memory_set_data_handle(mem, (void *)data), "binding a buffer");
    return LMN_OK;
}

lmn_status lmn_dnnl_execute(lmn_dnnl *dnnl, dnnl_primitive_t prim, int nargs,
                            const dnnl_exec_arg_t *args, const char *what)
{
    LMN_DNNL_TRY(dnnl_primitive_execute(prim, dnnl->stream, nargs, args), what);
    LMN_DNNL_TRY(dnnl_stream_wait(dnnl->stream), what);
    return LMN_OK;
}

lmn_status lmn_dnnl_primitive(const_dnnl_primitive_desc_t pd, dnnl_primitive_t *prim,
                              const char *what)
{
    LMN_DNNL_TRY(dnnl_primitive_create(prim, pd), what);
    return LMN_OK;
}

bool lmn_dnnl_pd_is_reference(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success)
        return false;
    return impl && strncmp(impl, "ref", 3) == 0;
}

const dnnl_memory_desc_t *lmn_dnnl_pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* A reorder primitive from -> to with unbound memory objects. */
static lmn_status make_reorder(lmn_dnnl *dnnl, const dnnl_memory_desc_t *from,
                               const dnnl_memory_desc_t *to, lmn_dnnl_convert *cv)
{
    dnnl_primitive_desc_t pd = NULL;
    LMN_DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, from, dnnl->engine, to, dnnl->engine,
                                                    NULL),
                 "creating a layout reorder");
    lmn_status st = lmn_dnnl_primitive(pd, &cv->reorder, "creating a layout reorder");
    dnnl_primitive_desc_destroy(pd);
    LMN_TRY(st);
    LMN_TRY(lmn_dnnl_memory(dnnl, from, &cv->from));
    return lmn_dnnl_memory(dnnl, to, &cv->to);
}

static lmn_status prepare(lmn_dnnl *dnnl, const dnnl_memory_desc_t *from,
                          const dnnl_memory_desc_t *to, const dnnl_memory_desc_t *internal,
                          lmn_dnnl_convert *cv)
{
    memset(cv, 0, sizeof *cv);
    if (lmn_dnnl_md_same_memory(from, to)) return LMN_OK;
    LMN_TRY(make_reorder(dnnl, from, to, cv));
    cv->scratch_floats = lmn_dnnl_md_floats(internal);
    cv->scratch_side = internal == from ? cv->from : cv->to;
    return LMN_OK;
}

/* The scratch is taken at the first conversion, not when the op is made:
 * an evaluation plan never runs its backward conversions, and a layer
 * whose dx nobody reads never runs that one (the first layer's padded
 * copies of a 3-channel input are tens of MB). */
static lmn_status ensure_scratch(lmn_dnnl_convert *cv)
{
    if (cv->scratch) return LMN_OK;
    LMN_TRY(lmn_alloc_floats(&cv->scratch, cv->scratch_floats, "dnnl layout conversion scratch"));
    /* The scratch side is bound once; the user side per call. */
    return lmn_dnnl_bind(cv->scratch_side, cv->scratch);
}

lmn_status lmn_dnnl_convert_input(lmn_dnnl *dnnl, const dnnl_memory_desc_t *user,
                                  const dnnl_memory_desc_t *internal, lmn_dnnl_convert *cv)
{
    return prepare(dnnl, user, internal, internal, cv);
}

lmn_status lmn_dnnl_convert_output(lmn_dnnl *dnnl, const dnnl_memory_desc_t *internal,
                                   const dnnl_memory_desc_t *user, lmn_dnnl_convert *cv)
{
    return prepare(dnnl, internal, user, internal, cv);
}

static lmn_status run_reorder(lmn_dnnl *dnnl, lmn_dnnl_convert *cv)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, cv->from}, {DNNL_ARG_TO, cv->to}};
    return lmn_dnnl_execute(dnnl, cv->reorder, 2, args, "reordering between layouts");
}

lmn_status lmn_dnnl_convert_in(lmn_dnnl *dnnl, lmn_dnnl_convert *cv, const float *user,
                               const float **internal)
{
    *internal = user;
    if (!cv->reorder) return LMN_OK;
    LMN_TRY(ensure_scratch(cv));
    LMN_TRY(lmn_dnnl_bind(cv->from, user));
    LMN_TRY(run_reorder(dnnl, cv));
    *internal = cv->scratch;
    return LMN_OK;
}

lmn_status lmn_dnnl_convert_again(lmn_dnnl *dnnl, lmn_dnnl_convert *cv, const float **source,
                                  const float *user, const float **internal)
{
    const bool held = cv->reorder && *source == user;
    *source = NULL;
    if (!held) return lmn_dnnl_convert_in(dnnl, cv, user, internal);
    *internal = cv->scratch;
    return LMN_OK;
}

lmn_status lmn_dnnl_convert_target(lmn_dnnl_convert *cv, float *user, float **target)
{
    *target = user;
    if (!cv->reorder) return LMN_OK;
    LMN_TRY(ensure_scratch(cv));
    *target = cv->scratch;
    return LMN_OK;
}

lmn_status lmn_dnnl_convert_out(lmn_dnnl *dnnl, lmn_dnnl_convert *cv, float *user)
{
    if (!cv->reorder) return LMN_OK;
    LMN_TRY(lmn_dnnl_bind(cv->to, user));
    return run_reorder(dnnl, cv);
}

void lmn_dnnl_convert_free(lmn_dnnl_convert *cv)
{
    lmn_dnnl_primitive_free(cv->reorder);
    lmn_dnnl_memory_free(cv->from);
    lmn_dnnl_memory_free(cv->to);
    lmn_free(cv->scratch);
    memset(cv, 0, sizeof *cv);
}

void lmn_dnnl_primitive_free(dnnl_primitive_t prim)
{
    if (prim) dnnl_primitive_destroy(prim);
}

void lmn_dnnl_pd_free(dnnl_primitive_desc_t pd)
{
    if (pd) dnnl_primitive_desc_destroy(pd);
}

void lmn_dnnl_memory_free(dnnl_memory_t mem)
{
    if (mem) dnnl_memory_destroy(mem);
}
