#!/usr/bin/env bash
# A model of 300,000 layers is read and built in time linear in its size
# (layer-name lookups were a scan of every earlier layer, and every config
# string an aligned allocation: 300,000 layers took minutes). The bound is
# generous (about 12 s are needed in a release build); the old code
# needed more than 165 s. Name references still resolve, and duplicate
# and unknown names are still refused.
source "$(dirname "$0")/testing.bash"

{
  echo "threads: 1"
  echo "data: {name: synthetic, shape: [1, 4, 4], classes: 16, train_size: 16, test_size: 16}"
  echo "train: {epochs: 1, batch_size: 8, max_steps: 1, eval: false}"
  echo "model:"
  echo "  - {type: flatten, name: flat}"
  yes "  - {type: relu}" | head -n 300000
  echo "  - {type: add, skip: flat}"
} > "$WORK/deep.yaml"
status=0 started=$SECONDS
timeout 150 "$LAMINA" train "$WORK/deep.yaml" --out "$WORK/deep" > "$WORK/deep.out" 2> "$WORK/deep.err" || status=$?
if (( status == 124 )); then fail "300,000 layers: not built within 150 s"
elif (( status != 0 )); then fail "300,000 layers: exit $status"; sed 's/^/    /' "$WORK/deep.err" >&2
else echo "ok: 300,000 layers built and trained one step in $((SECONDS - started)) s"; fi

layers() {  # layers LAYER...: a config whose model is the given layer maps
  echo "threads: 1"
  echo "data: {name: synthetic, shape: [1, 4, 4], classes: 16, train_size: 16, test_size: 16}"
  echo "train: {epochs: 1, batch_size: 8, max_steps: 1, eval: false}"
  echo "model:"
  for layer in "$@"; do echo "  - $layer"; done
}
layers "{type: flatten, name: f}" "{type: relu, name: a}" "{type: relu}" "{type: relu, input: f}" \
  "{type: add, skip: relu2}" "{type: add, skip: a}" > "$WORK/named.yaml"
if "$LAMINA" train "$WORK/named.yaml" --out "$WORK/named" > /dev/null 2> "$WORK/named.err"; then
  echo "ok: input and skip name earlier layers, given and generated names alike"
else
  fail "named references refused:"; sed 's/^/    /' "$WORK/named.err" >&2
fi
layers "{type: flatten, name: f}" "{type: relu, name: f}" > "$WORK/twice.yaml"
expect_failure "a name used twice" "layer name 'f' is used twice" "$LAMINA" train "$WORK/twice.yaml" --out "$WORK/twice"
layers "{type: flatten, name: f}" "{type: add, skip: g}" > "$WORK/unknown.yaml"
expect_failure "an unknown skip" "no earlier layer is called 'g'" "$LAMINA" train "$WORK/unknown.yaml" --out "$WORK/unknown"
finish
