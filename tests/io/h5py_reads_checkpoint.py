"""Checks, with h5py, that a lamina checkpoint has the layout documented in
src/io/checkpoint.h. Run by tests/io/test_checkpoint.c:

    h5py_reads_checkpoint.py FILE --kind adam --global-step 7 --config TEXT \
        --policy-count 3 --tensor conv1.weight=4x1x3x3:0.25 ...

Each --tensor gives a /model dataset's name, shape and first value (as
float32). Exits non-zero with a message on the first mismatch."""
import argparse
import sys

import h5py
import numpy as np


def parse_tensor(text):
    name, rest = text.split("=")
    shape, first = rest.split(":")
    return name, tuple(int(d) for d in shape.split("x")), np.float32(float(first))


def check(condition, message):
    if not condition:
        sys.exit("h5py_reads_checkpoint: " + message)


def check_tensor_group(group, expected, label):
    check(set(group.keys()) == set(expected), f"{label} holds {sorted(group.keys())}, "
          f"expected {sorted(expected)}")
    for name, shape in expected.items():
        dataset = group[name]
        check(isinstance(dataset, h5py.Dataset), f"{label}/{name} is not a dataset")
        check(dataset.dtype == np.float32, f"{label}/{name} has dtype {dataset.dtype}")
        check(dataset.shape == shape, f"{label}/{name} has shape {dataset.shape}, expected {shape}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--kind", required=True)
    parser.add_argument("--global-step", type=int, required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--policy-count", type=int, required=True)
    parser.add_argument("--tensor", action="append", type=parse_tensor, required=True)
    args = parser.parse_args()

    with h5py.File(args.file, "r") as f:
        check(f.attrs["format"] == "lamina-checkpoint", f"format is {f.attrs['format']!r}")
        version = f.attrs["format_version"]
        check(np.issubdtype(type(version), np.integer) and version == 1,
              f"format_version is {version!r}")
        check(f["config"].asstr()[()] == args.config, "config differs")

        model = {name: shape for name, shape, _ in args.tensor}
        check_tensor_group(f["model"], model, "/model")
        for name, shape, first in args.tensor:
            value = f["model"][name][(0,) * len(shape)]
            check(value == first, f"/model/{name} starts with {value}, expected {first}")

        optimizer = f["optimizer"]
        check(optimizer.attrs["kind"] == args.kind, f"optimizer kind {optimizer.attrs['kind']!r}")
        check(optimizer.attrs["steps"].dtype == np.int64, "optimizer steps is not int64")
        learnable = {n: s for n, s in model.items() if ".running_" not in n}
        check_tensor_group(optimizer["velocity"], learnable, "/optimizer/velocity")
        if args.kind == "sgd":
            check("second" not in optimizer, "sgd checkpoint has /optimizer/second")
        else:
            check_tensor_group(optimizer["second"], learnable, "/optimizer/second")

        progress = f["progress"].attrs
        for key in ("epoch", "step_in_epoch", "global_step"):
            check(progress[key].dtype == np.int64, f"/progress {key} is {progress[key].dtype}")
        for key in ("epoch_loss", "epoch_correct", "epoch_samples", "elapsed_seconds"):
            check(progress[key].dtype == np.float64, f"/progress {key} is {progress[key].dtype}")
        check(progress["global_step"] == args.global_step,
              f"global_step {progress['global_step']}, expected {args.global_step}")

        if args.policy_count:
            policy = f["policy_state"]
            check(policy.dtype == np.float64 and policy.shape == (args.policy_count,),
                  f"/policy_state is {policy.dtype} {policy.shape}")
        else:
            check("policy_state" not in f, "unexpected /policy_state")
    print("h5py_reads_checkpoint: layout as documented")


if __name__ == "__main__":
    main()
