/* dnnl batchnorm equals the ref batchnorm: training forward (output, batch
 * mean and biased variance), inference forward with given statistics, and
 * backward (dx, dgamma, dbeta), with and without fused ReLU, from dense and
 * blocked (padded-channel) inputs, 2-D (NCHW) and 3-D (NCDHW). Also: the
 * ref batchnorm of a 3-D input equals the 2-D one with the depth folded
 * into the height (statistics are over everything but the channel). And the
 * fused ReLU's mask applied inside backward (kernels.h): a relu op given the
 * unmasked dy matches the plain op given the masked dy, bit for bit on ref
 * and within 1e-6 on dnnl, 2-D and 3-D, dense and blocked. */
#include <stdio.h>
#include <string.h>

#include "kernels/elementwise.h"
#include "test_dnnl_common.h"

typedef struct bn_case {
    int n, c, h, w;
    bool fuse_relu, blocked_input;
    int d; /* 0: 2-D */
} bn_case;

typedef struct bn_buffers {
    float *x, *gamma, *beta, *dy, *running_mean, *running_var;
} bn_buffers;

static bn_buffers make_inputs(const lmn_act_desc *in, uint64_t seed)
{
    const size_t c = (size_t)in->c;
    bn_buffers b = {.x = lmn_kt_random(in->floats, seed),
                    .gamma = lmn_kt_random(c, seed + 1),
                    .beta = lmn_kt_random(c, seed + 2),
                    .dy = lmn_kt_random(in->floats, seed + 3),
                    .running_mean = lmn_kt_random(c, seed + 4),
                    .running_var = lmn_kt_zeros(c)};
    lmn_kt_fill_uniform(b.running_var, c, seed + 5, 0.5f, 2.0f);
    /* an offset so the mean matters, as after a conv */
    for (size_t i = 0; i < in->floats; i++) b.x[i] = 3.0f * b.x[i] + 0.5f;
    return b;
}

static void free_inputs(bn_buffers *b)
{
    float *all[] = {b->x, b->gamma, b->beta, b->dy, b->running_mean, b->running_var};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lmn_free(all[i]);
}

