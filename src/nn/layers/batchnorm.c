/* batchnorm: per-channel batch normalization of images with learned scale
 * and shift and running statistics (PyTorch's BatchNorm2d: momentum, and
 * the unbiased batch variance in the running variance); optional fused
 * ReLU, masked inside the kernel's backward. */
#include "core/memory.h"
#include "nn/layers/layer.h"

static lmn_status batchnorm_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    if (!(layer->epsilon > 0.0f)) return lmn_layer_error(layer, i, "epsilon must be > 0");
    return LMN_OK;
}

/* Scale and shift are parameters; the running mean and variance, state. */
static lmn_status batchnorm_layout(lmn_network *net, int i)
{
    const lmn_layer_shape in = lmn_layer_input_shape(net, net->spec.layers[i].input);
    const int dims[1] = {in.c};
    const size_t c = (size_t)in.c;
    LMN_TRY(lmn_layer_add_tensor(net, i, LMN_ROLE_BN_SCALE, "weight", net->param_count, 1, dims));
    LMN_TRY(lmn_layer_add_tensor(net, i, LMN_ROLE_BN_SHIFT, "bias", net->param_count + c, 1, dims));
    net->param_count += 2 * c;
    LMN_TRY(lmn_layer_add_tensor(net, i, LMN_ROLE_BN_MEAN, "running_mean", net->state_count, 1, dims));
    LMN_TRY(lmn_layer_add_tensor(net, i, LMN_ROLE_BN_VAR, "running_var", net->state_count + c, 1, dims));
    net->state_count += 2 * c;
    return LMN_OK;
}

static lmn_status batchnorm_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_backend *be = net->backend;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_act_desc in = node->in_desc;
    const lmn_batchnorm_params p = {layer->epsilon, layer->relu};
    LMN_TRY(be->batchnorm_create(be, &p, &in, &node->op, &node->out_desc));
    LMN_TRY(lmn_alloc_floats(&node->batch_mean, (size_t)in.c, "batch-norm mean"));
    return lmn_alloc_floats(&node->batch_var, (size_t)in.c, "batch-norm variance");
}

static void update_running_stats(const lmn_pass *p, int i, const lmn_plan_node *node)
{
    const lmn_layer_spec *layer = &p->net->spec.layers[i];
    const int channels = node->in_desc.c;
    const double count = (double)node->in_desc.n * node->in_desc.h * node->in_desc.w;
    const double unbias = count > 1.0 ? count / (count - 1.0) : 1.0;
    float *mean = p->net->state + p->net->state_offset[i], *var = mean + channels;
    const float m = layer->momentum;
    for (int c = 0; c < channels; c++) {
        mean[c] = (1.0f - m) * mean[c] + m * node->batch_mean[c];
        var[c] = (1.0f - m) * var[c] + m * (float)(node->batch_var[c] * unbias);
    }
}

static lmn_status batchnorm_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    lmn_backend *be = p->net->backend;
    lmn_plan_node *node = &p->plan->nodes[i];
    const float *x = lmn_pass_input(p, i);
    const float *gamma = lmn_pass_weights(p, i), *beta = gamma + node->in_desc.c;
    if (!training) {
        const float *mean = p->net->state + p->net->state_offset[i];
        return be->batchnorm_forward_infer(node->op, x, gamma, beta, mean, mean + node->in_desc.c,
                                           node->y);
    }
    LMN_TRY(be->batchnorm_forward_train(node->op, x, gamma, beta, node->y, node->batch_mean,
                                        node->batch_var));
    update_running_stats(p, i, node);
    return LMN_OK;
}

static lmn_status batchnorm_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    const lmn_plan_node *node = &p->plan->nodes[i];
    float *dw = lmn_pass_weight_grads(p, i);
    return p->net->backend->batchnorm_backward(
        node->op, lmn_pass_input(p, i), node->dy,
        lmn_pass_weights(p, i), node->batch_mean, node->batch_var, dx, dw, dw + node->in_desc.c);
}

static const lmn_layer_key key_epsilon = {"epsilon", LMN_LAYER_KEY_FLOAT,
                                          LMN_LAYER_FIELD(epsilon), 1e-12, 1.0,
                                          .help = "added to the variance"};
static const lmn_layer_key key_momentum = {"momentum", LMN_LAYER_KEY_FLOAT,
                                           LMN_LAYER_FIELD(momentum), 0.0, 1.0,
                                           .help = "of the running statistics, PyTorch's"};

const lmn_layer_type lmn_layer_type_batchnorm = {
    .name = "batchnorm",
    .help = "batch normalization per channel (PyTorch's BatchNorm2d)",
    .flags = LMN_LAYER_IMAGES_ONLY | LMN_LAYER_FUSES_RELU | LMN_LAYER_MASKS_OWN_RELU |
             LMN_LAYER_READS_BF16,
    .keys = {&lmn_layer_key_activation, &key_epsilon, &key_momentum},
    .infer_shape = batchnorm_shape,
    .layout = batchnorm_layout,
    .create_op = batchnorm_create,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
};
