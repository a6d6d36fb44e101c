#!/usr/bin/env bash
# eval and export open the test set and the model only: with the training
# file of the run deleted they still work, and eval scores exactly what the
# run itself reported for its last epoch (on 1 and on 2 ranks).
source "$(dirname "$0")/testing.bash"

"$LAMINA" data convert fashion-mnist "$DATA" "$WORK/train.h5" > /dev/null || fail "convert train"
"$LAMINA" data convert fashion-mnist "$DATA" "$WORK/test.h5" --test > /dev/null || fail "convert test"
cat > "$WORK/run.yaml" <<YAML
seed: 2
threads: 1
data: {name: hdf5, path: $WORK/train.h5, test_path: $WORK/test.h5}
model:
  - {type: conv, out: 4, kernel: 5, stride: 2, activation: relu}
  - {type: flatten}
  - {type: linear, out: 10, init: glorot}
train: {epochs: 1, batch_size: 64, max_steps: 100, checkpoint_every: 1}
YAML
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --out "$WORK/run" > "$WORK/train.log" 2>&1 ||
  { cat "$WORK/train.log" >&2; fail "training run"; finish; }
checkpoint=$(ls "$WORK"/run/ckpt-*.h5 | sort | tail -n 1)
reported=$(/usr/bin/python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; print("%.4f %.4f" % (r["test_loss"], r["test_acc"]))' "$WORK/run/metrics.jsonl")
rm "$WORK/train.h5"

for ranks in 1 2; do
  $MPIRUN -n $ranks "$LAMINA" eval "$checkpoint" > "$WORK/eval.out" 2> "$WORK/eval.err" ||
    { cat "$WORK/eval.err" >&2; fail "eval on $ranks rank(s) without the training file"; continue; }
  scored=$(awk '/^test_loss/ {print $2, $4}' "$WORK/eval.out")
  [[ "$scored" == "$reported" ]] && echo "ok: eval on $ranks rank(s) without the training file: $scored" ||
    fail "eval on $ranks rank(s) scores '$scored', the run reported '$reported'"
done
"$LAMINA" export "$checkpoint" --format safetensors --out "$WORK/model.safetensors" > /dev/null 2> "$WORK/export.err" &&
  [[ -s "$WORK/model.safetensors" ]] && echo "ok: export without the training file" ||
  { cat "$WORK/export.err" >&2; fail "export without the training file"; }
# The test set is still needed, and its absence is named.
rm "$WORK/test.h5"
expect_failure "eval without the test file" "test.h5" "$LAMINA" eval "$checkpoint"
finish
