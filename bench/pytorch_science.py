#!/usr/bin/python3
"""PyTorch yardstick for lamina's science models (CosmoFlow, EDSR).

bench/science.sh drives three subcommands:

  make-data  writes the HDF5 files both frameworks train on: float32
             'images' (N x C x [D x] H x W) and float32 'targets' (N x K, or
             N x C x H' x W' for super-resolution), random values from a
             seed. Both sides load the file into memory before training, so
             a step's data costs one copy of the batch and nothing else.
  train      trains the same network lamina's zoo builds, layer for layer,
             with the same batch, optimizer (SGD with momentum), loss and
             threads: one warm-up window, then --windows timed windows of
             --window-steps steps (forward + backward + SGD step). Prints one
             JSON line with every window's samples/s and the parameter
             count, and exits 3 if --expect-params differs from it.
  summarize  reads one science.sh run directory and prints the markdown
             table; --json-out writes the figures.

Run with Debian's interpreter (/usr/bin/python3, python3-torch 1.13). Only
train and make-data import torch / h5py; summarize needs the standard
library. lamina never imports or links any of this.
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

# FLOPs convention of bench/summarize.py: a training step costs 3 forward
# passes; a forward pass costs 2 x the multiply-adds of the conv and linear
# layers (pooling, activations, scaling, adds, pixel shuffle and the loss
# are not counted).
TRAINING_FLOPS_PER_FORWARD = 3


# ----------------------------------------------------------------- models --

def build_model(args, in_shape, num_outputs):
    """The network of lamina's zoo (src/nn/zoo.c) for in_shape."""
    if args.model == "cosmoflow":
        return cosmoflow(in_shape, num_outputs, args.filters, args.conv_blocks)
    return edsr(in_shape[0], args.features, args.blocks, args.res_scale, args.upscale)


def cosmoflow_auto_blocks(in_shape):
    """zoo.c's cosmoflow_auto_blocks: halve the smallest side until it is <= 4."""
    blocks, side = 0, min(in_shape[1:])
    while side > 4:
        blocks += 1
        side //= 2
    return blocks


