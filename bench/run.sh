#!/usr/bin/env bash
# Compares lamina's training speed with PyTorch's on the same cores, in one run.
#
# For each model: lamina and PyTorch alternate (same threads, batch, steps),
# REPEATS times each; the OpenBLAS sgemm ceiling is measured once. Prints a
# markdown table (medians) and writes bench/results/latest.json. Raw outputs
# stay in runs/bench/<timestamp>/. See bench/README.md.
#
# Needs `make build` first (build/lamina, build/bench/bench_sgemm).
# Run it on a quiet machine: nothing else building or testing beside it.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/run.sh [options]
  --models "lenet resnet20"  models to compare (default: both)
  --threads N                threads for both frameworks (default 2)
  --batch N                  batch size (default 64)
  --steps N                  timed training steps per run (default 300)
  --repeats N                runs per framework and model; the median is reported (default 3)
  --time-to-accuracy         also time LeNet/Fashion-MNIST to 91% test accuracy:
                             lamina with 2 MPI ranks x 1 thread, PyTorch with 2 threads
                             (long: about 10 minutes); with --bf16 lamina bf16 as well
  --bf16                     also lamina train.precision bf16 and PyTorch autocast bf16
                             (torch.autocast("cpu", dtype=torch.bfloat16)) per model,
                             the bf16 GEMM ceiling (bench_sgemm --bf16, oneDNN matmul) and
                             CosmoFlow bf16 vs PyTorch autocast (bench/science.sh; its
                             summary: RESULTS without .json + -cosmoflow-bf16.json)
  --cosmoflow-shape C,D,H,W  --bf16's CosmoFlow volume (default 4,64,64,64)
  --build DIR                lamina's build directory (default build)
  --results FILE             summary JSON (default bench/results/latest.json)
  -h, --help                 this text
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

MODELS="lenet resnet20"
THREADS=2
BATCH=64
STEPS=300
REPEATS=3
WARMUP=10
TTA=0
BF16=0
COSMO_SHAPE=4,64,64,64
TTA_TARGET=0.91
TTA_CONFIG=configs/fashion-mnist-lenet.yaml
BUILD=build
RESULTS=bench/results/latest.json
PYTHON=/usr/bin/python3
RUN_TIMEOUT=${RUN_TIMEOUT:-900}   # seconds; a hung run must not hang the benchmark
MPIRUN=(mpirun -n 2 --oversubscribe --allow-run-as-root --bind-to none)

die() { echo "bench/run.sh: $*" >&2; exit 2; }

positive_int() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer, got '$2'"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --models) MODELS=${2:?--models needs a value}; shift 2 ;;
        --threads) positive_int "$1" "${2:-}"; THREADS=$2; shift 2 ;;
        --batch) positive_int "$1" "${2:-}"; BATCH=$2; shift 2 ;;
        --steps) positive_int "$1" "${2:-}"; STEPS=$2; shift 2 ;;
        --repeats) positive_int "$1" "${2:-}"; REPEATS=$2; shift 2 ;;
        --time-to-accuracy) TTA=1; shift ;;
        --bf16) BF16=1; shift ;;
        --cosmoflow-shape) COSMO_SHAPE=${2:?--cosmoflow-shape needs C,D,H,W}; shift 2 ;;
        --build) BUILD=${2:?--build needs a value}; shift 2 ;;
        --results) RESULTS=${2:?--results needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done

LAMINA=$BUILD/lamina
SGEMM=$BUILD/bench/bench_sgemm

# --- preconditions: say exactly what is missing and how to get it.
[[ -x $LAMINA ]] || die "$LAMINA not found or not executable: run 'make build' first"
[[ -x $SGEMM ]] || die "$SGEMM not found: run 'make build' first (it builds bench/*.c too)"
[[ -x $PYTHON ]] || die "$PYTHON not found: PyTorch runs with Debian's interpreter"
"$PYTHON" -c 'import torch' 2>/dev/null || die "$PYTHON cannot import torch: apt-get install python3-torch"
for model in $MODELS; do
    case $model in
        lenet|resnet20) [[ -f configs/bench-$model.yaml ]] || die "configs/bench-$model.yaml missing" ;;
        *) die "unknown model '$model' (lenet or resnet20)" ;;
    esac
done
if [[ $TTA == 1 ]]; then
    command -v mpirun >/dev/null || die "mpirun not found: --time-to-accuracy needs OpenMPI"
    [[ -f $TTA_CONFIG ]] || die "$TTA_CONFIG missing: --time-to-accuracy trains with it"
fi

# A busy machine makes every figure below meaningless; warn, do not refuse.
read -r load _ < /proc/loadavg
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "bench/run.sh: warning: load average is $load; benchmarks need a quiet machine" >&2
fi

