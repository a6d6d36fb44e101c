#!/usr/bin/python3
"""Tables and JSON for bench/sync_compare.sh and bench/slow_link.sh.

usage: sync_summary.py compare  RUN_DIR --json-out FILE [--meta KEY=VALUE]...
       sync_summary.py slowlink RUN_DIR --json-out FILE [--meta KEY=VALUE]...

RUN_DIR/runs.jsonl (written by the scripts) lists every run, one JSON object
a line: {"kind": "lamina"|"ddp"|"simulate"|"probe", "model", "variant",
"path", "ok"}. lamina runs point at their metrics.jsonl, ddp runs at
bench/pytorch_ddp.py's output, simulate runs at `lamina simulate --out`
JSON, the probe at bench/net_probe.py's output. A run that failed or left
nothing readable is a row saying so (the reason also goes to stderr) and
makes the exit status 1; the other rows are still printed.

Definitions (per rank 0, which sends what every rank sends):
  images/s          training images of all ranks / (seconds - eval_seconds),
                    summed over epochs: the training steps and the
                    end-of-epoch settle (localsgd's last average, overlap's
                    pending update, lazy's flush), evaluation excluded.
                    lamina's own images_per_second stops before the settle;
                    it is kept as lamina_images_per_second
  bytes             comm_bytes, what rank 0 sent
  comm seconds      comm_seconds, time inside communication (any thread)
  exposed seconds   exposed_comm_seconds, time the compute path waited
  hidden            1 - exposed / comm of the same run: the part of the
                    communication that overlapped computation
  hidden vs allreduce  1 - exposed / exposed of allreduce on the same model
                    and link: the waiting a strategy removed
  speedup           images/s / images/s of allreduce on the same model

Standard library only.
"""

import argparse
import json
import math
import os
import sys

BASELINE = "allreduce"
STEPS_PER_EPOCH = {"lenet": math.ceil(60000 / 64), "resnet20": math.ceil(50000 / 64)}
TRAIN_IMAGES = {"lenet": 60000, "resnet20": 50000}   # Fashion-MNIST, CIFAR-10
MODEL_TITLES = {"lenet": "LeNet, Fashion-MNIST", "resnet20": "ResNet-20, synthetic 3x32x32"}


class RunError(Exception):
    """A run's output is missing or does not hold what it must."""


def read_json_lines(path):
    if not os.path.isfile(path):
        raise RunError(f"{path}: missing (the run failed or did not start; see its .log)")
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise RunError(f"{path}:{number}: not JSON ({error})") from None
    if not records:
        raise RunError(f"{path}: no JSON records")
    return records


def read_json(path):
    if not os.path.isfile(path):
        raise RunError(f"{path}: missing (see its .log)")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise RunError(f"{path}: not JSON ({error})") from None


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def lamina_figures(path):
    """Totals, per-epoch and per-step figures of one lamina run."""
    epochs = read_json_lines(path)
    for key in ("train_seconds", "images_per_second", "comm_bytes", "comm_seconds",
                "exposed_comm_seconds", "step"):
        if any(key not in epoch for epoch in epochs):
            raise RunError(f"{path}: an epoch lacks '{key}'")
    last = epochs[-1]
    train_seconds = sum(e["train_seconds"] for e in epochs)
    # The epoch's work ends with lmn_sync_settle (localsgd's last average,
    # overlap's pending update, lazy's flush), after train_seconds stops:
    # count it, or a strategy that defers communication to the settle looks
    # faster than it is. Only evaluation is left out.
    work_seconds = sum(e.get("seconds", e["train_seconds"]) - e.get("eval_seconds", 0.0)
                       for e in epochs)
    images = sum(e["images_per_second"] * e["train_seconds"] for e in epochs)
    steps = last["step"]
    totals = {key: sum(e[key] for e in epochs)
              for key in ("comm_bytes", "comm_seconds", "exposed_comm_seconds")}
    figures = {
        "strategy": last.get("strategy"), "wire": last.get("wire"),
        "ranks": last.get("ranks"), "threads": last.get("threads"),
        "batch": last.get("batch_size"),
        "epochs": len(epochs), "steps": steps,
        "test_acc": last.get("test_acc"),
        "train_seconds": train_seconds, "work_seconds": work_seconds,
        "images_per_second": images / work_seconds if work_seconds else None,
        "lamina_images_per_second": images / train_seconds if train_seconds else None,
        "step_seconds": work_seconds / steps if steps else None,
        "bytes": totals["comm_bytes"], "comm_seconds": totals["comm_seconds"],
        "exposed_comm_seconds": totals["exposed_comm_seconds"],
        "bytes_per_epoch": totals["comm_bytes"] / len(epochs),
        "comm_seconds_per_epoch": totals["comm_seconds"] / len(epochs),
        "exposed_comm_seconds_per_epoch": totals["exposed_comm_seconds"] / len(epochs),
        "bytes_per_step": totals["comm_bytes"] / steps if steps else None,
        "comm_seconds_per_step": totals["comm_seconds"] / steps if steps else None,
        "exposed_comm_seconds_per_step": totals["exposed_comm_seconds"] / steps if steps else None,
        "hidden_fraction": (1 - totals["exposed_comm_seconds"] / totals["comm_seconds"]
                            if totals["comm_seconds"] > 0 else None),
    }
    for state in ("lazy_k", "tau"):
        if state in last:
            figures[state] = last[state]
            figures[state + "_per_epoch"] = [e.get(state) for e in epochs]
    return figures


