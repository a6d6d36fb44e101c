#!/usr/bin/python3
"""PyTorch yardstick for lamina's training speed.

Trains the same models lamina defines (LeNet, ResNet-20) with the same
batch size, thread count and optimizer, and prints JSON lines that
bench/run.sh compares with lamina's metrics.jsonl. PyTorch is only a
yardstick here: lamina never imports or links it.

Run with Debian's interpreter (/usr/bin/python3, python3-torch 1.13).

Modes:
  throughput        --warmup W untimed steps, then --steps N timed steps of
                    forward + backward + optimizer step; one JSON line
                    {"bench":"train","framework":"pytorch",...,"images_per_second":..}
  time-to-accuracy  epochs over shuffled Fashion-MNIST (seeded), test-set
                    evaluation after each epoch; one JSON line per epoch and
                    a final line with the seconds at which test_acc >= --target
                    first held (null if it never did within --max-epochs).
"""

import argparse
import contextlib
import math
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530
NUM_CLASSES = 10
# Default synthetic input per model: LeNet's fc 3136->512 needs 28x28
# single-channel input; ResNet-20 is the CIFAR network (3x32x32).
SYNTHETIC_SHAPES = {"lenet": (1, 28, 28), "resnet20": (3, 32, 32)}


# ----------------------------------------------------------------- models --

class LeNet(nn.Module):
    """conv5x5(1->32,pad 2)+ReLU, pool 2, conv5x5(32->64,pad 2)+ReLU, pool 2,
    fc 3136->512 + ReLU, fc 512->10 (lamina's model zoo definition)."""

    def __init__(self, in_shape):
        super().__init__()
        channels, height, width = in_shape
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
        )
        flat = 64 * (height // 4) * (width // 4)  # 3136 for 28x28
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, 512), nn.ReLU(inplace=True),
            nn.Linear(512, NUM_CLASSES),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def conv_bn(in_channels, out_channels, kernel, stride):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride,
                  padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """Two conv3x3+BN; option-B shortcut (1x1 conv + BN) when shape changes."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = conv_bn(in_channels, out_channels, 3, stride)
        self.conv2 = conv_bn(out_channels, out_channels, 3, 1)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = conv_bn(in_channels, out_channels, 1, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.relu(self.conv1(x))
        out = self.conv2(out)
        return self.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    """CIFAR ResNet-20 (He et al. 2016): 3 stages x 3 blocks, 16/32/64."""

    def __init__(self, in_shape):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(in_shape[0], 16, 3, 1), nn.ReLU(inplace=True))
        blocks = []
        in_channels = 16
        for stage, channels in enumerate((16, 32, 64)):
            for block in range(3):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(BasicBlock(in_channels, channels, stride))
                in_channels = channels
        self.stages = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, NUM_CLASSES)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        out = self.pool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(out, 1))


MODELS = {"lenet": LeNet, "resnet20": ResNet20}


# ------------------------------------------------------------------- data --

def read_idx_gz(path, expected_magic):
    """Reads one big-endian idx file (gzip'd) into a numpy uint8 array."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{path}: idx magic {magic:#x}, expected {expected_magic:#x}")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} bytes of data, header says {shape}")
    return data.reshape(shape)


def load_fashion_mnist(directory, split):
    """Normalized float images (N,1,28,28) and int64 labels for split train|t10k."""
    images = read_idx_gz(os.path.join(directory, f"{split}-images-idx3-ubyte.gz"), 0x803)
    labels = read_idx_gz(os.path.join(directory, f"{split}-labels-idx1-ubyte.gz"), 0x801)
    pixels = images.astype(np.float32)[:, None, :, :] / 255.0
    pixels = (pixels - FASHION_MNIST_MEAN) / FASHION_MNIST_STD
    return torch.from_numpy(pixels), torch.from_numpy(labels.astype(np.int64))


def synthetic_data(shape, count, seed):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn((count,) + tuple(shape), generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (count,), generator=generator)
    return images, labels


def batches(images, labels, batch_size, generator):
    """Endless shuffled full batches (an epoch's tail smaller than a batch is dropped)."""
    count = images.shape[0] - images.shape[0] % batch_size
    while True:
        order = torch.randperm(images.shape[0], generator=generator)[:count]
        for start in range(0, count, batch_size):
            index = order[start:start + batch_size]
            yield images[index], labels[index]


# --------------------------------------------------------------- training --

# --autocast bf16: PyTorch's CPU mixed precision, lamina's train.precision bf16
# counterpart (convs and linears in bf16, the rest in fp32, fp32 parameters).
AUTOCAST = {"none": None, "bf16": torch.bfloat16}


def precision_context(autocast):
    if AUTOCAST[autocast] is None:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=AUTOCAST[autocast])


