#!/usr/bin/env bash
# Nothing already written is lost, nothing silently wrong is accepted
# (issue 13, cases 1-5): a diverging run keeps its last good checkpoint; a
# fresh run refuses a directory that holds another run unless --overwrite;
# a refused resume and a resume of a finished run change nothing; export
# never replaces its checkpoint; NaN in input data or in a checkpoint is
# refused. Every refusal is checked against the md5 of every file that was
# in the output directory before.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<YAML
$(tiny_cnn_config 3)
train: {epochs: 1, batch_size: 64, max_steps: 3, checkpoint_every_steps: 1, eval: false}
optimizer: {lr: 0.05}
YAML
sed 's/out: 8/out: 4/' "$WORK/run.yaml" > "$WORK/other.yaml"
sed -e '/^train:/d' -e 's/^optimizer:.*/fl: {clients: 4, local_steps: 1, batch_size: 16, rounds: 1}\noptimizer: {lr: 0.05}/' \
  "$WORK/run.yaml" > "$WORK/fl.yaml"

snapshot() { (cd "$1" && find . -type f | sort | xargs md5sum); }
# unchanged NAME DIR: DIR holds exactly the files, with the contents, of $WORK/before.
unchanged() {
  if [[ "$(snapshot "$2")" != "$(cat "$WORK/before")" ]]; then fail "$1: the directory changed"; fi
}
train() { $MPIRUN -n 2 "$LAMINA" train "$@"; }

run=$WORK/run
train "$WORK/run.yaml" --out "$run" > /dev/null 2>&1 || fail "first run"
[[ -f $run/ckpt-000000000003.h5 ]] || fail "first run: no checkpoint"

# Case 2: a fresh run, of the same or another model, refuses the directory.
snapshot "$run" > "$WORK/before"
expect_failure "fresh run into a run" "already holds a run.*--overwrite" train "$WORK/run.yaml" --out "$run"
unchanged "fresh run into a run" "$run"
expect_failure "other model into a run" "already holds a run" train "$WORK/other.yaml" --out "$run" --set train.max_steps=1
unchanged "other model into a run" "$run"
expect_failure "overwrite with resume" "contradict" "$LAMINA" train "$WORK/run.yaml" --out "$run" --overwrite --resume auto
unchanged "overwrite with resume" "$run"
expect_failure "fl into a run" "already holds a run" "$LAMINA" fl "$WORK/fl.yaml" --out "$run"
unchanged "fl into a run" "$run"
# A refused resume (another model) writes no config.yaml or sync_plan.txt.
expect_failure "refused resume" "cannot resume" train "$WORK/other.yaml" --out "$run" --resume auto
unchanged "refused resume" "$run"
# A validation failure never touches the directory either.
expect_failure "bad key, resume" "no_such_key" train "$WORK/run.yaml" --out "$run" --resume auto --set train.no_such_key=1
unchanged "bad key, resume" "$run"

# A checkpoint of another run (file or directory) resumed into this run's
# directory would mix the two runs' files: refused. Into a new directory
# it continues there.
other=$WORK/other
train "$WORK/run.yaml" --out "$other" --set train.max_steps=2 > /dev/null 2>&1 || fail "second run"
expect_failure "another run's checkpoint into a run" "holds another run, and this checkpoint is not one of its own" \
  train "$WORK/run.yaml" --out "$run" --resume "$other/ckpt-000000000002.h5"
unchanged "another run's checkpoint into a run" "$run"
expect_failure "another run's directory into a run" "holds another run" \
  train "$WORK/run.yaml" --out "$run" --resume "$other"
unchanged "another run's directory into a run" "$run"
train "$WORK/run.yaml" --out "$WORK/branch" --resume "$other/ckpt-000000000001.h5" > "$WORK/branch.log" 2>&1 \
  || fail "resume into a new directory: $(tail -2 "$WORK/branch.log")"
[[ -s $WORK/branch/metrics.jsonl && -f $WORK/branch/ckpt-000000000003.h5 ]] \
  || fail "resume into a new directory: $(ls "$WORK/branch" 2>&1)"

# Case 3: resuming a run that already finished changes nothing, exit 0.
status=0
train "$WORK/run.yaml" --out "$run" --resume auto > "$WORK/finished.log" 2>&1 || status=$?
(( status == 0 )) || fail "resume of a finished run: exit status $status"
grep -q "nothing to do" "$WORK/finished.log" || fail "resume of a finished run: no message"
unchanged "resume of a finished run" "$run"

