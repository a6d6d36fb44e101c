# Shared helpers for the command-line tests (sourced, not run).
set -u
LAMINA=${LMN_BINARY:?set by ctest}
MPIRUN=${LMN_MPIRUN:-mpirun --oversubscribe --allow-run-as-root --bind-to none}
DATA=${LMN_DATA_DIR:-/usr/share/datasets/fashion-mnist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_failure NAME PATTERN CMD...: CMD must exit non-zero, print PATTERN
# on stderr, and not crash (no signal, no sanitizer report).
expect_failure() {
  local name=$1 pattern=$2; shift 2
  local status=0
  "$@" > "$WORK/out" 2> "$WORK/err" || status=$?
  if (( status == 0 )); then fail "$name: exit status 0"; return; fi
  if (( status > 128 )); then fail "$name: killed by signal $((status - 128))"; return; fi
  if ! grep -q -- "$pattern" "$WORK/err"; then
    fail "$name: stderr lacks '$pattern':"; sed 's/^/    /' "$WORK/err" >&2; return
  fi
  if grep -q -E "AddressSanitizer|runtime error|Segmentation" "$WORK/err"; then
    fail "$name: crashed"; return
  fi
  echo "ok: $name -> $(grep -m1 -- "$pattern" "$WORK/err")"
}

# tiny_cnn_config SEED: the head of the config most of these tests train
# (seed, one thread, Fashion-MNIST, one strided convolution and a linear
# layer); a test appends its train: or fl: section.
tiny_cnn_config() {
  cat <<YAML
seed: $1
threads: 1
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 8, kernel: 5, stride: 2, activation: relu}
  - {type: flatten}
  - {type: linear, out: 10, init: glorot}
YAML
}

finish() {
  if (( failures )); then echo "$failures failure(s)" >&2; exit 1; fi
  echo "all passed"
}
