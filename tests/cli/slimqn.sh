#!/usr/bin/env bash
# SLIM-QN from the command line: bad keys and values are named; lazy and
# localsgd are refused with the reason; on a small conv net on 2 ranks,
# allreduce, overlap and multistep end with the same bits, a resumed
# run ends exactly where an uninterrupted one does (model and SLIM-QN
# history), and metrics.jsonl carries the optimizer's figures.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<YAML
seed: 5
threads: 1
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 6, kernel: 5, pad: 2, activation: relu}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, out: 32, activation: relu}
  - {type: linear, out: 10}
train: {epochs: 1, batch_size: 32, max_steps: 40, eval: false}
optimizer:
  name: slimqn
  lr: 0.02
  momentum: 0.9
  weight_decay: 0.0005
  slimqn: {history: 3, interval: 5}
YAML

train() { "$LAMINA" train "$@"; }
expect_failure "history 0" "optimizer.slimqn.history" train "$WORK/run.yaml" --out "$WORK/bad" --set optimizer.slimqn.history=0
expect_failure "damping 2" "optimizer.slimqn.damping" train "$WORK/run.yaml" --out "$WORK/bad" --set optimizer.slimqn.damping=2
expect_failure "interval text" "optimizer.slimqn.interval" train "$WORK/run.yaml" --out "$WORK/bad" --set optimizer.slimqn.interval=often
expect_failure "clip 0" "optimizer.slimqn.clip" train "$WORK/run.yaml" --out "$WORK/bad" --set optimizer.slimqn.clip=0
expect_failure "unknown key" "optimizer.slimqn.memory" train "$WORK/run.yaml" --out "$WORK/bad" --set optimizer.slimqn.memory=3
expect_failure "nesterov" "optimizer.nesterov" train "$WORK/run.yaml" --out "$WORK/bad" --set optimizer.nesterov=true
expect_failure "lazy" "lazy does not work with optimizer slimqn" train "$WORK/run.yaml" --out "$WORK/bad" --set parallel.strategy=lazy
expect_failure "localsgd" "localsgd does not work with optimizer slimqn" train "$WORK/run.yaml" --out "$WORK/bad" --set parallel.strategy=localsgd
[[ ! -e "$WORK/bad/metrics.jsonl" ]] || fail "a refused run wrote metrics"

digest() {  # /model and /optimizer (velocity and the SLIM-QN state) as one hash
  /usr/bin/python3 - "$1" <<'PY'
import hashlib, sys, h5py
h = hashlib.sha1()
def add(name, obj):
    if isinstance(obj, h5py.Dataset):
        h.update(name.encode()); h.update(obj[()].tobytes())
with h5py.File(sys.argv[1], "r") as f:
    f["model"].visititems(add); f["optimizer"].visititems(add)
    assert f["optimizer/slimqn/vectors"].shape[0] == 4 + 2 * 3, "pairs missing"
print(h.hexdigest())
PY
}
latest() { ls "$1"/ckpt-*.h5 2>/dev/null | sort | tail -n 1; }

# One rank: the run and its metrics (1 rank against P ranks bit for bit is
# tests/optim/mpitest_slimqn.c; the trainer's own gradient on 1 rank sums
# the batch in another order than 2 ranks do, whatever the optimizer).
train "$WORK/run.yaml" --out "$WORK/one" > "$WORK/one.log" 2>&1 || { fail "1 rank"; tail -3 "$WORK/one.log" >&2; }

two_ranks() {  # strategy out [--set ...]
  local strategy=$1 out=$2; shift 2
  $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --out "$WORK/$out" --set parallel.strategy=$strategy "$@" \
    > "$WORK/$out.log" 2>&1 || { fail "2 ranks $strategy ($out)"; tail -3 "$WORK/$out.log" >&2; }
}
two_ranks allreduce allreduce --set train.checkpoint_every_steps=40
reference=$(digest "$(latest "$WORK/allreduce")")
[[ -n "$reference" ]] || { fail "no checkpoint from allreduce"; finish; }
for strategy in overlap multistep; do
  two_ranks $strategy $strategy --set train.checkpoint_every_steps=40
  [[ "$(digest "$(latest "$WORK/$strategy")")" == "$reference" ]] \
    && echo "ok: $strategy = allreduce" || fail "$strategy differs from allreduce"
done
# multistep exchanging the fully connected layers' activations: each rank
# steps its rows (and their biases) of the weight matrices.
two_ranks multistep exchange --set parallel.fc_exchange=always --set train.checkpoint_every_steps=40
grep -q "activations" "$WORK/exchange/sync_plan.txt" || fail "fc_exchange=always did not exchange"
[[ "$(digest "$(latest "$WORK/exchange")")" == "$reference" ]] \
  && echo "ok: multistep with fc exchange = allreduce" || fail "multistep with fc exchange differs"

# Interrupted at step 17 (between pairs, mid-FIFO), resumed to 40.
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --out "$WORK/resumed" --set parallel.strategy=multistep \
  --set train.max_steps=17 --set train.checkpoint_every_steps=17 > /dev/null 2>&1 || fail "first half"
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --out "$WORK/resumed" --set parallel.strategy=multistep \
  --set train.checkpoint_every_steps=40 --resume auto > "$WORK/resumed.log" 2>&1 \
  || { fail "resume"; tail -3 "$WORK/resumed.log" >&2; }
[[ "$(digest "$(latest "$WORK/resumed")")" == "$reference" ]] \
  && echo "ok: resumed = uninterrupted" || fail "resumed run differs"

for key in slimqn_pairs slimqn_damping slimqn_clip slimqn_rejected optimizer_share; do
  grep -q "\"$key\":" "$WORK/one/metrics.jsonl" || fail "metrics lack $key"
done
grep -q '"slimqn_pairs":3' "$WORK/one/metrics.jsonl" || fail "metrics: 3 pairs expected"
finish