def ddp_figures(path):
    record = read_json_lines(path)[-1]
    if "unavailable" in record:
        return {"unavailable": record["unavailable"]}
    if "images_per_second" not in record:
        raise RunError(f"{path}: no images_per_second")
    return record


def add_link_bytes(entry):
    """slow_link.sh counts what crossed the data link (tc, both directions)
    during each run; per step and per rank, it checks comm_bytes."""
    figures, total = entry["figures"], entry.get("link_bytes")
    if total is None or not isinstance(figures, dict) or "unavailable" in figures:
        return
    ranks = figures.get("ranks") or 2
    if entry["kind"] == "lamina":
        steps = figures["steps"]
    elif entry["kind"] == "ddp":   # the no_sync steps send nothing
        steps = figures["warmup"] + figures["steps"]
    else:
        return
    figures["link_bytes"] = total
    figures["link_bytes_per_rank_step"] = total / ranks / steps if steps else None


def load_manifest(run_dir):
    entries = read_json_lines(os.path.join(run_dir, "runs.jsonl"))
    failures = []
    loaders = {"lamina": lamina_figures, "ddp": ddp_figures, "simulate": read_json,
               "probe": lambda p: read_json_lines(p)[-1]}
    for entry in entries:
        try:
            entry["figures"] = loaders[entry["kind"]](entry["path"])
            add_link_bytes(entry)
        except RunError as error:
            entry["figures"] = None
            entry["error"] = str(error) if entry.get("ok", True) else f"run failed; {error}"
            failures.append(f"{entry['kind']} {entry.get('model')} {entry.get('variant')}: "
                            f"{entry['error']}")
    return entries, failures


def add_relative(rows):
    """Speedup, byte ratio and waiting removed, against allreduce of the same model."""
    base = rows.get(BASELINE)
    for row in rows.values():
        if base is None or row is None:
            continue
        row["speedup_vs_allreduce"] = ratio(row.get("images_per_second"), base["images_per_second"])
        row["bytes_vs_allreduce"] = ratio(row.get("bytes_per_step"), base["bytes_per_step"])
        exposed = row.get("exposed_comm_seconds_per_step")
        base_exposed = base["exposed_comm_seconds_per_step"]
        row["hidden_vs_allreduce"] = (1 - exposed / base_exposed
                                      if exposed is not None and base_exposed else None)


# ------------------------------------------------------------- formatting --

def fmt(value, spec, suffix=""):
    if value is None:
        return "-"
    return f"{value:{spec}}{suffix}"


def percent(value):
    if value is None:
        return "-"
    return f"{round(100 * value)}%"  # an int: no "-0%" for a hair of negative


def times(value):
    return fmt(value, ".2f", "x")


