#!/usr/bin/env bash
# Checkpoints that survive: SIGTERM stops with a checkpoint and exit 0 and
# the resumed run ends exactly where an uninterrupted one does; kill -9
# while checkpoints are being written leaves a loadable one for
# --resume auto; h5py reads the documented layout; eval and export work;
# bad checkpoints are refused without touching the output directory.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<YAML
seed: 9
threads: 1
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 8, kernel: 5, pad: 2, bias: false}
  - {type: batchnorm, activation: relu}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, out: 10, init: glorot}
train: {epochs: 2, batch_size: 64, max_steps: 1500, checkpoint_every: 1, eval: false}
optimizer: {lr: 0.05, momentum: 0.9}
YAML

model_digest() {  # the /model tensors of a checkpoint, as one hash
  /usr/bin/python3 - "$1" <<'PY'
import hashlib, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    h = hashlib.sha1()
    for name in sorted(f["model"]):
        h.update(name.encode()); h.update(f["model"][name][()].tobytes())
    print(h.hexdigest())
PY
}
latest() { ls "$1"/ckpt-*.h5 2>/dev/null | sort | tail -n 1; }
# Waits until DIR holds a checkpoint (training is under way), at most 60 s.
await_checkpoint() {
  for _ in $(seq 600); do [[ -n "$(latest "$1")" ]] && return 0; sleep 0.1; done
  return 1
}

# Uninterrupted reference.
"$LAMINA" train "$WORK/run.yaml" --out "$WORK/straight" > "$WORK/straight.log" 2>&1 || fail "straight run failed"
reference=$(model_digest "$(latest "$WORK/straight")")

# SIGTERM in the middle: exit 0, a checkpoint, then --resume auto finishes.
"$LAMINA" train "$WORK/run.yaml" --out "$WORK/term" --set train.checkpoint_every_steps=200 > "$WORK/term.log" 2>&1 &
pid=$!
await_checkpoint "$WORK/term" || fail "SIGTERM: training never checkpointed"
kill -TERM $pid
status=0; wait $pid || status=$?
(( status == 0 )) || fail "SIGTERM: exit status $status"
grep -q "stopped by signal" "$WORK/term.log" || fail "SIGTERM: no stop message"
[[ -n "$(latest "$WORK/term")" ]] || fail "SIGTERM: no checkpoint"
"$LAMINA" train "$WORK/run.yaml" --out "$WORK/term" --resume auto > "$WORK/term2.log" 2>&1 || fail "resume after SIGTERM failed"
grep -q "resuming from" "$WORK/term2.log" || fail "resume auto did not find the checkpoint"
[[ "$(model_digest "$(latest "$WORK/term")")" == "$reference" ]] || fail "SIGTERM + resume differs from the straight run"

# kill -9 while a checkpoint is written every step.
for delay in 0.05 0.4 0.9; do
  rm -rf "$WORK/k9"
  "$LAMINA" train "$WORK/run.yaml" --out "$WORK/k9" --set train.checkpoint_every_steps=1 > /dev/null 2>&1 &
  pid=$!; await_checkpoint "$WORK/k9"; sleep $delay; kill -9 $pid; wait $pid 2>/dev/null || true
  "$LAMINA" train "$WORK/run.yaml" --out "$WORK/k9" --resume auto > "$WORK/k9.log" 2>&1 \
    || { fail "resume after kill -9 ($delay s) failed"; tail -3 "$WORK/k9.log" >&2; }
  [[ "$(model_digest "$(latest "$WORK/k9")")" == "$reference" ]] || fail "kill -9 at $delay s + resume differs"
done

# h5py reads names, shapes and attributes as documented.
/usr/bin/python3 - "$(latest "$WORK/straight")" <<'PY' || fail "h5py layout"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["format"] in ("lamina-checkpoint", b"lamina-checkpoint")
    assert int(f.attrs["format_version"]) == 1
    assert f["model/conv0.weight"].shape == (8, 1, 5, 5), f["model/conv0.weight"].shape
    assert f["model/linear4.weight"].shape == (10, 8 * 14 * 14)
    assert "batchnorm1.running_mean" in f["model"]
    assert int(f["progress"].attrs["global_step"]) == 1500
    assert "optimizer/velocity/conv0.weight" in f
    print("h5py ok")
PY

# eval and export.
"$LAMINA" eval "$(latest "$WORK/straight")" > "$WORK/eval.log" 2>&1 || fail "eval failed"
grep -q "test_acc 0\.[5-9]" "$WORK/eval.log" || { fail "eval accuracy"; cat "$WORK/eval.log" >&2; }
grep -q "class  9" "$WORK/eval.log" || fail "eval lacks per-class accuracy"
"$LAMINA" export "$(latest "$WORK/straight")" --format safetensors --out "$WORK/model.safetensors" > /dev/null 2>&1 || fail "export failed"
/usr/bin/python3 - "$WORK/model.safetensors" <<'PY' || fail "safetensors layout"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
assert header["conv0.weight"]["shape"] == [8, 1, 5, 5] and header["conv0.weight"]["dtype"] == "F32"
print("safetensors ok")
PY

# Bad checkpoints: clear errors, earlier checkpoints untouched.
before=$(ls "$WORK/straight" | sort | md5sum)
head -c 3000 "$(latest "$WORK/straight")" > "$WORK/truncated.h5"
expect_failure "truncated checkpoint" "truncated.h5" "$LAMINA" train "$WORK/run.yaml" --out "$WORK/straight" --resume "$WORK/truncated.h5"
echo "not hdf5" > "$WORK/foreign.h5"
expect_failure "foreign file" "foreign.h5" "$LAMINA" eval "$WORK/foreign.h5"
expect_failure "other model" "conv0.weight" "$LAMINA" train "$WORK/run.yaml" --set 'model=[{type: conv, out: 4, kernel: 5, stride: 2}, {type: flatten}, {type: linear, out: 10}]' \
  --out "$WORK/straight" --resume "$(latest "$WORK/straight")"
[[ "$(ls "$WORK/straight" | sort | md5sum)" == "$before" ]] || fail "a failed resume changed the output directory"
finish
