#!/usr/bin/env bash
# Image folders: Fashion-MNIST test images written as PNGs in class folders
# train exactly like the same images as idx files (native size, no
# augmentation, the same mean/std), on 1 and 2 ranks, synchronous and
# prefetched with several decode threads; classes.txt is written; the
# augmented path (random-resized-crop + flip) trains, is reproducible,
# does not depend on decode threads, and differs from the plain one.
source "$(dirname "$0")/testing.bash"
PYTHON=/usr/bin/python3
if ! $PYTHON -c "import PIL" 2> /dev/null; then echo "skip: python3-pil missing"; exit 77; fi

$PYTHON "$LMN_SOURCE_DIR/tests/cli/make_image_folder.py" "$DATA" "$WORK/folder" "$WORK/idx" 2000 500 \
  || { echo "cannot write the image folder" >&2; exit 1; }

cat > "$WORK/run.yaml" <<YAML
seed: 7
threads: 1
data: {name: fashion-mnist, path: $WORK/idx}
model:
  - {type: conv, out: 8, kernel: 5, stride: 2, activation: relu}
  - {type: flatten}
  - {type: linear, out: 10, init: glorot}
train: {epochs: 2, batch_size: 50, checkpoint_every: 2}
YAML
digest() { $PYTHON - "$1" <<'PY'
import hashlib, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
print(hashlib.sha1(json.dumps([(r["train_loss"], r["test_loss"], r["test_acc"]) for r in lines]).encode()).hexdigest())
PY
}
params() { $PYTHON - "$1" <<'PY'
import glob, hashlib, sys, h5py
path = sorted(glob.glob(sys.argv[1] + "/ckpt-*.h5"))[-1]
h = hashlib.sha1()
with h5py.File(path) as f:
    f.visititems(lambda name, obj: h.update(name.encode() + obj[()].tobytes())
                 if isinstance(obj, h5py.Dataset) and name.startswith("model/") else None)
print(h.hexdigest())
PY
}
images="--set data.name=images --set data.path=$WORK/folder --set data.image_size=28 --set data.resize=28 --set data.channels=1 --set data.augment=false --set data.mean=0.2860 --set data.std=0.3530"

for ranks in 1 2; do
  $MPIRUN -n $ranks "$LAMINA" train "$WORK/run.yaml" --out "$WORK/idx$ranks" > /dev/null 2> "$WORK/log" \
    || { cat "$WORK/log" >&2; fail "idx run on $ranks ranks"; }
  $MPIRUN -n $ranks "$LAMINA" train "$WORK/run.yaml" $images --out "$WORK/png$ranks" > /dev/null 2> "$WORK/log" \
    || { cat "$WORK/log" >&2; fail "image-folder run on $ranks ranks"; }
  $MPIRUN -n $ranks "$LAMINA" train "$WORK/run.yaml" $images --set data.prefetch_samples=100 \
    --set data.io_threads=2 --out "$WORK/async$ranks" > /dev/null 2> "$WORK/log" \
    || { cat "$WORK/log" >&2; fail "prefetched image-folder run on $ranks ranks"; }
  reference=$(digest "$WORK/idx$ranks/metrics.jsonl")
  [[ "$(digest "$WORK/png$ranks/metrics.jsonl")" == "$reference" ]] \
    || fail "PNG folder trains differently from idx on $ranks ranks"
  [[ "$(digest "$WORK/async$ranks/metrics.jsonl")" == "$reference" ]] \
    || fail "prefetched PNG folder trains differently from idx on $ranks ranks"
  [[ "$(params "$WORK/png$ranks")" == "$(params "$WORK/idx$ranks")" ]] \
    || fail "PNG folder checkpoint differs from idx on $ranks ranks"
done
cmp -s "$WORK/png1/classes.txt" "$WORK/idx/classes.txt" || fail "classes.txt is not the sorted class folders"

# Augmented: trains, is reproducible, and is not the evaluation transform.
augmented="--set data.name=images --set data.path=$WORK/folder --set data.image_size=24 --set data.resize=28 --set data.channels=1 --set train.epochs=1"
for run in a b; do
  $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" $augmented --out "$WORK/aug$run" > /dev/null 2> "$WORK/log" \
    || { cat "$WORK/log" >&2; fail "augmented run $run"; }
done
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" $augmented --set data.prefetch_samples=50 --set data.io_threads=3 \
  --out "$WORK/augasync" > /dev/null 2>&1 || fail "prefetched augmented run"
$MPIRUN -n 1 "$LAMINA" train "$WORK/run.yaml" $augmented --set data.augment=false --out "$WORK/plain" > /dev/null 2>&1 || fail "plain run"
[[ "$(digest "$WORK/auga/metrics.jsonl")" == "$(digest "$WORK/augb/metrics.jsonl")" ]] || fail "augmented runs differ"
[[ "$(digest "$WORK/auga/metrics.jsonl")" == "$(digest "$WORK/augasync/metrics.jsonl")" ]] \
  || fail "augmented views depend on the decode threads or prefetching"
[[ "$(digest "$WORK/auga/metrics.jsonl")" != "$(digest "$WORK/plain/metrics.jsonl")" ]] || fail "augmentation changed nothing"

# data convert images: the same file from 1 and 2 ranks (and with gzip),
# labels in the folder's class-major order, and it trains as data.name hdf5.
"$LAMINA" data convert images "$WORK/folder" "$WORK/one.h5" --size 28 --channels 1 > /dev/null || fail "convert on 1 rank"
$MPIRUN -n 2 "$LAMINA" data convert images "$WORK/folder" "$WORK/two.h5" --size 28 --channels 1 > /dev/null 2>&1 || fail "convert on 2 ranks"
$MPIRUN -n 2 "$LAMINA" data convert images "$WORK/folder" "$WORK/val.h5" --size 28 --channels 1 --test --gzip 4 > /dev/null 2>&1 || fail "convert val with gzip on 2 ranks"
$PYTHON - "$WORK/one.h5" "$WORK/two.h5" "$WORK/val.h5" "$WORK/idx" <<'PY' || fail "converted files"
import sys, h5py, numpy as np
one, two, val = (h5py.File(p) for p in sys.argv[1:4])
assert one["images"].shape == (2000, 1, 28, 28) and val["images"].shape == (500, 1, 28, 28)
assert np.array_equal(one["images"][()], two["images"][()]) and np.array_equal(one["labels"][()], two["labels"][()])
labels = np.frombuffer(open(sys.argv[4] + "/train-labels-idx1-ubyte", "rb").read()[8:], np.uint8)
assert np.array_equal(one["labels"][()], labels)
assert int(one.attrs["num_classes"]) == 10 and one["images"][()].max() > 200
print("convert ok")
PY
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set data.name=hdf5 --set data.path="$WORK/two.h5" \
  --set data.test_path="$WORK/val.h5" --set train.epochs=1 --out "$WORK/h5" > /dev/null 2>&1 || fail "training on the converted file"
expect_failure "convert without --size" "needs --size" "$LAMINA" data convert images "$WORK/folder" "$WORK/x.h5"
[[ ! -e "$WORK/x.h5" ]] || fail "a failed convert left its output"
finish
