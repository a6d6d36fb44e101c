/* Pooling: maxpool, avgpool and global_avgpool over images; maxpool3d and
 * avgpool3d over volumes (avgpool3d divides by the full window, padding
 * included). */
#include "nn/layers/layer.h"

static lmn_status window_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const lmn_layer_shape in = *shape;
    const bool volume = lmn_layer_type_of(layer->kind)->flags & LMN_LAYER_VOLUMES_ONLY;
    if (layer->pad * 2 > layer->kernel_h || layer->pad * 2 > layer->kernel_w ||
        (volume && layer->pad * 2 > layer->kernel_d))
        return lmn_layer_error(layer, i, "padding must be at most half the pooling kernel");
    if (volume) LMN_TRY(lmn_layer_window_output(layer, i, in.d, layer->kernel_d, &shape->d));
    LMN_TRY(lmn_layer_window_output(layer, i, in.h, layer->kernel_h, &shape->h));
    return lmn_layer_window_output(layer, i, in.w, layer->kernel_w, &shape->w);
}

static lmn_status global_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    shape->h = shape->w = 1;
    return LMN_OK;
}

static lmn_status pool2d_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_backend *be = net->backend;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_act_desc *in = &node->in_desc;
    const bool global = layer->kind == LMN_LAYER_GLOBAL_AVGPOOL;
    const lmn_pool2d_params p = {
        .kind = layer->kind == LMN_LAYER_MAXPOOL ? LMN_POOL_MAX : LMN_POOL_AVG,
        .kernel_h = global ? in->h : layer->kernel_h, .kernel_w = global ? in->w : layer->kernel_w,
        .stride_h = global ? 1 : layer->stride, .stride_w = global ? 1 : layer->stride,
        .pad_h = global ? 0 : layer->pad, .pad_w = global ? 0 : layer->pad};
    size_t workspace_bytes = 0;
    LMN_TRY(be->pool2d_create(be, &p, in, &node->op, &node->out_desc, &workspace_bytes));
    return lmn_layer_alloc_workspace(node, workspace_bytes, "pooling workspace");
}

static lmn_status pool3d_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_backend *be = net->backend;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_pool3d_params p = {
        .kind = layer->kind == LMN_LAYER_MAXPOOL3D ? LMN_POOL_MAX : LMN_POOL_AVG,
        .kernel_d = layer->kernel_d, .kernel_h = layer->kernel_h, .kernel_w = layer->kernel_w,
        .stride_d = layer->stride, .stride_h = layer->stride, .stride_w = layer->stride,
        .pad_d = layer->pad, .pad_h = layer->pad, .pad_w = layer->pad};
    size_t workspace_bytes = 0;
    LMN_TRY(be->pool3d_create(be, &p, &node->in_desc, &node->op, &node->out_desc, &workspace_bytes));
    return lmn_layer_alloc_workspace(node, workspace_bytes, "pooling workspace");
}

/* The backend's 2-D and 3-D pools share their signatures. */
static bool is_volume(const lmn_pass *p, int i)
{
    return lmn_layer_type_of(p->net->spec.layers[i].kind)->flags & LMN_LAYER_VOLUMES_ONLY;
}

static lmn_status pool_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    const lmn_backend *be = p->net->backend;
    lmn_plan_node *node = &p->plan->nodes[i];
    return (is_volume(p, i) ? be->pool3d_forward : be->pool2d_forward)(
        node->op, lmn_pass_activation(p, p->net->spec.layers[i].input), node->y, node->workspace);
}

static lmn_status pool_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    const lmn_backend *be = p->net->backend;
    const lmn_plan_node *node = &p->plan->nodes[i];
    return (is_volume(p, i) ? be->pool3d_backward : be->pool2d_backward)(node->op, node->dy,
                                                                         node->workspace, dx);
}

#define POOL2D_KEYS {&lmn_layer_key_kernel_2d, &lmn_layer_key_stride, &lmn_layer_key_pad}
#define POOL3D_KEYS {&lmn_layer_key_kernel_3d, &lmn_layer_key_stride, &lmn_layer_key_pad}

const lmn_layer_type lmn_layer_type_maxpool = {
    .name = "maxpool", .help = "2-D max pooling",
    .flags = LMN_LAYER_IMAGES_ONLY | LMN_LAYER_READS_BF16, .other_dimensionality = "maxpool3d",
    .keys = POOL2D_KEYS,
    .infer_shape = window_shape, .create_op = pool2d_create,
    .forward = pool_forward, .backward = pool_backward,
};

const lmn_layer_type lmn_layer_type_avgpool = {
    .name = "avgpool", .help = "2-D average pooling",
    .flags = LMN_LAYER_IMAGES_ONLY | LMN_LAYER_READS_BF16, .other_dimensionality = "avgpool3d",
    .keys = POOL2D_KEYS,
    .infer_shape = window_shape, .create_op = pool2d_create,
    .forward = pool_forward, .backward = pool_backward,
};

const lmn_layer_type lmn_layer_type_global_avgpool = {
    .name = "global_avgpool", .help = "average over each channel's whole image (c x 1 x 1)",
    .flags = LMN_LAYER_IMAGES_ONLY | LMN_LAYER_READS_BF16,
    .infer_shape = global_shape, .create_op = pool2d_create,
    .forward = pool_forward, .backward = pool_backward,
};

const lmn_layer_type lmn_layer_type_maxpool3d = {
    .name = "maxpool3d", .help = "3-D max pooling of volumes",
    .flags = LMN_LAYER_VOLUMES_ONLY | LMN_LAYER_READS_BF16, .other_dimensionality = "maxpool",
    .keys = POOL3D_KEYS,
    .infer_shape = window_shape, .create_op = pool3d_create,
    .forward = pool_forward, .backward = pool_backward,
};

const lmn_layer_type lmn_layer_type_avgpool3d = {
    .name = "avgpool3d",
    .help = "3-D average pooling (divides by the whole window, padding included)",
    .flags = LMN_LAYER_VOLUMES_ONLY | LMN_LAYER_READS_BF16, .other_dimensionality = "avgpool",
    .keys = POOL3D_KEYS,
    .infer_shape = window_shape, .create_op = pool3d_create,
    .forward = pool_forward, .backward = pool_backward,
};
