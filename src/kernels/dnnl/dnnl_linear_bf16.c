/* The bf16 path of the fully connected layer: oneDNN inner-product
 * primitives on plain [N][in] activations and [out][in] weights (the
 * interface's own orders, so no transposes). x, w and dy are rounded to
 * bf16 by reorders into op-owned scratch; y, dx, dw and db are written in
 * f32 straight into the caller's buffers (oneDNN accumulates in f32). The
 * fp32 path stays on dnnl_sgemm (dnnl_linear.c), which oneDNN's C API
 * offers in f32 only. x is rounded once for the forward and the backward
 * weights, dy once for the backward weights and the backward data, w once
 * for the forward and the backward data (the optimizer moves it only after
 * the step's backward; a 3136 x 512 layer's reorder is ~4% of a LeNet step). */
#include "core/memory.h"
#include "kernels/dnnl/dnnl_internal.h"

struct lmn_dnnl_linear_bf16 {
    lmn_dnnl *dnnl;
    bool bias;
    dnnl_primitive_t forward, backward_data, backward_weights;
    lmn_dnnl_convert x_round, w_round, dy_round; /* f32 -> bf16 */
    /* the caller's x / dy whose bf16 copy x_round / dy_round holds, for
     * the second primitive that reads it in the same step (kernels.h) */
    const float *x_source, *dy_source, *w_source;
    /* primitive arguments, re-pointed at every call */
    dnnl_memory_t x16, w16, dy16; /* bf16 inputs */
    dnnl_memory_t y32, dx32, dw32, b32; /* f32 outputs (b32: bias and its gradient) */
};

typedef struct linear_mds {
    dnnl_memory_desc_t x16, w16, y16, x32, w32, y32, b32;
} linear_mds;

static lmn_status plain_md(dnnl_memory_desc_t *md, dnnl_dim_t rows, dnnl_dim_t cols,
                           dnnl_data_type_t type)
{
    const dnnl_dims_t dims = {rows, cols};
    LMN_DNNL_TRY(dnnl_memory_desc_init_by_tag(md, 2, dims, type, dnnl_ab),
                 "describing a linear layer's tensor");
    return LMN_OK;
}

static lmn_status linear_mds_init(int batch, int in, int out, linear_mds *m)
{
    LMN_TRY(plain_md(&m->x16, batch, in, dnnl_bf16));
    LMN_TRY(plain_md(&m->w16, out, in, dnnl_bf16));
    LMN_TRY(plain_md(&m->y16, batch, out, dnnl_bf16));
    LMN_TRY(plain_md(&m->x32, batch, in, dnnl_f32));
    LMN_TRY(plain_md(&m->w32, out, in, dnnl_f32));
    LMN_TRY(plain_md(&m->y32, batch, out, dnnl_f32));
    const dnnl_dims_t bias_dims = {out};
    LMN_DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->b32, 1, bias_dims, dnnl_f32, dnnl_a),
                 "describing a linear layer's bias");
    return LMN_OK;
}

/* The three primitives; the forward pd is the hint of the backward ones. */
static lmn_status linear_primitives(lmn_dnnl_linear_bf16 *l, const linear_mds *m)
{
    const dnnl_memory_desc_t *bias = l->bias ? &m->b32 : NULL;
    dnnl_inner_product_desc_t fwd_desc, bd_desc, bw_desc;
    LMN_DNNL_TRY(dnnl_inner_product_forward_desc_init(&fwd_desc, dnnl_forward_training, &m->x16,
                                                      &m->w16, bias, &m->y32),
                 "describing the bf16 linear forward");
    LMN_DNNL_TRY(dnnl_inner_product_backward_data_desc_init(&bd_desc, &m->x32, &m->w16, &m->y16),
                 "describing the bf16 linear backward data");
    LMN_DNNL_TRY(dnnl_inner_product_backward_weights_desc_init(&bw_desc, &m->x16, &m->w32, bias,
                                                               &m->y16),
                 "describing the bf16 linear backward weights");
    dnnl_primitive_desc_t fwd = NULL, bd = NULL, bw = NULL;
    lmn_status st = lmn_dnnl_check(dnnl_primitive_desc_create(&fwd, &fwd_desc, NULL,
                                                              l->dnnl->engine, NULL),
                                   "dnnl_primitive_desc_create", "choosing a bf16 linear forward");
    if (st == LMN_OK)
        st = lmn_dnnl_check(dnnl_primitive_desc_create(&bd, &bd_desc, NULL, l->dnnl->engine, fwd),
                            "dnnl_primitive_desc_create", "choosing a bf16 linear backward data");
    if (st == LMN_OK)
        st = lmn_dnnl_check(dnnl_primitive_desc_create(&bw, &bw_desc, NULL, l->dnnl->engine, fwd),
                            "dnnl_primitive_desc_create",
                            "choosing a bf16 linear backward weights");
    if (st == LMN_OK) st = lmn_dnnl_primitive(fwd, &l->forward, "creating the bf16 linear forward");
    if (st == LMN_OK)
        st = lmn_dnnl_primitive(bd, &l->backward_data, "creating the bf16 linear backward data");
    if (st == LMN_OK)
        st = lmn_dnnl_primitive(bw, &l->backward_weights,
                                "creating the bf16 linear backward weights");
    lmn_dnnl_pd_free(fwd);
    lmn_dnnl_pd_free(bd);
    lmn_dnnl_pd_free(bw);
    return st;
}

