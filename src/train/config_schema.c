#include "train/config_schema.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Choices whose order is an enum's (lmn_strategy, lmn_wire, fc_exchange -1/0/1). */
static const char *const strategy_choices[] = {"allreduce", "overlap", "multistep", "lazy",
                                               "localsgd", NULL};
static const char *const wire_choices[] = {"fp32", "fp16", "bf16", NULL};
static const char *const exchange_choices[] = {"auto", "never", "always", NULL};
static const char *const backend_choices[] = {"dnnl", "ref", NULL};
static const char *const precision_choices[] = {"fp32", "bf16", NULL};
static const char *const derive_choices[] = {"none", "super_resolution", NULL};
static const char *const sr_input_choices[] = {"low", "upsampled", NULL};
static const char *const order_choices[] = {"global", "chunks", NULL};
static const char *const lr_scaling_choices[] = {"linear", "sqrt", "none", NULL};
static const char *const weighting_choices[] = {"samples", "plain", NULL};
static const char *const split_choices[] = {"layers", "elements", NULL};

static const lmn_config_key keys[] = {
    {.key = "model",
     .flags = LMN_KEYS_COMMON | LMN_KEY_MODEL,
     .help = "zoo name (lenet, resnet20, resnet18, resnet50, vgg16, edsr, vdsr, cosmoflow), a "
             "map {name: ZOO, OPTION: VALUE...} (name is required there: the zoo model whose "
             "options follow), or a list of layers [lenet]; resnet18 and resnet50 are "
             "ImageNet-shaped (7x7 stride-2 stem, max pool)"},
    {.key = "model[N]",
     .flags = LMN_KEYS_COMMON | LMN_KEY_MODEL | LMN_KEY_NOTE,
     .help = "one layer: type and its keys, as the \"layer types\" list at the end of "
             "`lamina train --help` gives them (generated from the layer registry); e.g. "
             "--set model[0].out=16"},
    {.key = "seed",
     .flags = LMN_KEYS_COMMON,
     .help = "seeds initialization, shuffling, augmentation",
     .type = LMN_KEY_INT, .def = "1", .int_min = 0, .int_max = INT64_MAX},
    {.key = "threads",
     .flags = LMN_KEYS_COMMON,
     .help = "OpenMP threads per rank; 0 = SLURM_CPUS_PER_TASK under Slurm, else cores / ranks on the node",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = 4096},
    {.key = "backend",
     .flags = LMN_KEYS_COMMON,
     .help = "kernel backend: dnnl (oneDNN) or ref (plain loops)",
     .type = LMN_KEY_CHOICE, .def = "dnnl", .choices = backend_choices},
    {.key = "task",
     .flags = LMN_KEYS_COMMON,
     .help = "classification or regression [classification]"},
    {.key = "loss",
     .flags = LMN_KEYS_COMMON,
     .when = "task=regression",
     .help = "classification: cross_entropy; regression: mse or mae [mse]"},
    {.key = "metrics.psnr",
     .flags = LMN_KEYS_COMMON,
     .when = "task=regression",
     .help = "regression: report test_psnr: auto (for image targets), true (an error for vector "
             "targets), false [auto]"},
    {.key = "metrics.psnr_peak",
     .flags = LMN_KEYS_COMMON,
     .when = "task=regression",
     .help = "the targets' value range: PSNR = mean over test images of 10 log10(peak^2 / MSE of "
             "the image) [1.0]"},
    {.key = "data.name",
     .flags = LMN_KEYS_COMMON,
     .help = "fashion-mnist, mnist, cifar10, cifar100, hdf5, synthetic, grf-cubes, images "
             "[fashion-mnist]"},
    {.key = "data.path",
     .flags = LMN_KEYS_COMMON,
     .help = "directory of the dataset files; hdf5: the training file "
             "[/usr/share/datasets/fashion-mnist]"},
    {.key = "data.test_path",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=hdf5",
     .help = "hdf5: the test file"},
    {.key = "data.images",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=hdf5",
     .help = "hdf5: dataset name of the images [images]; uint8 or float32 N x C x H x W "
             "(volumes: N x C x D x H x W)"},
    {.key = "data.labels",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=hdf5",
     .help = "hdf5: dataset name of the labels [labels]; integers (lamina data convert)"},
    {.key = "data.targets",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=hdf5;task=regression",
     .help = "hdf5 with task regression: the float targets' dataset, read instead of labels: N x "
             "K (a vector) or N x C x H x W / N x C x D x H x W (image targets), used as stored "
             "[targets]"},
    {.key = "data.derive",
     .flags = LMN_KEYS_COMMON,
     .help = "none, or super_resolution: any image set becomes pairs of input = image "
             "box-downsampled by data.sr_factor, target = the image (values in [0, 1] for byte "
             "images, no normalization); needs task regression",
     .type = LMN_KEY_CHOICE, .def = "none", .choices = derive_choices},
    {.key = "data.sr_factor",
     .flags = LMN_KEYS_COMMON,
     .when = "data.derive=super_resolution",
     .help = "super_resolution: 2, 3 or 4, dividing height and width",
     .type = LMN_KEY_INT, .def = "2", .int_min = 2, .int_max = 4},
    {.key = "data.sr_input",
     .flags = LMN_KEYS_COMMON,
     .when = "data.derive=super_resolution",
     .help = "super_resolution: low (the small image, for EDSR) or upsampled (bicubic, a = -0.5, "
             "back to full size, for VDSR); the run prints bicubic's and nearest's test PSNR and "
             "writes baseline_psnr (bicubic) to metrics.jsonl",
     .type = LMN_KEY_CHOICE, .def = "low", .choices = sr_input_choices},
    {.key = "data.prefetch_samples",
     .flags = LMN_KEYS_COMMON,
     .help = "read this many samples ahead on an I/O thread; 0 = off",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = 1 << 24},
    {.key = "data.read_delay_ms",
     .flags = LMN_KEYS_COMMON,
     .help = "benchmarks: add this delay to every batch read, to emulate a slow file system",
     .type = LMN_KEY_NUMBER, .def = "0", .min = 0, .max = 1e6},
    {.key = "data.in_memory",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=hdf5",
     .help = "hdf5: load the whole file on every rank (true), or read each batch's rows from the "
             "file in place (false; memory per rank does not grow with the file) [false; true "
             "for lamina fl and data.derive]"},
    {.key = "data.max_memory",
     .flags = LMN_KEYS_COMMON,
     .help = "MB the data may take per rank, 0 = no limit: the whole set with data.in_memory, "
             "else the buffers + HDF5 chunk cache + epoch order (4 bytes/sample); exceeding it "
             "is an error",
     .type = LMN_KEY_NUMBER, .def = "0", .min = 0, .max = 1e12},
    {.key = "data.order",
     .flags = LMN_KEYS_COMMON,
     .help = "global (the exact seeded permutation: out of core gives the same bits as in "
             "memory) or chunks (each rank reads its own chunks of rows, shuffled per epoch, "
             "several per buffer, samples shuffled within a buffer)",
     .type = LMN_KEY_CHOICE, .def = "global", .choices = order_choices},
    {.key = "data.chunk_rows",
     .flags = LMN_KEYS_COMMON,
     .help = "chunks: rows per chunk; 0 = the file's HDF5 chunk rows, else 256 (the last chunk "
             "may be short)",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = 1 << 24},
    {.key = "data.chunks_per_buffer",
     .flags = LMN_KEYS_COMMON,
     .help = "chunks: chunks shuffled together; 0 = enough for max(data.prefetch_samples, local "
             "batch) rows, at least 2",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = 1 << 16},
    {.key = "data.augment",
     .flags = LMN_KEYS_COMMON,
     .help = "random crop (pad 4) + flip; default on for CIFAR training sets and image folders "
             "(there: random-resized-crop + flip)"},
    {.key = "data.image_size",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=images",
     .help = "images: side S of the training crop and the evaluation centre crop [224]; "
             "data.path is ROOT with ROOT/train/<class>/ and ROOT/val/<class>/ holding "
             ".jpg/.jpeg/.png (any case)",
     .type = LMN_KEY_INT, .def = "224", .int_min = 1, .int_max = 8192},
    {.key = "data.resize",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=images",
     .help = "images: evaluation resizes the shorter side to this, then crops S x S [round(S * "
             "256 / 224)]"},
    {.key = "data.channels",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=images",
     .help = "images: 3 (RGB) or 1 (gray)",
     .type = LMN_KEY_INT, .def = "3", .int_min = 1, .int_max = 3},
    {.key = "data.mean",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=images",
     .help = "images: per-channel mean [ImageNet's; 1 channel: 0.449]"},
    {.key = "data.std",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=images",
     .help = "images: per-channel std, > 0 [ImageNet's; 1 channel: 0.226]"},
    {.key = "data.skip_bad_files",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=images",
     .help = "images: decode every file once up front and skip the bad ones, listed in "
             "OUT/bad_files.txt [false: the first bad file met stops the run, named]",
     .type = LMN_KEY_BOOL, .def = "false"},
    {.key = "data.io_threads",
     .flags = LMN_KEYS_COMMON,
     .help = "decode threads on the I/O thread when prefetching",
     .type = LMN_KEY_INT, .def = "1", .int_min = 1, .int_max = 1024},
    {.key = "data.shape",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=synthetic",
     .help = "synthetic: [channels, height, width] [[3, 32, 32]]; grf-cubes: [channels, S, S, "
             "S], S a power of two [[4, 32, 32, 32]]"},
    {.key = "data.classes",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=synthetic",
     .help = "synthetic: number of classes",
     .type = LMN_KEY_INT, .def = "10", .int_min = 1, .int_max = 1 << 20},
    {.key = "data.train_size",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=synthetic",
     .help = "synthetic [6400], grf-cubes [1024]: training samples"},
    {.key = "data.test_size",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=synthetic",
     .help = "synthetic [640], grf-cubes [256]: test samples"},
    {.key = "grf-cubes",
     .flags = LMN_KEYS_COMMON | LMN_KEY_NOTE,
     .help = "Gaussian random fields, P(k) = A (|k| / (S/4))^-n; channel c = exp(-gamma c / "
             "(C-1)) (sqrt(rho) g_0 + sqrt(1-rho) g_(c+1)); targets (log A, n, rho, gamma), each "
             "normalized to mean 0 and variance 1 over its range (mean prediction: MSE 1); made "
             "from (seed, sample) when gathered, nothing is stored"},
    {.key = "data.grf_amplitude",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=grf-cubes",
     .help = "grf-cubes: A range, log-uniform [[0.5, 2.0]]"},
    {.key = "data.grf_slope",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=grf-cubes",
     .help = "grf-cubes: n range [[0.5, 2.5]]"},
    {.key = "data.grf_correlation",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=grf-cubes",
     .help = "grf-cubes: rho range, in [0, 1] [[0.1, 0.9]]"},
    {.key = "data.grf_growth",
     .flags = LMN_KEYS_COMMON,
     .when = "data.name=grf-cubes",
     .help = "grf-cubes: gamma range [[0.0, 1.0]]"},
    {.key = "train.epochs",
     .flags = LMN_KEYS_TRAIN,
     .help = "epochs",
     .type = LMN_KEY_INT, .def = "5", .int_min = 1, .int_max = 1000000},
    {.key = "train.batch_size",
     .flags = LMN_KEYS_TRAIN,
     .help = "GLOBAL batch, split across ranks",
     .type = LMN_KEY_INT, .def = "64", .int_min = 1, .int_max = 1 << 24},
    {.key = "train.max_steps",
     .flags = LMN_KEYS_TRAIN,
     .help = "stop after this many steps in all; 0 = no limit",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = INT64_MAX},
    {.key = "train.drop_last",
     .flags = LMN_KEYS_TRAIN,
     .help = "drop the last, partial batch of an epoch; when kept, it is split across ranks like "
             "any other and its gradient is the mean over its own samples",
     .type = LMN_KEY_BOOL, .def = "false"},
    {.key = "train.shuffle",
     .flags = LMN_KEYS_TRAIN,
     .help = "reshuffle every epoch from (seed, epoch)",
     .type = LMN_KEY_BOOL, .def = "true"},
    {.key = "train.eval",
     .flags = LMN_KEYS_TRAIN,
     .help = "evaluate on the test set after every epoch",
     .type = LMN_KEY_BOOL, .def = "true"},
    {.key = "train.eval_batch_size",
     .flags = LMN_KEYS_TRAIN,
     .help = "samples per evaluation batch on each rank",
     .type = LMN_KEY_INT, .def = "500", .int_min = 1, .int_max = 1 << 24},
    {.key = "train.profile",
     .flags = LMN_KEYS_TRAIN,
     .help = "time every layer and print a table at the end",
     .type = LMN_KEY_BOOL, .def = "false"},
    {.key = "train.precision",
     .flags = LMN_KEYS_COMMON,
     .help = "fp32, or bf16: convolutions (2-D, 3-D) and linear layers multiply in bf16 and "
             "accumulate in fp32; parameters, optimizer state, gradients, batch norm, loss and "
             "checkpoints stay fp32. Needs backend dnnl on a CPU with AVX512-BF16 or AMX "
             "('lamina info' says)",
     .type = LMN_KEY_CHOICE, .def = "fp32", .choices = precision_choices},
    {.key = "train.checkpoint_every",
     .flags = LMN_KEYS_TRAIN,
     .help = "write a checkpoint every N epochs (and at the end); 0 = off",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = 1 << 30},
    {.key = "train.checkpoint_every_steps",
     .flags = LMN_KEYS_TRAIN,
     .help = "also every N steps; 0 = off",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = INT64_MAX},
    {.key = "train.keep_checkpoints",
     .flags = LMN_KEYS_TRAIN,
     .help = "newest checkpoints kept in --out",
     .type = LMN_KEY_INT, .def = "3", .int_min = 1, .int_max = 1 << 20},
    {.key = "train.max_memory_gb",
     .flags = LMN_KEYS_TRAIN,
     .help = "GB a rank may allocate for its plan (network, optimizer state, batch buffers); a "
             "larger plan is refused with the estimate before anything is allocated; 0 = no "
             "check [the node's memory / its ranks]"},
    {.key = "train.batch_schedule",
     .flags = LMN_KEYS_TRAIN,
     .help = "global batch per epoch [fixed]: fixed (train.batch_size throughout), adaptive, or "
             "a list of entries {epoch: E, batch_size: B, lr: LR}: from epoch E on (1-based, "
             "increasing) the batch is B and the base lr LR (no lr: keep the previous one)"},
    {.key = "train.batch_adaptive.threshold",
     .flags = LMN_KEYS_TRAIN,
     .when = "train.batch_schedule=adaptive",
     .help = "adaptive: an epoch whose training loss is not below the lowest so far by this "
             "fraction is flat",
     .type = LMN_KEY_NUMBER, .def = "0.01", .min = 0, .max = 1},
    {.key = "train.batch_adaptive.patience",
     .flags = LMN_KEYS_TRAIN,
     .when = "train.batch_schedule=adaptive",
     .help = "flat epochs before the batch grows",
     .type = LMN_KEY_INT, .def = "1", .int_min = 1, .int_max = 1 << 20},
    {.key = "train.batch_adaptive.factor",
     .flags = LMN_KEYS_TRAIN,
     .when = "train.batch_schedule=adaptive",
     .help = "batch multiplier, > 1 [2]"},
    {.key = "train.batch_adaptive.max_batch_size",
     .flags = LMN_KEYS_TRAIN,
     .when = "train.batch_schedule=adaptive",
     .help = "the batch stops growing here [8 x batch_size]"},
    {.key = "train.batch_adaptive.lr_scaling",
     .flags = LMN_KEYS_TRAIN,
     .when = "train.batch_schedule=adaptive",
     .help = "lr follows the batch: linear, sqrt, none",
     .type = LMN_KEY_CHOICE, .def = "linear", .choices = lr_scaling_choices},
    {.key = "optimizer.name",
     .flags = LMN_KEYS_COMMON,
     .help = "sgd, adam, adamw, slimqn [sgd]"},
    {.key = "optimizer.lr",
     .flags = LMN_KEYS_COMMON,
     .help = "base learning rate, > 0 [0.05 for sgd and slimqn, 0.001 for adam]"},
    {.key = "optimizer.momentum",
     .flags = LMN_KEYS_COMMON,
     .help = "sgd and slimqn momentum",
     .type = LMN_KEY_NUMBER, .def = "0.9", .min = 0, .max = 0.9999},
    {.key = "optimizer.nesterov",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=sgd",
     .help = "sgd: Nesterov momentum",
     .type = LMN_KEY_BOOL, .def = "false"},
    {.key = "optimizer.weight_decay",
     .flags = LMN_KEYS_COMMON,
     .help = "L2 penalty (decoupled for adamw)",
     .type = LMN_KEY_NUMBER, .def = "0", .min = 0, .max = 1},
    {.key = "optimizer.decay_bias_and_bn",
     .flags = LMN_KEYS_COMMON,
     .help = "also decay biases and batch-norm parameters",
     .type = LMN_KEY_BOOL, .def = "false"},
    {.key = "optimizer.betas",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=adam",
     .help = "adam: [beta1, beta2] [[0.9, 0.999]]"},
    {.key = "optimizer.epsilon",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=adam",
     .help = "adam: the term added to the denominator",
     .type = LMN_KEY_NUMBER, .def = "1e-08", .min = 1e-30, .max = 1},
    {.key = "optimizer.slimqn.history",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=slimqn",
     .help = "slimqn: curvature pairs kept [100]"},
    {.key = "optimizer.slimqn.interval",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=slimqn",
     .help = "slimqn: steps between curvature pairs [100]"},
    {.key = "optimizer.slimqn.param_momentum",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=slimqn",
     .help = "slimqn: momentum of the averaged parameters [0.9]"},
    {.key = "optimizer.slimqn.grad_momentum",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=slimqn",
     .help = "slimqn: momentum of the averaged gradients [0.99]"},
    {.key = "optimizer.slimqn.damping",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=slimqn",
     .help = "slimqn: d, the damping factor phi is at most 1 - d, in [0, 1] [0.2]"},
    {.key = "optimizer.slimqn.clip",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=slimqn",
     .help = "slimqn: k of the clip: the step direction d is scaled by min(1, sqrt(k / g.d)) [0.005]"},
    {.key = "optimizer.slimqn.rho_min",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.name=slimqn",
     .help = "slimqn: a pair is kept only if s.y (after damping) >= this [1e-4]"},
    {.key = "optimizer.schedule",
     .flags = LMN_KEYS_COMMON,
     .help = "constant, step, cosine, two_phase [constant]"},
    {.key = "optimizer.milestones",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.schedule=step",
     .help = "step: epochs at which lr is multiplied by gamma"},
    {.key = "optimizer.gamma",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.schedule=step",
     .help = "step: factor",
     .type = LMN_KEY_NUMBER, .def = "0.1", .min = 0, .max = 1},
    {.key = "optimizer.min_lr",
     .flags = LMN_KEYS_COMMON,
     .when = "optimizer.schedule=cosine",
     .help = "cosine: final learning rate [0]"},
    {.key = "optimizer.warmup_epochs",
     .flags = LMN_KEYS_COMMON,
     .help = "linear warm-up from 0 to lr first (fractional ok)",
     .type = LMN_KEY_NUMBER, .def = "0", .min = 0, .max = 1e6},
    {.key = "optimizer.two_phase.threshold",
     .flags = LMN_KEYS_TRAIN,
     .when = "optimizer.schedule=two_phase",
     .help = "two_phase: an epoch whose training loss is not below the lowest so far by this "
             "fraction is flat",
     .type = LMN_KEY_NUMBER, .def = "0.01", .min = 0, .max = 1},
    {.key = "optimizer.two_phase.extra_epochs",
     .flags = LMN_KEYS_TRAIN,
     .when = "optimizer.schedule=two_phase",
     .help = "phase 1 (constant lr) goes on for this many more flat epochs after the first one "
             "",
     .type = LMN_KEY_INT, .def = "2", .int_min = 0, .int_max = 1 << 20},
    {.key = "optimizer.two_phase.decay",
     .flags = LMN_KEYS_TRAIN,
     .when = "optimizer.schedule=two_phase",
     .help = "phase 2: lr factor at the switch and at every flat epoch after it, in (0, 1) [0.1]"},
    {.key = "optimizer.two_phase.min_lr",
     .flags = LMN_KEYS_TRAIN,
     .when = "optimizer.schedule=two_phase",
     .help = "the decays stop at this lr [1e-4 x lr]"},
    {.key = "parallel.strategy",
     .flags = LMN_KEYS_TRAIN,
     .help = "what ranks synchronise: allreduce (every gradient after backward), overlap (per "
             "layer or bucket on a communication thread during backward, update deferred to the "
             "next forward), multistep (reduce-scatter, sharded update, allgather overlapping "
             "the next forward), lazy (input-side convolutions sync every k steps, k adapted), "
             "localsgd (groups average parameters every tau steps)",
     .type = LMN_KEY_CHOICE, .def = "allreduce", .choices = strategy_choices},
    {.key = "parallel.wire",
     .flags = LMN_KEYS_TRAIN,
     .help = "gradient format on the wire: fp32, fp16, bf16",
     .type = LMN_KEY_CHOICE, .def = "fp32", .choices = wire_choices},
    {.key = "parallel.predivide",
     .flags = LMN_KEYS_TRAIN,
     .help = "16-bit wires: divide gradients by this before sending (against fp16 overflow) [0 = "
             "the rank count]",
     .type = LMN_KEY_NUMBER, .def = "0", .min = 0, .max = 1e9},
    {.key = "parallel.bucket_mb",
     .flags = LMN_KEYS_TRAIN,
     .when = "parallel.strategy=overlap",
     .help = "overlap: fuse layers into buckets of this many MiB [0 = one per layer]",
     .type = LMN_KEY_NUMBER, .def = "0", .min = 0, .max = 1e6},
    {.key = "parallel.fc_exchange",
     .flags = LMN_KEYS_TRAIN,
     .when = "parallel.strategy=multistep",
     .help = "multistep: exchange activations and errors instead of weight gradients for linear "
             "layers: auto (when fewer bytes), never, always",
     .type = LMN_KEY_CHOICE, .def = "auto", .choices = exchange_choices},
    {.key = "parallel.lazy_layers",
     .flags = LMN_KEYS_TRAIN,
     .when = "parallel.strategy=lazy",
     .help = "lazy: input-side convolutions that sync lazily, or auto: 8, or every convolution "
             "but the top one of a smaller model [auto]"},
    {.key = "parallel.lazy_max_k",
     .flags = LMN_KEYS_TRAIN,
     .when = "parallel.strategy=lazy",
     .help = "lazy: largest interval k",
     .type = LMN_KEY_INT, .def = "32", .int_min = 1, .int_max = 1 << 20},
    {.key = "parallel.groups",
     .flags = LMN_KEYS_TRAIN,
     .when = "parallel.strategy=localsgd",
     .help = "localsgd: model replicas; must divide the ranks [0 = one per rank]",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = 1 << 20},
    {.key = "parallel.tau",
     .flags = LMN_KEYS_TRAIN,
     .when = "parallel.strategy=localsgd",
     .help = "localsgd: steps between averages, or adaptive [8]"},
    {.key = "parallel.tau_start",
     .flags = LMN_KEYS_TRAIN,
     .when = "parallel.strategy=localsgd;parallel.tau=adaptive",
     .help = "localsgd adaptive: first interval",
     .type = LMN_KEY_INT, .def = "2", .int_min = 1, .int_max = 1 << 20},
    {.key = "parallel.tau_max",
     .flags = LMN_KEYS_TRAIN,
     .when = "parallel.strategy=localsgd;parallel.tau=adaptive",
     .help = "localsgd adaptive: largest interval [64]"},
    {.key = "parallel.timeout_seconds",
     .flags = LMN_KEYS_COMMON,
     .help = "a rank that waits this long for a step ends the whole job, naming the step, the "
             "collective and the ranks it waits for: auto (from the measured step time), 0 (off) "
             "or seconds (train and fl) [auto]"},
    {.key = "fl.clients",
     .flags = LMN_KEYS_FL,
     .help = "K, number of clients",
     .type = LMN_KEY_INT, .def = "128", .int_min = 1, .int_max = 1 << 30},
    {.key = "fl.active_ratio",
     .flags = LMN_KEYS_FL,
     .help = "fraction of clients active each round, in (0, 1] [0.25]"},
    {.key = "fl.rounds",
     .flags = LMN_KEYS_FL,
     .help = "rounds",
     .type = LMN_KEY_INT, .def = "100", .int_min = 1, .int_max = 1 << 30},
    {.key = "fl.local_steps",
     .flags = LMN_KEYS_FL,
     .help = "tau': local SGD steps per round",
     .type = LMN_KEY_INT, .def = "10", .int_min = 0, .int_max = 1 << 24},
    {.key = "fl.local_epochs",
     .flags = LMN_KEYS_FL,
     .help = "instead: passes over the client's data per round",
     .type = LMN_KEY_INT, .def = "0", .int_min = 0, .int_max = 1 << 16},
    {.key = "fl.batch_size",
     .flags = LMN_KEYS_FL,
     .help = "local batch",
     .type = LMN_KEY_INT, .def = "32", .int_min = 1, .int_max = 1 << 24},
    {.key = "fl.partition",
     .flags = LMN_KEYS_FL,
     .help = "iid; dirichlet (label skew at any client count: each client draws its label mix "
             "from a Dirichlet centred on the global class shares, concentration alpha per "
             "class); dirichlet_per_class (each class split over the clients by Dir(alpha); "
             "leaves clients empty when there are many); shards [dirichlet]"},
    {.key = "fl.alpha",
     .flags = LMN_KEYS_FL,
     .help = "Dirichlet concentration, > 0; small = skewed [0.1]"},
    {.key = "fl.client_sizes",
     .flags = LMN_KEYS_FL,
     .help = "dirichlet: equal, or lognormal sizes [equal]"},
    {.key = "fl.client_size_sigma",
     .flags = LMN_KEYS_FL,
     .help = "dirichlet with lognormal sizes: sigma of log size",
     .type = LMN_KEY_NUMBER, .def = "1", .min = 0, .max = 10},
    {.key = "fl.min_partition_size",
     .flags = LMN_KEYS_FL,
     .help = "dirichlet_per_class: redraw until every client has this many",
     .type = LMN_KEY_INT, .def = "10", .int_min = 1, .int_max = INT64_MAX},
    {.key = "fl.shards_per_client",
     .flags = LMN_KEYS_FL,
     .help = "shards: label-sorted shards dealt per client",
     .type = LMN_KEY_INT, .def = "2", .int_min = 1, .int_max = 1 << 20},
    {.key = "fl.aggregator",
     .flags = LMN_KEYS_FL,
     .help = "fedavg, fedlama, partial (FedPMA), fedprox, fedavgm, fedadam [fedavg]"},
    {.key = "fl.weighting",
     .flags = LMN_KEYS_FL,
     .help = "samples (weight by client sample count) or plain",
     .type = LMN_KEY_CHOICE, .def = "samples", .choices = weighting_choices},
    {.key = "fl.phi",
     .flags = LMN_KEYS_FL,
     .when = "fl.aggregator=fedlama",
     .help = "fedlama: interval factor [2]"},
    {.key = "fl.resample_every",
     .flags = LMN_KEYS_FL,
     .help = "rounds between client sampling [phi for fedlama, else 1]"},
    {.key = "fl.relax_after",
     .flags = LMN_KEYS_FL,
     .when = "fl.aggregator=fedlama",
     .help = "fedlama: no interval change before this round",
     .type = LMN_KEY_INT, .def = "5", .int_min = 0, .int_max = 1 << 30},
    {.key = "fl.mu",
     .flags = LMN_KEYS_FL,
     .help = "fedprox: proximal weight",
     .type = LMN_KEY_NUMBER, .def = "0.01", .min = 0, .max = 1e6},
    {.key = "fl.partial_split",
     .flags = LMN_KEYS_FL,
     .help = "partial: layers (layer-aligned parts) or elements",
     .type = LMN_KEY_CHOICE, .def = "layers", .choices = split_choices},
    {.key = "fl.server_lr",
     .flags = LMN_KEYS_FL,
     .help = "fedavgm [1.0] / fedadam [0.01] server learning rate"},
    {.key = "fl.server_momentum",
     .flags = LMN_KEYS_FL,
     .help = "fedavgm",
     .type = LMN_KEY_NUMBER, .def = "0.9", .min = 0, .max = 0.9999},
    {.key = "fl.server_betas",
     .flags = LMN_KEYS_FL,
     .when = "fl.aggregator=fedadam",
     .help = "fedadam [[0.9, 0.99]]"},
    {.key = "fl.server_epsilon",
     .flags = LMN_KEYS_FL,
     .when = "fl.aggregator=fedadam",
     .help = "fedadam",
     .type = LMN_KEY_NUMBER, .def = "0.001", .min = 1e-30, .max = 1},
    {.key = "fl.keep_client_optimizer",
     .flags = LMN_KEYS_FL,
     .help = "clients keep their momentum between rounds (costs one model per client that has "
             "been active)",
     .type = LMN_KEY_BOOL, .def = "false"},
    {.key = "fl.eval_every",
     .flags = LMN_KEYS_FL,
     .help = "evaluate the server model every N rounds (and the last)",
     .type = LMN_KEY_INT, .def = "1", .int_min = 1, .int_max = 1 << 30},
    {.key = "fl.checkpoint_every",
     .flags = LMN_KEYS_FL,
     .help = "write --out/ckpt-<round>.h5 every N rounds (and after the last; 0: the last only)",
     .type = LMN_KEY_INT, .def = "10", .int_min = 0, .int_max = 1 << 30},
    {.key = "fl.keep_checkpoints",
     .flags = LMN_KEYS_FL,
     .help = "newest checkpoints kept",
     .type = LMN_KEY_INT, .def = "3", .int_min = 1, .int_max = 1 << 20},
    {.key = "fl.eval_batch_size",
     .flags = LMN_KEYS_FL,
     .help = "samples per evaluation batch",
     .type = LMN_KEY_INT, .def = "500", .int_min = 1, .int_max = 1 << 24},
};

