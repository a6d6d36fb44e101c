/* HDF5 checkpoints: bitwise round trips (SGD and Adam), refusal of files
 * from another model, of other optimizers, truncated and non-HDF5 files
 * and wrong dtypes without touching the target, atomic saves that leave
 * no temporary file behind, finding the newest valid checkpoint, pruning,
 * and the documented layout as h5py sees it. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/memory.h"
#include "io/checkpoint.h"
#include "kernels/kernels.h"
#include "nn/model.h"
#include "nn/network.h"
#include "optim/optimizer.h"
#include "test.h"

enum { POLICY_COUNT = 3, PATH_MAX_TEST = 512 };

static const char CONFIG_YAML[] = "model: custom\noptimizer: {kind: adam, lr: 0.001}\n# caf\xc3\xa9\n";

/* ---- fixtures ---------------------------------------------------------- */

typedef struct fixture {
    lmn_network *net;
    lmn_optimizer *opt;
} fixture;

/* conv1(channels, bias) -> bn1 -> relu -> flatten -> fc(3) on 1x6x6 inputs;
 * conv_bias false drops conv1.bias. */
static lmn_status build_model(lmn_backend *backend, int channels, bool conv_bias, lmn_network **net)
{
    lmn_model_spec spec = {0};
    lmn_layer_spec conv = lmn_layer_defaults(LMN_LAYER_CONV);
    conv.out = channels;
    conv.pad = 1;
    conv.bias = conv_bias;
    snprintf(conv.name, sizeof conv.name, "conv1");
    lmn_layer_spec bn = lmn_layer_defaults(LMN_LAYER_BATCHNORM);
    snprintf(bn.name, sizeof bn.name, "bn1");
    lmn_layer_spec relu = lmn_layer_defaults(LMN_LAYER_RELU);
    lmn_layer_spec flatten = lmn_layer_defaults(LMN_LAYER_FLATTEN);
    lmn_layer_spec fc = lmn_layer_defaults(LMN_LAYER_LINEAR);
    fc.out = 3;
    snprintf(fc.name, sizeof fc.name, "fc");
    const lmn_layer_spec layers[] = {conv, bn, relu, flatten, fc};
    lmn_status status = LMN_OK;
    for (size_t i = 0; i < sizeof layers / sizeof *layers && status == LMN_OK; i++)
        status = lmn_model_spec_append(&spec, &layers[i], NULL);
    if (status == LMN_OK) status = lmn_network_create(backend, &spec, 1, 6, 6, net);
    if (status == LMN_OK) lmn_network_init_params(*net, 1);
    lmn_model_spec_free(&spec);
    return status;
}

static lmn_status build_fixture(lmn_backend *backend, int channels, bool conv_bias,
                                lmn_optimizer_kind kind, fixture *f)
{
    *f = (fixture){0};
    LMN_TRY(build_model(backend, channels, conv_bias, &f->net));
    lmn_param_range whole = {0, f->net->param_count, true};
    lmn_optimizer_config config = {.kind = kind, .momentum = 0.9, .beta1 = 0.9, .beta2 = 0.999,
                                   .epsilon = 1e-8};
    return lmn_optimizer_create(&config, &whole, 1, f->net->param_count, &f->opt);
}

static void free_fixture(fixture *f)
{
    lmn_optimizer_free(f->opt);
    lmn_network_free(f->net);
}

/* Distinct, non-round values so a swapped or shifted tensor shows. */
static void fill(float *values, size_t count, float salt)
{
    for (size_t i = 0; i < count; i++) values[i] = salt + 0.001f * (float)i + 1e-7f * (float)(i * i);
}

static void fill_fixture(fixture *f, float salt)
{
    fill(f->net->params, f->net->param_count, salt);
    fill(f->net->state, f->net->state_count, salt + 10.0f);
    fill(f->opt->velocity, f->opt->total, salt + 20.0f);
    if (f->opt->second) fill(f->opt->second, f->opt->total, salt + 30.0f);
    f->opt->steps = 77;
}

