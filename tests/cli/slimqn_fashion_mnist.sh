#!/usr/bin/env bash
# Issue 14's learning pin: LeNet on Fashion-MNIST (configs/fashion-mnist-
# lenet.yaml) with optimizer slimqn at ALGORITHMS.md 14's defaults
# (interval 100, damping 0.2, clip 0.005; history 10, which over one epoch's
# 938 steps holds every pair the default 100 would) and lr 0.1 (the low end
# of the paper's range), 2 ranks, one epoch: test accuracy >= 0.87
# (measured here: 0.8736; 0.8708 with lr 0.05; PyTorch's SGD reaches 0.8795
# after one epoch). Slow: a full epoch.
source "$(dirname "$0")/testing.bash"
CONFIG=${LMN_SOURCE_DIR:-$(dirname "$0")/../..}/configs/fashion-mnist-lenet.yaml

$MPIRUN -n 2 "$LAMINA" train "$CONFIG" --set data.path="$DATA" --set threads=1 \
  --set train.epochs=1 --set optimizer.name=slimqn --set optimizer.lr=0.1 --set optimizer.slimqn.history=10 \
  --out "$WORK/run" > "$WORK/run.log" 2>&1 || { fail "slimqn run"; cat "$WORK/run.log" >&2; }
/usr/bin/python3 - "$WORK/run/metrics.jsonl" <<'PY' || fail "slimqn LeNet below 0.87 after one epoch"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
print(f"slimqn, one epoch on 2 ranks: test accuracy {r['test_acc']:.4f}, "
      f"{r['slimqn_pairs']} pairs, last damping {r['slimqn_damping']}, clip {r['slimqn_clip']:.4f}")
sys.exit(0 if r["test_acc"] >= 0.87 and r["slimqn_pairs"] > 0 else 1)
PY
finish