static void run_case(lmn_backend *ref, lmn_backend *dnnl, const bn_case *t, uint64_t seed)
{
    char name[96];
    snprintf(name, sizeof name, "N=%d C=%d D=%d %dx%d relu=%d blocked=%d", t->n, t->c, t->d,
             t->h, t->w, t->fuse_relu, t->blocked_input);
    const lmn_batchnorm_params p = {.epsilon = 1e-5f, .fuse_relu = t->fuse_relu};
    lmn_op *producer = NULL;
    const lmn_act_desc ref_in = t->d > 0 ? lmn_act_dense3d(t->n, t->c, t->d, t->h, t->w)
                                          : lmn_act_dense(t->n, t->c, t->h, t->w);
    lmn_act_desc dnnl_in = ref_in;
    if (t->blocked_input && t->d > 0)
        dnnl_in = lmn_dt_blocked_desc3d(dnnl, t->n, t->c, t->d, t->h, t->w, &producer);
    else if (t->blocked_input)
        dnnl_in = lmn_dt_blocked_desc(dnnl, t->n, t->c, t->h, t->w, &producer);
    lmn_act_desc ref_out, dnnl_out;
    lmn_op *ref_op = lmn_kt_batchnorm(ref, &p, &ref_in, &ref_out);
    lmn_op *dnnl_op = lmn_kt_batchnorm(dnnl, &p, &dnnl_in, &dnnl_out);
    if (!ref_op || !dnnl_op) return;
    CHECK(ref_out.d == t->d && dnnl_out.d == t->d);
    CHECK(dnnl->same_layout(&dnnl_in, &dnnl_out));
    CHECK(dnnl_out.floats == dnnl_in.floats);

    const size_t c = (size_t)t->c;
    bn_buffers in = make_inputs(&ref_in, seed);
    float *x_dnnl = lmn_dt_from_dense(dnnl, in.x, &dnnl_in);
    float *dy_dnnl = lmn_dt_from_dense(dnnl, in.dy, &dnnl_out);

    /* training forward */
    float *y_ref = lmn_kt_zeros(ref_out.floats), *y_dnnl = lmn_kt_zeros(dnnl_out.floats);
    float *mean_ref = lmn_kt_zeros(c), *var_ref = lmn_kt_zeros(c);
    float *mean_dnnl = lmn_kt_zeros(c), *var_dnnl = lmn_kt_zeros(c);
    CHECK_OK(ref->batchnorm_forward_train(ref_op, in.x, in.gamma, in.beta, y_ref, mean_ref,
                                          var_ref));
    CHECK_OK(dnnl->batchnorm_forward_train(dnnl_op, x_dnnl, in.gamma, in.beta, y_dnnl,
                                           mean_dnnl, var_dnnl));
    float *y_dense = lmn_dt_to_dense(dnnl, y_dnnl, &dnnl_out);
    lmn_dt_check(y_dense, y_ref, ref_out.floats, "training forward", name);
    lmn_dt_check_padding(dnnl, y_dnnl, &dnnl_out, "training forward", name);
    lmn_dt_check(mean_dnnl, mean_ref, c, "batch mean", name);
    lmn_dt_check(var_dnnl, var_ref, c, "batch variance", name);

    /* inference forward */
    float *yi_ref = lmn_kt_zeros(ref_out.floats), *yi_dnnl = lmn_kt_zeros(dnnl_out.floats);
    CHECK_OK(ref->batchnorm_forward_infer(ref_op, in.x, in.gamma, in.beta, in.running_mean,
                                          in.running_var, yi_ref));
    CHECK_OK(dnnl->batchnorm_forward_infer(dnnl_op, x_dnnl, in.gamma, in.beta, in.running_mean,
                                           in.running_var, yi_dnnl));
    float *yi_dense = lmn_dt_to_dense(dnnl, yi_dnnl, &dnnl_out);
    lmn_dt_check(yi_dense, yi_ref, ref_out.floats, "inference forward", name);
    lmn_dt_check_padding(dnnl, yi_dnnl, &dnnl_out, "inference forward", name);

    /* backward with the batch statistics (the same ones for both) */
    float *dx_ref = lmn_kt_zeros(ref_in.floats), *dx_dnnl = lmn_kt_zeros(dnnl_in.floats);
    float *dg_ref = lmn_kt_zeros(c), *db_ref = lmn_kt_zeros(c);
    float *dg_dnnl = lmn_kt_random(c, 9), *db_dnnl = lmn_kt_random(c, 10);
    CHECK_OK(ref->batchnorm_backward(ref_op, in.x, in.dy, in.gamma, mean_ref, var_ref, dx_ref,
                                     dg_ref, db_ref));
    CHECK_OK(dnnl->batchnorm_backward(dnnl_op, x_dnnl, dy_dnnl, in.gamma, mean_ref, var_ref,
                                      dx_dnnl, dg_dnnl, db_dnnl));
    float *dx_dense = lmn_dt_to_dense(dnnl, dx_dnnl, &dnnl_in);
    lmn_dt_check(dx_dense, dx_ref, ref_in.floats, "backward dx", name);
    lmn_dt_check_padding(dnnl, dx_dnnl, &dnnl_in, "backward dx", name);
    lmn_dt_check(dg_dnnl, dg_ref, c, "backward dgamma", name);
    lmn_dt_check(db_dnnl, db_ref, c, "backward dbeta", name);

    float *buffers[] = {x_dnnl,  dy_dnnl, y_ref,    y_dnnl,   mean_ref, var_ref,
                        mean_dnnl, var_dnnl, y_dense, yi_ref, yi_dnnl,  yi_dense,
                        dx_ref,  dx_dnnl, dg_ref,   db_ref,   dg_dnnl,  db_dnnl, dx_dense};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    free_inputs(&in);
    ref->op_destroy(ref_op);
    dnnl->op_destroy(dnnl_op);
    if (producer) dnnl->op_destroy(producer);
}

