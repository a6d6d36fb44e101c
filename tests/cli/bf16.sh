#!/usr/bin/env bash
# train.precision bf16 end to end: `lamina info` reports native bf16; bf16
# is refused with a message naming train.precision by the ref backend and on
# a CPU without native bf16 (DNNL_MAX_CPU_ISA caps oneDNN to look like one);
# federated runs, EDSR, VDSR and CosmoFlow (3-D) train in bf16 to within a
# loose bound of their fp32 twins. Exits 77 (skipped) without native bf16,
# after the refusal checks. (LeNet accuracy: bf16_fashion_mnist.sh.)
source "$(dirname "$0")/testing.bash"

"$LAMINA" info > "$WORK/info" || fail "lamina info"
grep -q "^bf16: " "$WORK/info" || fail "lamina info has no bf16 line"
DNNL_MAX_CPU_ISA=AVX512_CORE "$LAMINA" info | grep -q "^bf16: not native" \
  || fail "lamina info under DNNL_MAX_CPU_ISA=AVX512_CORE does not say 'not native'"

cat > "$WORK/tiny.yaml" <<YAML
seed: 1
threads: 1
data: {name: synthetic, shape: [3, 8, 8], classes: 4, train_size: 64, test_size: 16}
model:
  - {type: conv, out: 4, kernel: 3, pad: 1, activation: relu}
  - {type: flatten}
  - {type: linear, out: 4}
train: {epochs: 1, batch_size: 16, precision: bf16}
YAML
expect_failure "ref backend refuses bf16" "train.precision: bf16 needs backend: dnnl" \
  "$LAMINA" train "$WORK/tiny.yaml" --set backend=ref --out "$WORK/ref"
expect_failure "bf16 refused without native bf16" "train.precision: bf16 needs a CPU with native bf16" \
  env DNNL_MAX_CPU_ISA=AVX512_CORE "$LAMINA" train "$WORK/tiny.yaml" --out "$WORK/capped"
expect_failure "unknown precision" "train.precision" \
  "$LAMINA" train "$WORK/tiny.yaml" --set train.precision=fp16 --out "$WORK/fp16"

if ! grep -q "^bf16: native" "$WORK/info"; then
  finish; echo "SKIP: no native bf16 on this CPU ($(grep '^bf16' "$WORK/info"))"; exit 77
fi

# The last metrics line of FILE, evaluated as `r` (and `f`, the fp32 twin's) in CONDITION.
check_pair() { # BF16_METRICS FP32_METRICS CONDITION DESCRIPTION
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY' || fail "$4"
import json, math, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
f = [json.loads(l) for l in open(sys.argv[2])][-1]
ok = eval(sys.argv[3])
keys = ("test_loss", "test_acc", "test_psnr")
print(("ok: " if ok else "FAIL: ") + sys.argv[3] + "  bf16 " + json.dumps({k: r.get(k) for k in keys})
      + "  fp32 " + json.dumps({k: f.get(k) for k in keys}))
sys.exit(0 if ok else 1)
PY
}

# run_pair NAME COMMAND CONFIG [ARGS...]: the config in fp32 and in bf16 on 2 ranks.
run_pair() {
  local name=$1 command=$2 config=$3; shift 3
  for precision in fp32 bf16; do
    $MPIRUN -n 2 "$LAMINA" $command "$config" --set train.precision=$precision "$@" \
      --out "$WORK/$name-$precision" > "$WORK/$name-$precision.log" 2>&1 \
      || { fail "$name $precision run"; cat "$WORK/$name-$precision.log" >&2; }
  done
}

# ---- federated (FedAvg over 8 clients) ----
cat > "$WORK/fl.yaml" <<YAML
$(tiny_cnn_config 5)
fl: {clients: 8, active_ratio: 0.5, local_steps: 5, batch_size: 32, rounds: 8,
     eval_every: 8, eval_batch_size: 1000, aggregator: fedavg}
optimizer: {lr: 0.05, momentum: 0.9}
YAML
run_pair fl fl "$WORK/fl.yaml"
check_pair "$WORK/fl-bf16/metrics.jsonl" "$WORK/fl-fp32/metrics.jsonl" \
  "abs(r['test_acc'] - f['test_acc']) < 0.03 and r['test_acc'] > 0.5" "federated bf16 strays from fp32"

# ---- super-resolution: EDSR (scale layers, pixel shuffle) and VDSR ----
for model in "{name: edsr, features: 16, blocks: 2}" "{name: vdsr, features: 16, depth: 4}"; do
  name=$(echo "$model" | sed 's/.*name: \([a-z]*\).*/\1/')
  sr_input=low; [[ $name == vdsr ]] && sr_input=upsampled # VDSR refines a bicubic upsampling
  cat > "$WORK/$name.yaml" <<YAML
task: regression
loss: mse
model: $model
seed: 1
threads: 1
data: {name: fashion-mnist, path: $DATA, derive: super_resolution, sr_factor: 2, sr_input: $sr_input}
train: {epochs: 1, batch_size: 32, max_steps: 60, eval_batch_size: 1000}
optimizer: {name: adam, lr: 0.003}
YAML
  run_pair "$name" train "$WORK/$name.yaml"
  check_pair "$WORK/$name-bf16/metrics.jsonl" "$WORK/$name-fp32/metrics.jsonl" \
    "math.isfinite(r['test_loss']) and abs(r['test_psnr'] - f['test_psnr']) < 1.0" "$name bf16 strays from fp32"
done

# ---- CosmoFlow: 3-D convolutions and pooling ----
cat > "$WORK/cosmo.yaml" <<YAML
task: regression
model: {name: cosmoflow, filters: 8}
seed: 1
threads: 1
data: {name: grf-cubes, shape: [4, 16, 16, 16], train_size: 256, test_size: 64}
train: {epochs: 2, batch_size: 32}
optimizer: {name: adam, lr: 0.002}
YAML
run_pair cosmo train "$WORK/cosmo.yaml"
check_pair "$WORK/cosmo-bf16/metrics.jsonl" "$WORK/cosmo-fp32/metrics.jsonl" \
  "math.isfinite(r['test_loss']) and abs(r['test_loss'] - f['test_loss']) < 0.1 * f['test_loss'] + 0.02" \
  "cosmoflow bf16 strays from fp32"
finish
