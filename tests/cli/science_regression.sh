#!/usr/bin/env bash
# Regression end to end on 2 ranks: EDSR on x2-downsampled Fashion-MNIST
# beats bicubic upsampling's PSNR; HDF5 volumes with float targets train;
# bad input fails clearly. (CosmoFlow: science_cosmoflow.sh.)
source "$(dirname "$0")/testing.bash"

# Reads the last line of a metrics.jsonl and evaluates a Python condition on it as `r`.
check_metrics() { # FILE CONDITION DESCRIPTION
  /usr/bin/python3 - "$1" "$2" <<'PY' || fail "$3"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
r = lines[-1]
ok = eval(sys.argv[2])
print(("ok: " if ok else "FAIL: ") + sys.argv[2] + "  " +
      json.dumps({k: r.get(k) for k in ("test_mse", "test_mae", "test_psnr", "baseline_psnr")}))
sys.exit(0 if ok else 1)
PY
}

# ---- Super-resolution: EDSR must beat bicubic ----
cat > "$WORK/sr.yaml" <<YAML
task: regression
loss: mse
model: {name: edsr, features: 16, blocks: 2}
seed: 1
threads: 1
data: {name: fashion-mnist, path: $DATA, derive: super_resolution, sr_factor: 2}
train: {epochs: 1, batch_size: 32, max_steps: 500}
optimizer: {name: adam, lr: 0.003}
YAML
$MPIRUN -n 2 "$LAMINA" train "$WORK/sr.yaml" --out "$WORK/sr" > "$WORK/sr.log" 2>&1 || { fail "edsr run"; cat "$WORK/sr.log" >&2; }
grep -q "bicubic" "$WORK/sr.log" || fail "the baseline PSNR is not reported"
check_metrics "$WORK/sr/metrics.jsonl" \
  "r['test_psnr'] > r['baseline_psnr'] + 0.2 and 'test_acc' not in r and 'train_acc' not in r and r['test_loss'] == r['test_mse']" \
  "edsr does not beat bicubic upsampling (or the metrics keys are wrong)"

# ---- HDF5 volumes with float targets (the mean of each volume) ----
/usr/bin/python3 - "$WORK" <<'PY' || fail "writing the HDF5 regression files"
import sys, h5py, numpy as np
rng = np.random.default_rng(1)
for name, count in (("train", 256), ("test", 64)):
    images = rng.normal(size=(count, 2, 4, 8, 8)).astype(np.float32) + rng.normal(size=(count, 1, 1, 1, 1)).astype(np.float32)
    with h5py.File(f"{sys.argv[1]}/{name}.h5", "w") as f:
        f["volumes"] = images
        f["targets"] = images.mean(axis=(2, 3, 4))
PY
cat > "$WORK/h5.yaml" <<YAML
task: regression
loss: mae
seed: 1
threads: 1
data: {name: hdf5, path: $WORK/train.h5, test_path: $WORK/test.h5, images: volumes, targets: targets}
model:
  - {type: conv3d, out: 4, kernel: 3, pad: 1, activation: relu}
  - {type: flatten}
  - {type: linear, out: 2}
train: {epochs: 2, batch_size: 16}
optimizer: {name: adam, lr: 0.003}
YAML
$MPIRUN -n 2 "$LAMINA" train "$WORK/h5.yaml" --out "$WORK/h5" > "$WORK/h5.log" 2>&1 || { fail "hdf5 regression run"; cat "$WORK/h5.log" >&2; }
check_metrics "$WORK/h5/metrics.jsonl" "r['test_loss'] == r['test_mae'] and r['test_mse'] >= 0" \
  "hdf5 regression metrics"

# ---- Bad input ----
small="--set train.max_steps=2 --set train.eval=false --set threads=1"
cat > "$WORK/grf.yaml" <<YAML
task: regression
model: {name: cosmoflow, filters: 4}
data: {name: grf-cubes, shape: [4, 8, 8, 8], train_size: 64, test_size: 16}
train: {epochs: 1, batch_size: 8}
YAML
cat > "$WORK/wide.yaml" <<YAML
task: regression
data: {name: grf-cubes, shape: [4, 8, 8, 8], train_size: 64, test_size: 16}
model:
  - {type: conv3d, out: 4, kernel: 3}
  - {type: flatten}
  - {type: linear, out: 10}
YAML
expect_failure "output does not match the targets" "10 x 1 x 1 = 10 values per sample, but the targets of data 'grf-cubes' are a vector of 4 values" \
  "$LAMINA" train "$WORK/wide.yaml" $small
expect_failure "image output of the wrong size" "1 x 56 x 56 = 3136 values per sample, but the targets of data 'fashion-mnist x2 SR' are 1 x 28 x 28" \
  "$LAMINA" train "$WORK/sr.yaml" $small --set model.upscale=4
expect_failure "psnr for vector targets" "key 'metrics.psnr': PSNR compares images, but the targets of data 'grf-cubes'" \
  "$LAMINA" train "$WORK/grf.yaml" $small --set metrics.psnr=true
expect_failure "classification on a regression set" "key 'task': data 'grf-cubes' has regression targets" \
  "$LAMINA" train "$WORK/grf.yaml" $small --set task=classification
expect_failure "classification loss for regression" "key 'loss': cross_entropy is a classification loss" \
  "$LAMINA" train "$WORK/grf.yaml" $small --set loss=cross_entropy
expect_failure "regression without targets" "regression needs targets, but data 'fashion-mnist'" \
  "$LAMINA" train "$WORK/sr.yaml" $small --set data.derive=none
expect_failure "3-D data into a 2-D model" "data 'grf-cubes' gives 3-D samples (4 x 8 x 8 x 8)" \
  "$LAMINA" train "$WORK/grf.yaml" $small --set model=lenet
expect_failure "2-D data into a 3-D model" "data 'fashion-mnist x2 SR' gives 2-D samples" \
  "$LAMINA" train "$WORK/sr.yaml" $small --set model=cosmoflow
expect_failure "scale that does not divide the images" "key 'data.sr_factor': images of dataset 'fashion-mnist' are 28 x 28" \
  "$LAMINA" train "$WORK/sr.yaml" $small --set data.sr_factor=3
expect_failure "augmented super-resolution" "key 'data.augment'" \
  "$LAMINA" train "$WORK/sr.yaml" $small --set data.augment=true
expect_failure "cube side not a power of two" "key 'data.shape': grf-cubes needs cubes whose side is a power of two" \
  "$LAMINA" train "$WORK/grf.yaml" $small --set data.shape=[4,12,12,12]
expect_failure "hdf5 targets missing" "no dataset 'nope'" \
  "$LAMINA" train "$WORK/h5.yaml" $small --set data.targets=nope
expect_failure "two ranks, psnr for vector targets" "rank 0: .*key 'metrics.psnr'" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/grf.yaml" $small --set metrics.psnr=true
finish
