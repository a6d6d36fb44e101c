#!/usr/bin/env bash
# Training under a real (one-node) Slurm survives preemption: the example
# job script (scripts/slurm/train.sbatch) runs 2 tasks with srun; mid-run the
# test sends the batch shell USR1 as Slurm does before a time limit
# (--signal=B:USR1@...), the ranks checkpoint, the script requeues the job,
# and the requeued job continues with --resume auto. Its final metrics and
# final model must equal, bit for bit, those of an uninterrupted job.
# Skipped (77) where Slurm or munge are not installed or cannot start here.
source "$(dirname "$0")/../cli/testing.bash"
source "$(dirname "$0")/one_node.bash"
JOB_SCRIPT=${LMN_SOURCE_DIR:?set by ctest}/scripts/slurm/train.sbatch

trap 'slurm_stop; rm -rf "$WORK"' EXIT
slurm_start "$WORK/slurm" || exit $?
echo "one-node Slurm up: $(sinfo -h -o '%N %c CPUs %m MB %T')"
cpus=$(sinfo -h -o %c | head -n 1)
(( cpus >= 2 )) || { echo "SKIP: the job needs 2 CPUs, this node has $cpus" >&2; exit 77; }

cat > "$WORK/run.yaml" <<YAML
seed: 3
data: {name: fashion-mnist, path: $DATA}
model:
  - {type: conv, out: 8, kernel: 5, pad: 2, bias: false}
  - {type: batchnorm, activation: relu}
  - {type: maxpool}
  - {type: flatten}
  - {type: linear, out: 10, init: glorot}
train: {epochs: 2, batch_size: 64, max_steps: 1200, checkpoint_every: 1, checkpoint_every_steps: 100}
optimizer: {lr: 0.05, momentum: 0.9}
YAML
export LAMINA LAMINA_MPI=pmix

# submit NAME: the job's id; its output in $WORK/NAME.out.
submit() {
  sbatch --parsable --chdir="$WORK" --output="$WORK/$1.out" --job-name="lamina-$1" \
    "$JOB_SCRIPT" "$WORK/run.yaml" "$WORK/$1" | cut -d';' -f1
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

# Uninterrupted reference.
straight=$(submit straight)
await_state "$straight" COMPLETED 900 || fail "the uninterrupted job did not complete"

# The preempted job: USR1 to the batch shell once a checkpoint shows that
# training is under way.
requeued=$(submit requeued)
for _ in $(seq 3000); do [[ -n "$(latest "$WORK/requeued")" ]] && break; sleep 0.1; done
[[ -n "$(latest "$WORK/requeued")" ]] || fail "the job never wrote a checkpoint"
[[ $(job_field "$requeued" JobState) == RUNNING ]] || fail "the job was not running when it was to be preempted"
scancel --batch --signal=USR1 "$requeued"
await_state "$requeued" COMPLETED 900 || fail "the requeued job did not complete"

restarts=$(job_field "$requeued" Restarts)
(( ${restarts:-0} >= 1 )) || fail "the job was not requeued (Restarts=$restarts)"
grep -q "stopped by signal" "$WORK/requeued.out" || fail "no rank stopped on the signal"
grep -q "requeueing job" "$WORK/requeued.out" || fail "the job script did not requeue"
grep -q "resuming from" "$WORK/requeued.out" || fail "the requeued job did not resume from the checkpoint"
echo "preempted job $requeued: restarts $restarts; $(grep -m1 'stopped by signal' "$WORK/requeued.out")"

# Bit for bit: every field of the last record that does not measure time,
# as written (shortest round-trip text), and the final checkpoints' bytes of
# /model.
final_record() {
  tail -n 1 "$1/metrics.jsonl" | tr -d '{}' | tr ',' '\n' \
    | grep -E '^"(epoch|step|lr|batch_size|train_loss|train_acc|test_loss|test_acc|comm_bytes)":'
}
if [[ "$(final_record "$WORK/straight")" != "$(final_record "$WORK/requeued")" ]]; then
  fail "final metrics differ:"; diff <(final_record "$WORK/straight") <(final_record "$WORK/requeued") >&2
else
  echo "final metrics equal: $(final_record "$WORK/requeued" | tr '\n' ' ')"
fi
model_bytes() {  # the float data of every /model dataset, as one hash (lamina's export)
  "$LAMINA" export "$1" --format safetensors --out "$2" > /dev/null 2>&1 && sha1sum < "$2" | cut -d' ' -f1
}
a=$(model_bytes "$(latest "$WORK/straight")" "$WORK/straight.safetensors")
b=$(model_bytes "$(latest "$WORK/requeued")" "$WORK/requeued.safetensors")
[[ -n $a && $a == "$b" ]] || fail "final models differ ($a vs $b)"
finish
