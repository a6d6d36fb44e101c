#!/usr/bin/env bash
# Training and a federated simulation under a real (one-node) Slurm survive
# preemption: the example job script (scripts/slurm/lamina.sbatch) runs 2
# tasks with srun; mid-run the test sends the batch shell USR1 as Slurm does
# before a time limit (--signal=B:USR1@...), the ranks checkpoint, the script
# requeues the job, and the requeued job continues with --resume auto. Its
# final metrics and final model must equal, bit for bit, those of an
# uninterrupted job. Skipped (77) where Slurm or munge are not installed or
# cannot start here.
source "$(dirname "$0")/../cli/testing.bash"
source "$(dirname "$0")/one_node.bash"
JOB_SCRIPT=${LMN_SOURCE_DIR:?set by ctest}/scripts/slurm/lamina.sbatch

trap 'slurm_stop; rm -rf "$WORK"' EXIT
trap 'exit 143' TERM INT  # a ctest timeout still stops the daemons
slurm_start "$WORK/slurm" || exit $?
echo "one-node Slurm up: $(sinfo -h -o '%N %c CPUs %m MB %T')"
cpus=$(sinfo -h -o %c | head -n 1)
(( cpus >= 2 )) || { echo "SKIP: the job needs 2 CPUs, this node has $cpus" >&2; exit 77; }

model='model:
  - {type: conv, out: 8, kernel: 5, pad: 2, bias: false}
  - {type: batchnorm, activation: relu}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, out: 10, init: glorot}'
cat > "$WORK/train.yaml" <<YAML
seed: 3
data: {name: fashion-mnist, path: $DATA}
$model
train: {epochs: 2, batch_size: 64, max_steps: 1200, checkpoint_every: 1, checkpoint_every_steps: 100}
optimizer: {lr: 0.05, momentum: 0.9}
YAML
cat > "$WORK/fl.yaml" <<YAML
seed: 3
data: {name: fashion-mnist, path: $DATA}
$model
fl: {clients: 20, active_ratio: 0.5, partition: dirichlet, alpha: 0.5, local_steps: 5, batch_size: 32,
     rounds: 40, aggregator: fedlama, phi: 2, relax_after: 2, eval_every: 5, checkpoint_every: 2}
optimizer: {lr: 0.05, momentum: 0.9}
YAML
export LAMINA LAMINA_MPI=pmix

# submit COMMAND NAME: the job's id; its output in $WORK/NAME.out.
submit() {
  sbatch --parsable --chdir="$WORK" --output="$WORK/$2.out" --job-name="lamina-$2" \
    "$JOB_SCRIPT" "$1" "$WORK/$1.yaml" "$WORK/$2" | cut -d';' -f1
}
job_field() { scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# await_state JOB STATE SECONDS
await_state() {
  local state
  for _ in $(seq $((10 * $3))); do
    state=$(job_field "$1" JobState)
    [[ $state == "$2" ]] && return 0
    [[ $state == FAILED || $state == CANCELLED || $state == TIMEOUT || $state == NODE_FAIL ]] && break
    sleep 0.1
  done
  echo "job $1: state '$state', expected $2; its output:" >&2
  sed 's/^/    /' "$WORK"/*.out >&2 2>/dev/null
  return 1
}
latest() { ls "$1"/ckpt-*.h5 2>/dev/null | sort | tail -n 1; }
# The last record's fields that do not measure time, as written (shortest
# round-trip text, so equal text is equal bits).
final_record() {
  tail -n 1 "$1/metrics.jsonl" | tr -d '{}' | tr ',' '\n' | grep -E "^\"($2)\":"
}

# preempt_and_compare COMMAND FIELDS: an uninterrupted job, then one sent USR1
# once a checkpoint shows that it is under way; both must end alike.
preempt_and_compare() {
  local command=$1 fields=$2 straight requeued restarts
  straight=$(submit "$command" "$command-straight")
  await_state "$straight" COMPLETED 900 || { fail "$command: the uninterrupted job did not complete"; return; }
  requeued=$(submit "$command" "$command-requeued")
  for _ in $(seq 3000); do [[ -n "$(latest "$WORK/$command-requeued")" ]] && break; sleep 0.1; done
  [[ -n "$(latest "$WORK/$command-requeued")" ]] || fail "$command: the job never wrote a checkpoint"
  [[ $(job_field "$requeued" JobState) == RUNNING ]] || fail "$command: the job was not running when it was to be preempted"
  scancel --batch --signal=USR1 "$requeued"
  await_state "$requeued" COMPLETED 900 || { fail "$command: the requeued job did not complete"; return; }

  local out=$WORK/$command-requeued.out
  restarts=$(job_field "$requeued" Restarts)
  (( ${restarts:-0} >= 1 )) || fail "$command: the job was not requeued (Restarts=$restarts)"
  grep -q "stopped by signal" "$out" || fail "$command: no rank stopped on the signal"
  grep -q "requeueing job" "$out" || fail "$command: the job script did not requeue"
  grep -q "resuming from" "$out" || fail "$command: the requeued job did not resume from the checkpoint"
  echo "$command: job $requeued requeued $restarts time(s); $(grep -m1 'stopped by signal' "$out")"
  local a b
  a=$(final_record "$WORK/$command-straight" "$fields")
  b=$(final_record "$WORK/$command-requeued" "$fields")
  if [[ -z $a || $a != "$b" ]]; then
    fail "$command: final metrics differ:"; diff <(echo "$a") <(echo "$b") >&2
  else
    echo "$command: final metrics equal: $(echo "$b" | tr '\n' ' ')"
  fi
}

preempt_and_compare train "epoch|step|lr|batch_size|train_loss|train_acc|test_loss|test_acc|comm_bytes"
# A model's bits, through lamina's own export of the final checkpoint.
model_hash() {
  "$LAMINA" export "$1" --format safetensors --out "$2" > /dev/null 2>&1 && sha1sum < "$2" | cut -d' ' -f1
}
a=$(model_hash "$(latest "$WORK/train-straight")" "$WORK/straight.safetensors")
b=$(model_hash "$(latest "$WORK/train-requeued")" "$WORK/requeued.safetensors")
[[ -n $a && $a == "$b" ]] && echo "train: final models equal ($a)" || fail "train: final models differ ($a vs $b)"

# The federated record carries the server model's checksum (FNV-1a of its bits).
preempt_and_compare fl "round|test_acc|test_loss|train_loss|lr|cum_comm_bytes|relaxed_layers|active_clients|model_checksum"
finish