def state_text(row):
    if "lazy_k" in row:
        return f"k={row['lazy_k']:g}"
    if "tau" in row:
        return f"tau={row['tau']:g}"
    return ""


VARIANT_TEXT = {"overlap_b1": "overlap, 1 MB buckets", "localsgd_t8": "localsgd, tau 8",
                "localsgd_adaptive": "localsgd, adaptive tau"}


def settings_text(variant, row):
    """What the row ran, from its metrics (strategy, wire) and the variant name."""
    text = VARIANT_TEXT.get(variant, f"{row.get('strategy')}")
    if row.get("wire") and row["wire"] != "fp32":
        text += f", {row['wire']} wire"
    return text


def failed_row(entry, columns):
    reason = "failed" if not entry.get("ok", True) else "no output"
    return "| " + entry["variant"] + " | " + reason + " |" + " |" * (columns - 2)


def print_compare_table(model, entries, rows):
    per_epoch = model == "lenet"
    title = MODEL_TITLES.get(model, model)
    if per_epoch:
        header = ("| variant | strategy | test acc | img/s | vs allreduce | MB sent / epoch | "
                  "bytes vs allreduce | comm s / epoch | exposed s / epoch | hidden | state |")
    else:
        header = ("| variant | strategy | img/s | vs allreduce | MB sent / step | "
                  "MB / CIFAR epoch | bytes vs allreduce | comm ms / step | exposed ms / step | "
                  "hidden | state |")
    columns = header.count("|") - 1
    print(f"\n### {title}\n")
    print(header)
    print("|" + "---|" * 2 + "---:|" * (columns - 2))
    for entry in entries:
        row = entry["figures"]
        if entry["kind"] == "ddp":
            print(ddp_row(entry, rows, per_epoch, columns))
            continue
        if row is None:
            print(failed_row(entry, columns))
            continue
        common = [times(row.get("speedup_vs_allreduce"))]
        if per_epoch:
            cells = [entry["variant"], settings_text(entry["variant"], row),
                     fmt(row["test_acc"], ".4f"),
                     fmt(row["images_per_second"], ".0f"), *common,
                     fmt(row["bytes_per_epoch"] / 1e6, ".1f"), times(row.get("bytes_vs_allreduce")),
                     fmt(row["comm_seconds_per_epoch"], ".2f"),
                     fmt(row["exposed_comm_seconds_per_epoch"], ".2f")]
        else:
            cifar_epoch = row["bytes_per_step"] * math.ceil(TRAIN_IMAGES["resnet20"] / row["batch"])
            row["bytes_per_cifar_epoch"] = cifar_epoch
            cells = [entry["variant"], settings_text(entry["variant"], row),
                     fmt(row["images_per_second"], ".0f"), *common,
                     fmt(row["bytes_per_step"] / 1e6, ".3f"), fmt(cifar_epoch / 1e6, ".0f"),
                     times(row.get("bytes_vs_allreduce")),
                     fmt(1e3 * row["comm_seconds_per_step"], ".2f"),
                     fmt(1e3 * row["exposed_comm_seconds_per_step"], ".2f")]
        cells += [percent(row["hidden_fraction"]), state_text(row)]
        print("| " + " | ".join(cells) + " |")


def ddp_row(entry, rows, per_epoch, columns):
    record = entry["figures"]
    name = "pytorch DDP (gloo)"
    if record is None:
        return f"| {name} | failed |" + " |" * (columns - 2)
    if "unavailable" in record:
        return f"| {name} | unavailable: {record['unavailable']} |" + " |" * (columns - 2)
    base = rows.get(BASELINE)
    speedup = ratio(record["images_per_second"], base["images_per_second"]) if base else None
    exposed = record.get("exposed_comm_seconds_per_step")
    state = f"bucket {record['bucket_cap_mb']:g} MB"
    if per_epoch:
        steps = STEPS_PER_EPOCH["lenet"]
        cells = [name, "DDP", "-", fmt(record["images_per_second"], ".0f"), times(speedup),
                 fmt(record["model_bytes_per_step"] * steps / 1e6, ".1f") + " (model)", "-", "-",
                 fmt(None if exposed is None else exposed * steps, ".2f") + " (est.)", "-", state]
    else:
        cells = [name, "DDP", fmt(record["images_per_second"], ".0f"), times(speedup),
                 fmt(record["model_bytes_per_step"] / 1e6, ".3f") + " (model)", "-", "-", "-",
                 fmt(None if exposed is None else 1e3 * exposed, ".2f") + " (est.)", "-", state]
    return "| " + " | ".join(cells) + " |"


