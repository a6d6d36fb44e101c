/* Checkpoint write / read time and file size for zoo models (ResNet-20 and
 * VGG-16 on 3x32x32, 10 classes; VGG-16 also at 224x224x3, 1000 classes),
 * with SGD momentum and with Adam state. Prints one JSON line per case.
 * usage: bench_checkpoint_io [DIR]   (default /tmp) */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/timer.h"
#include "io/checkpoint.h"
#include "nn/network.h"
#include "optim/optimizer.h"

typedef struct bench_case {
    const char *model;
    int channels, size, classes;
    lmn_optimizer_kind optimizer;
} bench_case;

static lmn_status run_case(const bench_case *c, const char *dir, lmn_backend *backend)
{
    lmn_model_spec spec = {0};
    lmn_network *net = NULL;
    lmn_optimizer *opt = NULL;
    lmn_status status = lmn_model_zoo(c->model, c->channels, c->size, c->size, c->classes, &spec);
    if (status == LMN_OK) status = lmn_network_create(backend, &spec, c->channels, c->size, c->size, &net);
    lmn_model_spec_free(&spec);
    if (status == LMN_OK) {
        lmn_network_init_params(net, 1);
        const lmn_param_range all = {0, net->param_count, true};
        const lmn_optimizer_config config = {.kind = c->optimizer, .momentum = 0.9, .beta1 = 0.9,
                                             .beta2 = 0.999, .epsilon = 1e-8};
        status = lmn_optimizer_create(&config, &all, 1, net->param_count, &opt);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/lamina-bench-checkpoint.h5", dir);
    const lmn_checkpoint_progress progress = {.epoch = 1, .global_step = 100};
    double write = 0.0, read = 0.0;
    for (int repeat = 0; status == LMN_OK && repeat < 3; repeat++) {
        double start = lmn_now();
        status = lmn_checkpoint_save(path, net, opt, &progress, "model: bench\n", NULL, 0);
        const double w = lmn_now() - start;
        start = lmn_now();
        if (status == LMN_OK) status = lmn_checkpoint_load(path, net, opt, NULL, NULL, 0);
        const double r = lmn_now() - start;
        if (repeat == 0 || w < write) write = w;
        if (repeat == 0 || r < read) read = r;
    }
    struct stat info;
    if (status == LMN_OK && stat(path, &info) == 0)
        printf("{\"bench\":\"checkpoint\",\"model\":\"%s\",\"input\":%d,\"optimizer\":\"%s\","
               "\"parameters\":%zu,\"bytes\":%lld,\"write_seconds\":%.4f,\"read_seconds\":%.4f,"
               "\"write_mb_per_s\":%.1f}\n",
               c->model, c->size, c->optimizer == LMN_OPT_SGD ? "sgd" : "adam", net->param_count,
               (long long)info.st_size, write, read, (double)info.st_size / 1e6 / write);
    unlink(path);
    lmn_optimizer_free(opt);
    lmn_network_free(net);
    return status;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    const bench_case cases[] = {
        {"resnet20", 3, 32, 10, LMN_OPT_SGD},  {"resnet20", 3, 32, 10, LMN_OPT_ADAM},
        {"vgg16", 3, 32, 10, LMN_OPT_SGD},     {"vgg16", 3, 32, 10, LMN_OPT_ADAM},
        {"vgg16", 3, 224, 1000, LMN_OPT_SGD},
    };
    lmn_backend *backend = NULL;
    lmn_status status = lmn_backend_create("ref", &backend);
    for (size_t i = 0; status == LMN_OK && i < sizeof cases / sizeof cases[0]; i++)
        status = run_case(&cases[i], dir, backend);
    lmn_backend_destroy(backend);
    if (status != LMN_OK) {
        fprintf(stderr, "bench_checkpoint_io: %s\n", lmn_last_error());
        return 1;
    }
    return 0;
}
