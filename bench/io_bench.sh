#!/usr/bin/env bash
# Data input and checkpoints: LeNet on Fashion-MNIST, 1 process x 2 threads,
# 300 steps of batch 64, from idx files in memory, from HDF5 with and
# without the asynchronous prefetcher, and with reads made slow (a 10 ms
# delay per batch, data.read_delay_ms) with and without prefetching; then
# checkpoint write/read time and size (bench_checkpoint_io). Run on a quiet
# machine. usage: bench/io_bench.sh [--steps N] [--delay-ms D]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=300 DELAY=10
while (( $# )); do
  case $1 in
    --steps) STEPS=$2; shift 2 ;;
    --delay-ms) DELAY=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "io_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x build/lamina && -x build/bench/bench_checkpoint_io ]] || { echo "io_bench.sh: run make build first" >&2; exit 1; }
OUT=runs/io-bench
mkdir -p "$OUT"
DATA=/usr/share/datasets/fashion-mnist
[[ -f $OUT/train.h5 ]] || build/lamina data convert fashion-mnist $DATA $OUT/train.h5 > /dev/null
[[ -f $OUT/test.h5 ]] || build/lamina data convert fashion-mnist $DATA $OUT/test.h5 --test > /dev/null
h5=(--set data.name=hdf5 --set data.path=$OUT/train.h5 --set data.test_path=$OUT/test.h5)
run() {  # name, extra args...
  local name=$1; shift
  build/lamina train configs/bench-lenet.yaml --set train.max_steps="$STEPS" "$@" --out "$OUT/$name" --overwrite > "$OUT/$name.log" 2>&1
  /usr/bin/python3 - "$OUT/$name/metrics.jsonl" "$name" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
print(f"| {sys.argv[2]} | {r['train_seconds']:.2f} | {r['data_wait_seconds']:.3f} | {r['images_per_second']:.0f} |")
PY
}
echo "| input | train seconds | data wait seconds | img/s |"
echo "|---|---:|---:|---:|"
run idx-memory
run hdf5-sync "${h5[@]}"
run hdf5-async "${h5[@]}" --set data.prefetch_samples=256
run slow-sync "${h5[@]}" --set data.read_delay_ms="$DELAY"
run slow-async "${h5[@]}" --set data.read_delay_ms="$DELAY" --set data.prefetch_samples=256
echo
build/bench/bench_checkpoint_io /tmp
