#!/usr/bin/env bash
# One row per sync policy (parallel.strategy and its variants), 2 MPI ranks
# on this machine, in one run:
#   lenet     Fashion-MNIST (configs/fashion-mnist-lenet.yaml), EPOCHS epochs:
#             final test accuracy, images/s, bytes sent, comm and exposed comm
#             seconds per epoch;
#   resnet20  synthetic 3x32x32 (configs/bench-resnet20.yaml), STEPS steps, no
#             evaluation: images/s, bytes per step and per CIFAR-10 epoch,
#             comm and exposed comm seconds per step;
# plus PyTorch DDP (gloo, same model, batch, ranks and threads) for images/s.
# Prints markdown tables, writes bench/results/sync_compare.json; raw runs
# stay in runs/sync-compare/<timestamp>/. Run it on a quiet machine.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/sync_compare.sh [options]
  --epochs N         LeNet / Fashion-MNIST epochs (default 2)
  --steps N          ResNet-20 training steps (default 300)
  --models "M..."    lenet, resnet20 (default both)
  --variants "V..."  rows (default all): allreduce overlap overlap_b1 multistep lazy
                     localsgd_t8 localsgd_adaptive allreduce_fp16 allreduce_bf16
  --ranks N          MPI ranks (default 2)
  --threads N        threads per rank (default 1)
  --batch N          global batch (default 64)
  --ddp-steps N      PyTorch DDP timed steps (default 200; 10 warm-up steps before)
  --no-ddp           skip PyTorch DDP
  --quick            smoke run: LeNet 1 epoch cut at 40 steps, ResNet-20 10 steps,
                     DDP 5 steps; results go to the run directory, not bench/results
  --build DIR        lamina's build directory (default build)
  --results FILE     summary JSON (default bench/results/sync_compare.json)
  --report FILE      also draw the runs with 'lamina report' (one HTML page per model:
                     FILE with -MODEL before its extension, e.g. report-lenet.html)
  -h, --help         this text
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/sync_common.sh
source bench/sync_common.sh

EPOCHS=2 STEPS=300 MODELS="lenet resnet20" VARIANTS=$SYNC_ALL_VARIANTS
RANKS=2 THREADS=1 BATCH=64 DDP_STEPS=200 DDP_WARMUP=10 DDP=1 QUICK=0
LENET_MAX_STEPS=0 BUILD=build RESULTS= REPORT=
PYTHON=/usr/bin/python3
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}   # seconds per run; a hung run must not hang the benchmark
LENET_CONFIG=configs/fashion-mnist-lenet.yaml
RESNET_CONFIG=configs/bench-resnet20.yaml

die() { echo "bench/sync_compare.sh: $*" >&2; exit 2; }
positive_int() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer, got '$2'"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --epochs) positive_int "$1" "${2:-}"; EPOCHS=$2; shift 2 ;;
        --steps) positive_int "$1" "${2:-}"; STEPS=$2; shift 2 ;;
        --models) MODELS=${2:?--models needs a value}; shift 2 ;;
        --variants) VARIANTS=${2:?--variants needs a value}; shift 2 ;;
        --ranks) positive_int "$1" "${2:-}"; RANKS=$2; shift 2 ;;
        --threads) positive_int "$1" "${2:-}"; THREADS=$2; shift 2 ;;
        --batch) positive_int "$1" "${2:-}"; BATCH=$2; shift 2 ;;
        --ddp-steps) positive_int "$1" "${2:-}"; DDP_STEPS=$2; shift 2 ;;
        --no-ddp) DDP=0; shift ;;
        --quick) QUICK=1; shift ;;
        --build) BUILD=${2:?--build needs a value}; shift 2 ;;
        --results) RESULTS=${2:?--results needs a value}; shift 2 ;;
        --report) REPORT=${2:?--report needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
if [[ $QUICK == 1 ]]; then
    EPOCHS=1 LENET_MAX_STEPS=40 STEPS=10 DDP_STEPS=5 DDP_WARMUP=1
fi
check_variants "$VARIANTS" bench/sync_compare.sh
for model in $MODELS; do
    [[ $model == lenet || $model == resnet20 ]] || die "unknown model '$model' (lenet or resnet20)"
done

LAMINA=$BUILD/lamina
[[ -x $LAMINA ]] || die "$LAMINA not found or not executable: run 'make build' (or give --build DIR)"
command -v mpirun >/dev/null || die "mpirun not found: apt-get install openmpi-bin"
[[ -x $PYTHON ]] || die "$PYTHON not found: the summary and PyTorch DDP run with Debian's interpreter"
[[ -f $LENET_CONFIG && -f $RESNET_CONFIG ]] || die "$LENET_CONFIG or $RESNET_CONFIG missing"

read -r load _ < /proc/loadavg
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "bench/sync_compare.sh: warning: load average is $load; timings need a quiet machine" >&2
fi

RUN_DIR=runs/sync-compare/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
[[ -n $RESULTS ]] || { [[ $QUICK == 1 ]] && RESULTS=$RUN_DIR/sync_compare.json || RESULTS=bench/results/sync_compare.json; }
MANIFEST=$RUN_DIR/runs.jsonl
: > "$MANIFEST"
echo "raw outputs: $RUN_DIR" >&2

MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -n "$RANKS" -x OMP_NUM_THREADS="$THREADS")
FAILED=0

