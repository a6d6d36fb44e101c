#!/usr/bin/env bash
# Every sync policy trains LeNet on Fashion-MNIST for one epoch on 2 ranks
# to >= 85% test accuracy, reports its communication per epoch, and the
# policies that exist to send less do. --dry-run prints the per-layer plan;
# bad parallel.* settings fail with the key named; an explicit batch
# schedule is followed exactly.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/lenet.yaml" <<YAML
model: lenet
threads: 1
data: {name: fashion-mnist, path: $DATA}
train: {epochs: 1, batch_size: 64, eval_batch_size: 1000}
optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005, schedule: cosine}
YAML

run_strategy() { # NAME then --set options
  local name=$1; shift
  if ! $MPIRUN -n 2 "$LAMINA" train "$WORK/lenet.yaml" "$@" --out "$WORK/$name" > "$WORK/$name.log" 2>&1; then
    fail "strategy $name failed"; tail -5 "$WORK/$name.log" >&2
  fi
}
run_strategy allreduce --set parallel.strategy=allreduce
run_strategy overlap --set parallel.strategy=overlap
run_strategy multistep --set parallel.strategy=multistep
run_strategy lazy --set parallel.strategy=lazy
run_strategy localsgd --set parallel.strategy=localsgd --set parallel.tau=4
run_strategy fp16 --set parallel.strategy=allreduce --set parallel.wire=fp16 --set train.max_steps=60

/usr/bin/python3 - "$WORK" <<'PY' || fail "strategy metrics are wrong"
import json, sys
work = sys.argv[1]
runs = {}
for name in ["allreduce", "overlap", "multistep", "lazy", "localsgd", "fp16"]:
    record = [json.loads(line) for line in open(f"{work}/{name}/metrics.jsonl")][-1]
    for key in ["comm_bytes", "comm_seconds", "exposed_comm_seconds", "strategy", "wire",
                "batch_size", "lr", "test_acc"]:
        assert key in record, f"{name}: no {key}"
    runs[name] = record
    print(f"{name:10s} test_acc {record['test_acc']:.4f}  bytes {record['comm_bytes']:.3e}  "
          f"exposed {record['exposed_comm_seconds']:.2f} s")
    if name != "fp16":  # a short run: only its bytes are checked
        assert record["test_acc"] >= 0.85, f"{name}: test accuracy {record['test_acc']}"
base = runs["allreduce"]["comm_bytes"]
assert runs["overlap"]["comm_bytes"] == base, "overlap must send what allreduce sends"
assert runs["overlap"]["test_acc"] == runs["allreduce"]["test_acc"], "overlap must be exact"
assert runs["multistep"]["comm_bytes"] < base, "multistep exchanges fc1's activations: fewer bytes"
assert runs["lazy"]["comm_bytes"] < base and "lazy_k" in runs["lazy"], runs["lazy"]
assert runs["localsgd"]["comm_bytes"] < 0.3 * base and runs["localsgd"]["tau"] == 4
per_step = base / runs["allreduce"]["step"]
assert abs(runs["fp16"]["comm_bytes"] / runs["fp16"]["step"] - per_step / 2) < 1e-6 * per_step, "fp16 halves the bytes"
PY
grep -q "activations + errors" "$WORK/multistep/sync_plan.txt" || fail "multistep's per-layer choice is not recorded"

"$LAMINA" train "$WORK/lenet.yaml" --set parallel.strategy=lazy --dry-run > "$WORK/plan" 2>&1 || fail "dry run failed"
for layer in conv1 conv2 fc1 fc2; do grep -q "^  $layer " "$WORK/plan" || fail "dry run lacks $layer"; done
grep -q "lazy, every k steps" "$WORK/plan" || fail "dry run does not say which layers are lazy"

expect_failure "unknown strategy" "parallel.strategy" \
  "$LAMINA" train "$WORK/lenet.yaml" --set parallel.strategy=ring --dry-run
expect_failure "groups not dividing the ranks" "parallel.groups" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/lenet.yaml" --set parallel.strategy=localsgd --set parallel.groups=3 --dry-run
expect_failure "more lazy layers than convolutions" "parallel.lazy_layers" \
  "$LAMINA" train "$WORK/lenet.yaml" --set parallel.strategy=lazy --set parallel.lazy_layers=5 --dry-run
expect_failure "bad tau" "parallel.tau" \
  "$LAMINA" train "$WORK/lenet.yaml" --set parallel.strategy=localsgd --set parallel.tau=sometimes --dry-run
expect_failure "bad wire" "parallel.wire" \
  "$LAMINA" train "$WORK/lenet.yaml" --set parallel.wire=fp8 --dry-run

# An explicit batch schedule is followed exactly, on every rank.
cat > "$WORK/schedule.yaml" <<YAML
model: lenet
threads: 1
data: {name: synthetic, shape: [1, 28, 28], classes: 10, train_size: 1200, test_size: 200}
train:
  epochs: 3
  batch_size: 40
  batch_schedule: [{epoch: 2, batch_size: 80, lr: 0.02}, {epoch: 3, batch_size: 120}]
optimizer: {name: sgd, lr: 0.01, momentum: 0.9}
parallel: {strategy: overlap}
YAML
$MPIRUN -n 2 "$LAMINA" train "$WORK/schedule.yaml" --out "$WORK/schedule" > "$WORK/schedule.log" 2>&1 \
  || { fail "batch schedule run failed"; tail -5 "$WORK/schedule.log" >&2; }
/usr/bin/python3 - "$WORK/schedule/metrics.jsonl" <<'PY' || fail "batch schedule not followed"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
assert [r["batch_size"] for r in records] == [40, 80, 120], records
assert [r["step"] for r in records] == [30, 45, 55], [r["step"] for r in records]
assert abs(records[1]["lr"] - 0.02) < 1e-12 and abs(records[2]["lr"] - 0.02) < 1e-12
PY
finish
