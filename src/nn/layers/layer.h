/* The layer registry: one lmn_layer_type per layer kind (a file in nn/layers/),
 * listed once in nn/layers/kinds.h. Network construction, plans, the
 * forward and backward passes, the model reader (io/model_config.c) and
 * the help call through these entries instead of switching on the kind.
 *
 * Internal to nn/ and io/model_config.c; the rest of lamina sees
 * lmn_layer_kind and lmn_layer_spec (nn/model.h). */
#ifndef LMN_NN_LAYERS_LAYER_H
#define LMN_NN_LAYERS_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nn/plan.h"

/* How a configuration key is read into a field of lmn_layer_spec. A key
 * that is not required takes the field's value in lmn_layer_defaults as
 * its default. */
typedef enum lmn_layer_key_type {
    LMN_LAYER_KEY_INT,       /* int field in [min, max] */
    LMN_LAYER_KEY_FLOAT,     /* float field; in [min, max] unless both are 0 */
    LMN_LAYER_KEY_BOOL,      /* bool field */
    LMN_LAYER_KEY_CHOICE,    /* enum field: the index of the value in choices */
    LMN_LAYER_KEY_SWITCH,    /* bool field: choices[0] is false, choices[1] true */
    LMN_LAYER_KEY_KERNEL_2D, /* kernel_h, kernel_w: n or [h, w] */
    LMN_LAYER_KEY_KERNEL_3D, /* kernel_d, kernel_h, kernel_w: n or [d, h, w] */
    LMN_LAYER_KEY_LAYER      /* int field: an earlier layer's name or 'input' */
} lmn_layer_key_type;

typedef struct lmn_layer_key {
    const char *name;
    lmn_layer_key_type type;
    size_t offset; /* of the field in lmn_layer_spec */
    double min, max;
    bool required; /* no default */
    const char *const *choices;
    const char *help; /* a few words, printed in the layer help */
} lmn_layer_key;

#define LMN_LAYER_FIELD(field) offsetof(lmn_layer_spec, field)

/* Choice keys read and write enum fields as int. */
_Static_assert(sizeof(lmn_init_kind) == sizeof(int) && sizeof(lmn_upsample_mode) == sizeof(int),
               "enum fields of lmn_layer_spec must be int-sized");

/* Keys several kinds share, defined once in nn/layers/common.c. */
extern const lmn_layer_key lmn_layer_key_out, lmn_layer_key_bias, lmn_layer_key_init,
    lmn_layer_key_kernel_2d, lmn_layer_key_kernel_3d, lmn_layer_key_stride, lmn_layer_key_pad,
    lmn_layer_key_activation;

enum {
    LMN_LAYER_IMAGES_ONLY = 1,  /* c x h x w inputs only */
    LMN_LAYER_VOLUMES_ONLY = 2, /* c x d x h x w inputs only */
    LMN_LAYER_FUSES_RELU = 4,   /* accepts activation: relu */
    /* The fused ReLU is masked inside the kernel's backward, not before it. */
    LMN_LAYER_MASKS_OWN_RELU = 8,
    LMN_LAYER_READS_SKIP = 16,  /* reads a second operand, `skip` */
    /* Reads bf16 activations (kernels.h); a kind without it gets an fp32
     * copy of a bf16 input from the plan (nn/plan.h). */
    LMN_LAYER_READS_BF16 = 32
};

/* One forward or backward pass over a plan. */
typedef struct lmn_pass {
    lmn_network *net;
    lmn_plan *plan;
    const float *input;
} lmn_pass;

enum { LMN_LAYER_MAX_KEYS = 8 };

