/* Checkpoint loading: the input is the HDF5 file image of a checkpoint for
 * fuzz_model.h's network with an Adam optimizer. Loads it in full (model,
 * optimizer, progress, policy state), model only, and reads its config.
 * A failed load must leave the network untouched (checkpoint.h). */
#include "fuzz_common.h"

#include "core/memory.h"
#include "io/checkpoint.h"
#include "fuzz_model.h"

static lmn_backend *backend;
static lmn_network *net;
static lmn_optimizer *opt;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_init_mpi();
    if (lmn_backend_create("ref", &backend) != LMN_OK ||
        fuzz_build_model(backend, &FUZZ_MODEL_DEFAULT, &net) != LMN_OK ||
        fuzz_build_optimizer(net, LMN_OPT_ADAM, &opt) != LMN_OK)
        abort();
    char path[128];
    fuzz_temp_path(path, sizeof path, "warm-ckpt.h5");
    const lmn_checkpoint_progress progress = {.global_step = 1};
    const double policy[7] = {8, 0, 0, 0, 0, 0, 1};
    if (lmn_checkpoint_save(path, net, opt, &progress, "model: lenet\n", policy, 7) != LMN_OK)
        abort();
    fuzz_warm_up(path, LLVMFuzzerTestOneInput);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20) return 0;
    lmn_network_init_params(net, 1);
    float *before = malloc(net->param_count * sizeof *before);
    memcpy(before, net->params, net->param_count * sizeof *before);

    fuzz_file file;
    fuzz_file_open_tmpfs(&file, data, size);
    int count = 0;
    if (lmn_checkpoint_policy_state_count(file.path, &count) != LMN_OK || count < 0 || count > 64)
        count = 0;
    double policy[64];
    lmn_checkpoint_progress progress;
    if (lmn_checkpoint_load(file.path, net, opt, &progress, count ? policy : NULL, count) !=
        LMN_OK) {
        if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "load: %s\n", lmn_last_error());
        if (memcmp(before, net->params, net->param_count * sizeof *before) != 0) {
            fprintf(stderr, "a failed checkpoint load changed the network\n");
            abort();
        }
    }
    (void)lmn_checkpoint_load(file.path, net, NULL, NULL, NULL, 0);
    char *yaml = NULL;
    if (lmn_checkpoint_read_config(file.path, &yaml) == LMN_OK) free(yaml);
    fuzz_file_close(&file);
    free(before);
    return 0;
}
