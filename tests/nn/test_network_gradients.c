/* Network back-propagation on the ref backend against central finite
 * differences of the mean softmax cross-entropy, for small hand-built
 * models that exercise every layer kind, residual adds, a layer read by
 * several later layers, and a layer reading the network input directly.
 * Also checks the batch-norm running-statistics rule and that evaluation
 * mode normalizes with the running statistics, and that the add + relu
 * fusion gives the unfused network's bits. */
#include <math.h>
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
#include "gradient_check.h"
#include "test.h"

enum { BATCH = 4, SAMPLES_PER_TENSOR = 5 };


/* ---- model building ---------------------------------------------------- */

static lmn_layer_spec conv_layer(int out, int kernel, int stride, int pad, bool relu)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_CONV);
    layer.out = out;
    layer.kernel_h = layer.kernel_w = kernel;
    layer.stride = stride;
    layer.pad = pad;
    layer.relu = relu;
    return layer;
}

static lmn_layer_spec pool_layer(lmn_layer_kind kind, int kernel, int stride, int pad)
{
    lmn_layer_spec layer = lmn_layer_defaults(kind);
    layer.kernel_h = layer.kernel_w = kernel;
    layer.stride = stride;
    layer.pad = pad;
    return layer;
}

static lmn_layer_spec linear_layer(int out, bool relu)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_LINEAR);
    layer.out = out;
    layer.relu = relu;
    return layer;
}

static lmn_layer_spec add_layer(int input, int skip)
{
    lmn_layer_spec layer = lmn_layer_defaults(LMN_LAYER_ADD);
    layer.input = input;
    layer.skip = skip;
    return layer;
}

static lmn_layer_spec reading(lmn_layer_spec layer, int input)
{
    layer.input = input;
    return layer;
}

static int append(lmn_model_spec *spec, lmn_layer_spec layer)
{
    int index = -1;
    CHECK_OK(lmn_model_spec_append(spec, &layer, &index));
    return index;
}

/* (a) conv(relu) -> maxpool -> conv -> bn(relu) -> add(maxpool) -> gap -> flatten -> linear */
static void build_residual_model(lmn_model_spec *spec)
{
    append(spec, conv_layer(4, 3, 1, 1, true));
    const int pooled = append(spec, pool_layer(LMN_LAYER_MAXPOOL, 2, 2, 0));
    append(spec, conv_layer(4, 3, 1, 1, false));
    lmn_layer_spec bn = lmn_layer_defaults(LMN_LAYER_BATCHNORM);
    bn.relu = true;
    const int normalized = append(spec, bn);
    append(spec, add_layer(normalized, pooled));
    append(spec, lmn_layer_defaults(LMN_LAYER_GLOBAL_AVGPOOL));
    append(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN));
    append(spec, linear_layer(3, false));
}

/* (b) conv -> avgpool(pad) -> flatten -> linear(relu) -> dropout(0) -> linear */
static void build_pooling_model(lmn_model_spec *spec)
{
    append(spec, conv_layer(3, 3, 1, 0, false));
    append(spec, pool_layer(LMN_LAYER_AVGPOOL, 3, 2, 1));
    append(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN));
    append(spec, linear_layer(10, true));
    lmn_layer_spec dropout = lmn_layer_defaults(LMN_LAYER_DROPOUT);
    dropout.rate = 0.0f;
    append(spec, dropout);
    append(spec, linear_layer(4, false));
}

/* (b') the same head with a real dropout: the mask is keyed by the noise
 * key, so every finite-difference forward drops the same units. */
static void build_dropout_model(lmn_model_spec *spec)
{
    append(spec, conv_layer(3, 3, 1, 0, false));
    append(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN));
    append(spec, linear_layer(12, true));
    lmn_layer_spec dropout = lmn_layer_defaults(LMN_LAYER_DROPOUT);
    dropout.rate = 0.5f;
    append(spec, dropout);
    append(spec, linear_layer(4, false));
}

/* (c) a conv read by two branches that are added back together, a stand-
 * alone relu, and the network input read by two layers. */
