#!/usr/bin/env bash
# ALGORITHMS.md 13's accuracy pin: LeNet on Fashion-MNIST, `make demo`'s
# recipe (configs/fashion-mnist-lenet.yaml: 5 epochs, 2 ranks), reaches in
# train.precision bf16 the test accuracy of fp32 within 0.3 points. Slow
# (two full runs); exits 77 (skipped) on a CPU without native bf16.
source "$(dirname "$0")/testing.bash"
CONFIG=${LMN_SOURCE_DIR:-$(dirname "$0")/../..}/configs/fashion-mnist-lenet.yaml

if ! "$LAMINA" info | grep -q "^bf16: native"; then
  echo "SKIP: no native bf16 on this CPU"; exit 77
fi
for precision in fp32 bf16; do
  $MPIRUN -n 2 "$LAMINA" train "$CONFIG" --set data.path="$DATA" --set threads=1 \
    --set train.precision=$precision --out "$WORK/$precision" > "$WORK/$precision.log" 2>&1 \
    || { fail "$precision run"; cat "$WORK/$precision.log" >&2; }
done
/usr/bin/python3 - "$WORK/bf16/metrics.jsonl" "$WORK/fp32/metrics.jsonl" <<'PY' || fail "bf16 accuracy is not within 0.3 points of fp32's"
import json, sys
bf16, fp32 = ([json.loads(l) for l in open(p)][-1] for p in sys.argv[1:3])
gap = 100 * abs(bf16["test_acc"] - fp32["test_acc"])
print(f"test accuracy after {fp32['epoch']} epochs: fp32 {100 * fp32['test_acc']:.2f}%, "
      f"bf16 {100 * bf16['test_acc']:.2f}%, gap {gap:.2f} points (bound 0.3)")
sys.exit(0 if gap <= 0.3 and fp32["test_acc"] > 0.85 else 1)
PY
finish