static bool same_floats(const float *a, const float *b, size_t count)
{
    return memcmp(a, b, count * sizeof *a) == 0;
}

static const lmn_checkpoint_progress PROGRESS = {
    .epoch = 3, .step_in_epoch = 17, .global_step = 1234, .epoch_loss = 12.375,
    .epoch_correct = 401.0, .epoch_samples = 544.0, .elapsed_seconds = 98.765};
static const double POLICY[POLICY_COUNT] = {0.5, -1.25, 1e300};

/* A snapshot of everything a failed load must leave alone. */
typedef struct snapshot {
    float *params, *state, *velocity;
    int64_t steps;
} snapshot;

static snapshot take_snapshot(const fixture *f)
{
    snapshot s = {0};
    CHECK_OK(lmn_alloc_floats(&s.params, f->net->param_count, "snapshot"));
    CHECK_OK(lmn_alloc_floats(&s.state, f->net->state_count, "snapshot"));
    CHECK_OK(lmn_alloc_floats(&s.velocity, f->opt->total, "snapshot"));
    memcpy(s.params, f->net->params, f->net->param_count * sizeof(float));
    memcpy(s.state, f->net->state, f->net->state_count * sizeof(float));
    memcpy(s.velocity, f->opt->velocity, f->opt->total * sizeof(float));
    s.steps = f->opt->steps;
    return s;
}

static bool unchanged(const snapshot *s, const fixture *f)
{
    return same_floats(s->params, f->net->params, f->net->param_count) &&
           same_floats(s->state, f->net->state, f->net->state_count) &&
           same_floats(s->velocity, f->opt->velocity, f->opt->total) && s->steps == f->opt->steps;
}

static void free_snapshot(snapshot *s)
{
    lmn_free(s->params);
    lmn_free(s->state);
    lmn_free(s->velocity);
}

/* ---- files ------------------------------------------------------------- */

static long file_size(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 ? (long)info.st_size : -1;
}

/* Copies the first `bytes` bytes of from (all if negative) to to. */
static bool copy_file(const char *from, const char *to, long bytes)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    bool ok = in && out;
    for (int c; ok && bytes != 0 && (c = fgetc(in)) != EOF; bytes--) ok = fputc(c, out) != EOF;
    if (in) fclose(in);
    if (out) ok = fclose(out) == 0 && ok;
    return ok;
}

static bool same_file_content(const char *a, const char *b)
{
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    bool same = x && y;
    for (int c, d; same;) {
        c = fgetc(x);
        d = fgetc(y);
        same = c == d;
        if (c == EOF) break;
    }
    if (x) fclose(x);
    if (y) fclose(y);
    return same;
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    CHECK(file != NULL);
    if (!file) return;
    fputs(text, file);
    fclose(file);
}

/* Number of entries of dir whose name contains `part`. */
static int count_entries(const char *dir, const char *part)
{
    DIR *listing = opendir(dir);
    if (!listing) return -1;
    int count = 0;
    for (struct dirent *e = readdir(listing); e; e = readdir(listing))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part)) count++;
    closedir(listing);
    return count;
}

/* out = dir/name; out holds PATH_MAX_TEST bytes. */
static void join_path(char *out, const char *dir, const char *name)
{
    const int length = snprintf(out, PATH_MAX_TEST, "%s/%s", dir, name);
    CHECK(length > 0 && length < PATH_MAX_TEST);
}