static void build_branching_model(lmn_model_spec *spec)
{
    const int stem = append(spec, conv_layer(4, 3, 1, 1, false));
    const int left = append(spec, reading(conv_layer(4, 3, 1, 1, true), stem));
    const int right = append(spec, reading(conv_layer(4, 1, 1, 0, false), stem));
    append(spec, add_layer(left, right));
    append(spec, lmn_layer_defaults(LMN_LAYER_RELU));
    const int pooled = append(spec, pool_layer(LMN_LAYER_AVGPOOL, 2, 2, 0));
    const int direct = append(spec, reading(conv_layer(4, 3, 2, 1, false), LMN_INPUT));
    append(spec, add_layer(pooled, direct));
    append(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN));
    append(spec, linear_layer(5, false));
}

/* (d) relu = true on kinds that have no fused ReLU (add, maxpool): the
 * network must either refuse the flag or honour it in both directions. */
static void build_relu_flag_model(lmn_model_spec *spec)
{
    const int first = append(spec, conv_layer(3, 3, 1, 1, false));
    const int second = append(spec, conv_layer(3, 3, 1, 1, false));
    lmn_layer_spec sum = add_layer(second, first);
    sum.relu = true;
    snprintf(sum.name, sizeof sum.name, "relu_add");
    append(spec, sum);
    lmn_layer_spec pool = pool_layer(LMN_LAYER_MAXPOOL, 2, 2, 0);
    pool.relu = true;
    append(spec, pool);
    append(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN));
    append(spec, linear_layer(3, false));
}

/* ---- finite differences ------------------------------------------------ */

typedef struct problem {
    lmn_network *net;
    int batch;
    const float *x;
    const int32_t *labels;
} problem;

/* Mean cross-entropy of a training-mode forward (dout may be NULL). */
static double mean_loss(const problem *pb, float *dout)
{
    const float *logits = NULL;
    if (lmn_network_forward(pb->net, pb->batch, pb->x, true, 7, &logits) != LMN_OK) {
        fprintf(stderr, "forward failed: %s\n", lmn_last_error());
        return NAN;
    }
    return lmn_softmax_xent(logits, pb->labels, pb->batch, pb->net->num_outputs,
                            1.0f / (float)pb->batch, dout, NULL) /
           pb->batch;
}

/* The finite-difference check's view of a problem: its mean loss. */
static double problem_loss(const void *pb) { return mean_loss(pb, NULL); }

