#!/usr/bin/env bash
# Out-of-core HDF5 (ALGORITHMS.md section 10, "At scale"): for generated
# files of the given sizes (GB; uint8 3 x 64 x 64 rows, HDF5 chunks of 16
# rows, random labels), one epoch (or --steps N) on --ranks P ranks of a
# small conv net, in memory (only where the file fits in half the RAM) and
# out of core in `global` and `chunks` order, all with prefetching and
# data.read_delay_ms (--delay-ms), the page cache dropped before every run
# when root (echo 3 > /proc/sys/vm/drop_caches; else noted as warm). Prints
# and writes bench/results/out_of_core.{json,md}: peak RSS per rank (the
# largest over ranks), epoch time and its ratio to in memory, data wait,
# and read throughput (MB of rows read per second of training).
# --model NAME trains a zoo model (e.g. resnet20) instead of the small conv
# net, whose ~60,000 img/s ask more of the disk than most file systems give:
# a model that computes as real ones do shows what prefetching hides.
# usage: bench/out_of_core.sh [--ranks P] [--steps N] [--delay-ms D] [--model NAME]
#                             [--dir DIR] [--build DIR] [SIZE_GB ...]
#   default sizes: 0.05 (a check that it runs); the issue's: 1 4 16
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=2 STEPS=0 DELAY=2 DIR=runs/out-of-core BUILD=build SIZES=() MODEL=
while (( $# )); do
  case $1 in
    --ranks) RANKS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --delay-ms) DELAY=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "out_of_core.sh: unknown option $1" >&2; exit 2 ;;
    *) SIZES+=("$1"); shift ;;
  esac
done
(( ${#SIZES[@]} )) || SIZES=(0.05)
LAMINA=$BUILD/lamina
[[ -x $LAMINA ]] || { echo "out_of_core.sh: no $LAMINA; build first (or --build DIR)" >&2; exit 1; }
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
mkdir -p "$DIR" bench/results
ROW_BYTES=$((3 * 64 * 64))
RAM_KB=$(awk '/MemTotal/ { print $2 }' /proc/meminfo)

generate() {  # path, rows
  [[ -f $1 ]] && return
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
path, rows = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
labels = rng.integers(0, 10, rows)
with h5py.File(path + ".part", "w") as f:
    images = f.create_dataset("images", (rows, 3, 64, 64), dtype="uint8", chunks=(16, 3, 64, 64))
    for first in range(0, rows, 4096):
        block = rng.integers(0, 256, (min(4096, rows - first), 3, 64, 64), dtype=np.uint8)
        block[:, 0, :8, :8] = labels[first:first + len(block), None, None] * 25
        images[first:first + len(block)] = block
    f["labels"] = labels
    f.attrs["num_classes"] = 10
import os; os.rename(path + ".part", path)
PY
}

drop_caches() {
  if [[ $(id -u) == 0 ]] && sync && echo 3 > /proc/sys/vm/drop_caches 2> /dev/null; then echo cold; else echo warm; fi
}

run() {  # size, mode (memory|global|chunks), file, test file
  local size=$1 mode=$2 file=$3 test=$4 name="$size-$2"
  local extra=(--set data.order=global)
  [[ $mode == memory ]] && extra=(--set data.in_memory=true)
  [[ $mode == chunks ]] && extra=(--set data.order=chunks)
  [[ -n $MODEL ]] && extra+=(--set model="$MODEL")
  local cache; cache=$(drop_caches)
  "${MPIRUN[@]}" -n "$RANKS" "$LAMINA" train "$DIR/bench.yaml" --set data.path="$file" \
    --set data.test_path="$test" --set data.read_delay_ms="$DELAY" --set train.max_steps="$STEPS" \
    "${extra[@]}" --out "$DIR/$name" --overwrite > "$DIR/$name.log" 2>&1 || { echo "  $name failed: see $DIR/$name.log" >&2; return; }
  echo "{\"size_gb\": $size, \"mode\": \"$mode\", \"cache\": \"$cache\", \"metrics\": $(tail -1 "$DIR/$name/metrics.jsonl")}" >> "$DIR/runs.jsonl"
}

cat > "$DIR/bench.yaml" <<YAML
seed: 1
threads: 0
data: {name: hdf5, prefetch_samples: 512}
model:
  - {type: conv, out: 16, kernel: 4, stride: 4, activation: relu}
  - {type: conv, out: 32, kernel: 3, stride: 2, activation: relu}
  - {type: flatten}
  - {type: linear, out: 10, init: glorot}
train: {epochs: 1, batch_size: 256, eval: false}
YAML
: > "$DIR/runs.jsonl"
generate "$DIR/test.h5" 1024
for size in "${SIZES[@]}"; do
  rows=$(/usr/bin/python3 -c "print(int($size * 2**30 / $ROW_BYTES))")
  file="$DIR/train-${size}GB.h5"
  echo "size $size GB: $rows rows"
  generate "$file" "$rows"
  file_kb=$(( $(stat -c %s "$file") / 1024 ))
  if (( file_kb * RANKS < RAM_KB / 2 )); then run "$size" memory "$file" "$DIR/test.h5"
  else echo "  in memory: skipped ($RANKS copies of the file would not fit in half the RAM)"; fi
  run "$size" global "$file" "$DIR/test.h5"
  run "$size" chunks "$file" "$DIR/test.h5"
done

RESULTS=bench/results/out_of_core${MODEL:+_$MODEL}
/usr/bin/python3 - "$DIR/runs.jsonl" "$ROW_BYTES" "$RANKS" "$DELAY" "$RESULTS" "${MODEL:-small conv net}" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
row_bytes, ranks, delay = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
results, model = sys.argv[5], sys.argv[6]
memory = {r["size_gb"]: r["metrics"]["train_seconds"] for r in runs if r["mode"] == "memory"}
rows = []
for r in runs:
    m = r["metrics"]
    samples = m["step"] * m["batch_size"]
    rows.append({"size_gb": r["size_gb"], "mode": r["mode"], "page_cache": r["cache"],
                 "ranks": ranks, "read_delay_ms": delay, "steps": m["step"],
                 "peak_rss_mb": round(m["peak_rss_mb"], 1),
                 "train_seconds": round(m["train_seconds"], 3),
                 "ratio_to_memory": round(m["train_seconds"] / memory[r["size_gb"]], 3) if r["size_gb"] in memory else None,
                 "data_wait_seconds": round(m["data_wait_seconds"], 3),
                 "read_mb_per_s": round(samples * row_bytes / 2**20 / m["train_seconds"], 1)})
json.dump(rows, open(results + ".json", "w"), indent=1)
lines = ["# Out-of-core HDF5: memory and epoch time", "",
         f"{ranks} ranks, model: {model}, prefetching (512 samples), data.read_delay_ms {delay}; uint8 3x64x64 rows, "
         "HDF5 chunks of 16 rows. peak RSS: the largest rank's. ratio: epoch time / in memory. "
         "read: MB of rows consumed per second of training (rank 0's data wait shown).", "",
         "| size GB | order | page cache | steps | peak RSS MB | epoch s | ratio | data wait s | read MB/s |",
         "|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    ratio = "" if r["ratio_to_memory"] is None else f'{r["ratio_to_memory"]:.3f}'
    lines.append(f'| {r["size_gb"]} | {r["mode"]} | {r["page_cache"]} | {r["steps"]} | {r["peak_rss_mb"]} | '
                 f'{r["train_seconds"]} | {ratio} | {r["data_wait_seconds"]} | {r["read_mb_per_s"]} |')
open(results + ".md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
