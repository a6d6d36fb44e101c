#!/usr/bin/env bash
# Every user mistake gives a clear message naming what is wrong and a
# non-zero exit, on one rank and on two.
source "$(dirname "$0")/testing.bash"

small="--set train.max_steps=3 --set train.eval=false --set threads=1"
cat > "$WORK/good.yaml" <<YAML
model: lenet
data: {name: fashion-mnist, path: $DATA}
train: {epochs: 1, batch_size: 32}
YAML

expect_failure "missing config" "nope.yaml" "$LAMINA" train "$WORK/nope.yaml"
expect_failure "unknown command" "unknown command 'trian'" "$LAMINA" trian
expect_failure "unknown option" "unknown option '--frobnicate'" "$LAMINA" train "$WORK/good.yaml" --frobnicate
expect_failure "missing data path" "$WORK/missing" "$LAMINA" train "$WORK/good.yaml" $small --set data.path="$WORK/missing"

printf 'model: lenet\noptimizer:\n  lrr: 0.1\n' > "$WORK/typo.yaml"
expect_failure "unknown key" "typo.yaml:3: unknown key 'optimizer.lrr'" "$LAMINA" train "$WORK/typo.yaml" $small
expect_failure "wrong type" "train.epochs" "$LAMINA" train "$WORK/good.yaml" --set train.epochs=many
expect_failure "negative lr" "optimizer.lr" "$LAMINA" train "$WORK/good.yaml" $small --set optimizer.lr=-1
expect_failure "unknown model" "resnet21" "$LAMINA" train "$WORK/good.yaml" --set model=resnet21

cat > "$WORK/shape.yaml" <<YAML
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 8, kernel: 5}
  - {type: conv, name: huge, out: 8, kernel: 40}
  - {type: flatten}
  - {type: linear, out: 10}
YAML
expect_failure "impossible shape" "layer 1 'huge' (conv)" "$LAMINA" train "$WORK/shape.yaml" $small

# Corrupted copies of the data: wrong magic, truncated images.
mkdir -p "$WORK/bad" "$WORK/short"
for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  cp "$DATA/$f.gz" "$WORK/bad/"; cp "$DATA/$f.gz" "$WORK/short/"
done
gunzip -c "$DATA/train-images-idx3-ubyte.gz" > "$WORK/images"
{ printf '\x00\x00\x08\x04'; tail -c +5 "$WORK/images"; } > "$WORK/bad/train-images-idx3-ubyte"
head -c 1000000 "$WORK/images" > "$WORK/short/train-images-idx3-ubyte"
expect_failure "wrong magic" "magic" "$LAMINA" train "$WORK/good.yaml" $small --set data.path="$WORK/bad"
expect_failure "truncated file" "short/train-images-idx3-ubyte" "$LAMINA" train "$WORK/good.yaml" $small --set data.path="$WORK/short"

# A learning rate that makes the loss overflow stops with the epoch and step.
expect_failure "diverging loss" "diverged: the loss is .* at epoch 1, step" \
  "$LAMINA" train "$WORK/good.yaml" --set train.max_steps=200 --set train.eval=false \
  --set threads=1 --set optimizer.lr=1e9 --set optimizer.weight_decay=0.0005 --out "$WORK/nan"

# Two ranks: the failing rank's message reaches the user, exit non-zero.
expect_failure "two ranks, missing data" "rank 0: .*$WORK/missing" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/good.yaml" $small --set data.path="$WORK/missing"
expect_failure "two ranks, diverging" "diverged" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/good.yaml" --set train.max_steps=200 --set train.eval=false \
  --set threads=1 --set optimizer.lr=1e9 --set optimizer.weight_decay=0.0005 --out "$WORK/nan2"
# Numbers too large to hold say so (issue 13).
expect_failure "integer overflow" "too large for a 64-bit integer" \
  "$LAMINA" train "$WORK/good.yaml" --set train.batch_size=9223372036854775808
expect_failure "float overflow" "optimizer.lr.*too large for a double" \
  "$LAMINA" train "$WORK/good.yaml" --set optimizer.lr=1e309
# The malformed-path message's own examples are accepted paths.
expect_failure "malformed path" "malformed key path 'a..b'.* e.g. optimizer.lr or model\[0\].kernel" \
  "$LAMINA" train "$WORK/good.yaml" --set a..b=1
cat > "$WORK/list.yaml" <<'YAML'
threads: 1
data: {name: synthetic, shape: [1, 8, 8], classes: 4, train_size: 40, test_size: 20}
model: [{type: conv, out: 4, kernel: 3}, {type: flatten}, {type: linear, out: 4}]
train: {epochs: 1, batch_size: 20, eval: false}
YAML
"$LAMINA" train "$WORK/list.yaml" --set 'model[0].kernel=5' --set optimizer.lr=0.01 --out "$WORK/list" \
  > "$WORK/list.log" 2>&1 || { fail "the example paths model[0].kernel and optimizer.lr are refused"; cat "$WORK/list.log" >&2; }