const lmn_config_key *lmn_config_keys(size_t *count)
{
    *count = sizeof keys / sizeof keys[0];
    return keys;
}

const lmn_config_key *lmn_config_key_find(const char *key)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!(keys[i].flags & LMN_KEY_NOTE) && strcmp(keys[i].key, key) == 0) return &keys[i];
    return NULL;
}

/* The entry of key if it has the given type. */
static lmn_status typed_entry(const char *key, lmn_key_type type, const lmn_config_key **out)
{
    *out = lmn_config_key_find(key);
    if (!*out || (*out)->type != type)
        return lmn_fail(LMN_ERR_INTERNAL, "config key '%s' has no entry of its type in "
                        "train/config_schema.c", key);
    return LMN_OK;
}

lmn_status lmn_config_int64(lmn_cfg *cfg, const char *key, int64_t *out)
{
    const lmn_config_key *k = NULL;
    LMN_TRY(typed_entry(key, LMN_KEY_INT, &k));
    const int64_t def = k->def ? strtoll(k->def, NULL, 10) : 0;
    return lmn_cfg_get_int_range(cfg, NULL, key, k->def ? &def : NULL, k->int_min, k->int_max, out);
}

lmn_status lmn_config_int(lmn_cfg *cfg, const char *key, int *out)
{
    const lmn_config_key *k = NULL;
    LMN_TRY(typed_entry(key, LMN_KEY_INT, &k));
    if (k->int_min < INT_MIN || k->int_max > INT_MAX)
        return lmn_fail(LMN_ERR_INTERNAL, "config key '%s' does not fit an int", key);
    int64_t value = 0;
    LMN_TRY(lmn_config_int64(cfg, key, &value));
    *out = (int)value;
    return LMN_OK;
}

