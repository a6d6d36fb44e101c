/* A network built from a model spec on one kernel backend.
 *
 * All learnable parameters live in ONE flat buffer (and their gradients in
 * another of the same layout), so data parallelism reduces a single
 * buffer and the optimizer sweeps it once. Batch-norm running statistics
 * live in a separate flat `state` buffer. Per-tensor views are listed in
 * `tensors` (name, offset, count), in layer order. */
#ifndef LMN_NN_NETWORK_H
#define LMN_NN_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "nn/model.h"

enum { LMN_TENSOR_NAME_MAX = 64, LMN_TENSOR_MAX_DIMS = 5 };

typedef enum lmn_tensor_role {
    LMN_ROLE_WEIGHT,   /* conv / linear kernel: weight decay applies */
    LMN_ROLE_BIAS,     /* conv / linear bias */
    LMN_ROLE_BN_SCALE, /* batch-norm gamma */
    LMN_ROLE_BN_SHIFT, /* batch-norm beta */
    LMN_ROLE_BN_MEAN,  /* running mean (state) */
    LMN_ROLE_BN_VAR    /* running variance (state) */
} lmn_tensor_role;

typedef struct lmn_tensor_view {
    char name[LMN_TENSOR_NAME_MAX]; /* "conv1.weight", "bn1.running_mean" */
    int layer;
    lmn_tensor_role role;
    size_t offset, count; /* in params (learnable) or state (running stats) */
    int dims[LMN_TENSOR_MAX_DIMS], ndim; /* PyTorch order: OIHW, OIDHW, [out][in], [C] */
} lmn_tensor_view;

typedef struct lmn_plan lmn_plan; /* per-batch-size ops and buffers */

/* Calls a sync policy (train/) makes around each layer, so communication can
 * follow the passes layer by layer. before_forward runs before layer i's
 * forward (training and inference): a deferred update of its parameters
 * belongs there. after_backward runs once layer i's parameter gradients are
 * complete (also for layers without parameters). Either may be NULL. */
typedef struct lmn_layer_hooks {
    void *ctx;
    lmn_status (*before_forward)(void *ctx, int layer);
    lmn_status (*after_backward)(void *ctx, int layer);
} lmn_layer_hooks;

typedef struct lmn_network {
    lmn_backend *backend; /* borrowed */
    lmn_model_spec spec;  /* owned copy with inputs resolved */
    lmn_layer_shape input_shape;
    lmn_layer_shape *shapes; /* per layer */
    size_t *param_offset;    /* per layer: first learnable value */
    size_t *state_offset;    /* per layer: first running statistic */
    int num_outputs;         /* values per sample at the last layer (c*h*w, times d if > 0) */

    float *params, *grads;
    size_t param_count;
    float *state;
    size_t state_count;
    lmn_tensor_view *tensors; /* learnable then state, in layer order */
    int tensor_count;

    lmn_plan **plans;
    int plan_count;
    /* Buffer memory new plans may still allocate (each plan's buffers are
     * taken from it); 0 = no limit. */
    size_t activation_budget_bytes;
    lmn_plan *last_forward; /* plan used by the latest training forward */
    uint64_t seed;          /* keys dropout masks */
    /* Per-layer time accounting (seconds, cumulative), off unless
     * lmn_network_enable_profile is called. */
    double *forward_seconds, *backward_seconds;
    lmn_layer_hooks hooks; /* zero: none */
} lmn_network;

/* Validates the spec (inputs, shapes) for inputs of the given shape
 * (input.d = 0 for images, >= 1 for volumes) and allocates parameters.
 * Errors name the offending layer. Free with lmn_network_free. */
lmn_status lmn_network_create_shape(lmn_backend *backend, const lmn_model_spec *spec,
                                    lmn_layer_shape input, lmn_network **out);
/* lmn_network_create_shape for channels x height x width images. */
lmn_status lmn_network_create(lmn_backend *backend, const lmn_model_spec *spec, int channels,
                              int height, int width, lmn_network **out);
void lmn_network_free(lmn_network *net);

/* Initializes parameters from (seed, layer): He-normal or Glorot-uniform
 * weights, zero biases, unit BN scale, zero shift / running mean, unit
 * running variance. */
void lmn_network_init_params(lmn_network *net, uint64_t seed);

/* Runs the network on `batch` dense NCHW samples. Training mode uses batch
 * statistics (and updates running ones) and dropout keyed by noise_key;
 * *out points at batch x num_outputs dense values, valid until the next
 * call. In training mode x must stay valid until the backward pass. */
lmn_status lmn_network_forward(lmn_network *net, int batch, const float *x, bool training,
                               uint64_t noise_key, const float **out);

/* Back-propagates d(loss)/d(output) (batch x num_outputs) through the last
 * training forward and OVERWRITES net->grads. */
lmn_status lmn_network_backward(lmn_network *net, const float *dout);

/* Starts accumulating per-layer forward / backward seconds. */
lmn_status lmn_network_enable_profile(lmn_network *net);

/* True for batch-norm running statistics (views into state, not params). */
bool lmn_tensor_is_statistic(const lmn_tensor_view *view);
/* The values of a view: in state for running statistics, else in params. */
float *lmn_network_tensor_data(const lmn_network *net, const lmn_tensor_view *view);

/* Looks up a tensor view by name; NULL if absent. */
const lmn_tensor_view *lmn_network_tensor(const lmn_network *net, const char *name);

/* Floating-point operations (2 per multiply-add of conv, conv3d and
 * linear layers) of one forward pass per sample (for FLOP rates). */
double lmn_network_forward_flops(const lmn_network *net);

/* The shape of the network's output per sample (the last layer's): a
 * vector (c x 1 x 1) for classifiers and regressors, an image for
 * image-to-image models. num_outputs is its number of values. */
lmn_layer_shape lmn_network_output_shape(const lmn_network *net);

#endif