RUN_DIR=runs/bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
echo "raw outputs: $RUN_DIR" >&2

# PyTorch's data for each model, matching configs/bench-<model>.yaml.
pytorch_data_args() {
    case $1 in
        lenet) echo "--data fashion-mnist" ;;
        resnet20) echo "--data synthetic --synthetic-size 19200" ;;
    esac
}

# Runs one command with its output in LOG; on failure says so and goes on
# (summarize.py marks the missing figure "failed").
attempt() {
    local what=$1 log=$2
    shift 2
    local status=0
    echo "  $what" >&2
    timeout "$RUN_TIMEOUT" "$@" >"$log" 2>&1 || status=$?
    if [[ $status != 0 ]]; then
        [[ $status == 124 ]] && echo "bench/run.sh: $what timed out after ${RUN_TIMEOUT}s" >&2
        echo "bench/run.sh: $what failed (exit $status); last lines of $log:" >&2
        tail -n 5 "$log" | sed 's/^/    /' >&2
        return 1
    fi
}

run_lamina_throughput() {
    local model=$1 out=$2
    mkdir -p "$out"
    attempt "lamina $model -> $out" "$out.log" \
        env OMP_NUM_THREADS="$THREADS" "$LAMINA" train "configs/bench-$model.yaml" --out "$out" \
        --set threads="$THREADS" --set train.batch_size="$BATCH" --set train.max_steps="$STEPS"
}

run_lamina_bf16_throughput() {
    local model=$1 out=$2
    mkdir -p "$out"
    attempt "lamina $model bf16 -> $out" "$out.log" \
        env OMP_NUM_THREADS="$THREADS" "$LAMINA" train "configs/bench-$model.yaml" --out "$out" \
        --set threads="$THREADS" --set train.batch_size="$BATCH" --set train.max_steps="$STEPS" \
        --set train.precision=bf16
}

run_pytorch_throughput() {
    local model=$1 out=$2 autocast=${3:-none}
    # shellcheck disable=SC2046  # word splitting of the data arguments is intended
    attempt "pytorch $model -> $out" "$out.log" \
        env OMP_NUM_THREADS="$THREADS" "$PYTHON" bench/pytorch_train.py --model "$model" \
        $(pytorch_data_args "$model") --batch "$BATCH" --threads "$THREADS" \
        --steps "$STEPS" --warmup "$WARMUP" --mode throughput --autocast "$autocast"
    grep '^{' "$out.log" > "$out" || true
}

echo "sgemm ceiling ($THREADS threads)" >&2
sgemm_args=(--reps 5)
[[ $BF16 == 1 ]] && sgemm_args+=(--bf16)   # and the bf16 GEMM ceiling (oneDNN matmul)
attempt "bench_sgemm" "$RUN_DIR/sgemm.log" \
    env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" "$SGEMM" "${sgemm_args[@]}" \
    1024 2048 || true
grep '^{' "$RUN_DIR/sgemm.log" > "$RUN_DIR/sgemm.jsonl" || true

# Alternate the frameworks so slow drift (thermal, noise) hits both alike.
for model in $MODELS; do
    echo "$model: $REPEATS x (lamina, pytorch), $THREADS threads, batch $BATCH, $STEPS steps" >&2
    for ((i = 1; i <= REPEATS; i++)); do
        run_lamina_throughput "$model" "$RUN_DIR/lamina-$model-$i" || true
        run_pytorch_throughput "$model" "$RUN_DIR/pytorch-$model-$i.jsonl" || true
        if [[ $BF16 == 1 ]]; then
            run_lamina_bf16_throughput "$model" "$RUN_DIR/lamina-bf16-$model-$i" || true
            run_pytorch_throughput "$model" "$RUN_DIR/pytorch-bf16-$model-$i.jsonl" bf16 || true
        fi
    done
done