def group_by_model(entries, kinds):
    models = {}
    for entry in entries:
        if entry["kind"] in kinds:
            models.setdefault(entry["model"], []).append(entry)
    return models


def lamina_rows(model_entries):
    return {e["variant"]: e["figures"] for e in model_entries
            if e["kind"] == "lamina" and e["figures"] is not None}


def summarize_compare(entries):
    result = {}
    for model, model_entries in group_by_model(entries, ("lamina", "ddp")).items():
        rows = lamina_rows(model_entries)
        add_relative(rows)
        print_compare_table(model, model_entries, rows)
        result[model] = {e["variant"]: (e["figures"] if e["figures"] is not None
                                        else {"error": e.get("error")})
                         for e in model_entries}
    print("\nhidden = 1 - exposed / comm seconds of the same run. MB: what rank 0 sent. "
          "DDP: images/s measured; bytes are the model's (2 (P-1)/P x gradient bytes per step), "
          "exposed is estimated as (DDP step - no_sync step).")
    return result


# ---------------------------------------------------------------- slow link --

def prediction_for(entries, model, variant):
    for entry in entries:
        if (entry["kind"] == "simulate" and entry["model"] == model
                and entry["variant"] == variant and entry["figures"] is not None):
            results = [r for r in entry["figures"].get("results", []) if r.get("ranks") == 2]
            if results:
                return results[0]
    return None


def summarize_slowlink(entries, meta):
    result = {"link": {}, "models": {}}
    for entry in entries:
        if entry["kind"] == "probe" and entry["figures"] is not None:
            result["link"] = entry["figures"]
    link = result["link"]
    if link:
        print(f"\nlink as measured (bench/net_probe.py, TCP between the namespaces): "
              f"round trip {fmt(link.get('rtt_us_median'), '.0f')} us, "
              f"{fmt(link.get('gbits_per_second'), '.3f')} Gbit/s one way")
    for model, model_entries in group_by_model(entries, ("lamina", "ddp")).items():
        rows = lamina_rows(model_entries)
        add_relative(rows)
        predictions = {v: prediction_for(entries, model, v) for v in rows}
        base_prediction = predictions.get(BASELINE)
        for variant, row in rows.items():
            prediction = predictions.get(variant)
            if prediction is None:
                continue
            row["predicted"] = {
                "step_seconds": prediction["step_seconds"],
                "exposed_comm_seconds_per_step": prediction["exposed_comm_seconds"],
                "comm_seconds_per_step": prediction["comm_seconds"],
                "bytes_per_step": prediction["bytes_per_rank"],
                "step_error": ratio(prediction["step_seconds"], row["step_seconds"]) - 1,
                "speedup_vs_allreduce": (ratio(base_prediction["step_seconds"],
                                               prediction["step_seconds"])
                                         if base_prediction else None),
            }
        print_slowlink_table(model, model_entries, rows, meta)
        result["models"][model] = {e["variant"]: (e["figures"] if e["figures"] is not None
                                                  else {"error": e.get("error")})
                                   for e in model_entries}
        overlap = rows.get("overlap")
        if overlap and overlap["hidden_fraction"] is not None:
            print(f"\noverlap hides {percent(overlap['hidden_fraction'])} of its own communication "
                  f"time (1 - exposed / comm) and removes "
                  f"{percent(overlap.get('hidden_vs_allreduce'))} of allreduce's waiting "
                  f"(1 - exposed / exposed of allreduce); speedup over allreduce "
                  f"{times(overlap.get('speedup_vs_allreduce'))}.")
            result["models"][model]["overlap_hidden_fraction"] = overlap["hidden_fraction"]
            result["models"][model]["overlap_hidden_vs_allreduce"] = overlap.get("hidden_vs_allreduce")
    print("\nper step, rank 0. MB / step on link: bytes tc counted on the data link during the "
          "run (both ends, headers and set-up included) / 2 ranks / steps. hidden = 1 - exposed / comm of the same run; hidden vs allreduce = "
          "1 - exposed / exposed of allreduce. predicted: `lamina simulate` at 2 ranks on this link "
          "(profile taken on the host, one process); error = predicted / measured step - 1.")
    return result


