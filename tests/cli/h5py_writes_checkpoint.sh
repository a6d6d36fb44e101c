#!/usr/bin/env bash
# The checkpoint layout of src/io/checkpoint.h is complete: a file that h5py
# writes from that list alone (tensor names from the layer names, no
# /progress ranks, /policy_state only where documented as required) resumes
# bit for bit where lamina's own checkpoint of the same step does, and
# evaluates; a missing or mis-sized /policy_state that a run needs is refused
# by name without touching the output directory. Skipped (exit 77) without
# h5py.
source "$(dirname "$0")/testing.bash"

if ! /usr/bin/python3 -c "import h5py" 2> /dev/null; then
  echo "SKIP: /usr/bin/python3 cannot import h5py"
  exit 77
fi

cat > "$WORK/run.yaml" <<'YAML'
seed: 5
threads: 1
data: {name: synthetic, shape: [1, 8, 8], classes: 4, train_size: 120, test_size: 40}
model:
  - {type: conv, name: conv1, out: 3, kernel: 3, pad: 1, bias: false}
  - {type: batchnorm, name: bn1, activation: relu}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, name: fc, out: 4}
train: {epochs: 2, batch_size: 20, checkpoint_every: 1, eval_batch_size: 40}
optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
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

# write_checkpoint SOURCE OUT [POLICY_VALUES...]: a new file built item by
# item from the documented layout; the numbers come from lamina's own
# checkpoint SOURCE, read by the documented names only.
write_checkpoint() {
  /usr/bin/python3 - "$WORK/run.yaml" "$@" <<'PY'
import sys, h5py, numpy as np
config_path, source, out, policy = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
# Layer names and PyTorch shapes of run.yaml's model: conv OIHW, batch norm
# [C], linear [out, in] (3 channels x 4 x 4 after the 2x2 max pool).
shapes = {"conv1.weight": (3, 1, 3, 3), "bn1.weight": (3,), "bn1.bias": (3,),
          "bn1.running_mean": (3,), "bn1.running_var": (3,),
          "fc.weight": (4, 48), "fc.bias": (4,)}
learnable = [n for n in shapes if ".running_" not in n]
with h5py.File(source, "r") as src, h5py.File(out, "w") as f:
    f.attrs["format"] = "lamina-checkpoint"
    f.attrs["format_version"] = np.int64(1)
    f["config"] = open(config_path).read()
    for name, shape in shapes.items():
        f["model/" + name] = np.asarray(src["model/" + name], dtype=np.float32).reshape(shape)
    opt = f.create_group("optimizer")
    opt.attrs["kind"] = "sgd"
    opt.attrs["steps"] = np.int64(src["optimizer"].attrs["steps"])
    for name in learnable:
        opt["velocity/" + name] = np.asarray(src["optimizer/velocity/" + name], dtype=np.float32)
    progress = f.create_group("progress")
    for key in ("epoch", "step_in_epoch", "global_step"):
        progress.attrs[key] = np.int64(src["progress"].attrs[key])
    for key in ("epoch_loss", "epoch_correct", "epoch_samples", "elapsed_seconds"):
        progress.attrs[key] = np.float64(src["progress"].attrs[key])
    if policy:
        f["policy_state"] = np.array([float(v) for v in policy], dtype=np.float64)
PY
}

# lamina's own run: straight, and cut inside epoch 1 by train.max_steps.
"$LAMINA" train "$WORK/run.yaml" --out "$WORK/straight" > "$WORK/straight.log" 2>&1 || fail "straight run failed"
reference=$(model_digest "$(latest "$WORK/straight")")
"$LAMINA" train "$WORK/run.yaml" --out "$WORK/cut" --set train.max_steps=4 > "$WORK/cut.log" 2>&1 || fail "cut run failed"
source_ckpt="$WORK/cut/ckpt-000000000004.h5"
[[ -f "$source_ckpt" ]] || fail "no checkpoint at step 4"

# allreduce, fixed batch: /policy_state and /progress ranks are optional.
mkdir -p "$WORK/h5py"
write_checkpoint "$source_ckpt" "$WORK/h5py/ckpt-000000000004.h5" || fail "h5py could not write the layout"
cp "$WORK/h5py/ckpt-000000000004.h5" "$WORK/written.h5"
"$LAMINA" eval "$WORK/written.h5" > "$WORK/eval.log" 2>&1 || { fail "eval of the h5py file failed"; cat "$WORK/eval.log" >&2; }
grep -q "test_acc" "$WORK/eval.log" || fail "eval of the h5py file printed no accuracy"
"$LAMINA" train "$WORK/run.yaml" --out "$WORK/h5py" --resume auto > "$WORK/resume.log" 2>&1 \
  || { fail "resume from the h5py file failed"; cat "$WORK/resume.log" >&2; }
grep -q "resuming from .*ckpt-000000000004.h5 (epoch 1, step 4 of the epoch" "$WORK/resume.log" \
  || fail "the resume did not start at step 4 of epoch 1"
[[ "$(model_digest "$(latest "$WORK/h5py")")" == "$reference" ]] || fail "resumed from the h5py file, the run differs from the straight one"

# lazy keeps k: /policy_state is required, 7 epoch-controller values + k.
lazy=(--set 'parallel={strategy: lazy, lazy_layers: 1}')
mkdir -p "$WORK/lazy_missing"
write_checkpoint "$source_ckpt" "$WORK/lazy_missing/ckpt-000000000004.h5"
before=$(md5sum "$WORK/lazy_missing/ckpt-000000000004.h5")
expect_failure "lazy without /policy_state" "ckpt-000000000004.h5 has no /policy_state" \
  "$LAMINA" train "$WORK/run.yaml" "${lazy[@]}" --out "$WORK/lazy_missing" --resume auto
[[ "$(md5sum "$WORK/lazy_missing/ckpt-000000000004.h5")" == "$before" && -z "$(ls "$WORK/lazy_missing" | grep -v -x -e 'ckpt-000000000004.h5' -e config.yaml -e sync_plan.txt)" ]] \
  || fail "a refused resume changed the checkpoints in the output directory"
mkdir -p "$WORK/lazy_short"
write_checkpoint "$source_ckpt" "$WORK/lazy_short/ckpt-000000000004.h5" 20 0 0 0 0 0 1
expect_failure "lazy with 7 values" "/policy_state holds 7 values.*'lazy' resumes from 8" \
  "$LAMINA" train "$WORK/run.yaml" "${lazy[@]}" --out "$WORK/lazy_short" --resume auto
mkdir -p "$WORK/lazy_ok"
# A fresh controller (batch 20, no epoch seen, no two-phase, decay 1), k = 1.
write_checkpoint "$source_ckpt" "$WORK/lazy_ok/ckpt-000000000004.h5" 20 0 0 0 0 0 1 1
"$LAMINA" train "$WORK/run.yaml" "${lazy[@]}" --out "$WORK/lazy_ok" --resume auto > "$WORK/lazy.log" 2>&1 \
  || { fail "lazy resume with the documented /policy_state failed"; cat "$WORK/lazy.log" >&2; }
finish
