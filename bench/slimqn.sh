#!/usr/bin/env bash
# SLIM-QN (ALGORITHMS.md 14) against SGD with momentum and Adam at the same
# batch, each at its best learning rate from a small sweep (all reported):
#   lenet     Fashion-MNIST LeNet: steps and wall-clock to TARGET_ACC test
#             accuracy. Training runs in segments of EVAL_EVERY steps
#             (resume is bit for bit, so the trajectory is the uninterrupted
#             one); each segment's checkpoint is evaluated with lamina eval.
#   resnet    ResNet-20 on synthetic data: steps and wall-clock to a training
#             loss of TARGET_LOSS (epochs of 20 steps, so the epoch loss is
#             read every 20 steps).
#   overhead  per-step time, the optimizer's share of it and peak memory
#             per rank, SGD vs SLIM-QN, on 1 and on 2 ranks (LeNet).
#   variants  Fashion-MNIST LeNet as in lenet, SLIM-QN only, one run per
#             entry of VARIANTS (space-separated; each a comma-separated
#             list of lr=, history=, interval=, clip=, damping=,
#             param_momentum=, grad_momentum=; what an entry leaves out is
#             the HISTORY / INTERVAL / CLIP / DAMPING default).
#   resnet-fmnist  ResNet-20 on Fashion-MNIST (1 channel, 28x28): steps to
#             each training loss of TARGET_LOSSES, the loss being the mean
#             over the last LOSS_EVERY steps (runs in segments of LOSS_EVERY
#             steps; the record of a segment holds the epoch's running mean,
#             so a window's mean is the difference of two of them).
# Step counts do not depend on the machine's load; wall-clock does: run the
# whole script on a quiet machine. Prints both.
#
#   bench/slimqn.sh                       # everything (hours on 2 cores)
#   PARTS=lenet SLIMQN_LRS="0.05" bench/slimqn.sh
#   PARTS=variants VARIANTS="lr=0.1,interval=20 lr=0.1,clip=0.05" bench/slimqn.sh
#   PARTS=resnet-fmnist RESNET_EPOCHS=1 bench/slimqn.sh
# The tables go to $RESULTS/slimqn-tables.md and slimqn.json ($OUT unless
# set): bench/results/slimqn.md is the curated note, copied from them.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export LAMINA=${LAMINA:-build/lamina}
export MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe --bind-to none}
export RANKS=${RANKS:-2} THREADS=${THREADS:-1}
export PARTS=${PARTS:-"lenet resnet overhead"}
export EPOCHS=${EPOCHS:-4}                 # LeNet: at most this many epochs per run
export EVAL_EVERY=${EVAL_EVERY:-100}       # LeNet: steps between evaluations
export TARGET_ACC=${TARGET_ACC:-0.91}
export RESNET_STEPS=${RESNET_STEPS:-1000}  # ResNet-20: at most this many steps
export TARGET_LOSS=${TARGET_LOSS:-0.1}
export SGD_LRS=${SGD_LRS-"0.02 0.05 0.1"}
export ADAM_LRS=${ADAM_LRS-"0.0005 0.001 0.002"}
export SLIMQN_LRS=${SLIMQN_LRS-"0.05 0.1 0.2"}
export HISTORY=${HISTORY:-20} INTERVAL=${INTERVAL:-100}
export CLIP=${CLIP:-0.005} DAMPING=${DAMPING:-0.2}       # ALGORITHMS.md 14's defaults
export VARIANTS=${VARIANTS:-"lr=0.1"}
export WEIGHT_DECAY=${WEIGHT_DECAY:-0.0005}  # LeNet and ResNet-20 on Fashion-MNIST
export RESNET_EPOCHS=${RESNET_EPOCHS:-1}   # ResNet-20 on Fashion-MNIST: the schedule's epochs
export LOSS_EVERY=${LOSS_EVERY:-100}       # ResNet-20 on Fashion-MNIST: steps per loss window
export RESNET_MAX_STEPS=${RESNET_MAX_STEPS:-0} # ResNet-20 on Fashion-MNIST: stop there (0: the schedule's end)
export TARGET_LOSSES=${TARGET_LOSSES:-"0.6 0.5 0.4 0.35"}
export ACC_TARGETS=${ACC_TARGETS:-"0.87 0.88 0.89 0.90 0.91"}
export OVERHEAD_STEPS=${OVERHEAD_STEPS:-300}
export SCHEDULE=${SCHEDULE:-cosine}        # lr schedule over the run's epochs (LeNet and ResNet)
export OUT=${OUT:-runs/slimqn-bench/$(date +%Y%m%d-%H%M%S)}
export RESULTS=${RESULTS:-$OUT}
mkdir -p "$OUT" "$RESULTS"
exec /usr/bin/python3 - <<'PY'
import json, os, re, shlex, subprocess, sys