# attempt WHAT LOG CMD...: runs CMD with its output in LOG; on failure says
# so (with the log's last lines) and returns 1, so the other rows still run.
attempt() {
    local what=$1 log=$2 status=0
    shift 2
    echo "  $what" >&2
    timeout "$RUN_TIMEOUT" "$@" >"$log" 2>&1 || status=$?
    if [[ $status != 0 ]]; then
        [[ $status == 124 ]] && echo "bench/sync_compare.sh: $what timed out after ${RUN_TIMEOUT}s" >&2
        echo "bench/sync_compare.sh: $what failed (exit $status); last lines of $log:" >&2
        tail -n 5 "$log" | sed 's/^/    /' >&2
        FAILED=1
        return 1
    fi
}

# record KIND MODEL VARIANT PATH STATUS: one manifest line for sync_summary.py.
record() {
    printf '{"kind":"%s","model":"%s","variant":"%s","path":"%s","ok":%s}\n' \
        "$1" "$2" "$3" "$4" "$5" >> "$MANIFEST"
}

model_sets() {
    case $1 in
        lenet)
            printf '%s\n' --set train.epochs="$EPOCHS" --set train.batch_size="$BATCH"
            [[ $LENET_MAX_STEPS == 0 ]] || printf '%s\n' --set train.max_steps="$LENET_MAX_STEPS"
            ;;
        resnet20) resnet20_sets "$STEPS" "$BATCH" ;;
    esac
}

model_config() { [[ $1 == lenet ]] && echo "$LENET_CONFIG" || echo "$RESNET_CONFIG"; }

for model in $MODELS; do
    echo "$model: $RANKS ranks x $THREADS thread(s), global batch $BATCH" >&2
    mapfile -t base < <(model_sets "$model")
    for variant in $VARIANTS; do
        mapfile -t sets < <(variant_sets "$variant")
        out=$RUN_DIR/$model-$variant
        ok=true
        attempt "lamina $model $variant -> $out" "$out.log" \
            "${MPIRUN[@]}" "$LAMINA" train "$(model_config "$model")" --out "$out" \
            --set threads="$THREADS" "${base[@]}" "${sets[@]}" || ok=false
        record lamina "$model" "$variant" "$out/metrics.jsonl" "$ok"
    done
    if [[ $DDP == 1 ]]; then
        data_args=(--data fashion-mnist)
        [[ $model == resnet20 ]] && data_args=(--data synthetic --synthetic-size $(((DDP_STEPS + DDP_WARMUP) * BATCH)))
        out=$RUN_DIR/$model-pytorch_ddp.jsonl
        ok=true
        attempt "pytorch DDP (gloo) $model -> $out" "$out.log" \
            env OMP_NUM_THREADS="$THREADS" "$PYTHON" bench/pytorch_ddp.py --spawn "$RANKS" \
            --model "$model" "${data_args[@]}" --batch "$BATCH" --threads "$THREADS" \
            --steps "$DDP_STEPS" --warmup "$DDP_WARMUP" || ok=false
        grep '^{' "$out.log" > "$out" || true
        record ddp "$model" pytorch_ddp "$out" "$ok"
    fi
done

echo >&2
# shellcheck disable=SC2086  # MODELS is a word list
"$PYTHON" bench/sync_summary.py compare "$RUN_DIR" --json-out "$RESULTS" \
    --meta "date=$(date -Iseconds)" \
    --meta "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --meta "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
    --meta "cores=$(nproc)" --meta "load_at_start=$load" --meta "quick=$QUICK" \
    --meta "ranks=$RANKS" --meta "threads=$THREADS" --meta "batch=$BATCH" \
    --meta "lenet_epochs=$EPOCHS" --meta "lenet_max_steps=$LENET_MAX_STEPS" \
    --meta "resnet20_steps=$STEPS" --meta "ddp_steps=$DDP_STEPS" || FAILED=1
echo "summary: $RESULTS" >&2
# The figures: every lamina run of a model on one page.
if [[ -n $REPORT ]]; then
    for model in $MODELS; do
        dirs=()
        for variant in $VARIANTS; do
            [[ -s $RUN_DIR/$model-$variant/metrics.jsonl ]] && dirs+=("$RUN_DIR/$model-$variant")
        done
        (( ${#dirs[@]} )) || continue
        page=${REPORT%.html}-$model.html
        "$LAMINA" report "${dirs[@]}" --out "$page" \
            --title "Sync policies, $model, $RANKS ranks x $THREADS thread(s), global batch $BATCH" || FAILED=1
    done
fi
exit "$FAILED"
