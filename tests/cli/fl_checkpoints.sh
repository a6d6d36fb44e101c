#!/usr/bin/env bash
# lamina fl survives interruption: a stop signal (SIGTERM to one rank or
# to all, SIGUSR1 to mpirun) ends the run after the round in progress with
# a checkpoint and exit 0, and --resume auto then ends exactly where the
# uninterrupted run does (metrics lines, server model and the whole fl
# state, bit for bit) for fedavg, fedlama and partial. SIGTERM to Open
# MPI's mpirun makes mpirun itself kill the job after a grace period: the
# directory must still resume to the same end. kill -9 while a checkpoint
# is written every round leaves a directory that resumes to the same end,
# also on another rank count; the run-directory rules hold.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/fl.yaml" <<YAML
$(tiny_cnn_config 7)
fl: {clients: 12, active_ratio: 0.5, local_steps: 4, batch_size: 16, rounds: 24,
     eval_every: 3, eval_batch_size: 1000, phi: 2, relax_after: 1,
     keep_client_optimizer: true}
optimizer: {lr: 0.05, momentum: 0.9}
YAML

# Metrics without what differs between runs of the same computation.
strip() { /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    for k in ("seconds", "elapsed_seconds", "peak_rss_bytes") + tuple(sys.argv[2:]): r.pop(k, None)
    print(json.dumps(r, sort_keys=True))' "$@"; }
# The final checkpoint's server model and fl state, as one hash (less
# [3], rank 0's MPI bytes, which depend on the rank count).
state_digest() {
  /usr/bin/python3 - "$1" <<'PY'
import hashlib, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    h = hashlib.sha1()
    for name in sorted(f["model"]):
        h.update(name.encode()); h.update(f["model"][name][()].tobytes())
    state = f["policy_state"][()]
    state[3] = 0
    h.update(state.tobytes())
    print(h.hexdigest())
PY
}
latest() { ls "$1"/ckpt-*.h5 2>/dev/null | sort | tail -n 1; }
rounds_written() { [[ -f "$1/metrics.jsonl" ]] && wc -l < "$1/metrics.jsonl" || echo 0; }
# Waits until DIR's metrics hold at least N rounds, at most 120 s.
await_rounds() {
  for _ in $(seq 1200); do (( $(rounds_written "$1") >= $2 )) && return 0; sleep 0.1; done
  return 1
}
# same NAME DIR [KEY]: DIR ended exactly where the straight run of NAME
# did (KEY: a metric left out, for runs on another rank count).
same() {
  strip "$2/metrics.jsonl" ${3:-} > "$2.txt"
  strip "$WORK/straight-$1/metrics.jsonl" ${3:-} > "$WORK/straight-$1.txt"
  cmp -s "$WORK/straight-$1.txt" "$2.txt" || { fail "$2: metrics differ from the straight $1 run";
    diff "$WORK/straight-$1.txt" "$2.txt" | head -4 >&2; return; }
  [[ "$(state_digest "$(latest "$2")")" == "${digest[$1]}" ]] || { fail "$2: final state differs"; return; }
  echo "ok: $(basename "$2") == straight $1 ($(wc -l < "$2.txt") rounds)"
}

declare -A digest
for agg in fedavg fedlama partial; do
  $MPIRUN -n 2 "$LAMINA" fl "$WORK/fl.yaml" --set fl.aggregator=$agg --out "$WORK/straight-$agg" \
    > "$WORK/straight-$agg.log" 2>&1 || { fail "straight $agg failed"; tail -3 "$WORK/straight-$agg.log" >&2; }
  digest[$agg]=$(state_digest "$(latest "$WORK/straight-$agg")")
  [[ "$(basename "$(latest "$WORK/straight-$agg")")" == ckpt-000000000024.h5 ]] \
    || fail "straight $agg: no checkpoint of the last round"
done
grep -q '"relaxed_layers":\["' "$WORK/straight-fedlama/metrics.jsonl" || fail "FedLAMA never relaxed a layer"

# interrupt AGG HOW DIR: starts AGG on 2 ranks, sends the stop once two
# rounds are done, expects exit 0, a checkpoint and fewer than all rounds.
# HOW: rank (SIGTERM to one rank), ranks (to both), USR1 or TERM (to mpirun).
interrupt() {
  local agg=$1 how=$2 dir=$3 status=0
  $MPIRUN -n 2 "$LAMINA" fl "$WORK/fl.yaml" --set fl.aggregator=$agg --out "$dir" > "$dir.log" 2>&1 &
  local pid=$!
  await_rounds "$dir" 2 || fail "$dir: no round within 120 s"
  local ranks; ranks=$(pgrep -P $pid)
  case $how in
    rank) kill -TERM ${ranks%%$'\n'*} ;;
    ranks) kill -TERM $ranks ;;
    *) kill -"$how" $pid ;;
  esac
  wait $pid || status=$?
  [[ $how == TERM ]] && return  # mpirun's own kill: only the resume below is checked
  (( status == 0 )) || fail "$dir: exit status $status after SIG$how"
  grep -q "stopped by signal after round" "$dir.log" || fail "$dir: no stop message"
  (( $(rounds_written "$dir") < 24 )) || fail "$dir: the signal came too late to test anything"
  [[ -n "$(latest "$dir")" ]] || fail "$dir: no checkpoint"
}

