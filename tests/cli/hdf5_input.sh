#!/usr/bin/env bash
# HDF5 input trains exactly like the same data from idx files, with the
# asynchronous prefetcher on or off, on 2 ranks; data convert and concat
# round-trip; bad HDF5 input is refused clearly.
source "$(dirname "$0")/testing.bash"

"$LAMINA" data convert fashion-mnist "$DATA" "$WORK/train.h5" > /dev/null || fail "convert train"
"$LAMINA" data convert fashion-mnist "$DATA" "$WORK/test.h5" --test --gzip 4 > /dev/null || fail "convert test"

cat > "$WORK/run.yaml" <<YAML
$(tiny_cnn_config 4)
train: {epochs: 2, batch_size: 64, max_steps: 1000, checkpoint_every: 1}
YAML
digest() { /usr/bin/python3 - "$1" <<'PY'
import hashlib, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
print(hashlib.sha1(json.dumps([(r["train_loss"], r["test_loss"], r["test_acc"]) for r in lines]).encode()).hexdigest())
PY
}
h5="--set data.name=hdf5 --set data.path=$WORK/train.h5 --set data.test_path=$WORK/test.h5"
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --out "$WORK/idx" > /dev/null 2>&1 || fail "idx run"
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" $h5 --out "$WORK/h5" > /dev/null 2>&1 || fail "hdf5 run"
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" $h5 --set data.prefetch_samples=256 --out "$WORK/async" > /dev/null 2>&1 || fail "async run"
reference=$(digest "$WORK/idx/metrics.jsonl")
[[ "$(digest "$WORK/h5/metrics.jsonl")" == "$reference" ]] || fail "hdf5 input trains differently from idx"
[[ "$(digest "$WORK/async/metrics.jsonl")" == "$reference" ]] || fail "asynchronous input trains differently"
ls "$WORK"/idx/ckpt-*.h5 > /dev/null 2>&1 || fail "no checkpoint"
grep -q '"data_wait_seconds"' "$WORK/async/metrics.jsonl" || fail "no data_wait_seconds"

# concat: two halves of the test set make the whole again.
/usr/bin/python3 - "$WORK/test.h5" "$WORK/a.h5" "$WORK/b.h5" <<'PY' || fail "split for concat"
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    images, labels = f["images"][()], f["labels"][()]
for path, part in ((sys.argv[2], slice(0, 3000)), (sys.argv[3], slice(3000, None))):
    with h5py.File(path, "w") as g:
        g["images"] = images[part]; g["labels"] = labels[part]
PY
$MPIRUN -n 2 "$LAMINA" data concat "$WORK/joined.h5" "$WORK/a.h5" "$WORK/b.h5" > /dev/null 2>&1 || fail "concat"
/usr/bin/python3 - "$WORK/test.h5" "$WORK/joined.h5" <<'PY' || fail "concat result differs"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f, h5py.File(sys.argv[2]) as g:
    assert np.array_equal(f["images"][()], g["images"][()])
    assert np.array_equal(f["labels"][()], g["labels"][()])
print("concat ok")
PY

echo "junk" > "$WORK/junk.h5"
expect_failure "not hdf5" "junk.h5" "$LAMINA" train "$WORK/run.yaml" --set data.name=hdf5 --set data.path="$WORK/junk.h5" --set data.test_path="$WORK/test.h5"
expect_failure "missing dataset" "pixels" "$LAMINA" train "$WORK/run.yaml" $h5 --set data.images=pixels
expect_failure "missing test_path" "data.test_path" "$LAMINA" train "$WORK/run.yaml" --set data.name=hdf5 --set data.path="$WORK/train.h5"
finish