def link_text(row):
    value = row.get("link_bytes_per_rank_step")
    return fmt(None if value is None else value / 1e6, ".3f")


def print_slowlink_table(model, entries, rows, meta):
    header = ("| variant | img/s | speedup vs allreduce | MB / step | MB / step on link | "
              "comm ms / step | "
              "exposed ms / step | hidden | hidden vs allreduce | state | "
              "step ms measured | step ms predicted | error | exposed ms predicted | "
              "speedup predicted |")
    columns = header.count("|") - 1
    print(f"\n### {MODEL_TITLES.get(model, model)}, 2 ranks over {meta.get('rate', '?')}\n")
    print(header)
    print("|---|" + "---:|" * (columns - 1))
    for entry in entries:
        row = entry["figures"]
        if entry["kind"] == "ddp":
            name = "pytorch DDP (gloo)"
            if row is None:
                print(f"| {name} | failed |" + " |" * (columns - 2))
            elif "unavailable" in row:
                print(f"| {name} | unavailable: {row['unavailable']} |" + " |" * (columns - 2))
            else:
                base = rows.get(BASELINE)
                exposed = row.get("exposed_comm_seconds_per_step")
                cells = [name, fmt(row["images_per_second"], ".0f"),
                         times(ratio(row["images_per_second"],
                                     base["images_per_second"]) if base else None),
                         fmt(row["model_bytes_per_step"] / 1e6, ".3f") + " (model)",
                         link_text(row), "-",
                         fmt(None if exposed is None else 1e3 * exposed, ".1f") + " (est.)",
                         "-", "-", f"bucket {row['bucket_cap_mb']:g} MB",
                         fmt(1e3 * row["seconds"] / row["steps"], ".1f"), "-", "-", "-", "-"]
                print("| " + " | ".join(cells) + " |")
            continue
        if row is None:
            print(failed_row(entry, columns))
            continue
        predicted = row.get("predicted") or {}
        cells = [entry["variant"], fmt(row["images_per_second"], ".0f"),
                 times(row.get("speedup_vs_allreduce")),
                 fmt(row["bytes_per_step"] / 1e6, ".3f"), link_text(row),
                 fmt(1e3 * row["comm_seconds_per_step"], ".1f"),
                 fmt(1e3 * row["exposed_comm_seconds_per_step"], ".1f"),
                 percent(row["hidden_fraction"]), percent(row.get("hidden_vs_allreduce")),
                 state_text(row), fmt(1e3 * row["step_seconds"], ".1f"),
                 fmt(None if not predicted else 1e3 * predicted["step_seconds"], ".1f"),
                 fmt(None if not predicted else 100 * predicted["step_error"], "+.0f", "%"),
                 fmt(None if not predicted else 1e3 * predicted["exposed_comm_seconds_per_step"], ".1f"),
                 times(predicted.get("speedup_vs_allreduce"))]
        print("| " + " | ".join(cells) + " |")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["compare", "slowlink"])
    parser.add_argument("run_dir")
    parser.add_argument("--json-out", required=True)
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    meta = dict(item.split("=", 1) for item in args.meta if "=" in item)
    entries, failures = load_manifest(args.run_dir)
    if args.mode == "compare":
        summary = {"bench": "sync_compare", "meta": meta, "run_dir": args.run_dir,
                   "models": summarize_compare(entries)}
    else:
        summary = {"bench": "slow_link", "meta": meta, "run_dir": args.run_dir,
                   **summarize_slowlink(entries, meta)}
    summary["failures"] = failures
    for failure in failures:
        print(f"sync_summary.py: {failure}", file=sys.stderr)
    directory = os.path.dirname(args.json_out)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(args.json_out, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1)
        handle.write("\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