env = os.environ
lamina, mpirun, out = env["LAMINA"], shlex.split(env["MPIRUN"]), env["OUT"]
ranks, threads = int(env["RANKS"]), env["THREADS"]
lrs = {"sgd": env["SGD_LRS"].split(), "adam": env["ADAM_LRS"].split(),
       "slimqn": env["SLIMQN_LRS"].split()}
lrs = {o: values for o, values in lrs.items() if values}  # an empty list skips the optimizer
acc_targets = [float(a) for a in env["ACC_TARGETS"].split()]
loss_targets = [float(x) for x in env["TARGET_LOSSES"].split()]
SLIMQN_KEYS = ("history", "interval", "clip", "damping", "param_momentum", "grad_momentum")

def without_optimizer(config):
    """The config with its optimizer section dropped: each run sets its own."""
    kept, skipping = [], False
    for line in open(config):
        if line.startswith("optimizer"): skipping = True; continue
        if skipping and line[:1] in (" ", "\t"): continue
        skipping = False
        kept.append(line)
    path = f"{out}/{os.path.basename(config)}"
    open(path, "w").write("".join(kept))
    return path

LENET = without_optimizer("configs/fashion-mnist-lenet.yaml")
RESNET = without_optimizer("configs/bench-resnet20.yaml")

def slimqn_settings(overrides):
    """SLIM-QN's keys: the env defaults, then what a variant sets."""
    values = {"history": env["HISTORY"], "interval": env["INTERVAL"], "clip": env["CLIP"],
              "damping": env["DAMPING"]}
    values.update({k: v for k, v in overrides.items() if k in SLIMQN_KEYS})
    return values

def optimizer_keys(name, lr, overrides=None):
    keys = [f"optimizer.name={name}", f"optimizer.lr={lr}"]
    if name == "sgd": keys.append("optimizer.momentum=0.9")
    if name == "slimqn":
        keys.append("optimizer.momentum=0.9")
        keys += [f"optimizer.slimqn.{k}={v}" for k, v in slimqn_settings(overrides or {}).items()]
    return keys