/* may_refuse: the spec may be rejected, with a message naming `refuser`. */
static void check_gradients_of(const char *model, void (*build)(lmn_model_spec *), int channels,
                               int height, int width, uint64_t seed, const char *refuser)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    lmn_model_spec spec = {0};
    build(&spec);
    lmn_network *net = NULL;
    const lmn_status created = lmn_network_create(be, &spec, channels, height, width, &net);
    if (refuser && created != LMN_OK) {
        CHECK_MSG(strstr(lmn_last_error(), refuser) != NULL, "%s: refused without naming '%s': %s",
                  model, refuser, lmn_last_error());
    } else {
        CHECK_MSG(created == LMN_OK, "%s: %s", model, lmn_last_error());
    }
    if (!net) {
        lmn_model_spec_free(&spec);
        lmn_backend_destroy(be);
        return;
    }
    lmn_network_init_params(net, seed);
    /* Non-zero biases / BN shifts so every tensor is exercised away from
     * its special initial value. */
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(99, 1));
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        if (view->role == LMN_ROLE_BIAS || view->role == LMN_ROLE_BN_SHIFT ||
            view->role == LMN_ROLE_BN_SCALE)
            for (size_t k = 0; k < view->count; k++)
                net->params[view->offset + k] += 0.2f * (2.0f * lmn_rng_uniform(&rng) - 1.0f);
    }

    const size_t input_count = (size_t)BATCH * channels * height * width;
    float *x = NULL, *dout = NULL;
    CHECK_OK(lmn_alloc_floats(&x, input_count, "input"));
    CHECK_OK(lmn_alloc_floats(&dout, (size_t)BATCH * net->num_outputs, "dout"));
    for (size_t i = 0; i < input_count; i++) x[i] = 2.0f * lmn_rng_uniform(&rng) - 1.0f;
    int32_t labels[BATCH];
    for (int n = 0; n < BATCH; n++) labels[n] = (int32_t)((n * 7 + 1) % net->num_outputs);
    const problem pb = {net, BATCH, x, labels};

    const double loss = mean_loss(&pb, dout);
    CHECK(isfinite(loss));
    CHECK_OK(lmn_network_backward(net, dout));
    /* The analytic gradients must survive the finite-difference forwards. */
    float *analytic = NULL;
    CHECK_OK(lmn_alloc_floats(&analytic, net->param_count, "analytic gradients"));
    memcpy(analytic, net->grads, net->param_count * sizeof(float));

    int checked = 0, kinks = 0, bad = 0;
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        if (view->role == LMN_ROLE_BN_MEAN || view->role == LMN_ROLE_BN_VAR) continue;
        const double scale = tensor_scale(net, view);
        CHECK_MSG(scale > 0.0, "%s: %s has an all-zero gradient", model, view->name);
        const int samples = view->count < SAMPLES_PER_TENSOR ? (int)view->count : SAMPLES_PER_TENSOR;
        for (int s = 0; s < samples; s++) {
            /* Spread the samples over the tensor, first and last included. */
            const size_t k = samples == 1 ? 0 : (size_t)s * (view->count - 1) / (size_t)(samples - 1);
            const entry_outcome outcome =
                check_entry(problem_loss, &pb, net, view, k, analytic[view->offset + k], scale);
            if (outcome == ENTRY_KINK) {
                kinks++;
                continue;
            }
            checked++;
            if (outcome == ENTRY_DISAGREES) bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d of %d sampled gradients disagree with finite differences",
              model, bad, checked);
    CHECK_MSG(kinks * 5 <= checked, "%s: too many entries skipped at kinks (%d, %d checked)",
              model, kinks, checked);
    printf("%s: %d gradients checked, %d skipped at kinks\n", model, checked, kinks);

    lmn_free(analytic);
    lmn_free(x);
    lmn_free(dout);
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
    lmn_backend_destroy(be);
}

static void check_gradients(const char *model, void (*build)(lmn_model_spec *), int channels,
                            int height, int width, uint64_t seed)
{
    check_gradients_of(model, build, channels, height, width, seed, NULL);
}

/* ---- batch-norm statistics --------------------------------------------- */

/* bn -> flatten on a 2x3x3 input: the output is the normalized input, so
 * every value can be recomputed by hand. */
