/* upsample by an integer factor r: nearest repeats each pixel r x r times;
 * pixel_shuffle turns c x h x w into c/r^2 x rh x rw in PyTorch's
 * PixelShuffle order (channel k*r^2 + i*r + j goes to offset (i, j)). */
#include <stdio.h>

#include "nn/layers/layer.h"

static lmn_status upsample_shape(const lmn_network *net, int i, lmn_layer_shape *shape)
{
    const lmn_layer_spec *layer = &net->spec.layers[i];
    const int r = layer->factor;
    if (r < 1 || r > 64) return lmn_layer_error(layer, i, "the upsampling factor must be in 1..64");
    if (layer->mode == LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE) {
        if (shape->c % (r * r) != 0) {
            char what[200], in[64];
            lmn_layer_format_shape(in, sizeof in, *shape);
            snprintf(what, sizeof what,
                     "pixel_shuffle by %d needs input channels divisible by %d (factor^2), but "
                     "its input is %s",
                     r, r * r, in);
            return lmn_layer_error(layer, i, what);
        }
        shape->c /= r * r;
    }
    shape->h *= r;
    shape->w *= r;
    return LMN_OK;
}

static lmn_status upsample_create(lmn_network *net, lmn_plan *plan, int i)
{
    lmn_backend *be = net->backend;
    const lmn_layer_spec *layer = &net->spec.layers[i];
    lmn_plan_node *node = &plan->nodes[i];
    const lmn_upsample_params p = {
        .kind = layer->mode == LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE ? LMN_UPSAMPLE_PIXEL_SHUFFLE
                                                               : LMN_UPSAMPLE_NEAREST,
        .factor = layer->factor};
    return be->upsample_create(be, &p, &node->in_desc, &node->op, &node->out_desc);
}

static lmn_status upsample_forward(const lmn_pass *p, int i, bool training, uint64_t noise_key)
{
    lmn_plan_node *node = &p->plan->nodes[i];
    return p->net->backend->upsample_forward(
        node->op, lmn_pass_input(p, i), node->y);
}

static lmn_status upsample_backward(const lmn_pass *p, int i, float *dx, bool *dx_written)
{
    const lmn_plan_node *node = &p->plan->nodes[i];
    return p->net->backend->upsample_backward(node->op, node->dy, dx);
}

static const char *const mode_names[] = {"nearest", "pixel_shuffle", NULL};
static const lmn_layer_key key_mode = {"mode", LMN_LAYER_KEY_CHOICE, LMN_LAYER_FIELD(mode),
                                       .choices = mode_names, .help = "how pixels are made"};
static const lmn_layer_key key_factor = {"factor", LMN_LAYER_KEY_INT, LMN_LAYER_FIELD(factor), 1,
                                         64, .help = "integer scale r"};

const lmn_layer_type lmn_layer_type_upsample = {
    .name = "upsample", .help = "c x h x w -> c x rh x rw (nearest), c/r^2 x rh x rw (pixel_shuffle)",
    .flags = LMN_LAYER_IMAGES_ONLY,
    .keys = {&key_mode, &key_factor},
    .infer_shape = upsample_shape, .create_op = upsample_create,
    .forward = upsample_forward, .backward = upsample_backward,
};