# Case 4: export never replaces its checkpoint or another HDF5 file.
expect_failure "export onto itself" "is the checkpoint being exported" "$LAMINA" export "$run/ckpt-000000000003.h5" --format safetensors --out "$run/ckpt-000000000003.h5"
unchanged "export onto itself" "$run"
expect_failure "export onto a checkpoint" "is an HDF5 file" "$LAMINA" export "$run/ckpt-000000000003.h5" --format safetensors --out "$run/ckpt-000000000002.h5"
unchanged "export onto a checkpoint" "$run"

# Case 1: a diverging resume keeps the last good checkpoint; rotation does
# not delete it, and a later --resume auto starts from it.
good=$(md5sum < "$run/ckpt-000000000003.h5")
expect_failure "diverging run" "non-finite" train "$WORK/run.yaml" --out "$run" --resume auto --set train.max_steps=10 --set train.keep_checkpoints=1 --set optimizer.lr=1e308
[[ "$(md5sum < "$run/ckpt-000000000003.h5" 2>/dev/null)" == "$good" ]] || fail "diverging run: the last good checkpoint is gone"
[[ "$(ls "$run"/ckpt-*.h5 | sort | tail -n 1)" == "$run/ckpt-000000000003.h5" ]] || fail "diverging run: a newer checkpoint was written"
train "$WORK/run.yaml" --out "$run" --resume auto --set train.max_steps=4 > "$WORK/after.log" 2>&1 || fail "resume after divergence"
grep -q "resuming from .*ckpt-000000000003.h5" "$WORK/after.log" || fail "resume after divergence: not from the good checkpoint"

# Case 2, continued: --overwrite replaces the run, old checkpoints included.
train "$WORK/run.yaml" --out "$run" --overwrite --set train.max_steps=2 > /dev/null 2>&1 || fail "--overwrite"
[[ "$(ls "$run"/ckpt-*.h5 | xargs -n1 basename | tr '\n' ' ')" == "ckpt-000000000001.h5 ckpt-000000000002.h5 " ]] \
  || fail "--overwrite kept the old run's checkpoints: $(ls "$run")"

# Case 5: NaN in a checkpoint is refused by eval and resume.
cp "$run/ckpt-000000000002.h5" "$WORK/nan.h5"
/usr/bin/python3 - "$WORK/nan.h5" <<'PY' || fail "poisoning a checkpoint"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    w = f["model/conv0.weight"]; values = w[()]; values.flat[:100] = np.nan; w[...] = values
PY
expect_failure "eval of a NaN checkpoint" "conv0.weight' holds 100 non-finite" "$LAMINA" eval "$WORK/nan.h5"
expect_failure "resume of a NaN checkpoint" "conv0.weight' holds 100 non-finite" train "$WORK/run.yaml" --out "$WORK/nan-run" --resume "$WORK/nan.h5" --set train.max_steps=5
[[ ! -e $WORK/nan-run ]] || fail "resume of a NaN checkpoint: the output directory was created"

# Case 5: float input data with NaN is refused when read (the loss stays
# finite: ReLU maps NaN to 0), in memory and out of core.
/usr/bin/python3 - "$WORK/nan_train.h5" <<'PY' || fail "writing NaN data"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["images"] = np.full((256, 1, 28, 28), np.nan, dtype=np.float32)
    f["labels"] = np.arange(256, dtype=np.int64) % 10
    f["images"].attrs["num_classes"] = 10
PY
nan_data="--set data.name=hdf5 --set data.path=$WORK/nan_train.h5 --set data.test_path=$WORK/nan_train.h5"
expect_failure "NaN images" "row 0 holds a non-finite value" train "$WORK/run.yaml" $nan_data --set data.in_memory=true --out "$WORK/nan_run"
[[ ! -e $WORK/nan_run ]] || fail "NaN images: the output directory was created"
expect_failure "NaN images, fl" "non-finite value" "$LAMINA" fl "$WORK/fl.yaml" $nan_data --out "$WORK/nan_fl"
expect_failure "NaN images, out of core" "non-finite value" train "$WORK/run.yaml" $nan_data --out "$WORK/nan_ooc"
finish