/* Folding D into H changes nothing for the ref batchnorm: bit-identical. */
static void test_ref_3d_is_folded_2d(lmn_backend *ref)
{
    const lmn_batchnorm_params p = {.epsilon = 1e-5f};
    const lmn_act_desc in3 = lmn_act_dense3d(2, 3, 4, 5, 3), in2 = lmn_act_dense(2, 3, 20, 3);
    lmn_act_desc out3, out2;
    lmn_op *op3 = lmn_kt_batchnorm(ref, &p, &in3, &out3);
    lmn_op *op2 = lmn_kt_batchnorm(ref, &p, &in2, &out2);
    if (!op3 || !op2) return;
    CHECK(out3.d == 4 && out3.floats == in3.floats);
    bn_buffers in = make_inputs(&in2, 91);
    float *y3 = lmn_kt_zeros(in2.floats), *y2 = lmn_kt_zeros(in2.floats);
    float *dx3 = lmn_kt_zeros(in2.floats), *dx2 = lmn_kt_zeros(in2.floats);
    float *stats = lmn_kt_zeros(12); /* mean3, var3, mean2, var2 */
    float *grads = lmn_kt_zeros(12); /* dgamma3, dbeta3, dgamma2, dbeta2 */
    CHECK_OK(ref->batchnorm_forward_train(op3, in.x, in.gamma, in.beta, y3, stats, stats + 3));
    CHECK_OK(ref->batchnorm_forward_train(op2, in.x, in.gamma, in.beta, y2, stats + 6,
                                          stats + 9));
    CHECK_OK(ref->batchnorm_backward(op3, in.x, in.dy, in.gamma, stats, stats + 3, dx3, grads,
                                     grads + 3));
    CHECK_OK(ref->batchnorm_backward(op2, in.x, in.dy, in.gamma, stats + 6, stats + 9, dx2,
                                     grads + 6, grads + 9));
    CHECK(memcmp(y3, y2, in2.floats * sizeof(float)) == 0);
    CHECK(memcmp(dx3, dx2, in2.floats * sizeof(float)) == 0);
    CHECK(memcmp(stats, stats + 6, 6 * sizeof(float)) == 0);
    CHECK(memcmp(grads, grads + 6, 6 * sizeof(float)) == 0);
    float *buffers[] = {y3, y2, dx3, dx2, stats, grads};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    free_inputs(&in);
    ref->op_destroy(op3);
    ref->op_destroy(op2);
}

typedef struct bn_grads {
    float *dx, *dgamma, *dbeta;
} bn_grads;

static bn_grads backward_of(lmn_backend *be, lmn_op *op, const lmn_act_desc *in,
                            const bn_buffers *b, const float *dy, const float *mean,
                            const float *var)
{
    bn_grads g = {lmn_kt_zeros(in->floats), lmn_kt_zeros((size_t)in->c),
                  lmn_kt_zeros((size_t)in->c)};
    CHECK_OK(be->batchnorm_backward(op, b->x, dy, b->gamma, mean, var, g.dx, g.dgamma,
                                    g.dbeta));
    return g;
}

static void compare_grads(const bn_grads *got, const bn_grads *want, size_t floats, int channels,
                          double tolerance, const char *name)
{
    char what[160];
    const float *pairs[3][2] = {{got->dx, want->dx}, {got->dgamma, want->dgamma},
                                {got->dbeta, want->dbeta}};
    const char *names[3] = {"dx", "dgamma", "dbeta"};
    for (int k = 0; k < 3; k++) {
        const size_t count = k == 0 ? floats : (size_t)channels;
        snprintf(what, sizeof what, "%s: masked inside vs before backward, %s", name, names[k]);
        if (tolerance == 0.0)
            CHECK_MSG(memcmp(pairs[k][0], pairs[k][1], count * sizeof(float)) == 0,
                      "%s differ", what);
        else
            lmn_kt_check_close(pairs[k][0], pairs[k][1], count, tolerance, what);
    }
}

