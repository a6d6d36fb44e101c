#!/usr/bin/env bash
# A stuck rank ends the job instead of hanging it (parallel.timeout_seconds):
# SIGSTOP one rank of two mid-training; the live rank names the step and
# the collective it waits in, rank 0 names the rank that did not report,
# the job exits non-zero within a bounded time, and no checkpoint is
# written or changed. Covered: allreduce, overlap (communication thread),
# local SGD, and `lamina fl` rounds; a stopped rank 0 as well as rank 1.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<YAML
seed: 3
threads: 1
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 4, kernel: 5, pad: 2}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, out: 10}
train: {epochs: 20, batch_size: 32, max_steps: 100000, checkpoint_every: 0,
        checkpoint_every_steps: 3000, keep_checkpoints: 100, eval: false}
optimizer: {lr: 0.01}
YAML
grep -v -E "^(train:|        )" "$WORK/run.yaml" > "$WORK/fl.yaml"

# The lamina process of rank RANK among the descendants of PID.
rank_pid() {
  local root=$1 rank=$2 pid
  for pid in $(pgrep -f "$LAMINA" ); do
    [[ -r /proc/$pid/environ ]] || continue
    if tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$rank" &&
       is_descendant "$pid" "$root"; then echo "$pid"; return 0; fi
  done
  return 1
}
is_descendant() {
  local pid=$1 root=$2
  while (( pid > 1 )); do
    (( pid == root )) && return 0
    pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || return 1
  done
  return 1
}
checkpoint_digests() { (cd "$1" && md5sum ckpt-*.h5 2>/dev/null | sort); }

# stuck_run NAME RANK PATTERN COMMAND...: starts COMMAND (an mpirun of 2
# ranks writing into $WORK/NAME), waits until its first checkpoint exists,
# stops rank RANK, and checks how the job ends.
stuck_run() {
  local name=$1 rank=$2 pattern=$3; shift 3
  local out="$WORK/$name"
  "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  local job=$!
  for _ in $(seq 600); do
    ls "$out"/ckpt-*.h5 > /dev/null 2>&1 && break
    [[ -s "$out/metrics.jsonl" ]] && break
    kill -0 $job 2> /dev/null || break
    sleep 0.1
  done
  # Past the checkpoint's write: the next is 3000 steps (seconds) away. At
  # 300, a loaded machine saw rank 0 stopped inside the next write, which
  # mpirun's SIGCONT + SIGTERM then let it finish, a new checkpoint.
  sleep 0.3
  local victim failed_before=$failures
  if ! victim=$(rank_pid "$job" "$rank"); then
    fail "$name: no process of rank $rank found"; kill $job; wait $job; return
  fi
  kill -STOP "$victim"
  sleep 1  # a checkpoint being written finishes before the live rank blocks
  checkpoint_digests "$out" > "$WORK/$name.before"
  local stopped_at=$SECONDS
  for _ in $(seq 900); do kill -0 $job 2> /dev/null || break; sleep 0.1; done
  if kill -0 $job 2> /dev/null; then
    fail "$name: the job still runs 90 s after rank $rank was stopped"
    kill -CONT "$victim"; kill -KILL "$victim"; kill $job; wait $job; return
  fi
  local status=0
  wait $job || status=$?
  kill -KILL "$victim" 2> /dev/null
  (( status != 0 )) || fail "$name: exit status 0"
  grep -q -E "lamina: watchdog: .*no progress for .* (step|round) [0-9]+; .*waiting in" \
      "$WORK/$name.err" || fail "$name: no report naming the step and the collective"
  grep -q -- "$pattern" "$WORK/$name.err" || fail "$name: stderr lacks '$pattern'"
  checkpoint_digests "$out" | diff -q - "$WORK/$name.before" > /dev/null ||
      fail "$name: checkpoints changed after rank $rank was stopped"
  if (( failures > failed_before )); then sed 's/^/    /' "$WORK/$name.err" >&2; fi
  echo "ok: $name ended in $((SECONDS - stopped_at)) s: $(grep -m1 'waiting in' "$WORK/$name.err")"
}

for strategy in allreduce overlap localsgd; do
  stuck_run "$strategy" 1 "no report within .* from rank(s) 1" \
    $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set parallel.strategy=$strategy \
      --set parallel.timeout_seconds=3 --out "$WORK/$strategy"
done
# A stopped rank 0: rank 1 reports and aborts on its own.
stuck_run rank0 0 "rank 1: aborting the job" \
  $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set parallel.timeout_seconds=3 --out "$WORK/rank0"
grep -q "communication thread: waiting in" "$WORK/overlap.err" ||
  fail "overlap: the communication thread's collective is not reported"

# Federated rounds (no checkpoints there: the job must simply end).
stuck_run fl 1 "federated round" \
  $MPIRUN -n 2 "$LAMINA" fl "$WORK/fl.yaml" --set fl.clients=4 --set fl.rounds=100000 \
    --set fl.local_steps=5 --set fl.batch_size=16 --set fl.eval_every=1000000 \
    --set parallel.timeout_seconds=3 --out "$WORK/fl"

for bad in -1 soon 1e10; do
  expect_failure "parallel.timeout_seconds=$bad refused" "parallel.timeout_seconds" \
    "$LAMINA" train "$WORK/run.yaml" --set parallel.timeout_seconds=$bad --out "$WORK/bad"
done
finish
