#!/usr/bin/env bash
# Signals sent to mpirun itself (README, "Checkpoints"): SIGUSR1 is
# forwarded and the job exits 0 with a checkpoint; SIGTERM is forwarded too
# and every rank checkpoints and exits 0, while Open MPI's mpirun reports
# its own SIGTERM as exit 1 (documented, not a lamina failure). Either way
# the checkpoint resumes.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<'YAML'
threads: 1
data: {name: synthetic, shape: [1, 8, 8], classes: 4, train_size: 4000, test_size: 20, read_delay_ms: 5}
model: [{type: flatten}, {type: linear, out: 4}]
train: {epochs: 50, batch_size: 20, eval: false, checkpoint_every_steps: 20}
YAML

# Waits until DIR holds a checkpoint (training is under way), at most 120 s.
await_checkpoint() {
  for _ in $(seq 1200); do compgen -G "$1/ckpt-*.h5" > /dev/null && return 0; sleep 0.1; done
  return 1
}

# signal_mpirun SIGNAL DIR: runs 2 ranks, signals mpirun once training is
# under way; prints mpirun's exit status.
signal_mpirun() {
  $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --out "$2" > "$2.log" 2>&1 &
  local pid=$! status=0
  await_checkpoint "$2" || fail "$1: no checkpoint within 120 s"
  kill -"$1" $pid
  wait $pid || status=$?
  echo $status
}

status=$(signal_mpirun USR1 "$WORK/usr1")
[[ "$status" == 0 ]] || { fail "SIGUSR1 to mpirun: exit $status, expected 0"; tail -5 "$WORK/usr1.log" >&2; }
grep -q "stopped by signal after step" "$WORK/usr1.log" || fail "SIGUSR1 to mpirun: the ranks did not stop cleanly"

status=$(signal_mpirun TERM "$WORK/term")
[[ "$status" == 0 || "$status" == 1 ]] || fail "SIGTERM to mpirun: exit $status (a signal death?)"
grep -q "stopped by signal after step" "$WORK/term.log" || { fail "SIGTERM to mpirun: the ranks did not stop cleanly"; tail -5 "$WORK/term.log" >&2; }
echo "ok: SIGTERM to mpirun exits $status (README: 1 under Open MPI 4.1), the ranks saved"

for run in usr1 term; do
  $MPIRUN -n 2 "$LAMINA" train "$WORK/run.yaml" --set train.epochs=1 --out "$WORK/$run" --resume auto \
    > "$WORK/$run.resume.log" 2>&1 || { fail "$run: resume failed"; tail -3 "$WORK/$run.resume.log" >&2; }
done
finish
