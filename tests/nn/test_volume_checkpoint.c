/* Five-dimensional (OIDHW) conv3d weights through the checkpoint and
 * safetensors writers: a model-only checkpoint restores every value, a
 * network whose conv3d kernel differs is refused with both 5-D shapes,
 * and the safetensors header lists the OIDHW shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "nn/model.h"
#include "nn/network.h"
#include "test.h"

static const lmn_layer_shape VOLUME = {.c = 2, .d = 4, .h = 4, .w = 4};

/* conv3d (kernel_d x 3 x 3, pad 1) -> maxpool3d -> flatten -> linear 3 */
static lmn_network *build(lmn_backend *be, int kernel_d, uint64_t seed)
{
    lmn_model_spec spec = {0};
    lmn_layer_spec conv = lmn_layer_defaults(LMN_LAYER_CONV3D);
    conv.out = 4;
    conv.kernel_d = kernel_d;
    conv.pad = 1;
    snprintf(conv.name, sizeof conv.name, "conv1");
    lmn_layer_spec pool = lmn_layer_defaults(LMN_LAYER_MAXPOOL3D);
    lmn_layer_spec flatten = lmn_layer_defaults(LMN_LAYER_FLATTEN);
    lmn_layer_spec fc = lmn_layer_defaults(LMN_LAYER_LINEAR);
    fc.out = 3;
    snprintf(fc.name, sizeof fc.name, "fc");
    const lmn_layer_spec layers[] = {conv, pool, flatten, fc};
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++)
        CHECK_OK(lmn_model_spec_append(&spec, &layers[i], NULL));
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create_shape(be, &spec, VOLUME, &net));
    if (net) lmn_network_init_params(net, seed);
    lmn_model_spec_free(&spec);
    return net;
}

static void check_checkpoint(lmn_backend *be, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/volume.h5", dir);
    lmn_network *saved = build(be, 3, 1), *loaded = build(be, 3, 2), *other = build(be, 1, 3);
    if (!saved || !loaded || !other) goto done;
    const lmn_checkpoint_progress progress = {0};
    CHECK_OK(lmn_checkpoint_save(path, saved, NULL, &progress, "model: custom\n", NULL, 0));
    CHECK(memcmp(saved->params, loaded->params, saved->param_count * sizeof(float)) != 0);
    CHECK_OK(lmn_checkpoint_load(path, loaded, NULL, NULL, NULL, 0));
    CHECK(memcmp(saved->params, loaded->params, saved->param_count * sizeof(float)) == 0);
    CHECK(lmn_checkpoint_load(path, other, NULL, NULL, NULL, 0) == LMN_ERR_FORMAT);
    CHECK_MSG(strstr(lmn_last_error(), "conv1.weight") && strstr(lmn_last_error(), "[4, 2, 3, 3, 3]") &&
                  strstr(lmn_last_error(), "[4, 2, 1, 3, 3]"),
              "%s", lmn_last_error());
done:
    remove(path);
    lmn_network_free(saved);
    lmn_network_free(loaded);
    lmn_network_free(other);
}

static void check_safetensors(lmn_backend *be, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/volume.safetensors", dir);
    lmn_network *net = build(be, 3, 1);
    if (!net) return;
    CHECK_OK(lmn_export_safetensors(path, net));
    FILE *file = fopen(path, "rb");
    CHECK(file != NULL);
    if (file) {
        char header[4096] = {0};
        const size_t got = fread(header, 1, sizeof header - 1, file);
        CHECK(got > 8);
        CHECK_MSG(strstr(header + 8, "\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[4,2,3,3,3]"),
                  "header: %s", header + 8);
        fclose(file);
    }
    remove(path);
    lmn_network_free(net);
}

int main(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    char dir[] = "/tmp/lmn-volume-checkpoint-XXXXXX";
    if (!be || !mkdtemp(dir)) return lmn_test_summary("nn_test_volume_checkpoint") | 1;
    check_checkpoint(be, dir);
    check_safetensors(be, dir);
    rmdir(dir);
    lmn_backend_destroy(be);
    return lmn_test_summary("nn_test_volume_checkpoint");
}