def train_step(model, optimizer, loss_fn, images, labels, autocast="none"):
    optimizer.zero_grad(set_to_none=True)
    with precision_context(autocast):
        loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def evaluate(model, images, labels, batch_size=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            logits = model(images[start:start + batch_size])
            correct += (logits.argmax(1) == labels[start:start + batch_size]).sum().item()
    model.train()
    return correct / images.shape[0]


def emit(record):
    print(json.dumps(record), flush=True)


def run_throughput(args, model, optimizer, loss_fn, train_set, generator):
    stream = batches(*train_set, args.batch, generator)
    model.train()
    for _ in range(args.warmup):
        train_step(model, optimizer, loss_fn, *next(stream), args.autocast)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = train_step(model, optimizer, loss_fn, *next(stream), args.autocast)
    seconds = time.perf_counter() - start
    emit({"bench": "train", "framework": "pytorch", "model": args.model,
          "batch": args.batch, "threads": args.threads, "data": args.data,
          "steps": args.steps, "warmup": args.warmup, "seconds": round(seconds, 4),
          "precision": "bf16" if args.autocast == "bf16" else "fp32",
          "final_loss": round(float(loss), 5),
          "images_per_second": round(args.steps * args.batch / seconds, 2)})


def run_time_to_accuracy(args, model, optimizer, loss_fn, train_set, test_set, generator):
    """Elapsed time is wall clock since training began, evaluation included
    (what a user waits for); train_seconds excludes evaluation."""
    images, labels = train_set
    steps_per_epoch = images.shape[0] // args.batch
    stream = batches(images, labels, args.batch, generator)
    model.train()
    start = time.perf_counter()
    train_seconds = 0.0
    reached = None
    total_steps = args.cosine_epochs * steps_per_epoch
    step = 0
    for epoch in range(1, args.max_epochs + 1):
        epoch_start = time.perf_counter()
        loss_sum = 0.0
        for _ in range(steps_per_epoch):
            if args.schedule == "cosine":
                # lamina's rule: lr(step) = lr/2 (1 + cos(pi min(1, step / total)))
                progress = min(1.0, step / total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = 0.5 * args.lr * (1.0 + math.cos(math.pi * progress))
            loss_sum += float(train_step(model, optimizer, loss_fn, *next(stream), args.autocast))
            step += 1
        train_seconds += time.perf_counter() - epoch_start
        test_acc = evaluate(model, *test_set)
        elapsed = time.perf_counter() - start
        emit({"bench": "time-to-accuracy", "framework": "pytorch", "model": args.model,
              "epoch": epoch, "train_loss": round(loss_sum / steps_per_epoch, 5),
              "test_acc": round(test_acc, 5), "elapsed": round(elapsed, 3),
              "train_seconds": round(train_seconds, 3)})
        if test_acc >= args.target:
            reached = {"epoch": epoch, "seconds": round(elapsed, 3)}
            break
    emit({"bench": "time-to-accuracy", "framework": "pytorch", "model": args.model,
          "batch": args.batch, "threads": args.threads, "target": args.target,
          "epoch_reached": reached["epoch"] if reached else None,
          "seconds_to_target": reached["seconds"] if reached else None})


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="lenet")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300, help="timed steps (throughput)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps (throughput)")
    parser.add_argument("--data", choices=["fashion-mnist", "synthetic"], default="fashion-mnist")
    parser.add_argument("--data-dir", default=FASHION_MNIST_DIR)
    parser.add_argument("--synthetic-size", type=int, default=6400,
                        help="synthetic training images (cycled)")
    parser.add_argument("--mode", choices=["throughput", "time-to-accuracy"], default="throughput")
    parser.add_argument("--target", type=float, default=0.91)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=0.0,
                        help="L2 on conv / linear weights only (lamina's default rule)")
    parser.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    parser.add_argument("--cosine-epochs", type=int, default=5,
                        help="length of the cosine decay (time-to-accuracy)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--autocast", choices=sorted(AUTOCAST), default="none",
                        help="bf16: torch.autocast('cpu', dtype=torch.bfloat16) around forward and loss")
    args = parser.parse_args(argv)
    for name in ("batch", "threads", "steps", "max_epochs", "synthetic_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.mode == "time-to-accuracy" and args.data != "fashion-mnist":
        parser.error("time-to-accuracy needs real data: use --data fashion-mnist")
    return args


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    if args.data == "fashion-mnist":
        train_set = load_fashion_mnist(args.data_dir, "train")
        test_set = load_fashion_mnist(args.data_dir, "t10k") if args.mode != "throughput" else None
    else:
        train_set = synthetic_data(SYNTHETIC_SHAPES[args.model], args.synthetic_size, args.seed)
        test_set = None
    if train_set[0].shape[0] < args.batch:
        sys.exit(f"pytorch_train.py: {train_set[0].shape[0]} training images, fewer than --batch {args.batch}")

    model = MODELS[args.model](tuple(train_set[0].shape[1:]))
    weights = [p for p in model.parameters() if p.dim() > 1]
    others = [p for p in model.parameters() if p.dim() <= 1]
    optimizer = torch.optim.SGD([{"params": weights, "weight_decay": args.weight_decay},
                                 {"params": others, "weight_decay": 0.0}],
                                lr=args.lr, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()
    if args.mode == "throughput":
        run_throughput(args, model, optimizer, loss_fn, train_set, generator)
    else:
        run_time_to_accuracy(args, model, optimizer, loss_fn, train_set, test_set, generator)


if __name__ == "__main__":
    main(sys.argv[1:])
