#!/usr/bin/env bash
# After a resume inside an epoch, that epoch's metrics line counts the
# communication of the whole epoch (the part before the checkpoint comes
# with it, issue 13): comm_bytes equals an uninterrupted run's, on 2 ranks.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<'YAML'
threads: 1
data: {name: synthetic, shape: [1, 8, 8], classes: 4, train_size: 400, test_size: 20}
model: [{type: flatten}, {type: linear, out: 16}, {type: relu}, {type: linear, out: 4}]
train: {epochs: 2, batch_size: 20, eval: false, checkpoint_every: 1}
YAML

# comm_bytes of epoch E in the last line metrics.jsonl of DIR has for it.
comm_bytes() {
  grep "\"epoch\": *$2[,}]" "$1/metrics.jsonl" | tail -n 1 | sed -E 's/.*"comm_bytes": *([0-9.e+]+).*/\1/'
}

$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --out "$WORK/whole" > "$WORK/whole.log" 2>&1 \
  || { fail "uninterrupted run failed"; tail -3 "$WORK/whole.log" >&2; }
# Stop after 7 of the 20 steps of epoch 1, then resume to the end.
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set train.max_steps=7 --out "$WORK/split" \
  > "$WORK/first.log" 2>&1 || { fail "first part failed"; tail -3 "$WORK/first.log" >&2; }
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --resume auto --out "$WORK/split" \
  > "$WORK/second.log" 2>&1 || { fail "resumed part failed"; tail -3 "$WORK/second.log" >&2; }

whole=$(comm_bytes "$WORK/whole" 1)
split=$(comm_bytes "$WORK/split" 1)
[[ -n "$whole" && "$whole" != 0 ]] || fail "no comm_bytes for epoch 1 in the uninterrupted run"
[[ "$whole" == "$split" ]] || fail "epoch 1 comm_bytes: $whole uninterrupted, $split after the resume"
[[ "$(comm_bytes "$WORK/whole" 2)" == "$(comm_bytes "$WORK/split" 2)" ]] || fail "epoch 2 comm_bytes differ"
echo "ok: epoch 1 comm_bytes $whole with and without the resume"
finish
