/* The layer kinds, in lmn_layer_kind order (the order is the enum's values:
 * append, never reorder). Each line names the kind's enum suffix and the
 * lmn_layer_type it is implemented by (nn/layers/<file>.c defines
 * lmn_layer_type_<type>). Adding a layer kind = one file + one line here.
 *
 * Included with LMN_LAYER_KIND(ENUM_SUFFIX, type) defined by the includer. */
LMN_LAYER_KIND(CONV, conv)
LMN_LAYER_KIND(MAXPOOL, maxpool)
LMN_LAYER_KIND(AVGPOOL, avgpool)
LMN_LAYER_KIND(GLOBAL_AVGPOOL, global_avgpool)
LMN_LAYER_KIND(LINEAR, linear)
LMN_LAYER_KIND(BATCHNORM, batchnorm)
LMN_LAYER_KIND(RELU, relu)
LMN_LAYER_KIND(ADD, add)
LMN_LAYER_KIND(DROPOUT, dropout)
LMN_LAYER_KIND(FLATTEN, flatten)
LMN_LAYER_KIND(CONV3D, conv3d)
LMN_LAYER_KIND(MAXPOOL3D, maxpool3d)
LMN_LAYER_KIND(AVGPOOL3D, avgpool3d)
LMN_LAYER_KIND(UPSAMPLE, upsample)
LMN_LAYER_KIND(LEAKY_RELU, leaky_relu)
LMN_LAYER_KIND(SCALE, scale)