interrupt fedavg USR1 "$WORK/usr1-fedavg"
interrupt fedlama rank "$WORK/term-fedlama"
interrupt partial ranks "$WORK/term-partial"
interrupt fedlama TERM "$WORK/mpirun-fedlama"
for run in usr1-fedavg term-fedlama term-partial mpirun-fedlama; do
  agg=${run#*-}
  $MPIRUN -n 2 "$LAMINA" fl "$WORK/fl.yaml" --set fl.aggregator=$agg --out "$WORK/$run" --resume auto \
    > "$WORK/$run-resumed.log" 2>&1 || { fail "$run: resume failed"; tail -3 "$WORK/$run-resumed.log" >&2; }
  [[ $run == mpirun-* ]] || grep -q "resuming from" "$WORK/$run-resumed.log" \
    || fail "$run: --resume auto found no checkpoint"
  same "$agg" "$WORK/$run"
done

# kill -9 while every round writes a checkpoint (one process: nothing of
# the run survives it), then resume on 2 ranks: the sums are exact, so the
# rank count does not change the result.
for delay in 0.05 0.5; do
  dir="$WORK/k9-$delay"
  "$LAMINA" fl "$WORK/fl.yaml" --set fl.aggregator=fedlama --set fl.checkpoint_every=1 --out "$dir" \
    > /dev/null 2>&1 &
  pid=$!
  await_rounds "$dir" 3; sleep $delay; kill -9 $pid; wait $pid 2>/dev/null || true
  $MPIRUN -n 2 "$LAMINA" fl "$WORK/fl.yaml" --set fl.aggregator=fedlama --set fl.checkpoint_every=1 \
    --out "$dir" --resume auto > "$dir-resumed.log" 2>&1 \
    || { fail "resume after kill -9 ($delay s) failed"; tail -3 "$dir-resumed.log" >&2; continue; }
  same fedlama "$dir" mpi_bytes
  (( $(ls "$dir"/ckpt-*.h5 | wc -l) == 3 )) || fail "$dir: fl.keep_checkpoints 3 not applied"
done

# Resuming a finished run changes nothing.
before=$(md5sum < "$WORK/straight-fedavg/metrics.jsonl")
$MPIRUN -n 2 "$LAMINA" fl "$WORK/fl.yaml" --set fl.aggregator=fedavg --out "$WORK/straight-fedavg" \
  --resume auto > "$WORK/again.log" 2>&1 || fail "resuming a finished run failed"
grep -q "nothing to do" "$WORK/again.log" || fail "finished run: no 'nothing to do'"
[[ "$(md5sum < "$WORK/straight-fedavg/metrics.jsonl")" == "$before" ]] || fail "finished run: metrics changed"

# The run-directory rules: a fresh run refuses a directory holding a run;
# a checkpoint of another configuration is refused by name.
expect_failure "fresh fl over a run" "already holds a run" \
  "$LAMINA" fl "$WORK/fl.yaml" --out "$WORK/straight-fedavg"
expect_failure "resume with other clients" "fl.clients" \
  "$LAMINA" fl "$WORK/fl.yaml" --set fl.aggregator=fedavg --set fl.clients=10 \
  --out "$WORK/other" --resume "$WORK/straight-fedavg"
sed -e '/^fl:/,/keep_client/d' "$WORK/fl.yaml" > "$WORK/train.yaml"
echo "train: {epochs: 1, max_steps: 2, checkpoint_every_steps: 2, eval: false}" >> "$WORK/train.yaml"
"$LAMINA" train "$WORK/train.yaml" --out "$WORK/train" > "$WORK/train.log" 2>&1 || fail "train run failed"
expect_failure "resume a train checkpoint" "holds no lamina fl state" \
  "$LAMINA" fl "$WORK/fl.yaml" --out "$WORK/other2" --resume "$WORK/train"

finish