lmn_status lmn_config_double(lmn_cfg *cfg, const char *key, double *out)
{
    const lmn_config_key *k = NULL;
    LMN_TRY(typed_entry(key, LMN_KEY_NUMBER, &k));
    const double def = k->def ? strtod(k->def, NULL) : 0.0;
    return lmn_cfg_get_double_range(cfg, NULL, key, k->def ? &def : NULL, k->min, k->max, out);
}

lmn_status lmn_config_bool(lmn_cfg *cfg, const char *key, bool *out)
{
    const lmn_config_key *k = NULL;
    LMN_TRY(typed_entry(key, LMN_KEY_BOOL, &k));
    const bool def = k->def && strcmp(k->def, "true") == 0;
    return lmn_cfg_get_bool(cfg, NULL, key, k->def ? &def : NULL, out);
}

lmn_status lmn_config_choice(lmn_cfg *cfg, const char *key, int *index)
{
    const lmn_config_key *k = NULL;
    LMN_TRY(typed_entry(key, LMN_KEY_CHOICE, &k));
    return lmn_cfg_get_enum(cfg, NULL, key, k->choices, k->def, index);
}

const char *lmn_config_choice_name(const char *key, int index)
{
    const lmn_config_key *k = lmn_config_key_find(key);
    if (!k || k->type != LMN_KEY_CHOICE || index < 0) return "?";
    for (int i = 0; k->choices[i]; i++)
        if (i == index) return k->choices[i];
    return "?";
}