def cosmoflow(in_shape, num_outputs, filters, conv_blocks):
    """zoo.c build_cosmoflow: blocks of conv3d k3 pad 1 (bias) + leaky ReLU
    (slope 0.01) + max pool 2x2x2 stride 2 with filters, 2 filters, 4
    filters, ...; flatten; fc 128 + leaky ReLU; fc 64 + leaky ReLU; fc
    num_outputs. Glorot (uniform) weights, zero biases, as the zoo asks."""
    from torch import nn

    blocks = conv_blocks if conv_blocks > 0 else cosmoflow_auto_blocks(in_shape)
    layers, channels, sides = [], in_shape[0], list(in_shape[1:])
    for block in range(blocks):
        out = filters << block
        layers += [nn.Conv3d(channels, out, 3, stride=1, padding=1, bias=True),
                   nn.LeakyReLU(0.01), nn.MaxPool3d(2, 2)]
        channels, sides = out, [side // 2 for side in sides]
    flat = channels * sides[0] * sides[1] * sides[2]
    layers += [nn.Flatten(),
               nn.Linear(flat, 128), nn.LeakyReLU(0.01),
               nn.Linear(128, 64), nn.LeakyReLU(0.01),
               nn.Linear(64, num_outputs)]
    model = nn.Sequential(*layers)
    for module in model.modules():
        if isinstance(module, (nn.Conv3d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    model.describe = (f"cosmoflow: {blocks} x [conv3d k3 pad 1 -> {filters}..{filters << (blocks - 1)}"
                      f", leaky_relu 0.01, maxpool3d 2/2], fc {flat}->128->64->{num_outputs}")
    return model


def edsr(channels, features, blocks, res_scale, upscale):
    """zoo.c build_edsr: head conv; `blocks` x (conv-relu-conv, x res_scale,
    + block input); body conv + global skip from the head; pixel-shuffle
    upsampling (one x2 / x3 stage, two x2 stages for x4), each a conv to
    features x f^2 then PixelShuffle(f); tail conv to `channels`. Every conv
    is 3x3, pad 1, with bias; He (default) init."""
    from torch import nn

    def conv(cin, cout):
        return nn.Conv2d(cin, cout, 3, stride=1, padding=1, bias=True)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = conv(features, features)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = conv(features, features)

        def forward(self, x):
            return self.conv2(self.relu(self.conv1(x))) * res_scale + x

    class Edsr(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = conv(channels, features)
            self.body = nn.Sequential(*[Block() for _ in range(blocks)])
            self.body_conv = conv(features, features)
            stages, factor = (2, 2) if upscale == 4 else (1, upscale)
            upsample = []
            for _ in range(stages):
                upsample += [conv(features, features * factor * factor), nn.PixelShuffle(factor)]
            self.upsample = nn.Sequential(*upsample)
            self.tail = conv(features, channels)

        def forward(self, x):
            head = self.head(x)
            body = self.body_conv(self.body(head)) + head
            return self.tail(self.upsample(body))

    model = Edsr()
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    model.describe = (f"edsr: head conv {channels}->{features}, {blocks} residual blocks "
                      f"(conv-relu-conv x {res_scale} + skip), body conv + global skip, "
                      f"x{upscale} pixel shuffle, tail conv {features}->{channels}")
    return model


def forward_flops(model, sample_shape):
    """2 x multiply-adds of the conv and linear layers for one sample."""
    import torch
    from torch import nn

    total = [0]

    def count(module, inputs, output):
        if isinstance(module, (nn.Conv2d, nn.Conv3d)):
            kernel = 1
            for k in module.kernel_size:
                kernel *= k
            total[0] += 2 * (module.in_channels // module.groups) * kernel * output.numel()
        elif isinstance(module, nn.Linear):
            total[0] += 2 * module.in_features * module.out_features * output.shape[0]

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros((1,) + tuple(sample_shape)))
    for hook in hooks:
        hook.remove()
    return total[0]


# ------------------------------------------------------------------- data --

def make_data(args):
    """Random float32 inputs and targets in lamina's HDF5 regression layout."""
    import h5py
    import numpy as np

    shape = tuple(int(s) for s in args.shape.split(","))
    if args.model == "cosmoflow":
        if len(shape) != 4:
            sys.exit("pytorch_science.py make-data: cosmoflow needs --shape C,D,H,W")
        target_shape = (args.outputs,)
    else:
        if len(shape) != 3:
            sys.exit("pytorch_science.py make-data: edsr needs --shape C,H,W (the low-resolution input)")
        target_shape = (shape[0], shape[1] * args.upscale, shape[2] * args.upscale)
    rng = np.random.default_rng(args.seed)
    for path, count in ((args.out, args.count), (args.test_out, args.test_count)):
        with h5py.File(path, "w") as handle:
            images = handle.create_dataset("images", (count,) + shape, dtype="f4")
            targets = handle.create_dataset("targets", (count,) + target_shape, dtype="f4")
            for row in range(count):  # row by row: a 64^3 x 4 cube is 4 MiB
                if args.model == "cosmoflow":
                    images[row] = rng.standard_normal(shape, dtype=np.float32)
                    targets[row] = rng.standard_normal(target_shape, dtype=np.float32)
                else:
                    images[row] = rng.random(shape, dtype=np.float32)
                    targets[row] = rng.random(target_shape, dtype=np.float32)
            handle.attrs["name"] = f"bench-{args.model}"
    print(json.dumps({"bench": "make-data", "model": args.model, "shape": list(shape),
                      "target_shape": list(target_shape), "train": args.out, "count": args.count,
                      "test": args.test_out, "test_count": args.test_count}), flush=True)


def load_data(path):
    import h5py
    import torch

    with h5py.File(path, "r") as handle:
        images = torch.from_numpy(handle["images"][()])
        targets = torch.from_numpy(handle["targets"][()])
    return images, targets


# --------------------------------------------------------------- training --

def train(args):
    import torch
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images, targets = load_data(args.data)
    count = images.shape[0]
    if count < args.batch:
        sys.exit(f"pytorch_science.py: {args.data} holds {count} samples, fewer than --batch {args.batch}")
    num_outputs = targets.shape[1] if targets.dim() == 2 else 0
    model = build_model(args, tuple(images.shape[1:]), num_outputs)
    params = sum(p.numel() for p in model.parameters())
    print(f"pytorch {args.model}: {params} parameters; {model.describe}", file=sys.stderr, flush=True)
    if args.expect_params is not None and params != args.expect_params:
        print(f"pytorch_science.py: {args.model} has {params} parameters in PyTorch but "
              f"{args.expect_params} in lamina: the two networks differ", file=sys.stderr)
        sys.exit(3)
    with torch.no_grad():
        out_shape = tuple(model(images[:1]).shape[1:])
    if out_shape != tuple(targets.shape[1:]):
        sys.exit(f"pytorch_science.py: the model outputs {out_shape} per sample, "
                 f"the targets are {tuple(targets.shape[1:])}")
    flops = TRAINING_FLOPS_PER_FORWARD * forward_flops(model, images.shape[1:])

    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.L1Loss() if args.loss == "mae" else nn.MSELoss()
    generator = torch.Generator().manual_seed(args.seed)
    usable = count - count % args.batch

    def batches():
        """Shuffled batches copied out of memory, like lamina's gather."""
        while True:
            order = torch.randperm(count, generator=generator)[:usable]
            for start in range(0, usable, args.batch):
                index = order[start:start + args.batch]
                yield images[index], targets[index]

    stream = batches()
    model.train()

    def run(steps):
        loss = None
        start = time.perf_counter()
        for _ in range(steps):
            x, y = next(stream)
            optimizer.zero_grad(set_to_none=True)
            # --autocast bf16: PyTorch's counterpart of lamina's train.precision bf16
            with (torch.autocast("cpu", dtype=torch.bfloat16) if args.autocast == "bf16"
                  else contextlib.nullcontext()):
                loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        return steps * args.batch / seconds, float(loss)

    warmup_rate, _ = run(args.warmup_steps)
    rates, loss = [], None
    for _ in range(args.windows):
        rate, loss = run(args.window_steps)
        rates.append(round(rate, 4))
    print(json.dumps({"bench": "science", "framework": "pytorch", "model": args.model,
                      "torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(),
                      "threads": args.threads, "batch": args.batch,
                      "input": list(images.shape[1:]), "target": list(targets.shape[1:]),
                      "params": params, "training_flops_per_sample": flops,
                      "warmup_steps": args.warmup_steps, "warmup_samples_per_second": round(warmup_rate, 4),
                      "window_steps": args.window_steps, "windows": rates,
                      "median": round(statistics.median(rates), 4), "final_loss": loss}),
          flush=True)


# -------------------------------------------------------------- summarize --

def read_json_lines(path, key, value):
    records = []
    if not os.path.isfile(path):
        return records
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if key is None or record.get(key) == value:
                    records.append(record)
    return records


def lamina_windows(metrics_path):
    """Epoch 1 is the warm-up window; every later epoch is one timed window."""
    epochs = [r for r in read_json_lines(metrics_path, None, None) if "epoch" in r]
    timed = [r for r in epochs if r["epoch"] > 1]
    rates = [float(r["images_per_second"]) for r in timed]
    wait = sum(float(r.get("data_wait_seconds", 0.0)) for r in timed)
    train_seconds = sum(float(r.get("train_seconds", 0.0)) for r in timed)
    return rates, wait, train_seconds


def summarize_model(run_dir, model, repeats, failures):
    lamina_rates, pytorch_rates = [], []
    wait = train_seconds = 0.0
    pytorch_last = None
    for i in range(1, repeats + 1):
        metrics = os.path.join(run_dir, f"lamina-{model}-{i}", "metrics.jsonl")
        rates, w, t = lamina_windows(metrics)
        if not rates:
            failures.append(f"{model}: lamina run {i}: no timed epoch in {metrics} (see its .log)")
        lamina_rates += rates
        wait, train_seconds = wait + w, train_seconds + t
        lines = read_json_lines(os.path.join(run_dir, f"pytorch-{model}-{i}.log"), "bench", "science")
        if not lines:
            failures.append(f"{model}: pytorch run {i}: no result line in "
                            f"{os.path.join(run_dir, f'pytorch-{model}-{i}.log')}")
            continue
        pytorch_last = lines[-1]
        pytorch_rates += pytorch_last["windows"]
    info_path = os.path.join(run_dir, f"{model}.json")
    info = json.load(open(info_path, encoding="utf-8")) if os.path.isfile(info_path) else {}
    flops = pytorch_last["training_flops_per_sample"] if pytorch_last else None
    summary = dict(info)
    summary.update({
        "training_flops_per_sample": flops,
        "pytorch_params": pytorch_last["params"] if pytorch_last else None,
        "lamina": {"windows": lamina_rates,
                   "median": round(statistics.median(lamina_rates), 3) if lamina_rates else None,
                   "best": round(max(lamina_rates), 3) if lamina_rates else None,
                   "data_wait_seconds": round(wait, 4),
                   "data_wait_fraction": round(wait / train_seconds, 5) if train_seconds else None},
        "pytorch": {"windows": pytorch_rates,
                    "median": round(statistics.median(pytorch_rates), 3) if pytorch_rates else None,
                    "best": round(max(pytorch_rates), 3) if pytorch_rates else None,
                    "torch": pytorch_last.get("torch") if pytorch_last else None},
        "ratio": None})
    for side in ("lamina", "pytorch"):
        median = summary[side]["median"]
        summary[side]["gflops"] = round(median * flops * 1e-9, 2) if median and flops else None
    if summary["lamina"]["median"] and summary["pytorch"]["median"]:
        summary["ratio"] = round(summary["lamina"]["median"] / summary["pytorch"]["median"], 3)
    return summary


def cell(value, fmt):
    return "failed" if value is None else format(value, fmt)


def markdown(result):
    rows = [f"{result['threads']} threads, median of {result['windows']} windows x "
            f"{result['repeats']} run(s) per side, SGD momentum {result['momentum']}"
            + (" (QUICK: noisy)" if result.get("quick") else ""), "",
            "| model | input | batch | params | lamina samples/s | PyTorch samples/s "
            "| lamina / PyTorch | lamina GFLOP/s | PyTorch GFLOP/s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for model, s in result["models"].items():
        rows.append(f"| {model} | {s.get('input', '?')} | {s.get('batch', '?')} "
                    f"| {s.get('lamina_params', '?')} "
                    f"| {cell(s['lamina']['median'], '.2f')} | {cell(s['pytorch']['median'], '.2f')} "
                    f"| {cell(s['ratio'], '.2f')} | {cell(s['lamina']['gflops'], '.1f')} "
                    f"| {cell(s['pytorch']['gflops'], '.1f')} |")
    return "\n".join(rows)


def summarize(args):
    failures = []
    result = {"meta": dict(item.split("=", 1) for item in args.meta if "=" in item),
              "run_dir": os.path.abspath(args.run_dir), "threads": args.threads,
              "repeats": args.repeats, "windows": args.windows,
              "momentum": args.momentum, "quick": args.quick,
              "models": {m: summarize_model(args.run_dir, m, args.repeats, failures)
                         for m in args.models}}
    result["failures"] = failures
    print(markdown(result))
    for model, s in result["models"].items():
        lamina, pytorch = s["lamina"], s["pytorch"]
        if lamina["best"] and pytorch["best"]:
            # Load only slows a window down: the best ones show noise.
            print(f"{model}: best window lamina {lamina['best']:.2f}, PyTorch {pytorch['best']:.2f} "
                  f"samples/s ({lamina['best'] / pytorch['best']:.2f}x)")
        if lamina["data_wait_fraction"] is not None:
            print(f"{model}: lamina data_wait_seconds {lamina['data_wait_seconds']} "
                  f"({100 * lamina['data_wait_fraction']:.2f}% of the timed training time)")
    for failure in failures:
        print(f"summarize: {failure}", file=sys.stderr)
    if args.json_out:
        os.makedirs(os.path.dirname(os.path.abspath(args.json_out)), exist_ok=True)
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
            handle.write("\n")
    return 1 if failures else 0


# -------------------------------------------------------------------- cli --

def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_model_options(parser):
    parser.add_argument("--model", choices=["cosmoflow", "edsr"], required=True)
    parser.add_argument("--autocast", choices=["none", "bf16"], default="none",
                        help="train: bf16 runs forward and loss under torch.autocast('cpu', bfloat16)")
    parser.add_argument("--filters", type=positive, default=32, help="cosmoflow: first block's filters")
    parser.add_argument("--conv-blocks", type=int, default=0, help="cosmoflow: 0 = auto (as the zoo)")
    parser.add_argument("--features", type=positive, default=64, help="edsr")
    parser.add_argument("--blocks", type=positive, default=8, help="edsr: residual blocks")
    parser.add_argument("--res-scale", type=float, default=0.1, help="edsr")
    parser.add_argument("--upscale", type=int, choices=[2, 3, 4], default=2, help="edsr")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("make-data", help="write the HDF5 input files")
    add_model_options(data)
    data.add_argument("--shape", required=True, help="C,D,H,W (cosmoflow) or C,H,W (edsr input)")
    data.add_argument("--outputs", type=positive, default=4, help="cosmoflow: regression targets")
    data.add_argument("--count", type=positive, required=True)
    data.add_argument("--out", required=True)
    data.add_argument("--test-count", type=positive, default=2)
    data.add_argument("--test-out", required=True)
    data.add_argument("--seed", type=int, default=1)

    run = commands.add_parser("train", help="time training windows")
    add_model_options(run)
    run.add_argument("--data", required=True, help="HDF5 file from make-data")
    run.add_argument("--batch", type=positive, required=True)
    run.add_argument("--threads", type=positive, default=2)
    run.add_argument("--warmup-steps", type=positive, required=True)
    run.add_argument("--window-steps", type=positive, required=True)
    run.add_argument("--windows", type=positive, required=True)
    run.add_argument("--lr", type=float, default=0.001)
    run.add_argument("--momentum", type=float, default=0.9)
    run.add_argument("--loss", choices=["mse", "mae"], default="mse")
    run.add_argument("--expect-params", type=int, help="lamina's parameter count; exit 3 if different")
    run.add_argument("--seed", type=int, default=1)

    summary = commands.add_parser("summarize", help="table and JSON of a science.sh run")
    summary.add_argument("run_dir")
    summary.add_argument("--models", nargs="+", required=True)
    summary.add_argument("--repeats", type=positive, default=1)
    summary.add_argument("--windows", type=positive, default=1)
    summary.add_argument("--threads", type=positive, default=2)
    summary.add_argument("--momentum", type=float, default=0.9)
    summary.add_argument("--quick", action="store_true")
    summary.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    summary.add_argument("--json-out")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    if args.command == "make-data":
        make_data(args)
        return 0
    if args.command == "train":
        train(args)
        return 0
    return summarize(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
