/* Whole networks under bf16 (kernels.h: convolutions write bf16
 * activations) against the fp32 ref backend with the same parameters:
 *   - the plan keeps conv, batch norm, ReLU, leaky ReLU, scale, residual
 *     add and pooling outputs in bf16, and hands the kinds that compute in
 *     fp32 (dropout, upsample) a dense fp32 copy of a bf16 input; linear
 *     layers and the network output are fp32;
 *   - logits and every parameter gradient agree with fp32 within bf16
 *     rounding (a few 2^-8 of the largest value), through residual adds
 *     whose gradients accumulate in bf16, the fp32 islands and back;
 *   - the same step twice gives the same bits;
 *   - a bf16 plan takes about half the activation memory of an fp32 one.
 * Exits 77 (skipped) on a CPU without native bf16. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "kernels/kernels.h"
#include "kernels/loss.h"
#include "nn/model.h"
#include "nn/network.h"
#include "nn/plan.h"
#include "test.h"

/* Relative to the largest value. bf16 keeps 8 significant bits; the
 * logits pass a handful of roundings. The first layers' gradients pass a
 * dozen and two batch-norm backwards, which subtract nearly equal terms:
 * measured up to 0.11 here, and 0.15 on the same network before
 * activations were stored in bf16 (bf16 inside the convolutions only). A
 * wrong formula or a mismatched dropout mask gives ~1. */
static const double LOGIT_TOLERANCE = 2e-2, GRADIENT_TOLERANCE = 0.2;

enum { CHANNELS = 3, SIZE = 12, CLASSES = 6, BATCH = 32 };

static int append(lmn_model_spec *spec, lmn_layer_spec layer)
{
    int index = -1;
    CHECK_OK(lmn_model_spec_append(spec, &layer, &index));
    return index;
}

static lmn_layer_spec layer_of(lmn_layer_kind kind) { return lmn_layer_defaults(kind); }

static lmn_layer_spec conv_of(int out, bool relu)
{
    lmn_layer_spec layer = layer_of(LMN_LAYER_CONV);
    layer.out = out;
    layer.pad = 1;
    layer.relu = relu;
    layer.bias = false; /* a bias before batch norm has no gradient to speak of */
    return layer;
}

/* conv(relu) -> [conv -> bn -> add -> relu] -> leaky_relu -> scale ->
 * dropout -> conv -> bn(relu) -> upsample -> conv -> maxpool -> avgpool
 * -> flatten -> linear: every kind, bf16 and fp32 ones alternating. */
static void build_model(lmn_model_spec *spec)
{
    const int stem = append(spec, conv_of(16, true));
    append(spec, conv_of(16, false));
    const int normalized = append(spec, layer_of(LMN_LAYER_BATCHNORM));
    lmn_layer_spec add = layer_of(LMN_LAYER_ADD);
    add.input = normalized;
    add.skip = stem;
    append(spec, add);
    append(spec, layer_of(LMN_LAYER_RELU));
    lmn_layer_spec leaky = layer_of(LMN_LAYER_LEAKY_RELU);
    leaky.slope = 0.1f;
    append(spec, leaky);
    lmn_layer_spec scale = layer_of(LMN_LAYER_SCALE);
    scale.scale = 0.5f;
    append(spec, scale);
    lmn_layer_spec dropout = layer_of(LMN_LAYER_DROPOUT);
    dropout.rate = 0.25f;
    append(spec, dropout);
    append(spec, conv_of(8, false));
    lmn_layer_spec bn_relu = layer_of(LMN_LAYER_BATCHNORM);
    bn_relu.relu = true;
    append(spec, bn_relu);
    append(spec, layer_of(LMN_LAYER_UPSAMPLE));
    append(spec, conv_of(8, true));
    lmn_layer_spec pool = layer_of(LMN_LAYER_MAXPOOL);
    pool.stride = 2;
    append(spec, pool);
    lmn_layer_spec avg = layer_of(LMN_LAYER_AVGPOOL);
    avg.stride = 2;
    append(spec, avg);
    append(spec, layer_of(LMN_LAYER_FLATTEN));
    lmn_layer_spec fc = layer_of(LMN_LAYER_LINEAR);
    fc.out = CLASSES;
    append(spec, fc);
}

typedef struct step_result {
    float *logits, *grads;
} step_result;

static void step_result_free(step_result *r)
{
    lmn_free(r->logits);
    lmn_free(r->grads);
}

/* One training step on a fixed batch: logits and parameter gradients. */
static step_result train_step(lmn_network *net)
{
    step_result r = {0};
    const size_t inputs = (size_t)BATCH * CHANNELS * SIZE * SIZE, outputs = BATCH * CLASSES;
    float *x = NULL, *dout = NULL;
    int32_t labels[BATCH];
    CHECK_OK(lmn_alloc_floats(&x, inputs, "input"));
    CHECK_OK(lmn_alloc_floats(&dout, outputs, "dout"));
    CHECK_OK(lmn_alloc_floats(&r.logits, outputs, "logits"));
    CHECK_OK(lmn_alloc_floats(&r.grads, net->param_count, "gradients"));
    lmn_rng rng = lmn_rng_make(11, lmn_rng_stream_id(2, 3));
    for (size_t i = 0; i < inputs; i++) x[i] = 2.0f * lmn_rng_uniform(&rng) - 1.0f;
    for (int n = 0; n < BATCH; n++) labels[n] = (int32_t)lmn_rng_below(&rng, CLASSES);
    const float *logits = NULL;
    CHECK_OK(lmn_network_forward(net, BATCH, x, true, 7, &logits));
    if (logits) {
        memcpy(r.logits, logits, outputs * sizeof(float));
        lmn_softmax_xent(r.logits, labels, BATCH, CLASSES, 1.0f / BATCH, dout, NULL);
        CHECK_OK(lmn_network_backward(net, dout));
        memcpy(r.grads, net->grads, net->param_count * sizeof(float));
    }
    lmn_free(x);
    lmn_free(dout);
    return r;
}

