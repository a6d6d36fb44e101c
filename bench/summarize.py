#!/usr/bin/python3
"""Turns one bench/run.sh run directory into a markdown table and a JSON file.

Layout of RUN_DIR (written by bench/run.sh):
  sgemm.jsonl                     bench_sgemm output, one line per matrix size
  lamina-<model>-<i>/metrics.jsonl  lamina's per-epoch metrics (throughput run i)
  pytorch-<model>-<i>.jsonl       pytorch_train.py output (throughput run i)
  tta-lamina/metrics.jsonl        optional: lamina time-to-accuracy (2 MPI ranks)
  tta-lamina-bf16/metrics.jsonl   optional: the same in train.precision bf16
  tta-pytorch.jsonl               optional: pytorch_train.py time-to-accuracy

A missing or unreadable run is reported as "failed" in its cell (with the
reason on stderr); the exit status is 1 when anything failed, so run.sh can
still print every figure it did get.

Only the standard library is used, so any python3 can run it.
"""

import argparse
import json
import math
import os
import statistics
import sys

# --- model cost: analytic FLOPs of the conv and fc layers (they dominate;
# pooling, BN, ReLU and the loss are ignored). One multiply-add = 2 FLOPs.
# A training step costs ~3x the forward pass (backward computes both the
# input gradient and the weight gradient, each about one forward's work).
TRAINING_FLOPS_PER_FORWARD = 3


def conv_flops(in_channels, out_channels, kernel, out_height, out_width):
    return 2 * in_channels * out_channels * kernel * kernel * out_height * out_width


def lenet_forward_flops():
    return (conv_flops(1, 32, 5, 28, 28) + conv_flops(32, 64, 5, 14, 14)
            + 2 * 3136 * 512 + 2 * 512 * 10)


def resnet20_forward_flops():
    flops = conv_flops(3, 16, 3, 32, 32)
    in_channels, size = 16, 32
    for stage, channels in enumerate((16, 32, 64)):
        for block in range(3):
            if stage > 0 and block == 0:
                size //= 2
                flops += conv_flops(in_channels, channels, 1, size, size)  # projection
            flops += conv_flops(in_channels, channels, 3, size, size)
            flops += conv_flops(channels, channels, 3, size, size)
            in_channels = channels
    return flops + 2 * 64 * 10


FORWARD_FLOPS = {"lenet": lenet_forward_flops(), "resnet20": resnet20_forward_flops()}


class RunError(Exception):
    """A run's output is missing or does not hold what it must."""


def read_json_lines(path):
    if not os.path.isfile(path):
        raise RunError(f"{path}: missing (the run failed or did not start; see its .log)")
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise RunError(f"{path}:{number}: not JSON ({error})") from None
            if not isinstance(record, dict):
                raise RunError(f"{path}:{number}: expected a JSON object")
            records.append(record)
    if not records:
        raise RunError(f"{path}: empty")
    return records


def finite_number(record, key, where):
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RunError(f"{where}: \"{key}\" is {value!r}, expected a number")
    return float(value)


def positive_number(record, key, where):
    value = finite_number(record, key, where)
    if value <= 0:
        raise RunError(f"{where}: \"{key}\" is {value!r}, expected a positive number")
    return value


def lamina_images_per_second(metrics_path):
    """The last epoch's rate: with several epochs the last one is warmed up."""
    epochs = [r for r in read_json_lines(metrics_path) if "epoch" in r]
    if not epochs:
        raise RunError(f"{metrics_path}: no line with an \"epoch\" key")
    return positive_number(epochs[-1], "images_per_second", f"{metrics_path} (last epoch)")


def pytorch_images_per_second(output_path):
    lines = [r for r in read_json_lines(output_path) if r.get("bench") == "train"]
    if not lines:
        raise RunError(f"{output_path}: no {{\"bench\":\"train\"}} line")
    return positive_number(lines[-1], "images_per_second", output_path)


def collect_runs(reader, paths, failures):
    values = []
    for path in paths:
        try:
            values.append(reader(path))
        except RunError as error:
            failures.append(str(error))
    return values


def rate_summary(values, repeats):
    return {"runs": values, "failed_runs": repeats - len(values),
            "median": round(statistics.median(values), 2) if values else None}


def model_summary(run_dir, model, repeats, failures):
    indices = range(1, repeats + 1)
    lamina = rate_summary(collect_runs(
        lamina_images_per_second,
        [os.path.join(run_dir, f"lamina-{model}-{i}", "metrics.jsonl") for i in indices],
        failures), repeats)
    pytorch = rate_summary(collect_runs(
        pytorch_images_per_second,
        [os.path.join(run_dir, f"pytorch-{model}-{i}.jsonl") for i in indices],
        failures), repeats)
    flops_per_image = TRAINING_FLOPS_PER_FORWARD * FORWARD_FLOPS[model]
    summary = {"training_flops_per_image": flops_per_image, "lamina": lamina, "pytorch": pytorch,
               "ratio": None}
    for side in (lamina, pytorch):
        side["gflops"] = round(side["median"] * flops_per_image * 1e-9, 2) if side["median"] else None
    if lamina["median"] and pytorch["median"]:
        summary["ratio"] = round(lamina["median"] / pytorch["median"], 3)
    return summary


def sgemm_summary(run_dir, failures):
    try:
        lines = [r for r in read_json_lines(os.path.join(run_dir, "sgemm.jsonl"))
                 if r.get("bench") == "sgemm"]
        return [{"n": r["n"], "threads": r["threads"], "gflops": r["gflops"],
                 "gflops_median": r.get("gflops_median")} for r in lines]
    except (RunError, KeyError) as error:
        failures.append(f"sgemm: {error}")
        return []