static void check_batchnorm_statistics(void)
{
    enum { C = 2, H = 3, W = 3, N = 3, HW = H * W };
    const float momentum = 0.3f, epsilon = 1e-3f;
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    lmn_model_spec spec = {0};
    lmn_layer_spec bn = lmn_layer_defaults(LMN_LAYER_BATCHNORM);
    snprintf(bn.name, sizeof bn.name, "bn");
    bn.momentum = momentum;
    bn.epsilon = epsilon;
    append(&spec, bn);
    append(&spec, lmn_layer_defaults(LMN_LAYER_FLATTEN));
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create(be, &spec, C, H, W, &net));
    if (!net) {
        lmn_model_spec_free(&spec);
        lmn_backend_destroy(be);
        return;
    }
    lmn_network_init_params(net, 3);
    const lmn_tensor_view *gamma = lmn_network_tensor(net, "bn.weight");
    const lmn_tensor_view *beta = lmn_network_tensor(net, "bn.bias");
    const lmn_tensor_view *mean = lmn_network_tensor(net, "bn.running_mean");
    const lmn_tensor_view *var = lmn_network_tensor(net, "bn.running_var");
    CHECK(gamma && beta && mean && var);
    if (!gamma || !beta || !mean || !var) return;
    CHECK(net->state[mean->offset] == 0.0f && net->state[var->offset] == 1.0f);
    const float gammas[C] = {1.5f, 0.5f}, betas[C] = {0.25f, -1.0f};
    for (int c = 0; c < C; c++) {
        net->params[gamma->offset + c] = gammas[c];
        net->params[beta->offset + c] = betas[c];
    }

    double expect_mean[C] = {0.0, 0.0}, expect_var[C] = {1.0, 1.0};
    float x[N * C * HW];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N * C * HW; i++)
            x[i] = (float)(round + 1) * sinf(0.7f * (float)i + (float)round) + 0.5f * (float)(i % C);
        const float *y = NULL;
        CHECK_OK(lmn_network_forward(net, N, x, true, 0, &y));
        for (int c = 0; c < C; c++) {
            double sum = 0.0, squares = 0.0;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < HW; k++) sum += x[(n * C + c) * HW + k];
            const double batch_mean = sum / (N * HW);
            for (int n = 0; n < N; n++)
                for (int k = 0; k < HW; k++) {
                    const double d = x[(n * C + c) * HW + k] - batch_mean;
                    squares += d * d;
                }
            const double biased = squares / (N * HW), unbiased = squares / (N * HW - 1);
            /* Training output: normalized with the BIASED batch variance. */
            for (int n = 0; n < N; n++) {
                const int i = (n * C + c) * HW + 4;
                const double want = gammas[c] * (x[i] - batch_mean) / sqrt(biased + epsilon) + betas[c];
                CHECK_CLOSE(y[i], want, 1e-5);
            }
            /* Running statistics: PyTorch's rule with the UNBIASED variance. */
            expect_mean[c] = (1.0 - momentum) * expect_mean[c] + momentum * batch_mean;
            expect_var[c] = (1.0 - momentum) * expect_var[c] + momentum * unbiased;
            CHECK_CLOSE(net->state[mean->offset + c], expect_mean[c], 1e-5);
            CHECK_CLOSE(net->state[var->offset + c], expect_var[c], 1e-5);
        }
    }

    /* Evaluation: running statistics, and they stay put. */
    const float *y = NULL;
    CHECK_OK(lmn_network_forward(net, N, x, false, 0, &y));
    double worst = 0.0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < HW; k++) {
                const int i = (n * C + c) * HW + k;
                const double want = gammas[c] * (x[i] - expect_mean[c]) /
                                        sqrt(expect_var[c] + epsilon) + betas[c];
                worst = fmax(worst, fabs(y[i] - want));
            }
    CHECK_MSG(worst < 1e-5, "evaluation output off by %g from running-statistics BN", worst);
    for (int c = 0; c < C; c++) {
        CHECK_CLOSE(net->state[mean->offset + c], expect_mean[c], 1e-5);
        CHECK_CLOSE(net->state[var->offset + c], expect_var[c], 1e-5);
    }

    /* With momentum 1 the running statistics ARE the last batch's, so an
     * evaluation forward of that batch differs from the training forward
     * only by the unbiased-vs-biased variance. */
    net->spec.layers[0].momentum = 1.0f;
    const float *train_y = NULL;
    CHECK_OK(lmn_network_forward(net, N, x, true, 0, &train_y));
    float train_copy[N * C * HW];
    memcpy(train_copy, train_y, sizeof train_copy);
    CHECK_OK(lmn_network_forward(net, N, x, false, 0, &y));
    const double unbias = (double)(N * HW) / (N * HW - 1);
    worst = 0.0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < HW; k++) {
                const int i = (n * C + c) * HW + k;
                const double centered = (train_copy[i] - betas[c]);
                const double biased_var = net->state[var->offset + c] / unbias;
                const double want = centered * sqrt((biased_var + epsilon) /
                                                    (net->state[var->offset + c] + epsilon)) + betas[c];
                worst = fmax(worst, fabs(y[i] - want));
            }
    CHECK_MSG(worst < 1e-5, "momentum-1 evaluation differs from training by %g", worst);

    lmn_network_free(net);
    lmn_model_spec_free(&spec);
    lmn_backend_destroy(be);
}

/* ---- fused == unfused ---------------------------------------------------- */

/* conv, conv, add, relu, linear; `split` puts a scale by 1 (exact) between
 * the add and the relu, so the relu no longer reads the add and the add +
 * relu fusion does not apply. */
