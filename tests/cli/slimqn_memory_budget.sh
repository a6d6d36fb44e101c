#!/usr/bin/env bash
# train.max_memory_gb counts SLIM-QN's history before anything is written:
# each rank's slice of the pairs (2 x history x n / P floats, with the
# averages) is allocated at the first step and rank 0 gathers the history
# for a checkpoint, so a history that cannot fit is refused up front with
# its size named, and one that fits trains within the limit.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<YAML
$(tiny_cnn_config 4)
train: {epochs: 1, batch_size: 64, max_steps: 3, eval: false}
optimizer:
  name: slimqn
  lr: 0.01
  momentum: 0.9
  slimqn: {interval: 1}
YAML

# ~11.7k parameters: history 5000 needs ~0.24 GB per rank for the slice
# and ~0.47 GB more on rank 0 for a checkpoint, over a 0.5 GB limit.
expect_failure "history over train.max_memory_gb" \
  "train.max_memory_gb is 0.50 GB per rank.*SLIM-QN's state will take [0-9.]* GB (optimizer.slimqn.history 5000: 2 x 5000 pairs.*a smaller history" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set optimizer.slimqn.history=5000 \
  --set train.max_memory_gb=0.5 --out "$WORK/refused"
[[ ! -e $WORK/refused ]] || fail "refused: the output directory was created"

# History 1500 (~0.07 GB slice, ~0.14 GB on rank 0) fits: it trains, and
# no rank's peak RSS passes the limit.
$MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set optimizer.slimqn.history=1500 \
  --set train.max_memory_gb=0.5 --out "$WORK/fits" >"$WORK/fits.log" 2>&1 \
  || fail "history 1500 under train.max_memory_gb=0.5 was refused: $(tail -3 "$WORK/fits.log")"
if [[ -s $WORK/fits/metrics.jsonl ]]; then
  /usr/bin/python3 - "$WORK/fits/metrics.jsonl" <<'PY' || fail "history 1500: the run passed its memory limit"
import json, sys
last = [json.loads(line) for line in open(sys.argv[1])][-1]
assert last["slimqn_pairs"] >= 1, last
assert last["peak_rss_mb"] < 500, f"peak RSS {last['peak_rss_mb']} MB over the 0.5 GB limit"
print(f"ok: history 1500 trains, {last['slimqn_pairs']} pairs, peak RSS {last['peak_rss_mb']:.0f} MB")
PY
else
  fail "history 1500: no metrics"
fi
finish
