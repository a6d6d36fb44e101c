#!/usr/bin/env bash
# Run-time batch size (ALGORITHMS.md 5) and two-phase training (6) on
# Fashion-MNIST LeNet, 2 ranks x 1 thread: per epoch, the global batch,
# learning rate, images/s, bytes sent and test accuracy, against a fixed
# batch of 64. Shows what a larger batch buys (fewer steps and bytes per
# epoch, more images/s) and what it costs in accuracy. Run on a quiet
# machine; results in bench/results/batch_schedule.json.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
EPOCHS=${EPOCHS:-6}
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe --bind-to none}
OUT=runs/batch-schedule/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" bench/results
base=(configs/fashion-mnist-lenet.yaml --set threads=1 --set train.epochs="$EPOCHS"
      --set optimizer.schedule=constant)
declare -A runs=(
  [fixed64]=""
  [explicit]="train.batch_schedule=[{epoch: 3, batch_size: 256, lr: 0.1}, {epoch: 5, batch_size: 1024, lr: 0.2}]"
  [adaptive]="train.batch_schedule=adaptive"
  [two_phase]="optimizer.schedule=two_phase"
)
for name in fixed64 explicit adaptive two_phase; do
  extra=()
  [[ -n "${runs[$name]}" ]] && extra=(--set "${runs[$name]}")
  echo "== $name" >&2
  $MPIRUN -n 2 build/lamina train "${base[@]}" "${extra[@]}" --out "$OUT/$name" > "$OUT/$name.log" 2>&1 \
    || { echo "run $name failed; see $OUT/$name.log" >&2; exit 1; }
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
summary = {}
print("| run | epoch | batch | lr | images/s | MB sent | test acc |")
print("|---|---|---|---|---|---|---|")
for name in ["fixed64", "explicit", "adaptive", "two_phase"]:
    records = [json.loads(line) for line in open(f"{out}/{name}/metrics.jsonl")]
    summary[name] = records
    for r in records:
        print(f"| {name} | {r['epoch']} | {r['batch_size']} | {r['lr']:.4g} | "
              f"{r['images_per_second']:.0f} | {r['comm_bytes'] / 1e6:.0f} | {r['test_acc']:.4f} |")
json.dump(summary, open("bench/results/batch_schedule.json", "w"), indent=1)
PY