grep -q "kernel: 5" "$WORK/list/config.yaml" 2> /dev/null || fail "--set model[0].kernel=5 did not reach the run"
# Long text in a message (a file path, a key path, a value) is cut in its
# middle: the reason after it stays visible.
long=$(printf 'x%.0s' $(seq 1 3000))
deep="$WORK/$(printf 'd%.0s' $(seq 1 200))/$(printf 'e%.0s' $(seq 1 200))/$(printf 'f%.0s' $(seq 1 200))"
deep="$deep/$(printf 'g%.0s' $(seq 1 200))/$(printf 'h%.0s' $(seq 1 200))"
mkdir -p "$deep" && printf 'model: lenet\ntrain:\n  epochs: many\n' > "$deep/run.yaml"
expect_failure "long file path keeps the reason" "\[\.\.\.\]h*/run.yaml:3: key 'train.epochs': expected an integer, got 'many'" \
  "$LAMINA" train "$deep/run.yaml" --out "$WORK/long"
expect_failure "long value keeps the reason" "unknown value 'xxx*\[\.\.\.\]xxx*'; valid choices: lenet" \
  "$LAMINA" train "$WORK/good.yaml" --set "model=$long" --out "$WORK/long"
expect_failure "long key keeps the reason" "key 'model': is a single value, so it has no key 'xxx*\[\.\.\.\]xxx*'" \
  "$LAMINA" train "$WORK/good.yaml" --set "model.$long=1" --out "$WORK/long"
# An empty file key names the key, not "cannot read ''".
expect_failure "empty test_path" "key 'data.test_path': is empty" \
  "$LAMINA" train "$WORK/good.yaml" --set data.name=hdf5 --set data.path="$WORK/good.yaml" \
  --set data.test_path= --out "$WORK/empty_path"
# An empty config file is refused, naming the file, instead of training every default.
: > "$WORK/empty.yaml"
expect_failure "empty config" "empty.yaml: the configuration file holds no keys" \
  "$LAMINA" train "$WORK/empty.yaml" --out "$WORK/empty_run"
[[ ! -e "$WORK/empty_run" ]] || fail "the refused empty config created its output directory"
# Options: a missing value, before another option or at the end.
expect_failure "--set before --out" "option --set needs a value (KEY=VALUE), got the option '--out'" \
  "$LAMINA" train "$WORK/good.yaml" --set --out "$WORK/x"
expect_failure "--out at the end" "option --out needs a value" "$LAMINA" train "$WORK/good.yaml" --out
expect_failure "two configs" "unexpected argument" "$LAMINA" train "$WORK/good.yaml" "$WORK/good.yaml"
expect_failure "train has no --describe-partition" "unknown option '--describe-partition'" \
  "$LAMINA" train "$WORK/good.yaml" --describe-partition

# eval: --unset drops a key of the checkpoint's stored configuration, so a
# run on synthetic data can be evaluated on Fashion-MNIST.
cat > "$WORK/synthetic.yaml" <<'YAML'
threads: 1
data: {name: synthetic, shape: [1, 28, 28], classes: 10, train_size: 40, test_size: 20}
model: [{type: flatten}, {type: linear, out: 10}]
train: {epochs: 1, batch_size: 20, checkpoint_every: 1, eval: false}
YAML
"$LAMINA" train "$WORK/synthetic.yaml" --out "$WORK/synthetic" > /dev/null 2>&1 || fail "synthetic run failed"
checkpoint=$(ls "$WORK/synthetic"/ckpt-*.h5 2> /dev/null | tail -n 1)
expect_failure "eval: --unset an absent key" "--unset 'data.nope': the configuration has no key 'data.nope'" \
  "$LAMINA" eval "$checkpoint" --unset data.nope
expect_failure "eval: stored keys of another dataset" "unknown key 'data.shape'" \
  "$LAMINA" eval "$checkpoint" --set data.name=fashion-mnist --set data.path="$DATA"
"$LAMINA" eval "$checkpoint" --set data.name=fashion-mnist --set data.path="$DATA" --unset data.shape \
  --unset data.classes --unset data.train_size --unset data.test_size > "$WORK/eval.log" 2>&1 \
  || { fail "eval with --unset failed"; cat "$WORK/eval.log" >&2; }
grep -q "fashion-mnist test set (10000 samples)" "$WORK/eval.log" || fail "eval --unset did not evaluate on fashion-mnist"
finish
