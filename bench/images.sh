#!/usr/bin/env bash
# Image folders: decode + augment throughput per core, lamina vs PyTorch's
# DataLoader (torchvision-style PIL transforms), on the same generated JPEGs
# and the same number of cores; then a ResNet-18 epoch on 2 ranks from a
# folder of 224 px JPEGs (img/s and the fraction of step time waiting for
# data). Results: bench/results/images.{json,md}.
#
# usage: bench/images.sh [--tiny]        (--tiny: a few seconds, checks the script)
# env:   BUILD (build dir, default build), COUNT (decode set, 2000), WIDTH x HEIGHT
#        (500 x 375, ImageNet's median), CORES ("1 2 4"), POINT_SECONDS per point (20),
#        RESNET_COUNT (4000), RESNET_THREADS (cores per rank, default all / 2),
#        IO_THREADS (decode threads per rank in the ResNet run, 2)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD=${BUILD:-$root/build}
COUNT=${COUNT:-2000} WIDTH=${WIDTH:-500} HEIGHT=${HEIGHT:-375}
CORES=${CORES:-"1 2 4"} SECONDS_PER_POINT=${POINT_SECONDS:-20}  # not SECONDS: bash counts its own run time in it
RESNET_COUNT=${RESNET_COUNT:-4000} IO_THREADS=${IO_THREADS:-2}
RESNET_THREADS=${RESNET_THREADS:-$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))}
EPOCHS=1 BATCH=${BATCH:-64}
if [[ "${1:-}" == "--tiny" ]]; then
  COUNT=64 CORES="1 2" SECONDS_PER_POINT=2 RESNET_COUNT=40 WIDTH=120 HEIGHT=90 RESNET_THREADS=1 BATCH=8
fi
MPIRUN=${MPIRUN:-mpirun --oversubscribe --allow-run-as-root --bind-to none}
PYTHON=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$root/bench/results
mkdir -p "$results"

"$BUILD/bench/bench_images" generate "$work/decode" "$COUNT" "$WIDTH" "$HEIGHT"
rows=()
for cores in $CORES; do
  lamina=$(OMP_NUM_THREADS=$cores "$BUILD/bench/bench_images" decode "$work/decode" 224 "$cores" "$SECONDS_PER_POINT")
  # One DataLoader worker process per core (0 workers would decode in the
  # main process, which is one core too).
  torch=$(OMP_NUM_THREADS=1 "$PYTHON" "$here/images_torch.py" "$work/decode" 224 "$cores" "$SECONDS_PER_POINT")
  rows+=("{\"cores\": $cores, \"lamina\": $lamina, \"pytorch\": $torch}")
  echo "cores $cores: lamina $lamina / pytorch $torch"
done

# ResNet-18, one epoch on 2 ranks, prefetching with decode threads.
"$BUILD/bench/bench_images" generate "$work/resnet" "$RESNET_COUNT" 256 256
cat > "$work/resnet.yaml" <<YAML
seed: 1
threads: $RESNET_THREADS
model: resnet18
data: {name: images, path: $work/resnet, image_size: 224, prefetch_samples: 128, io_threads: $IO_THREADS}
optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: $EPOCHS, batch_size: $BATCH, eval: false}
YAML
resnet='null'
if $MPIRUN -n 2 "$BUILD/lamina" train "$work/resnet.yaml" --out "$work/resnet-out" > "$work/resnet.log" 2>&1; then
  resnet=$(tail -n 1 "$work/resnet-out/metrics.jsonl")
else
  echo "ResNet-18 run failed (is model resnet18 in the zoo?):" >&2; tail -n 5 "$work/resnet.log" >&2
fi

{
  echo "{\"image_size\": 224, \"source_size\": \"${WIDTH}x${HEIGHT}\", \"files\": $COUNT,"
  echo " \"decode\": [$(IFS=,; echo "${rows[*]}")],"
  echo " \"resnet18_2_ranks\": $resnet}"
} > "$results/images.json"
"$PYTHON" - "$results/images.json" "$results/images.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
out = ["# Image folders: decode + augment throughput", "",
       "JPEGs of about %s px (quality 95), RandomResizedCrop(224) + flip + normalize; "
       "img/s per core = img/s / cores." % r["source_size"], "",
       "| cores | lamina img/s | per core | PyTorch img/s | per core | lamina / PyTorch |",
       "|---:|---:|---:|---:|---:|---:|"]
for row in r["decode"]:
    l, t, c = row["lamina"]["images_per_second"], row["pytorch"]["images_per_second"], row["cores"]
    out.append("| %d | %.0f | %.0f | %.0f | %.0f | %.2fx |" % (c, l, l / c, t, t / c, l / t))
if r["decode"]:
    out += ["", "PyTorch transforms: %s." % r["decode"][0]["pytorch"]["transforms"]]
m = r["resnet18_2_ranks"]
if m:
    wait = m.get("data_wait_seconds", 0.0) / max(m.get("train_seconds", 1e-9), 1e-9)
    out += ["", "## ResNet-18, one epoch, 2 ranks", "",
            "%.1f img/s; data wait %.1f%% of training time." % (m["images_per_second"], 100 * wait)]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
cat "$results/images.md"