static const char *catalog_key(size_t index)
{
    return keys[index].flags & LMN_KEY_NOTE ? "" : keys[index].key;
}

static const char *catalog_when(size_t index) { return keys[index].when; }

const lmn_cfg_catalog *lmn_config_catalog(void)
{
    static const lmn_cfg_catalog catalog = {sizeof keys / sizeof keys[0], catalog_key,
                                            catalog_when};
    return &catalog;
}

lmn_status lmn_config_check_keys(lmn_cfg *cfg)
{
    lmn_cfg_set_catalog(cfg, lmn_config_catalog());
    return lmn_cfg_check_known(cfg);
}

enum { HELP_WIDTH = 88, HELP_INDENT = 26 };

/* Writes text from column `column` on, wrapped at spaces to HELP_WIDTH,
 * continuation lines indented by HELP_INDENT. */
static void print_wrapped(FILE *out, const char *text, int column)
{
    while (*text) {
        const int room = HELP_WIDTH - column;
        int length = (int)strlen(text);
        if (length > room) {
            length = room;
            while (length > 0 && text[length] != ' ') length--;
            if (length == 0) length = (int)strcspn(text, " "); /* one long word */
        }
        fprintf(out, "%.*s\n", length, text);
        text += length;
        while (*text == ' ') text++;
        if (*text) fprintf(out, "%*s", HELP_INDENT, "");
        column = HELP_INDENT;
    }
}

/* The help paragraph of k, with "[def]" when the table knows the default
 * and the text does not end in its own bracket. */
static void help_with_default(const lmn_config_key *k, char *out, size_t capacity)
{
    const size_t length = strlen(k->help);
    if (k->def && (length == 0 || k->help[length - 1] != ']'))
        snprintf(out, capacity, "%s [%s]", k->help, k->def);
    else
        snprintf(out, capacity, "%s", k->help);
}

void lmn_config_keys_print(FILE *out, unsigned command, bool only_this_command)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const lmn_config_key *k = &keys[i];
        const unsigned commands = k->flags & LMN_KEYS_COMMON;
        if (!(commands & command) || (only_this_command && commands != command)) continue;
        char help[2048];
        help_with_default(k, help, sizeof help);
        const int width = (int)strlen(k->key) + 2;
        if (width + 2 <= HELP_INDENT) {
            fprintf(out, "  %-*s", HELP_INDENT - 2, k->key);
            print_wrapped(out, help, HELP_INDENT);
        } else {
            fprintf(out, "  %s  ", k->key);
            print_wrapped(out, help, width + 2);
        }
    }
}