tta_args=()
if [[ $TTA == 1 ]]; then
    echo "time to $TTA_TARGET test accuracy (LeNet, Fashion-MNIST)" >&2
    mkdir -p "$RUN_DIR/tta-lamina"
    attempt "lamina, 2 ranks x 1 thread -> $RUN_DIR/tta-lamina" "$RUN_DIR/tta-lamina.log" \
        "${MPIRUN[@]}" -x OMP_NUM_THREADS=1 "$LAMINA" train "$TTA_CONFIG" \
        --out "$RUN_DIR/tta-lamina" --set threads=1 || true
    if [[ $BF16 == 1 ]]; then
        mkdir -p "$RUN_DIR/tta-lamina-bf16"
        attempt "lamina bf16, 2 ranks x 1 thread -> $RUN_DIR/tta-lamina-bf16" \
            "$RUN_DIR/tta-lamina-bf16.log" \
            "${MPIRUN[@]}" -x OMP_NUM_THREADS=1 "$LAMINA" train "$TTA_CONFIG" \
            --out "$RUN_DIR/tta-lamina-bf16" --set threads=1 --set train.precision=bf16 || true
    fi
    attempt "pytorch, 2 threads -> $RUN_DIR/tta-pytorch.jsonl" "$RUN_DIR/tta-pytorch.log" \
        env OMP_NUM_THREADS=2 "$PYTHON" bench/pytorch_train.py --model lenet \
        --data fashion-mnist --mode time-to-accuracy --target "$TTA_TARGET" \
        --max-epochs 5 --batch "$BATCH" --threads 2 --lr 0.05 --momentum 0.9 \
        --weight-decay 0.0005 --schedule cosine --cosine-epochs 5 || true
    grep '^{' "$RUN_DIR/tta-pytorch.log" > "$RUN_DIR/tta-pytorch.jsonl" || true
    tta_args=(--time-to-accuracy "$TTA_TARGET")
fi

echo >&2
if [[ $BF16 == 1 ]]; then
    # bf16 rows: medians of img/s; ratios lamina bf16 / PyTorch autocast and / lamina fp32.
    "$PYTHON" - "$RUN_DIR" "$REPEATS" $MODELS <<'PY' | tee "$RUN_DIR/bf16.md"
import json, statistics, sys
run_dir, repeats, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def rate(path, lamina):
    try:
        lines = [json.loads(l) for l in open(path) if l.startswith("{")]
        return float(lines[-1]["images_per_second"])
    except (OSError, ValueError, KeyError, IndexError):
        return None
def median(paths, lamina):
    rates = [r for r in (rate(p, lamina) for p in paths) if r]
    return statistics.median(rates) if rates else None
print("| model | lamina fp32 | lamina bf16 | PyTorch autocast bf16 | lamina bf16 / PyTorch bf16 | lamina bf16 / fp32 |")
print("|---|---|---|---|---|---|")
for m in models:
    runs = range(1, repeats + 1)
    fp32 = median([f"{run_dir}/lamina-{m}-{i}/metrics.jsonl" for i in runs], True)
    bf16 = median([f"{run_dir}/lamina-bf16-{m}-{i}/metrics.jsonl" for i in runs], True)
    torch = median([f"{run_dir}/pytorch-bf16-{m}-{i}.jsonl" for i in runs], False)
    fmt = lambda v: f"{v:.1f}" if v else "failed"
    ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
    print(f"| {m} | {fmt(fp32)} | {fmt(bf16)} | {fmt(torch)} | {ratio(bf16, torch)} | {ratio(bf16, fp32)} |")
PY
    # The bf16 GEMM ceiling next to the fp32 one (bench_sgemm --bf16).
    "$PYTHON" - "$RUN_DIR/sgemm.jsonl" <<'PY' | tee -a "$RUN_DIR/bf16.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
fp32 = {r["n"]: r["gflops"] for r in rows if r.get("bench") == "sgemm"}
for r in rows:
    if r.get("bench") != "bf16_gemm":
        continue
    peak = r.get("nominal_peak_gflops") or 0
    share = f", {100 * r['gflops'] / peak:.0f}% of the nominal bf16 peak {peak:.0f}" if peak else ""
    versus = f", {r['gflops'] / fp32[r['n']]:.2f}x the fp32 sgemm" if fp32.get(r["n"]) else ""
    print(f"bf16 GEMM (oneDNN matmul, {r['threads']} threads) n={r['n']}: "
          f"{r['gflops']:.1f} GFLOP/s{share}{versus}")
PY
    echo "CosmoFlow bf16 ($COSMO_SHAPE): lamina train.precision bf16 vs PyTorch autocast" >&2
    # Its summary goes beside this run's (never over bench/results/science.json).
    bench/science.sh --models cosmoflow --precision bf16 --threads "$THREADS" \
        --repeats "$REPEATS" --cosmoflow-shape "$COSMO_SHAPE" --build "$BUILD" \
        --results "${RESULTS%.json}-cosmoflow-bf16.json" \
        || echo "bench/run.sh: the CosmoFlow bf16 comparison failed" >&2
fi
# shellcheck disable=SC2086  # MODELS is a word list
"$PYTHON" bench/summarize.py "$RUN_DIR" --models $MODELS --repeats "$REPEATS" \
    --threads "$THREADS" --batch "$BATCH" --steps "$STEPS" "${tta_args[@]}" \
    --meta "date=$(date -Iseconds)" \
    --meta "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --meta "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
    --meta "cores=$(nproc)" \
    --json-out "$RESULTS"
