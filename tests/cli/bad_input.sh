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
finish
