/* The settings of a training run, read from the configuration tree.
 * Every key, its default and its meaning is listed by `lamina train --help`
 * (cli/help.c); keep the two in step. */
#ifndef LMN_TRAIN_SETTINGS_H
#define LMN_TRAIN_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "io/config.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

typedef struct lmn_data_settings {
    const char *name;   /* fashion-mnist, mnist, cifar10, cifar100, synthetic */
    const char *path;   /* directory of the files */
    int augment;        /* -1: the dataset's default, 0: off, 1: on */
    int shape[3];       /* synthetic: channels, height, width */
    int classes;        /* synthetic */
    int64_t train_size, test_size; /* synthetic */
} lmn_data_settings;

typedef struct lmn_train_settings {
    uint64_t seed;
    int threads;         /* 0: cores on the node / ranks on the node */
    const char *backend; /* dnnl or ref */
    lmn_data_settings data;
    int epochs;
    int batch_size;      /* global, summed over ranks */
    int64_t max_steps;   /* 0: no limit */
    bool drop_last;
    bool shuffle;
    bool eval;
    int eval_batch_size; /* per rank */
    bool profile;        /* time every layer; report at the end */
    lmn_optimizer_config optimizer;
    bool decay_bias_and_bn;
    lmn_lr_schedule schedule;
} lmn_train_settings;

/* Reads every key the trainer uses (the model is read later, once the data
 * shape is known). Defaults are inserted into cfg so that writing it gives
 * the resolved configuration. */
lmn_status lmn_train_settings_read(lmn_cfg *cfg, lmn_train_settings *settings);

#endif