static void free_grads(bn_grads *g)
{
    lmn_free(g->dx);
    lmn_free(g->dgamma);
    lmn_free(g->dbeta);
}

/* The fused op's backward masks the raw dy with its training forward's ReLU
 * mask: the same gradients as the plain op's backward of the masked dy. */
static void check_mask_inside_backward(lmn_backend *be, const lmn_act_desc *in,
                                       double tolerance, const char *name)
{
    const lmn_batchnorm_params fused_p = {.epsilon = 1e-5f, .fuse_relu = true};
    const lmn_batchnorm_params plain_p = {.epsilon = 1e-5f};
    lmn_act_desc out;
    lmn_op *fused = lmn_kt_batchnorm(be, &fused_p, in, &out);
    lmn_op *plain = lmn_kt_batchnorm(be, &plain_p, in, &out);
    if (!fused || !plain) return;
    bn_buffers b = make_inputs(in, 4000);
    float *y = lmn_kt_zeros(in->floats), *masked = lmn_kt_zeros(in->floats);
    float *mean = lmn_kt_zeros((size_t)in->c), *var = lmn_kt_zeros((size_t)in->c);
    CHECK_OK(be->batchnorm_forward_train(fused, b.x, b.gamma, b.beta, y, mean, var));
    lmn_relu_backward(y, b.dy, masked, in->floats);
    bn_grads inside = backward_of(be, fused, in, &b, b.dy, mean, var);
    bn_grads before = backward_of(be, plain, in, &b, masked, mean, var);
    compare_grads(&inside, &before, in->floats, in->c, tolerance, name);
    free_grads(&inside);
    free_grads(&before);
    float *buffers[] = {y, masked, mean, var};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) lmn_free(buffers[i]);
    free_inputs(&b);
    be->op_destroy(fused);
    be->op_destroy(plain);
}

static void test_mask_inside_backward(lmn_backend *ref, lmn_backend *dnnl)
{
    const lmn_act_desc dense = lmn_act_dense(4, 16, 6, 6);
    const lmn_act_desc dense3d = lmn_act_dense3d(2, 8, 3, 4, 4);
    check_mask_inside_backward(ref, &dense, 0.0, "ref 2-D");
    check_mask_inside_backward(ref, &dense3d, 0.0, "ref 3-D");
    check_mask_inside_backward(dnnl, &dense, 1e-6, "dnnl 2-D dense");
    check_mask_inside_backward(dnnl, &dense3d, 1e-6, "dnnl 3-D dense");
    lmn_op *producer = NULL;
    const lmn_act_desc blocked = lmn_dt_blocked_desc(dnnl, 4, 16, 6, 6, &producer);
    check_mask_inside_backward(dnnl, &blocked, 1e-6, "dnnl 2-D blocked");
    dnnl->op_destroy(producer);
}

int main(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    lmn_backend *dnnl = lmn_kt_backend("dnnl");
    const bn_case cases[] = {
        {3, 5, 11, 11, false, false, 0}, {3, 5, 11, 11, true, true, 0},
        {2, 16, 9, 9, true, true, 0},    {4, 20, 7, 5, false, true, 0},
        {2, 3, 6, 10, true, false, 0},   {5, 32, 4, 4, false, true, 0},
        {8, 7, 1, 1, false, false, 0},
        /* 3-D */
        {2, 5, 5, 4, false, false, 3}, {2, 5, 4, 5, true, true, 3}, {3, 16, 3, 3, true, true, 5},
        {2, 20, 4, 3, false, true, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(ref, dnnl, &cases[i], 3000 + 10 * i);
    test_ref_3d_is_folded_2d(ref);
    test_mask_inside_backward(ref, dnnl);
    lmn_backend_destroy(ref);
    lmn_backend_destroy(dnnl);
    return lmn_test_summary("test_dnnl_batchnorm");
}
