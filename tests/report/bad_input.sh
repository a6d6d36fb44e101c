#!/usr/bin/env bash
# lamina report on bad input: a directory without metrics, a truncated last
# line, a run that does not exist, regression next to classification. Each
# is named on stderr and on the page, and what can be drawn is drawn; only
# when nothing can be drawn does the command fail (and write nothing).
source "$(dirname "$0")/../cli/testing.bash"

cat > "$WORK/class.yaml" <<YAML
seed: 4
threads: 1
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 4, kernel: 5, pad: 2, bias: false}
  - {type: batchnorm, activation: relu}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, out: 10}
train: {epochs: 2, batch_size: 500, max_steps: 30, eval_batch_size: 2000}
optimizer: {lr: 0.05, momentum: 0.9}
YAML
cat > "$WORK/regression.yaml" <<YAML
seed: 2
threads: 1
task: regression
loss: mse
data: {name: grf-cubes, shape: [1, 16, 16, 16], train_size: 32, test_size: 16}
model: {name: cosmoflow, filters: 4, conv_blocks: 0}
train: {epochs: 3, batch_size: 8}
optimizer: {lr: 0.001, momentum: 0.9}
YAML
"$LAMINA" train "$WORK/class.yaml" --out "$WORK/class" > "$WORK/class.log" 2>&1 || fail "classification run failed"
"$LAMINA" train "$WORK/regression.yaml" --out "$WORK/regression" > "$WORK/regression.log" 2>&1 || fail "regression run failed"
records=$(grep -c . "$WORK/class/metrics.jsonl")

# series_in PAGE CHART_ID: the curves drawn in one chart.
series_in() {
  awk -v id="id=\"$2\"" 'index($0, "<svg " id) { inside = 1 } inside && /class="series"/ { n++ }
    inside && /<\/svg>/ { inside = 0 } END { print n + 0 }' "$1"
}
# report_ok NAME PATTERN DIRS...: exit 0, PATTERN on stderr and on the page.
report_ok() {
  local name=$1 pattern=$2; shift 2
  if ! "$LAMINA" report "$@" --out "$WORK/$name.html" > "$WORK/out" 2> "$WORK/err"; then
    fail "$name: lamina report failed: $(cat "$WORK/err")"; return 1
  fi
  grep -q -- "$pattern" "$WORK/err" || { fail "$name: stderr lacks '$pattern': $(cat "$WORK/err")"; return 1; }
  grep -q -- "$pattern" "$WORK/$name.html" || { fail "$name: the page does not say '$pattern'"; return 1; }
  echo "ok: $name -> $(grep -m1 -- "$pattern" "$WORK/err")"
}

# A run directory without metrics (a run that never started) beside a good one.
mkdir -p "$WORK/empty"
cp "$WORK/class/config.yaml" "$WORK/empty/"
report_ok no_metrics "empty/metrics.jsonl: No such file" "$WORK/empty" "$WORK/class" \
  && [[ $(series_in "$WORK/no_metrics.html" acc-step) == 1 ]] || fail "no_metrics: the good run is not drawn"

# A truncated last line (a job killed while writing): the complete records stay.
mkdir -p "$WORK/truncated"
cp "$WORK/class/config.yaml" "$WORK/truncated/"
cat "$WORK/class/metrics.jsonl" > "$WORK/truncated/metrics.jsonl"
head -n 1 "$WORK/class/metrics.jsonl" | head -c 77 >> "$WORK/truncated/metrics.jsonl"
report_ok truncated "metrics.jsonl:$((records + 1)): .*truncated" "$WORK/truncated" \
  && grep -q "$records record" "$WORK/truncated.html" || fail "truncated: the $records complete records are not all kept"

# A run directory that does not exist, beside a good one.
report_ok missing_dir "no-such-run: not a run directory" "$WORK/no-such-run" "$WORK/class"

# Regression next to classification: separate charts, said so.
report_ok mixed "different kinds, drawn in separate charts: classification (class) and regression (regression)" \
  "$WORK/class" "$WORK/regression"
[[ $(series_in "$WORK/mixed.html" acc-step) == 1 && $(series_in "$WORK/mixed.html" mse-step) == 1 ]] \
  || fail "mixed: expected 1 accuracy curve and 1 MSE curve"

# Nothing to draw: an error, and no file.
expect_failure "nothing to draw" "none of the 2 run directories has metrics" \
  "$LAMINA" report "$WORK/empty" "$WORK/no-such-run" --out "$WORK/none.html"
[[ ! -e "$WORK/none.html" ]] || fail "nothing to draw: a page was written"
expect_failure "no --out" "missing --out" "$LAMINA" report "$WORK/class"
expect_failure "no run" "missing RUN_DIR" "$LAMINA" report --out "$WORK/x.html"
expect_failure "unwritable output" "cannot write the report" "$LAMINA" report "$WORK/class" --out "$WORK/no-dir/x.html"
finish
