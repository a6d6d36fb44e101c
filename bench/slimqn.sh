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
# Step counts do not depend on the machine's load; wall-clock does: run the
# whole script on a quiet machine. Prints both; writes
# bench/results/slimqn.md and bench/results/slimqn.json.
#
#   bench/slimqn.sh                       # everything (hours on 2 cores)
#   PARTS=lenet SLIMQN_LRS="0.05" bench/slimqn.sh
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
export OVERHEAD_STEPS=${OVERHEAD_STEPS:-300}
export SCHEDULE=${SCHEDULE:-cosine}        # lr schedule over the run's epochs (LeNet and ResNet)
export OUT=${OUT:-runs/slimqn-bench/$(date +%Y%m%d-%H%M%S)}
export RESULTS=${RESULTS:-bench/results}
mkdir -p "$OUT" "$RESULTS"
exec /usr/bin/python3 - <<'PY'
import json, os, re, shlex, subprocess, sys

env = os.environ
lamina, mpirun, out = env["LAMINA"], shlex.split(env["MPIRUN"]), env["OUT"]
ranks, threads = int(env["RANKS"]), env["THREADS"]
lrs = {"sgd": env["SGD_LRS"].split(), "adam": env["ADAM_LRS"].split(),
       "slimqn": env["SLIMQN_LRS"].split()}
lrs = {o: values for o, values in lrs.items() if values}  # an empty list skips the optimizer

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

def optimizer_keys(name, lr):
    keys = [f"optimizer.name={name}", f"optimizer.lr={lr}"]
    if name == "sgd": keys.append("optimizer.momentum=0.9")
    if name == "slimqn":
        keys += ["optimizer.momentum=0.9", f"optimizer.slimqn.history={env['HISTORY']}",
                 f"optimizer.slimqn.interval={env['INTERVAL']}"]
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

def lenet_run(name, lr):
    """Steps (and wall-clock) to TARGET_ACC, evaluating every EVAL_EVERY steps."""
    run_dir = f"{out}/lenet-{name}-{lr}"
    steps_per_epoch = 60000 // 64
    limit, every = int(env["EPOCHS"]) * steps_per_epoch, int(env["EVAL_EVERY"])
    sets = optimizer_keys(name, lr) + [f"train.epochs={env['EPOCHS']}", "train.eval=false",
                                       "train.keep_checkpoints=1", f"optimizer.schedule={env['SCHEDULE']}"]
    curve, step = [], 0
    while step < limit:
        step = min(step + every, limit)
        extra = ["--resume", "auto"] if curve else []
        try:
            train(LENET, sets + ["optimizer.weight_decay=0.0005", f"train.max_steps={step}",
                  f"train.checkpoint_every_steps={every}"], run_dir, ranks, extra)
        except subprocess.CalledProcessError:
            # A diverging lr is a result of the sweep, not a failure of it.
            print(f"lenet {name} lr {lr}: stopped before step {step} (see {run_dir}.log)",
                  file=sys.stderr)
            break
        path = f"{run_dir}/{latest(run_dir)}"
        curve.append({"step": step, "test_acc": test_acc(path), "elapsed_seconds": elapsed(path)})
        print(f"lenet {name} lr {lr}: step {step} test_acc {curve[-1]['test_acc']:.4f}", file=sys.stderr)
        if curve[-1]["test_acc"] >= float(env["TARGET_ACC"]): break
    hit = next((c for c in curve if c["test_acc"] >= float(env["TARGET_ACC"])), None)
    return {"optimizer": name, "lr": lr, "curve": curve, "steps": hit and hit["step"],
            "seconds": hit and hit["elapsed_seconds"], "best_acc": max((c["test_acc"] for c in curve), default=None)}

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

results, lines = {}, ["# SLIM-QN vs SGD with momentum and Adam", "",
                      f"Command: `bench/slimqn.sh` with RANKS={ranks} THREADS={threads} "
                      f"EPOCHS={env['EPOCHS']} EVAL_EVERY={env['EVAL_EVERY']} HISTORY={env['HISTORY']} "
                      f"INTERVAL={env['INTERVAL']}; batch 64 everywhere; {env['SCHEDULE']} lr.", ""]
parts = env["PARTS"].split()
if "lenet" in parts:
    runs = [lenet_run(o, lr) for o in lrs for lr in lrs[o]]
    results["lenet"] = runs
    lines += [f"## Fashion-MNIST LeNet, to {env['TARGET_ACC']} test accuracy ({ranks} ranks)", "",
              "| optimizer | lr | steps | wall-clock s | best test acc | best of sweep |", "|---|---|---|---|---|---|"]
    for o in lrs:
        b = best([r for r in runs if r["optimizer"] == o], "steps", lambda r: r["best_acc"] or 0.0)
        for r in runs:
            if r["optimizer"] == o:
                lines.append(f"| {o} | {r['lr']} | {fmt(r['steps'])} | {fmt(r['seconds'], '{:.1f}')} | "
                             f"{fmt(r['best_acc'], '{:.4f}', 'diverged')} | {'yes' if r is b else ''} |")
    lines.append("")
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
open(f"{env['RESULTS']}/slimqn.md", "w").write(text + "\n")
json.dump(results, open(f"{env['RESULTS']}/slimqn.json", "w"), indent=1)
PY