static lmn_network *network_on(lmn_backend *be, const lmn_model_spec *spec, const float *params)
{
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create(be, spec, CHANNELS, SIZE, SIZE, &net));
    if (!net) return NULL;
    lmn_network_init_params(net, 5);
    if (params) memcpy(net->params, params, net->param_count * sizeof(float));
    return net;
}

/* Which nodes hold bf16, and which read an fp32 copy of their input. */
static void check_element_types(const lmn_network *net)
{
    const lmn_plan *plan = net->last_forward;
    for (int i = 0; plan && i < net->spec.count; i++) {
        const lmn_layer_kind kind = net->spec.layers[i].kind;
        const lmn_plan_node *node = &plan->nodes[i];
        const bool fp32_kind = kind == LMN_LAYER_DROPOUT || kind == LMN_LAYER_UPSAMPLE;
        const bool fp32_out = fp32_kind || kind == LMN_LAYER_FLATTEN || kind == LMN_LAYER_LINEAR;
        const lmn_act_desc *in = lmn_plan_producer_desc(plan, net->spec.layers[i].input);
        CHECK_MSG((node->out_desc.elem == LMN_ELEM_F32) == fp32_out,
                  "layer %d (%s) writes %s", i, lmn_layer_kind_name(kind),
                  node->out_desc.elem == LMN_ELEM_BF16 ? "bf16" : "fp32");
        CHECK_MSG((node->input_copy != NULL) == (fp32_kind && in->elem == LMN_ELEM_BF16),
                  "layer %d (%s): fp32 input copy %s", i, lmn_layer_kind_name(kind),
                  node->input_copy ? "made" : "missing");
    }
}

static size_t activation_floats(const lmn_network *net)
{
    size_t floats = 0;
    for (int i = 0; net->last_forward && i < net->spec.count; i++)
        floats += net->last_forward->nodes[i].out_desc.floats;
    return floats;
}

static void check_close(const float *got, const float *want, size_t count, double tolerance,
                        const char *what)
{
    const double diff = lmn_test_max_rel_diff(got, want, count);
    printf("bf16 vs fp32: %s differ by %.3g (relative to the largest)\n", what, diff);
    CHECK_MSG(diff <= tolerance, "%s differ by %.3g", what, diff);
    CHECK_MSG(diff > 0.0, "%s are equal: bf16 did not round", what);
}

static void test_network(lmn_backend *ref, lmn_backend *fp32, lmn_backend *bf16)
{
    lmn_model_spec spec = {0};
    build_model(&spec);
    lmn_network *oracle = network_on(ref, &spec, NULL);
    lmn_network *wide = oracle ? network_on(fp32, &spec, oracle->params) : NULL;
    lmn_network *net = oracle ? network_on(bf16, &spec, oracle->params) : NULL;
    if (net && wide) {
        step_result want = train_step(oracle), got = train_step(net), again = train_step(net);
        step_result fp32_plan = train_step(wide); /* for its plan's size */
        check_element_types(net);
        check_close(got.logits, want.logits, BATCH * CLASSES, LOGIT_TOLERANCE, "logits");
        for (int t = 0; t < net->tensor_count; t++) {
            const lmn_tensor_view *view = &net->tensors[t];
            if (view->role == LMN_ROLE_BN_MEAN || view->role == LMN_ROLE_BN_VAR) continue;
            char what[96];
            snprintf(what, sizeof what, "gradients of %s", view->name);
            check_close(got.grads + view->offset, want.grads + view->offset, view->count,
                        GRADIENT_TOLERANCE, what);
        }
        CHECK(memcmp(got.grads, again.grads, net->param_count * sizeof(float)) == 0);
        const size_t half = activation_floats(net), full = activation_floats(wide);
        printf("activation floats: bf16 %zu, fp32 %zu\n", half, full);
        CHECK(half * 10 < full * 7);
        step_result_free(&want);
        step_result_free(&got);
        step_result_free(&again);
        step_result_free(&fp32_plan);
    }
    lmn_network_free(oracle);
    lmn_network_free(wide);
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
}

int main(void)
{
    if (!lmn_dnnl_native_bf16(NULL)) SKIP("no native bf16 on this CPU");
    lmn_backend *ref = NULL, *fp32 = NULL, *bf16 = NULL;
    CHECK_OK(lmn_backend_create("ref", &ref));
    CHECK_OK(lmn_backend_create("dnnl", &fp32));
    CHECK_OK(lmn_backend_create("dnnl", &bf16));
    if (bf16) CHECK_OK(lmn_backend_set_precision(bf16, LMN_PRECISION_BF16));
    if (ref && fp32 && bf16) test_network(ref, fp32, bf16);
    lmn_backend_destroy(ref);
    lmn_backend_destroy(fp32);
    lmn_backend_destroy(bf16);
    return lmn_test_summary("nn_test_network_bf16");
}
