#!/usr/bin/env bash
# A key the configuration table does not know is refused before anything
# is loaded or built (issue 12): the data path below does not exist, so
# the unknown-key message, and no word of the missing data, shows that
# nothing was read. The message and suggestion are those of the check that
# runs after the network is built.
source "$(dirname "$0")/testing.bash"

missing="$WORK/no-such-data"
cat > "$WORK/typo.yaml" <<YAML
model: lenet
data: {name: fashion-mnist, path: $missing}
optimizer:
  lrr: 0.1
YAML
cat > "$WORK/nodata.yaml" <<YAML
model: lenet
data: {name: fashion-mnist, path: $missing}
train: {epochs: 1, batch_size: 32}
YAML

no_data_read() {
  if grep -q -- "no-such-data" "$WORK/err"; then fail "$1: the data was opened before the key check"; fi
}

expect_failure "file key" "typo.yaml:4: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)" \
  "$LAMINA" train "$WORK/typo.yaml"
no_data_read "file key"
expect_failure "--set key" "unknown key 'train.epochz' (did you mean 'train.epochs'?)" \
  "$LAMINA" train "$WORK/nodata.yaml" --set train.epochz=2
no_data_read "--set key"
expect_failure "misspelled section" "unknown key 'optimiser' (did you mean 'optimizer'?)" \
  "$LAMINA" train "$WORK/nodata.yaml" --set optimiser.lr=0.1
no_data_read "misspelled section"
expect_failure "no suggestion" "unknown key 'colour'$" "$LAMINA" train "$WORK/nodata.yaml" --set colour=red
no_data_read "no suggestion"
expect_failure "fl, two ranks" "unknown key 'fl.roundz' (did you mean 'fl.rounds'?)" \
  $MPIRUN -n 2 "$LAMINA" fl "$WORK/nodata.yaml" --set fl.roundz=3
no_data_read "fl, two ranks"

# Known keys pass the early check: the missing data is what fails here.
expect_failure "known keys load the data" "no-such-data" \
  "$LAMINA" train "$WORK/nodata.yaml" --set optimizer.lr=0.05
finish