typedef struct lmn_layer_type {
    const char *name; /* the `type:` of configuration files */
    const char *help; /* one line for the layer help */
    unsigned flags;
    const char *other_dimensionality; /* the kind for volumes (or images), if any */
    const lmn_layer_key *keys[LMN_LAYER_MAX_KEYS]; /* beyond type, name, input; NULL-ended */
    /* Changes lmn_layer_defaults' common values for this kind; may be NULL. */
    void (*set_defaults)(lmn_layer_spec *layer);
    /* Checks the layer's values and turns *shape (its input's) into its
     * output shape; may be NULL (same shape, nothing to check). */
    lmn_status (*infer_shape)(const lmn_network *net, int i, lmn_layer_shape *shape);
    /* Lays out parameters and state (lmn_layer_add_tensor); may be NULL. */
    lmn_status (*layout)(lmn_network *net, int i);
    /* Forward FLOPs per sample; NULL = memory-bound, not counted. */
    double (*forward_flops)(const lmn_network *net, int i);
    /* Creates the node's op and buffers; node->in_desc and out_desc start
     * as the input's desc. May be NULL (nothing to create). */
    lmn_status (*create_op)(lmn_network *net, lmn_plan *plan, int i);
    lmn_status (*forward)(const lmn_pass *p, int i, bool training, uint64_t noise_key);
    /* Writes the input's gradient into dx (lmn_pass_gradient_slot), or
     * delivers it itself and clears *dx_written. A fused ReLU is already
     * masked out of the node's dy unless LMN_LAYER_MASKS_OWN_RELU. */
    lmn_status (*backward)(const lmn_pass *p, int i, float *dx, bool *dx_written);
} lmn_layer_type;

#define LMN_LAYER_KIND(KIND, type) extern const lmn_layer_type lmn_layer_type_##type;
#include "nn/layers/kinds.h"
#undef LMN_LAYER_KIND

/* The registry (nn/layers/registry.c). */
const lmn_layer_type *lmn_layer_type_of(lmn_layer_kind kind);

/* Helpers for layer implementations (nn/layers/common.c). */
lmn_status lmn_layer_error(const lmn_layer_spec *layer, int index, const char *what);
void lmn_layer_format_shape(char *out, size_t size, lmn_layer_shape shape);
lmn_layer_shape lmn_layer_input_shape(const lmn_network *net, int input);
/* Output size of a sliding window over one dimension. */
lmn_status lmn_layer_window_output(const lmn_layer_spec *layer, int index, int size, int kernel,
                                   int *out);
/* Appends a tensor view of layer i at offset (in params, or in state for
 * running statistics). */
lmn_status lmn_layer_add_tensor(lmn_network *net, int i, lmn_tensor_role role, const char *suffix,
                                size_t offset, int ndim, const int *dims);
/* A weight of the given dims (PyTorch order) and, with layer->bias, a bias
 * of dims[0] values after it. */
lmn_status lmn_layer_layout_weight_bias(lmn_network *net, int i, int ndim, const int *dims);
/* Values of the weight tensor that precedes the bias. */
size_t lmn_layer_weight_count(const lmn_network *net, int i);
/* Allocates the node's workspace when the backend asked for one. */
lmn_status lmn_layer_alloc_workspace(lmn_plan_node *node, size_t bytes, const char *what);

/* Pass helpers (nn/propagate.c). */
const float *lmn_pass_activation(const lmn_pass *p, int layer);
/* What layer i reads as its input: the producer's activation, or the
 * plan's fp32 copy of it (plan node input_copy). */
const float *lmn_pass_input(const lmn_pass *p, int i);
const lmn_act_desc *lmn_pass_activation_desc(const lmn_pass *p, int layer);
float *lmn_pass_weights(const lmn_pass *p, int i);
float *lmn_pass_weight_grads(const lmn_pass *p, int i);
/* The layer's bias within the given weights (or gradients); NULL without one. */
float *lmn_pass_bias(const lmn_pass *p, int i, float *weights);
/* Hands a gradient in `from` layout to the producer `layer`. */
lmn_status lmn_pass_deliver(const lmn_pass *p, int layer, const lmn_act_desc *from,
                            const float *grad);

#endif
