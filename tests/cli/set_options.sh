#!/usr/bin/env bash
# Any number of --set options: 300 of them (both spellings) to lamina train,
# 100 to lamina eval; the last assignment of a key wins;
# threads: 0 takes SLURM_CPUS_PER_TASK.
source "$(dirname "$0")/testing.bash"

cat > "$WORK/run.yaml" <<'YAML'
threads: 1
data: {name: synthetic, shape: [1, 8, 8], classes: 4, train_size: 40, test_size: 20}
model: [{type: flatten}, {type: linear, out: 4}]
train: {epochs: 1, batch_size: 20, checkpoint_every: 1}
YAML

sets=()
for i in $(seq 1 150); do sets+=(--set "seed=$i" "--set=train.eval_batch_size=$i"); done
"$LAMINA" train "$WORK/run.yaml" "${sets[@]}" --out "$WORK/run" > "$WORK/train.log" 2>&1 \
  || { fail "train with 300 --set options failed"; tail -3 "$WORK/train.log" >&2; }
grep -q "^seed: 150$" "$WORK/run/config.yaml" || fail "the last --set seed=150 did not win"
grep -q "eval_batch_size: 150" "$WORK/run/config.yaml" || fail "the last --set=train.eval_batch_size=150 did not win"

checkpoint=$(ls "$WORK/run"/ckpt-*.h5 2>/dev/null | tail -n 1)
[[ -n "$checkpoint" ]] || fail "no checkpoint"
eval_sets=()
for i in $(seq 1 100); do eval_sets+=(--set "train.eval_batch_size=$i"); done
"$LAMINA" eval "$checkpoint" "${eval_sets[@]}" > "$WORK/eval.log" 2>&1 \
  || { fail "eval with 100 --set options failed"; tail -3 "$WORK/eval.log" >&2; }
grep -q "test_acc" "$WORK/eval.log" || fail "eval printed no accuracy"

# threads: 0 under Slurm takes the CPUs Slurm gave the task (3 here: no
# machine's cores / 1 rank would give that by chance but a 3-core one).
SLURM_CPUS_PER_TASK=3 "$LAMINA" train "$WORK/run.yaml" --set threads=0 --set train.max_steps=1 \
  --out "$WORK/slurm" > "$WORK/slurm.log" 2>&1 || fail "threads from SLURM_CPUS_PER_TASK: $(tail -2 "$WORK/slurm.log")"
grep -q "1 rank x 3 threads" "$WORK/slurm.log" || fail "threads: 0 ignored SLURM_CPUS_PER_TASK=3: $(grep training "$WORK/slurm.log")"
finish
