#!/usr/bin/env bash
# Inputs that used to train without a word (issue 13, cases 6-8) are
# refused with a message naming the problem, before the output directory
# is touched.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<YAML
$(tiny_cnn_config 3)
train: {epochs: 1, batch_size: 64, max_steps: 2, eval: false}
YAML

# Case 6: a NUL byte ends the YAML text; what follows it (here an invalid
# key) must not be dropped silently.
{ printf 'seed: 3\n\0'; printf 'train: {no_such_key: 1}\n'; } > "$WORK/nul.yaml"
expect_failure "NUL byte in a config" "nul.yaml:2: a NUL byte" "$LAMINA" train "$WORK/nul.yaml" --out "$WORK/nul"
[[ ! -e $WORK/nul ]] || fail "NUL byte: the output directory was created"

# Case 7: same pixel count, another height x width.
/usr/bin/python3 - "$WORK/square.h5" "$WORK/wide.h5" <<'PY' || fail "writing the HDF5 sets"
import sys, h5py, numpy as np
for path, shape in ((sys.argv[1], (64, 1, 28, 28)), (sys.argv[2], (64, 1, 14, 56))):
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros(shape, dtype=np.uint8)
        f["labels"] = np.arange(64, dtype=np.int64) % 10
PY
expect_failure "train 28x28, test 14x56" "test samples of .* are .*14" "$LAMINA" train "$WORK/run.yaml" \
  --set data.name=hdf5 --set data.path="$WORK/square.h5" --set data.test_path="$WORK/wide.h5" --out "$WORK/shapes"
[[ ! -e $WORK/shapes ]] || fail "shapes: the output directory was created"

# Case 8: a global batch larger than the training set.
expect_failure "batch larger than the data" "global batch of 100000 .* larger than the 60000 training samples" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set train.batch_size=100000 --out "$WORK/batch"
[[ ! -e $WORK/batch ]] || fail "batch: the output directory was created"

# Case 8, second half: a batch that fits the data but not the node's
# memory is refused with the figures before anything is allocated or
# written (it used to be killed by the OOM killer at 12 GB). A wide first
# layer makes 30000 samples per rank need ~48 GB, over the default limit
# (this node's memory / its ranks) on any machine that runs these tests.
sed 's/out: 8, kernel: 5, stride: 2/out: 256, kernel: 3, pad: 1/' "$WORK/run.yaml" > "$WORK/wide.yaml"
expect_failure "step larger than the node's memory" \
  "the default: this node's memory / its ranks.*30000 samples per rank needs [0-9.]* GB" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/wide.yaml" --set train.batch_size=60000 --out "$WORK/memory"
[[ ! -e $WORK/memory ]] || fail "memory: the output directory was created"
expect_failure "step larger than train.max_memory_gb" \
  "train.max_memory_gb is 0.25 GB per rank; .*30000 samples per rank needs" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set train.batch_size=60000 \
  --set train.max_memory_gb=0.25 --out "$WORK/limit"
[[ ! -e $WORK/limit ]] || fail "limit: the output directory was created"
# A batch that fits the same limit trains.
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set train.batch_size=2000 --set train.max_steps=1 \
  --set train.max_memory_gb=0.25 --out "$WORK/fits" >"$WORK/fits.log" 2>&1 \
  || fail "train.max_memory_gb=0.25 refused a step that fits: $(tail -3 "$WORK/fits.log")"

# Case 9: concat of sets that declare different num_classes.
/usr/bin/python3 - "$WORK/ten.h5" "$WORK/twelve.h5" <<'PY' || fail "writing the concat inputs"
import sys, h5py, numpy as np
for path, classes in ((sys.argv[1], 10), (sys.argv[2], 12)):
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((8, 1, 4, 4), dtype=np.uint8)
        f["labels"] = np.arange(8, dtype=np.int64) + classes - 8
        f.attrs["num_classes"] = classes
PY
expect_failure "concat of 10 and 12 classes" "twelve.h5' declares num_classes 12 but .*ten.h5' declares 10" \
  "$LAMINA" data concat "$WORK/joined.h5" "$WORK/ten.h5" "$WORK/twelve.h5"
[[ ! -e $WORK/joined.h5 ]] || fail "concat: the output was written"

# Unclear message: --set missing its value before --out.
expect_failure "--set without a value" "option --set needs a value (KEY=VALUE), got the option '--out'" \
  "$LAMINA" train "$WORK/run.yaml" --set --out "$WORK/unset"
[[ ! -e $WORK/unset ]] || fail "--set without a value: the output directory was created"
finish