def lamina_seconds_to_target(metrics_path, target):
    """lamina's "elapsed_seconds" is wall time since training began, evaluation included."""
    for record in read_json_lines(metrics_path):
        if "test_acc" in record and finite_number(record, "test_acc", metrics_path) >= target:
            return {"epoch": record.get("epoch"),
                    "seconds": positive_number(record, "elapsed_seconds", metrics_path)}
    return None


def pytorch_seconds_to_target(output_path):
    final = [r for r in read_json_lines(output_path) if "seconds_to_target" in r]
    if not final:
        raise RunError(f"{output_path}: no final line with \"seconds_to_target\"")
    if final[-1]["seconds_to_target"] is None:
        return None
    return {"epoch": final[-1].get("epoch_reached"), "seconds": final[-1]["seconds_to_target"]}


def time_to_accuracy_summary(run_dir, target, failures):
    summary = {"target": target}
    readers = {"lamina": lambda: lamina_seconds_to_target(
                   os.path.join(run_dir, "tta-lamina", "metrics.jsonl"), target),
               "pytorch": lambda: pytorch_seconds_to_target(
                   os.path.join(run_dir, "tta-pytorch.jsonl"))}
    if os.path.isdir(os.path.join(run_dir, "tta-lamina-bf16")):
        readers["lamina-bf16"] = lambda: lamina_seconds_to_target(
            os.path.join(run_dir, "tta-lamina-bf16", "metrics.jsonl"), target)
    for side, reader in readers.items():
        try:
            summary[side] = reader() or {"epoch": None, "seconds": None, "note": "target not reached"}
        except RunError as error:
            failures.append(str(error))
            summary[side] = {"epoch": None, "seconds": None, "note": "failed"}
    reference = summary["pytorch"]["seconds"]
    for side in readers:
        seconds = summary[side]["seconds"]
        if side != "pytorch" and seconds and reference:
            summary[side]["vs_pytorch_fp32"] = round(seconds / reference, 3)
    return summary


def cell(value, fmt, failed_runs=0):
    if value is None:
        return "failed"
    text = format(value, fmt)
    return f"{text} ({failed_runs} failed)" if failed_runs else text


def markdown(result):
    rows = ["| model | lamina img/s | pytorch img/s | lamina / pytorch "
            "| lamina GFLOP/s | pytorch GFLOP/s |",
            "|---|---:|---:|---:|---:|---:|"]
    for model, s in result["models"].items():
        rows.append(f"| {model} | {cell(s['lamina']['median'], '.1f', s['lamina']['failed_runs'])} "
                    f"| {cell(s['pytorch']['median'], '.1f', s['pytorch']['failed_runs'])} "
                    f"| {cell(s['ratio'], '.2f')} | {cell(s['lamina']['gflops'], '.1f')} "
                    f"| {cell(s['pytorch']['gflops'], '.1f')} |")
    lines = [f"threads {result['threads']}, batch {result['batch']}, "
             f"median of {result['repeats']} runs", ""] + rows + [""]
    if result["sgemm"]:
        ceiling = ", ".join(f"n={s['n']}: {s['gflops']:.1f} GFLOP/s" for s in result["sgemm"])
        lines.append(f"sgemm ceiling (OpenBLAS, {result['sgemm'][0]['threads']} threads, best): "
                     f"{ceiling}")
    else:
        lines.append("sgemm ceiling: failed")
    tta = result.get("time_to_accuracy")
    if tta:
        lines += ["", f"time to {tta['target']:.0%} test accuracy (LeNet, Fashion-MNIST):",
                  "", "| framework | setup | epoch | seconds |", "|---|---|---:|---:|"]
        setups = {"lamina": "2 MPI ranks x 1 thread", "lamina-bf16": "2 MPI ranks x 1 thread, bf16",
                  "pytorch": "1 process x 2 threads"}
        for side in [s for s in setups if s in tta]:
            entry = tta[side]
            seconds = cell(entry["seconds"], ".1f") if entry["seconds"] is not None \
                else entry.get("note", "failed")
            epoch = entry["epoch"] if entry["epoch"] is not None else "-"
            versus = f" ({entry['vs_pytorch_fp32']:.3f} of PyTorch's)" if "vs_pytorch_fp32" in entry else ""
            lines.append(f"| {side} | {setups[side]} | {epoch} | {seconds}{versus} |")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--models", nargs="+", default=["lenet", "resnet20"],
                        choices=sorted(FORWARD_FLOPS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--time-to-accuracy", type=float, metavar="TARGET",
                        help="also summarize the time-to-accuracy runs for this target")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                        help="extra facts to record (commit, cpu, date)")
    parser.add_argument("--json-out", help="write the summary here as JSON")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    failures = []
    result = {"meta": dict(item.split("=", 1) for item in args.meta if "=" in item),
              "run_dir": os.path.abspath(args.run_dir), "threads": args.threads,
              "batch": args.batch, "steps": args.steps, "repeats": args.repeats,
              "sgemm": sgemm_summary(args.run_dir, failures),
              "models": {m: model_summary(args.run_dir, m, args.repeats, failures)
                         for m in args.models}}
    if args.time_to_accuracy is not None:
        result["time_to_accuracy"] = time_to_accuracy_summary(
            args.run_dir, args.time_to_accuracy, failures)
    result["failures"] = failures
    print(markdown(result))
    for failure in failures:
        print(f"summarize: {failure}", file=sys.stderr)
    if args.json_out:
        os.makedirs(os.path.dirname(os.path.abspath(args.json_out)), exist_ok=True)
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
            handle.write("\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