/* rm -r for the test's own directory tree. */
static void remove_tree(const char *path)
{
    DIR *listing = opendir(path);
    if (listing) {
        for (struct dirent *e = readdir(listing); e; e = readdir(listing)) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char child[PATH_MAX_TEST];
            join_path(child, path, e->d_name);
            remove_tree(child);
        }
        closedir(listing);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static bool message_has(const char *part)
{
    const bool found = strstr(lmn_last_error(), part) != NULL;
    if (!found) fprintf(stderr, "message '%s' lacks '%s'\n", lmn_last_error(), part);
    return found;
}

/* ---- tests ------------------------------------------------------------- */

static void test_round_trip(lmn_backend *backend, const char *dir, lmn_optimizer_kind kind)
{
    fixture saved, loaded;
    CHECK_OK(build_fixture(backend, 4, true, kind, &saved));
    CHECK_OK(build_fixture(backend, 4, true, kind, &loaded));
    if (!saved.opt || !loaded.opt) return;
    fill_fixture(&saved, 0.5f);
    char path[PATH_MAX_TEST];
    lmn_checkpoint_name(path, sizeof path, dir, PROGRESS.global_step);
    CHECK_OK(lmn_checkpoint_save(path, saved.net, saved.opt, &PROGRESS, CONFIG_YAML, POLICY,
                                 POLICY_COUNT));
    CHECK(count_entries(dir, ".tmp.") == 0);

    lmn_checkpoint_progress progress = {0};
    double policy[POLICY_COUNT] = {0};
    CHECK_OK(lmn_checkpoint_load(path, loaded.net, loaded.opt, &progress, policy, POLICY_COUNT));
    CHECK(same_floats(saved.net->params, loaded.net->params, saved.net->param_count));
    CHECK(same_floats(saved.net->state, loaded.net->state, saved.net->state_count));
    CHECK(same_floats(saved.opt->velocity, loaded.opt->velocity, saved.opt->total));
    if (kind != LMN_OPT_SGD)
        CHECK(loaded.opt->second && same_floats(saved.opt->second, loaded.opt->second, saved.opt->total));
    CHECK(loaded.opt->steps == 77);
    CHECK(memcmp(&progress, &PROGRESS, sizeof progress) == 0);
    CHECK(memcmp(policy, POLICY, sizeof policy) == 0);

    char *yaml = NULL;
    CHECK_OK(lmn_checkpoint_read_config(path, &yaml));
    CHECK(yaml && strcmp(yaml, CONFIG_YAML) == 0);
    free(yaml);

    /* Evaluation loads the model alone; progress and policy state may be skipped. */
    fixture eval;
    CHECK_OK(build_fixture(backend, 4, true, kind, &eval));
    CHECK_OK(lmn_checkpoint_load(path, eval.net, NULL, NULL, NULL, 0));
    CHECK(same_floats(saved.net->params, eval.net->params, saved.net->param_count));
    free_fixture(&eval);
    free_fixture(&saved);
    free_fixture(&loaded);
}

/* Saves an Adam checkpoint of the 4-channel model to path. */
static void save_reference(lmn_backend *backend, const char *path, int64_t step)
{
    fixture f;
    CHECK_OK(build_fixture(backend, 4, true, LMN_OPT_ADAM, &f));
    if (f.opt) {
        fill_fixture(&f, 0.25f);
        lmn_checkpoint_progress progress = PROGRESS;
        progress.global_step = step;
        CHECK_OK(lmn_checkpoint_save(path, f.net, f.opt, &progress, CONFIG_YAML, POLICY, POLICY_COUNT));
    }
    free_fixture(&f);
}

/* Loads path into a freshly filled fixture and checks the load fails with
 * `code`, a message holding each of parts, and nothing changed. */
static void check_refused(lmn_backend *backend, const char *path, int channels, bool conv_bias,
                          lmn_optimizer_kind kind, lmn_status code, const char *const *parts)
{
    fixture f;
    CHECK_OK(build_fixture(backend, channels, conv_bias, kind, &f));
    if (!f.opt) return;
    fill_fixture(&f, 7.0f);
    snapshot before = take_snapshot(&f);
    lmn_checkpoint_progress progress = {.epoch = -5};
    double policy[POLICY_COUNT] = {42, 42, 42};
    const lmn_status status = lmn_checkpoint_load(path, f.net, f.opt, &progress, policy, POLICY_COUNT);
    CHECK_MSG(status == code, "%s: got %s (%s)", path, lmn_status_name(status), lmn_last_error());
    for (; parts && *parts; parts++) CHECK(message_has(*parts));
    CHECK(unchanged(&before, &f));
    CHECK(progress.epoch == -5 && policy[0] == 42 && policy[2] == 42);
    free_snapshot(&before);
    free_fixture(&f);
}

static void test_other_models_refused(lmn_backend *backend, const char *dir)
{
    char path[PATH_MAX_TEST];
    join_path(path, dir, "reference.h5");
    save_reference(backend, path, 5);

    const char *const other_channels[] = {"conv1.weight", "[4, 1, 3, 3]", "[6, 1, 3, 3]",
                                          "different model", NULL};
    check_refused(backend, path, 6, true, LMN_OPT_ADAM, LMN_ERR_FORMAT, other_channels);
    const char *const extra_tensor[] = {"conv1.bias", "different model", NULL};
    check_refused(backend, path, 4, false, LMN_OPT_ADAM, LMN_ERR_FORMAT, extra_tensor);
    const char *const other_optimizer[] = {"adam", "sgd", NULL};
    check_refused(backend, path, 4, true, LMN_OPT_SGD, LMN_ERR_CONFIG, other_optimizer);
    const char *const adamw[] = {"adamw", NULL};
    check_refused(backend, path, 4, true, LMN_OPT_ADAMW, LMN_ERR_CONFIG, adamw);

    /* The policy state must match in length when asked for. */
    fixture f;
    CHECK_OK(build_fixture(backend, 4, true, LMN_OPT_ADAM, &f));
    double policy[POLICY_COUNT + 1] = {0};
    CHECK(lmn_checkpoint_load(path, f.net, f.opt, NULL, policy, POLICY_COUNT + 1) == LMN_ERR_FORMAT);
    CHECK(message_has("policy_state"));

    /* A model-only checkpoint can be evaluated, not resumed. */
    char model_only[PATH_MAX_TEST];
    join_path(model_only, dir, "model-only.h5");
    CHECK_OK(lmn_checkpoint_save(model_only, f.net, NULL, &PROGRESS, "", NULL, 0));
    CHECK_OK(lmn_checkpoint_load(model_only, f.net, NULL, NULL, NULL, 0));
    const char *const no_optimizer[] = {"no optimizer state", NULL};
    check_refused(backend, model_only, 4, true, LMN_OPT_ADAM, LMN_ERR_FORMAT, no_optimizer);
    free_fixture(&f);
}

static void test_broken_files_refused(lmn_backend *backend, const char *dir)
{
    char path[PATH_MAX_TEST], broken[PATH_MAX_TEST];
    join_path(path, dir, "whole.h5");
    save_reference(backend, path, 5);

    join_path(broken, dir, "truncated.h5");
    CHECK(copy_file(path, broken, file_size(path) / 2));
    const char *const unreadable[] = {broken, "not a readable HDF5 file", NULL};
    check_refused(backend, broken, 4, true, LMN_OPT_ADAM, LMN_ERR_FORMAT, unreadable);
    char *yaml = NULL;
    CHECK(lmn_checkpoint_read_config(broken, &yaml) == LMN_ERR_FORMAT && yaml == NULL);

    join_path(broken, dir, "notes.h5");
    write_text(broken, "epoch: 3\nthis is not HDF5 at all, just some text long enough\n");
    const char *const not_hdf5[] = {broken, "not a readable HDF5 file", NULL};
    check_refused(backend, broken, 4, true, LMN_OPT_ADAM, LMN_ERR_FORMAT, not_hdf5);

    join_path(broken, dir, "missing.h5");
    const char *const missing[] = {broken, NULL};
    check_refused(backend, broken, 4, true, LMN_OPT_ADAM, LMN_ERR_IO, missing);

    /* Found by fuzzing: the format attribute's stored data is shorter than
     * the global-heap reference of a variable-length string, and HDF5's
     * H5Aread copied past its own heap buffer (ASan in make sanitize). */
    const char *source = getenv("LMN_SOURCE_DIR");
    CHECK_MSG(source != NULL, "LMN_SOURCE_DIR is not set");
    if (!source) return;
    snprintf(broken, sizeof broken, "%s/tests/io/data/short_vlen_attribute.h5", source);
    const char *const short_attribute[] = {"cannot read '/@format'", NULL};
    check_refused(backend, broken, 4, true, LMN_OPT_ADAM, LMN_ERR_FORMAT, short_attribute);
    int count = -1;
    CHECK(lmn_checkpoint_policy_state_count(broken, &count) == LMN_ERR_FORMAT);
}

/* Rewrites one dataset or attribute of a copy of a valid checkpoint. */
static void test_wrong_contents_refused(lmn_backend *backend, const char *dir)
{
    char path[PATH_MAX_TEST], edited[PATH_MAX_TEST];
    join_path(path, dir, "original.h5");
    save_reference(backend, path, 5);

    join_path(edited, dir, "float64.h5");
    CHECK(copy_file(path, edited, -1));
    hid_t file = H5Fopen(edited, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(file >= 0);
    const hsize_t bias_dims[1] = {3};
    const double bias[3] = {1, 2, 3};
    hid_t space = H5Screate_simple(1, bias_dims, NULL);
    CHECK(H5Ldelete(file, "/model/fc.bias", H5P_DEFAULT) >= 0);
    hid_t dataset = H5Dcreate2(file, "/model/fc.bias", H5T_IEEE_F64LE, space, H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT);
    CHECK(dataset >= 0 && H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, bias) >= 0);
    H5Dclose(dataset);
    H5Sclose(space);
    H5Fclose(file);
    const char *const dtype[] = {"/model/fc.bias", "float64", "float32", NULL};
    check_refused(backend, edited, 4, true, LMN_OPT_ADAM, LMN_ERR_FORMAT, dtype);

    join_path(edited, dir, "version2.h5");
    CHECK(copy_file(path, edited, -1));
    file = H5Fopen(edited, H5F_ACC_RDWR, H5P_DEFAULT);
    const int64_t version = 2;
    hid_t attribute = H5Aopen(file, "format_version", H5P_DEFAULT);
    CHECK(attribute >= 0 && H5Awrite(attribute, H5T_NATIVE_INT64, &version) >= 0);
    H5Aclose(attribute);
    H5Fclose(file);
    const char *const newer[] = {"version 2", NULL};
    check_refused(backend, edited, 4, true, LMN_OPT_ADAM, LMN_ERR_FORMAT, newer);
}

static void test_failed_saves_leave_nothing(lmn_backend *backend, const char *dir)
{
    fixture f;
    CHECK_OK(build_fixture(backend, 4, true, LMN_OPT_ADAM, &f));
    if (!f.opt) return;
    fill_fixture(&f, 1.0f);

    /* The temporary file is written, then the rename onto a directory fails. */
    char blocked[PATH_MAX_TEST], inside[PATH_MAX_TEST];
    join_path(blocked, dir, "blocked.h5");
    join_path(inside, blocked, "keep");
    CHECK(mkdir(blocked, 0755) == 0);
    write_text(inside, "x");
    CHECK(lmn_checkpoint_save(blocked, f.net, f.opt, &PROGRESS, CONFIG_YAML, NULL, 0) == LMN_ERR_IO);
    CHECK(message_has(blocked));
    CHECK(count_entries(dir, ".tmp.") == 0);

    char nowhere[PATH_MAX_TEST];
    join_path(nowhere, dir, "no/such/dir/ckpt.h5");
    CHECK(lmn_checkpoint_save(nowhere, f.net, f.opt, &PROGRESS, CONFIG_YAML, NULL, 0) == LMN_ERR_IO);
    CHECK(message_has(nowhere));
    CHECK(access(nowhere, F_OK) != 0);

    /* A save that runs out of space midway (a file-size limit, which binds
     * root too) leaves the previous checkpoint under the name intact. */
    char path[PATH_MAX_TEST], copy[PATH_MAX_TEST];
    join_path(path, dir, "existing.h5");
    join_path(copy, dir, "existing.copy");
    save_reference(backend, path, 5);
    CHECK(copy_file(path, copy, -1));
    struct rlimit old_limit;
    CHECK(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    const lmn_status status = lmn_checkpoint_save(path, f.net, f.opt, &PROGRESS, CONFIG_YAML, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);
    CHECK_MSG(status == LMN_ERR_IO, "got %s", lmn_status_name(status));
    CHECK(same_file_content(path, copy));
    CHECK(count_entries(dir, ".tmp.") == 0);
    free_fixture(&f);
}

static void test_find_latest_and_prune(lmn_backend *backend, const char *dir)
{
    char path[PATH_MAX_TEST], found[PATH_MAX_TEST];
    CHECK(lmn_checkpoint_find_latest(dir, found, sizeof found) == LMN_ERR_IO);
    CHECK(message_has(dir));

    lmn_checkpoint_name(path, sizeof path, dir, 1234);
    const size_t dir_length = strlen(dir);
    CHECK(strncmp(path, dir, dir_length) == 0 && strcmp(path + dir_length, "/ckpt-000000001234.h5") == 0);

    char valid[5][PATH_MAX_TEST];
    for (int i = 0; i < 5; i++) {
        lmn_checkpoint_name(valid[i], sizeof valid[i], dir, 10 * (i + 1));
        save_reference(backend, valid[i], 10 * (i + 1));
    }
    /* Newer but unusable: a truncated copy, and a save still in progress;
     * older: what a crashed save left behind. */
    char corrupt[PATH_MAX_TEST], in_progress[PATH_MAX_TEST], stale[PATH_MAX_TEST], other[PATH_MAX_TEST];
    lmn_checkpoint_name(corrupt, sizeof corrupt, dir, 60);
    CHECK(copy_file(valid[4], corrupt, file_size(valid[4]) / 3));
    join_path(in_progress, dir, "ckpt-000000000070.h5.tmp.Ab12Cd");
    CHECK(copy_file(valid[4], in_progress, -1));
    join_path(stale, dir, "ckpt-000000000045.h5.tmp.Xy34Zw");
    CHECK(copy_file(valid[4], stale, -1));
    join_path(other, dir, "ckpt-notes.h5");
    write_text(other, "not a checkpoint name");

    fprintf(stderr, "(a warning about skipping a checkpoint is expected next)\n");
    CHECK_OK(lmn_checkpoint_find_latest(dir, found, sizeof found));
    CHECK_MSG(strcmp(found, valid[4]) == 0, "found %s", found);
    char tiny[8];
    CHECK(lmn_checkpoint_find_latest(dir, tiny, sizeof tiny) == LMN_ERR_ARG);

    CHECK(lmn_checkpoint_prune(dir, -1) == LMN_ERR_ARG);
    CHECK_OK(lmn_checkpoint_prune(dir, 2));
    /* Kept: the two newest complete names (the corrupt 60 and 50), the
     * newer temporary file and the unrelated file. */
    CHECK(count_entries(dir, "ckpt-") == 4);
    CHECK(access(corrupt, F_OK) == 0 && access(valid[4], F_OK) == 0);
    CHECK(access(valid[3], F_OK) != 0 && access(valid[0], F_OK) != 0);
    CHECK(access(in_progress, F_OK) == 0 && access(stale, F_OK) != 0 && access(other, F_OK) == 0);
    CHECK_OK(lmn_checkpoint_prune(dir, 0));
    CHECK(count_entries(dir, ".h5") == 2);
    CHECK(access(in_progress, F_OK) == 0 && access(other, F_OK) == 0);
}

/* Runs /usr/bin/python3 with argv; returns its exit status (-1 if it did not run). */
static int run_python(char *const argv[])
{
    const pid_t child = fork();
    if (child == 0) {
        execv("/usr/bin/python3", argv);
        _exit(127);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_h5py_reads_layout(lmn_backend *backend, const char *dir)
{
    char *const probe[] = {"python3", "-c", "import h5py", NULL};
    if (run_python(probe) != 0) {
        SKIP("h5py layout check: /usr/bin/python3 cannot import h5py");
        return;
    }
    const char *source = getenv("LMN_SOURCE_DIR");
    char script[PATH_MAX_TEST], path[PATH_MAX_TEST];
    join_path(script, source ? source : ".", "tests/io/h5py_reads_checkpoint.py");
    CHECK_MSG(access(script, R_OK) == 0, "%s not found (set LMN_SOURCE_DIR)", script);

    fixture f;
    CHECK_OK(build_fixture(backend, 4, true, LMN_OPT_ADAM, &f));
    if (!f.opt) return;
    fill_fixture(&f, 0.75f);
    lmn_checkpoint_name(path, sizeof path, dir, PROGRESS.global_step);
    CHECK_OK(lmn_checkpoint_save(path, f.net, f.opt, &PROGRESS, CONFIG_YAML, POLICY, POLICY_COUNT));

    enum { FIXED_ARGS = 13, TENSOR_ARG_MAX = 96 };
    char tensor_args[16][TENSOR_ARG_MAX], step[32];
    snprintf(step, sizeof step, "%lld", (long long)PROGRESS.global_step);
    char *argv[FIXED_ARGS + 2 * 16 + 1] = {
        "python3", script, path, "--kind", "adam", "--global-step", step,
        "--config", (char *)CONFIG_YAML, "--policy-count", "3", NULL};
    int argc = 11;
    CHECK(f.net->tensor_count <= 16);
    for (int t = 0; t < f.net->tensor_count && t < 16; t++) {
        const lmn_tensor_view *view = &f.net->tensors[t];
        const bool statistic = view->role == LMN_ROLE_BN_MEAN || view->role == LMN_ROLE_BN_VAR;
        const float first = (statistic ? f.net->state : f.net->params)[view->offset];
        int used = snprintf(tensor_args[t], TENSOR_ARG_MAX, "%s=", view->name);
        for (int d = 0; d < view->ndim; d++)
            used += snprintf(tensor_args[t] + used, (size_t)(TENSOR_ARG_MAX - used), "%s%d",
                             d ? "x" : "", view->dims[d]);
        snprintf(tensor_args[t] + used, (size_t)(TENSOR_ARG_MAX - used), ":%.9g", (double)first);
        argv[argc++] = "--tensor";
        argv[argc++] = tensor_args[t];
    }
    argv[argc] = NULL;
    CHECK_MSG(run_python(argv) == 0, "h5py rejected %s", path);
    free_fixture(&f);
}

int main(void)
{
    char dir[] = "/tmp/lmn-checkpoint-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    lmn_backend *backend = NULL;
    CHECK_OK(lmn_backend_create("ref", &backend));
    if (backend) {
        const char *const parts[] = {"sgd", "adam", "refused", "broken", "contents", "saves", "runs", "h5py"};
        char sub[sizeof parts / sizeof *parts][PATH_MAX_TEST];
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
            join_path(sub[i], dir, parts[i]);
            CHECK(mkdir(sub[i], 0755) == 0);
        }
        test_round_trip(backend, sub[0], LMN_OPT_SGD);
        test_round_trip(backend, sub[1], LMN_OPT_ADAM);
        test_other_models_refused(backend, sub[2]);
        test_broken_files_refused(backend, sub[3]);
        test_wrong_contents_refused(backend, sub[4]);
        test_failed_saves_leave_nothing(backend, sub[5]);
        test_find_latest_and_prune(backend, sub[6]);
        test_h5py_reads_layout(backend, sub[7]);
        lmn_backend_destroy(backend);
    }
    remove_tree(dir);
    return lmn_test_summary("io_test_checkpoint");
}
