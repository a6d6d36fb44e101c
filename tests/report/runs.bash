# Small real runs for the report tests (sourced after cli/testing.bash):
# make_train_run DIR STRATEGY [--set ...] and make_fl_run DIR AGGREGATOR
# train a small convolutional network on Fashion-MNIST on 2 ranks.

write_small_configs() {
  cat > "$WORK/small.yaml" <<YAML
seed: 5
threads: 1
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 6, kernel: 5, pad: 2, bias: false}
  - {type: batchnorm, activation: relu}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, out: 10}
train: {epochs: 3, batch_size: 500, eval_batch_size: 2000}
optimizer: {lr: 0.05, momentum: 0.9}
YAML
  cat > "$WORK/small-fl.yaml" <<YAML
seed: 5
threads: 1
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 6, kernel: 5, pad: 2, bias: false}
  - {type: batchnorm, activation: relu}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, out: 10}
fl: {clients: 20, active_ratio: 0.5, partition: dirichlet, alpha: 0.5, local_steps: 5,
     batch_size: 32, rounds: 12, phi: 2, relax_after: 2, eval_every: 2}
optimizer: {lr: 0.05, momentum: 0.9}
YAML
}

make_train_run() {  # DIR STRATEGY [lamina train options]
  local dir=$1 strategy=$2; shift 2
  $MPIRUN -n 2 "$LAMINA" train "$WORK/small.yaml" --out "$dir" --set parallel.strategy="$strategy" "$@" \
    > "$dir.log" 2>&1 || { fail "training run $dir failed:"; tail -n 5 "$dir.log" >&2; }
}

make_fl_run() {  # DIR AGGREGATOR
  $MPIRUN -n 2 "$LAMINA" fl "$WORK/small-fl.yaml" --out "$1" --set fl.aggregator="$2" \
    > "$1.log" 2>&1 || { fail "federated run $1 failed:"; tail -n 5 "$1.log" >&2; }
}