static void build_add_relu_model(lmn_model_spec *spec, bool split)
{
    const int first = append(spec, conv_layer(4, 3, 1, 1, false));
    const int second = append(spec, conv_layer(4, 3, 1, 1, false));
    append(spec, add_layer(second, first));
    if (split) {
        lmn_layer_spec identity = lmn_layer_defaults(LMN_LAYER_SCALE);
        identity.scale = 1.0f;
        append(spec, identity);
    }
    append(spec, lmn_layer_defaults(LMN_LAYER_RELU));
    append(spec, lmn_layer_defaults(LMN_LAYER_FLATTEN));
    append(spec, linear_layer(3, false));
}

static lmn_network *add_relu_network(lmn_backend *be, bool split)
{
    lmn_model_spec spec = {0};
    build_add_relu_model(&spec, split);
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create(be, &spec, 3, 6, 6, &net));
    lmn_model_spec_free(&spec);
    return net;
}

/* One training step: the logits into `logits`, the gradients in net->grads. */
static void training_step(lmn_network *net, const float *x, const int32_t *labels, float *logits)
{
    const float *out = NULL;
    float dout[BATCH * 3];
    CHECK_OK(lmn_network_forward(net, BATCH, x, true, 3, &out));
    if (!out) return;
    memcpy(logits, out, sizeof(float) * BATCH * 3);
    lmn_softmax_xent(logits, labels, BATCH, 3, 1.0f / BATCH, dout, NULL);
    CHECK_OK(lmn_network_backward(net, dout));
}

/* The add + relu fusion (one pass writing relu(a + b)) gives the unfused
 * network's logits and gradients bit for bit, on both backends. */
static void check_add_relu_fusion(const char *backend)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create(backend, &be));
    lmn_network *fused = add_relu_network(be, false), *unfused = add_relu_network(be, true);
    if (!fused || !unfused) goto done;
    CHECK(fused->param_count == unfused->param_count);
    lmn_network_init_params(fused, 21);
    memcpy(unfused->params, fused->params, fused->param_count * sizeof(float));
    float x[BATCH * 3 * 6 * 6], fused_logits[BATCH * 3], unfused_logits[BATCH * 3];
    lmn_rng rng = lmn_rng_make(22, 1);
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = 2.0f * lmn_rng_uniform(&rng) - 1.0f;
    const int32_t labels[BATCH] = {0, 2, 1, 2};
    training_step(fused, x, labels, fused_logits);
    training_step(unfused, x, labels, unfused_logits);
    CHECK_MSG(fused->last_forward->nodes[2].add_writes_relu, "%s: the add + relu was not fused",
              backend);
    CHECK_MSG(!unfused->last_forward->nodes[2].add_writes_relu, "%s: an add read by a scale "
              "was fused with a relu", backend);
    CHECK_MSG(memcmp(fused_logits, unfused_logits, sizeof fused_logits) == 0,
              "%s: fused add + relu changes the logits", backend);
    CHECK_MSG(memcmp(fused->grads, unfused->grads, fused->param_count * sizeof(float)) == 0,
              "%s: fused add + relu changes the gradients", backend);
done:
    lmn_network_free(fused);
    lmn_network_free(unfused);
    lmn_backend_destroy(be);
}

int main(void)
{
    check_gradients("residual (conv-relu, maxpool, conv, bn-relu, add, gap, linear)",
                    build_residual_model, 2, 8, 8, 11);
    check_gradients("pooling (conv, padded avgpool, linear-relu, dropout 0, linear)",
                    build_pooling_model, 1, 9, 9, 12);
    check_gradients("dropout 0.5 (same noise key)", build_dropout_model, 1, 5, 5, 15);
    check_gradients("branching (shared producer, relu layer, input read twice)",
                    build_branching_model, 3, 6, 6, 13);
    check_gradients_of("relu flag on add / maxpool", build_relu_flag_model, 2, 6, 6, 14,
                       "relu_add");
    check_batchnorm_statistics();
    check_add_relu_fusion("ref");
    check_add_relu_fusion("dnnl");
    return lmn_test_summary("nn_test_network_gradients");
}