static lmn_status linear_memories(lmn_dnnl_linear_bf16 *l, const linear_mds *m)
{
    lmn_dnnl *dnnl = l->dnnl;
    LMN_TRY(lmn_dnnl_convert_input(dnnl, &m->x32, &m->x16, &l->x_round));
    LMN_TRY(lmn_dnnl_convert_input(dnnl, &m->w32, &m->w16, &l->w_round));
    LMN_TRY(lmn_dnnl_convert_input(dnnl, &m->y32, &m->y16, &l->dy_round));
    const struct {
        dnnl_memory_t *mem;
        const dnnl_memory_desc_t *md;
    } all[] = {{&l->x16, &m->x16}, {&l->w16, &m->w16}, {&l->dy16, &m->y16},
               {&l->y32, &m->y32}, {&l->dx32, &m->x32}, {&l->dw32, &m->w32},
               {&l->b32, &m->b32}};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        LMN_TRY(lmn_dnnl_memory(dnnl, all[i].md, all[i].mem));
    return LMN_OK;
}

void lmn_dnnl_linear_bf16_free(lmn_dnnl_linear_bf16 *l)
{
    if (!l) return;
    lmn_dnnl_primitive_free(l->forward);
    lmn_dnnl_primitive_free(l->backward_data);
    lmn_dnnl_primitive_free(l->backward_weights);
    lmn_dnnl_convert_free(&l->x_round);
    lmn_dnnl_convert_free(&l->w_round);
    lmn_dnnl_convert_free(&l->dy_round);
    dnnl_memory_t mems[] = {l->x16, l->w16, l->dy16, l->y32, l->dx32, l->dw32, l->b32};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++) lmn_dnnl_memory_free(mems[i]);
    lmn_free(l);
}

lmn_status lmn_dnnl_linear_bf16_create(lmn_dnnl *dnnl, int batch, int in, int out, bool bias,
                                       lmn_dnnl_linear_bf16 **result)
{
    *result = NULL;
    lmn_dnnl_linear_bf16 *l = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&l, sizeof *l, "dnnl bf16 linear"));
    l->dnnl = dnnl;
    l->bias = bias;
    linear_mds m;
    lmn_status st = linear_mds_init(batch, in, out, &m);
    if (st == LMN_OK) st = linear_primitives(l, &m);
    if (st == LMN_OK) st = linear_memories(l, &m);
    if (st != LMN_OK) {
        lmn_dnnl_linear_bf16_free(l);
        return st;
    }
    *result = l;
    return LMN_OK;
}

/* Rounds user (f32) through cv and points mem at the bf16 copy. */
static lmn_status bind_rounded(lmn_dnnl *dnnl, lmn_dnnl_convert *cv, const float *user,
                               dnnl_memory_t mem)
{
    const float *rounded = NULL;
    LMN_TRY(lmn_dnnl_convert_in(dnnl, cv, user, &rounded));
    return lmn_dnnl_bind(mem, rounded);
}

/* bind_rounded for the second reader of a rounded tensor in a step. */
static lmn_status bind_rounded_again(lmn_dnnl *dnnl, lmn_dnnl_convert *cv, const float **source,
                                     const float *user, dnnl_memory_t mem)
{
    const float *rounded = NULL;
    LMN_TRY(lmn_dnnl_convert_again(dnnl, cv, source, user, &rounded));
    return lmn_dnnl_bind(mem, rounded);
}

lmn_status lmn_dnnl_linear_bf16_forward(lmn_dnnl_linear_bf16 *l, const float *x, const float *w,
                                        const float *b, float *y)
{
    LMN_TRY(bind_rounded(l->dnnl, &l->x_round, x, l->x16));
    l->x_source = x;
    l->dy_source = NULL;
    LMN_TRY(bind_rounded(l->dnnl, &l->w_round, w, l->w16));
    l->w_source = w;
    LMN_TRY(lmn_dnnl_bind(l->y32, y));
    if (l->bias) LMN_TRY(lmn_dnnl_bind(l->b32, b));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, l->x16},
                               {DNNL_ARG_WEIGHTS, l->w16},
                               {DNNL_ARG_DST, l->y32},
                               {DNNL_ARG_BIAS, l->b32}};
    return lmn_dnnl_execute(l->dnnl, l->forward, l->bias ? 4 : 3, args,
                            "running the bf16 linear forward");
}

lmn_status lmn_dnnl_linear_bf16_backward_data(lmn_dnnl_linear_bf16 *l, const float *dy,
                                              const float *w, float *dx)
{
    LMN_TRY(bind_rounded_again(l->dnnl, &l->dy_round, &l->dy_source, dy, l->dy16));
    LMN_TRY(bind_rounded_again(l->dnnl, &l->w_round, &l->w_source, w, l->w16));
    LMN_TRY(lmn_dnnl_bind(l->dx32, dx));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, l->dy16},
                               {DNNL_ARG_WEIGHTS, l->w16},
                               {DNNL_ARG_DIFF_SRC, l->dx32}};
    return lmn_dnnl_execute(l->dnnl, l->backward_data, 3, args,
                            "running the bf16 linear backward data");
}

lmn_status lmn_dnnl_linear_bf16_backward_weights(lmn_dnnl_linear_bf16 *l, const float *x,
                                                 const float *dy, float *dw, float *db)
{
    LMN_TRY(bind_rounded_again(l->dnnl, &l->x_round, &l->x_source, x, l->x16));
    LMN_TRY(bind_rounded(l->dnnl, &l->dy_round, dy, l->dy16));
    l->dy_source = dy;
    LMN_TRY(lmn_dnnl_bind(l->dw32, dw));
    if (l->bias) LMN_TRY(lmn_dnnl_bind(l->b32, db));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, l->x16},
                               {DNNL_ARG_DIFF_DST, l->dy16},
                               {DNNL_ARG_DIFF_WEIGHTS, l->dw32},
                               {DNNL_ARG_DIFF_BIAS, l->b32}};
    return lmn_dnnl_execute(l->dnnl, l->backward_weights, l->bias ? 4 : 3, args,
                            "running the bf16 linear backward weights");
}
