#!/usr/bin/env bash
# `lamina train` on 2 ranks writes the resolved configuration and one
# metrics line per epoch with the documented fields; --help documents keys.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<YAML
model: lenet
threads: 1
data: {name: fashion-mnist, path: $DATA}
train: {epochs: 2, batch_size: 64, max_steps: 120, eval_batch_size: 1000}
YAML
if ! $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set optimizer.lr=0.04 --out "$WORK/out" > "$WORK/log" 2>&1; then
  fail "training run failed"; cat "$WORK/log" >&2
fi
grep -q "2 ranks x 1 thread" "$WORK/log" || fail "banner does not show the rank count"
grep -q "^epoch 1/2 .*test_acc" "$WORK/log" || fail "no plain progress line per epoch"
[[ -f "$WORK/out/config.yaml" ]] || fail "no config.yaml"
grep -q "lr: 0.04" "$WORK/out/config.yaml" || fail "config.yaml lacks the --set override"
grep -q "momentum: 0.9" "$WORK/out/config.yaml" || fail "config.yaml lacks resolved defaults"
/usr/bin/python3 - "$WORK/out/metrics.jsonl" <<'PY' || fail "metrics.jsonl is wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
# 120 steps end inside the first epoch (938 steps of 64): one record.
assert len(lines) == 1, f"expected 1 epoch record, got {len(lines)}"
need = ["epoch", "train_loss", "test_loss", "test_acc", "seconds", "images_per_second",
        "comm_bytes", "comm_seconds", "elapsed_seconds"]
for rec in lines:
    for key in need:
        assert key in rec, f"missing {key} in {rec}"
last = lines[-1]
assert 0.0 <= last["test_acc"] <= 1.0
assert last["test_acc"] > 0.6, last
assert last["comm_bytes"] > 0, "two ranks must report gradient bytes"
assert last["step"] == 120, last
print("metrics ok:", last["test_acc"], last["images_per_second"])
PY
"$LAMINA" train --help | grep -q "train.batch_size" || fail "train --help lacks keys"
"$LAMINA" --help | grep -q "usage: lamina" || fail "--help lacks usage"
"$LAMINA" info | grep -q "oneDNN" || fail "info lacks the backend"
finish