def train(config, sets, run_dir, n, extra=()):
    cmd = mpirun + ["-n", str(n), lamina, "train", config, "--out", run_dir]
    for s in [f"threads={threads}"] + sets: cmd += ["--set", s]
    cmd += list(extra)
    with open(run_dir + ".log", "a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)

def records(run_dir):
    return [json.loads(l) for l in open(f"{run_dir}/metrics.jsonl")]

def latest(run_dir):
    return sorted(f for f in os.listdir(run_dir) if f.startswith("ckpt-"))[-1]

def elapsed(path):
    import h5py
    with h5py.File(path, "r") as f:
        return float(f["progress"].attrs["elapsed_seconds"])

def test_acc(path):
    text = subprocess.run([lamina, "eval", path, "--set", f"threads={threads}"], check=True,
                          capture_output=True, text=True).stdout
    return float(re.search(r"test_acc ([0-9.]+)", text).group(1))

def segmented(label, config, sets, run_dir, limit, every, after_segment):
    """Train to `limit` steps in segments of `every` (resume is bit for bit,
    so the trajectory is the uninterrupted one); after_segment(step) returns
    True to stop. A diverging lr is a result of the sweep, not a failure."""
    step = 0
    while step < limit:
        step = min(step + every, limit)
        extra = ["--resume", "auto"] if step > every else []
        try:
            train(config, sets + [f"train.max_steps={step}", f"train.checkpoint_every_steps={every}",
                                  "train.keep_checkpoints=1"], run_dir, ranks, extra)
        except subprocess.CalledProcessError:
            print(f"{label}: stopped before step {step} (see {run_dir}.log)", file=sys.stderr)
            return
        if after_segment(step): return

def slimqn_state(run_dir):
    """Pairs held, last damping phi and clip nu at the run's last record."""
    try:
        r = records(run_dir)[-1]
    except (OSError, IndexError):
        return None
    return {k: r.get(f"slimqn_{k}") for k in ("pairs", "damping", "clip")}

def lenet_run(name, lr, overrides=None, tag=""):
    """Test accuracy every EVAL_EVERY steps until TARGET_ACC or EPOCHS."""
    run_dir = f"{out}/lenet-{name}-{lr}{tag}"
    limit = int(env["EPOCHS"]) * (60000 // 64)
    sets = optimizer_keys(name, lr, overrides) + [
        f"train.epochs={env['EPOCHS']}", "train.eval=false", f"optimizer.schedule={env['SCHEDULE']}",
        f"optimizer.weight_decay={env['WEIGHT_DECAY']}"]
    curve, label = [], f"lenet {name} lr {lr}{tag}"
    def evaluate(step):
        path = f"{run_dir}/{latest(run_dir)}"
        curve.append({"step": step, "test_acc": test_acc(path), "elapsed_seconds": elapsed(path),
                      "train_loss": records(run_dir)[-1]["train_loss"]})
        print(f"{label}: step {step} test_acc {curve[-1]['test_acc']:.4f}", file=sys.stderr)
        return curve[-1]["test_acc"] >= float(env["TARGET_ACC"])
    segmented(label, LENET, sets, run_dir, limit, int(env["EVAL_EVERY"]), evaluate)
    hit = next((c for c in curve if c["test_acc"] >= float(env["TARGET_ACC"])), None)
    top = max(curve, key=lambda c: c["test_acc"], default=None)
    return {"optimizer": name, "lr": lr, "slimqn": overrides and slimqn_settings(overrides),
            "curve": curve, "steps": hit and hit["step"], "seconds": hit and hit["elapsed_seconds"],
            "to": {a: next((c["step"] for c in curve if c["test_acc"] >= a - 1e-12), None)
                   for a in acc_targets},
            "best_acc": top and top["test_acc"], "best_step": top and top["step"],
            "last_step": curve[-1]["step"] if curve else 0, "state": slimqn_state(run_dir)}

def window_losses(recs, steps_per_epoch):
    """(step, mean loss over the steps since the previous record): each
    record of a segment holds the running mean of its epoch so far."""
    out_, prev = [], None
    for r in recs:
        into = r["step"] - (r["epoch"] - 1) * steps_per_epoch
        if prev and prev["epoch"] == r["epoch"]:
            done = prev["step"] - (prev["epoch"] - 1) * steps_per_epoch
            total = r["train_loss"] * into - prev["train_loss"] * done
            out_.append((r["step"], total / (into - done)))
        else:
            out_.append((r["step"], r["train_loss"]))
        prev = r
    return out_

def resnet_fmnist_run(name, lr):
    """ResNet-20 on Fashion-MNIST: the windowed training loss every LOSS_EVERY steps."""
    run_dir = f"{out}/resnet-fmnist-{name}-{lr}"
    per_epoch = 60000 // 64
    epochs = int(env["RESNET_EPOCHS"])
    sets = optimizer_keys(name, lr) + [
        "model=resnet20", f"train.epochs={epochs}", "train.eval=false",
        f"optimizer.schedule={env['SCHEDULE']}", f"optimizer.weight_decay={env['WEIGHT_DECAY']}"]
    label, seen = f"resnet-fmnist {name} lr {lr}", []
    def report(step):
        # a resume drops the records of the epoch it continues: keep each as it comes
        seen.append(records(run_dir)[-1])
        loss = window_losses(seen, per_epoch)[-1][1]
        print(f"{label}: step {step} window loss {loss:.4f}", file=sys.stderr)
        return loss != loss or loss > 50  # nan or diverged
    limit = int(env["RESNET_MAX_STEPS"]) or epochs * per_epoch
    segmented(label, LENET, sets, run_dir, limit, int(env["LOSS_EVERY"]), report)
    curve = window_losses(seen, per_epoch)
    return {"optimizer": name, "lr": lr, "curve": curve,
            "to": {t: next((s for s, l in curve if l <= t), None) for t in loss_targets},
            "final": curve[-1] if curve else None, "state": slimqn_state(run_dir)}

def resnet_run(name, lr):
    run_dir = f"{out}/resnet-{name}-{lr}"
    per_epoch = 20
    sets = optimizer_keys(name, lr) + [
        "data.train_size=1280", "data.test_size=640", "train.eval=false", "train.batch_size=64",
        f"train.epochs={int(env['RESNET_STEPS']) // per_epoch}", f"optimizer.schedule={env['SCHEDULE']}"]
    train(RESNET, sets + ["train.max_steps=0"], run_dir, ranks)
    recs = records(run_dir)
    hit = next((r for r in recs if r["train_loss"] <= float(env["TARGET_LOSS"])), None)
    return {"optimizer": name, "lr": lr, "losses": [r["train_loss"] for r in recs],
            "steps": hit and hit["step"], "seconds": hit and hit["elapsed_seconds"],
            "final_loss": recs[-1]["train_loss"]}

def overhead_run(name, n):
    run_dir = f"{out}/overhead-{name}-np{n}"
    sets = optimizer_keys(name, 0.05) + ["train.epochs=1", "train.eval=false",
                                         f"train.max_steps={env['OVERHEAD_STEPS']}"]
    if name == "slimqn": sets.append("optimizer.slimqn.interval=20")  # the history fills
    train(LENET, sets, run_dir, n)
    r = records(run_dir)[-1]
    return {"optimizer": name, "ranks": n, "seconds_per_step": r["train_seconds"] / r["step"],
            "optimizer_share": r.get("optimizer_share"), "pairs": r.get("slimqn_pairs"),
            "peak_rss_mb": r["peak_rss_mb"]}

def best(runs, key, better):
    done = [r for r in runs if r[key] is not None]
    return min(done, key=lambda r: r[key]) if done else max(runs, key=better)

def fmt(x, f="{:.0f}", missing="not reached"):
    return missing if x is None else f.format(x)

def state_cells(r):
    st = r["state"] or {}
    return (f"{fmt(st.get('pairs'), missing='-')} | {fmt(st.get('damping'), '{:.2f}', '-')} | "
            f"{fmt(st.get('clip'), '{:.3f}', '-')}")

def parse_variant(text):
    fields = dict(item.split("=", 1) for item in text.split(","))
    unknown = set(fields) - set(SLIMQN_KEYS) - {"lr"}
    if unknown or "lr" not in fields:
        sys.exit(f"VARIANTS entry '{text}': needs lr= and only {', '.join(SLIMQN_KEYS)} besides")
    return fields

def variants_table(runs):
    lines = [f"## SLIM-QN variants, Fashion-MNIST LeNet ({ranks} ranks, {env['SCHEDULE']} over "
             f"{env['EPOCHS']} epochs, test accuracy every {env['EVAL_EVERY']} steps)", "",
             "| lr | history | interval | clip k | damping d | " +
             " | ".join(f"steps to {a:.2f}" for a in acc_targets) +
             " | best test acc (step) | last step | pairs | last phi | last nu |",
             "|" + "---|" * (5 + len(acc_targets) + 5)]
    for r in runs:
        q = r["slimqn"]
        lines.append(f"| {r['lr']} | {q['history']} | {q['interval']} | {q['clip']} | {q['damping']} | " +
                     " | ".join(fmt(r["to"][a], missing="-") for a in acc_targets) +
                     f" | {fmt(r['best_acc'], '{:.4f}', 'diverged')} ({fmt(r['best_step'], missing='-')})"
                     f" | {r['last_step']} | {state_cells(r)} |")
    return lines + [""]

def resnet_fmnist_table(runs):
    lines = [f"## ResNet-20 on Fashion-MNIST, steps to a training loss ({ranks} ranks, "
             f"{env['SCHEDULE']} over {env['RESNET_EPOCHS']} epochs, mean loss of the last "
             f"{env['LOSS_EVERY']} steps)", "",
             "| optimizer | lr | " + " | ".join(f"to {t}" for t in loss_targets) +
             " | last window loss (step) | pairs | last nu |",
             "|---|---|" + "---|" * (len(loss_targets) + 3)]
    for r in runs:
        st = r["state"] or {}
        final = r["final"]
        lines.append(f"| {r['optimizer']} | {r['lr']} | " +
                     " | ".join(fmt(r["to"][t], missing="-") for t in loss_targets) +
                     f" | {fmt(final and final[1], '{:.4f}', '-')} ({fmt(final and final[0], missing='-')}) | "
                     f"{fmt(st.get('pairs'), missing='-')} | {fmt(st.get('clip'), '{:.3f}', '-')} |")
    return lines + [""]

results, lines = {}, ["# SLIM-QN vs SGD with momentum and Adam", "",
                      f"Command: `bench/slimqn.sh` with RANKS={ranks} THREADS={threads} "
                      f"EPOCHS={env['EPOCHS']} EVAL_EVERY={env['EVAL_EVERY']} HISTORY={env['HISTORY']} "
                      f"INTERVAL={env['INTERVAL']} CLIP={env['CLIP']} DAMPING={env['DAMPING']}; "
                      f"batch 64 everywhere; {env['SCHEDULE']} lr.", ""]
parts = env["PARTS"].split()
if "lenet" in parts:
    runs = [lenet_run(o, lr) for o in lrs for lr in lrs[o]]
    results["lenet"] = runs
    lines += [f"## Fashion-MNIST LeNet, to {env['TARGET_ACC']} test accuracy ({ranks} ranks)", "",
              "| optimizer | lr | " + " | ".join(f"steps to {a:.2f}" for a in acc_targets) +
              " | wall-clock s | best test acc (step) | best of sweep |",
              "|---|---|" + "---|" * (len(acc_targets) + 3)]
    for o in lrs:
        b = best([r for r in runs if r["optimizer"] == o], "steps", lambda r: r["best_acc"] or 0.0)
        for r in runs:
            if r["optimizer"] == o:
                lines.append(f"| {o} | {r['lr']} | " + " | ".join(fmt(r["to"][a], missing="-") for a in acc_targets) +
                             f" | {fmt(r['seconds'], '{:.1f}')} | "
                             f"{fmt(r['best_acc'], '{:.4f}', 'diverged')} ({fmt(r['best_step'], missing='-')}) | "
                             f"{'yes' if r is b else ''} |")
    lines.append("")
if "variants" in parts:
    runs = [lenet_run("slimqn", v["lr"], v, "-" + "-".join(f"{k}{x}" for k, x in v.items() if k != "lr"))
            for v in map(parse_variant, env["VARIANTS"].split())]
    results["variants"] = runs
    lines += variants_table(runs)
if "resnet-fmnist" in parts:
    runs = [resnet_fmnist_run(o, lr) for o in lrs for lr in lrs[o]]
    results["resnet-fmnist"] = runs
    lines += resnet_fmnist_table(runs)
if "resnet" in parts:
    runs = [resnet_run(o, lr) for o in lrs for lr in lrs[o]]
    results["resnet"] = runs
    lines += [f"## ResNet-20, synthetic data, to training loss {env['TARGET_LOSS']} ({ranks} ranks)", "",
              "| optimizer | lr | steps | wall-clock s | final loss | best of sweep |", "|---|---|---|---|---|---|"]
    for o in lrs:
        b = best([r for r in runs if r["optimizer"] == o], "steps", lambda r: -r["final_loss"])
        for r in runs:
            if r["optimizer"] == o:
                lines.append(f"| {o} | {r['lr']} | {fmt(r['steps'])} | {fmt(r['seconds'], '{:.1f}')} | "
                             f"{r['final_loss']:.4f} | {'yes' if r is b else ''} |")
    lines.append("")
if "overhead" in parts:
    runs = [overhead_run(o, n) for n in (1, 2) for o in ("sgd", "slimqn")]
    results["overhead"] = runs
    params = 1_663_370  # LeNet (32-64 conv, fc-512)
    lines += ["## Per-step overhead and memory per rank (LeNet, batch 64)", "",
              "| optimizer | ranks | s/step | optimizer share | pairs | peak RSS MB | SLIM-QN state MB/rank ((2M+7) n / P) |",
              "|---|---|---|---|---|---|---|"]
    for r in runs:
        state = (2 * int(env["HISTORY"]) + 7) * params * 4 / r["ranks"] / 1e6 if r["optimizer"] == "slimqn" else 0
        lines.append(f"| {r['optimizer']} | {r['ranks']} | {r['seconds_per_step']:.4f} | "
                     f"{fmt(r['optimizer_share'], '{:.3f}', '-')} | {fmt(r['pairs'], missing='-')} | {r['peak_rss_mb']:.0f} | {state:.0f} |")
    lines.append("")
text = "\n".join(lines)
print(text)
open(f"{env['RESULTS']}/slimqn-tables.md", "w").write(text + "\n")
json.dump(results, open(f"{env['RESULTS']}/slimqn.json", "w"), indent=1)
PY
