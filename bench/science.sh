#!/usr/bin/env bash
# Training speed of the science models, lamina against PyTorch, in one run.
#
# cosmoflow (4 x 64^3 volumes, 4 regression targets, MSE) and edsr (x2
# super-resolution, MSE) from lamina's zoo, and the same networks written
# layer for layer in PyTorch (bench/pytorch_science.py; the parameter counts
# must match or the model is not timed). Same batch, SGD with momentum,
# same threads (lamina: one process, threads: N; PyTorch:
# torch.set_num_threads(N)). Both sides train on the same HDF5 file of
# random float32 samples, held in memory: a step's data is one copy of the
# batch, so the comparison is of compute. Each run is one warm-up window and
# --windows timed windows (lamina: one epoch per window); the figure is the
# median window. Prints a markdown table; writes bench/results/science.json.
#
# Needs lamina built (--build DIR, default build). Run on a quiet machine.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/science.sh [options]
  --models "cosmoflow edsr"  models to compare (default: both)
  --threads N                threads for both frameworks (default 2)
  --precision fp32|bf16      bf16: lamina train.precision bf16 against PyTorch under
                             torch.autocast("cpu", dtype=torch.bfloat16) (default fp32)
  --repeats N                runs per framework and model, alternating (default 2)
  --windows N                timed windows per run, after one warm-up window (default 5)
  --cosmoflow-batch N        (default 8)
  --cosmoflow-steps N        steps per window (default 4)
  --cosmoflow-shape C,D,H,W  input volume (default 4,64,64,64)
  --cosmoflow-filters N      first block's filters (default 32, the zoo's)
  --edsr-batch N             (default 16)
  --edsr-steps N             steps per window (default 8)
  --edsr-shape C,H,W         low-resolution input; the target is x2 (default 3,48,48)
  --edsr-features N          (default 64, the zoo's)
  --edsr-blocks N            residual blocks (default 8, the zoo's)
  --edsr-loss mse|mae        (default mse)
  --lr X                     SGD learning rate (default 0.001), momentum 0.9
  --profile                  one more lamina run per model with train.profile: true;
                             prints lamina's per-layer time table (not used for the figures)
  --quick                    1 run per side, 2 windows of 2 steps (other options given beside it
                             still apply): a smoke test with noisy figures; its results go to
                             the run directory unless --results is given
  --build DIR                lamina's build directory (default build)
  --results FILE             summary JSON (default bench/results/science.json)
  --data-dir DIR             cache of the generated HDF5 inputs (default runs/bench-science/data)
  -h, --help                 this text
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

MODELS="cosmoflow edsr"
THREADS=2
PRECISION=fp32
REPEATS=2
WINDOWS=5
COSMO_BATCH=8
COSMO_STEPS=4
COSMO_SHAPE=4,64,64,64
COSMO_FILTERS=32
EDSR_BATCH=16
EDSR_STEPS=8
EDSR_SHAPE=3,48,48
EDSR_FEATURES=64
EDSR_BLOCKS=8
EDSR_RES_SCALE=0.1
EDSR_LOSS=mse
LR=0.001
MOMENTUM=0.9
PROFILE=0
QUICK=0
BUILD=build
RESULTS=
DATA_DIR=runs/bench-science/data
PYTHON=/usr/bin/python3
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}   # seconds; a hung run must not hang the benchmark

die() { echo "bench/science.sh: $*" >&2; exit 2; }
positive_int() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer, got '$2'"; }
shape_list() { [[ $3 =~ ^[1-9][0-9]*(,[1-9][0-9]*){$(($2 - 1))}$ ]] || die "$1 needs $2 positive integers separated by commas, got '$3'"; }

# --quick first sets its defaults; options given beside it still win.
for arg in "$@"; do
    if [[ $arg == --quick ]]; then
        QUICK=1 REPEATS=1 WINDOWS=2 COSMO_STEPS=2 EDSR_STEPS=2
    fi
done
while [[ $# -gt 0 ]]; do
    case $1 in
        --models) MODELS=${2:?--models needs a value}; shift 2 ;;
        --threads) positive_int "$1" "${2:-}"; THREADS=$2; shift 2 ;;
        --precision) [[ ${2:-} == fp32 || ${2:-} == bf16 ]] || die "--precision takes fp32 or bf16"
                     PRECISION=$2; shift 2 ;;
        --repeats) positive_int "$1" "${2:-}"; REPEATS=$2; shift 2 ;;
        --windows) positive_int "$1" "${2:-}"; WINDOWS=$2; shift 2 ;;
        --cosmoflow-batch) positive_int "$1" "${2:-}"; COSMO_BATCH=$2; shift 2 ;;
        --cosmoflow-steps) positive_int "$1" "${2:-}"; COSMO_STEPS=$2; shift 2 ;;
        --cosmoflow-shape) shape_list "$1" 4 "${2:-}"; COSMO_SHAPE=$2; shift 2 ;;
        --cosmoflow-filters) positive_int "$1" "${2:-}"; COSMO_FILTERS=$2; shift 2 ;;
        --edsr-batch) positive_int "$1" "${2:-}"; EDSR_BATCH=$2; shift 2 ;;
        --edsr-steps) positive_int "$1" "${2:-}"; EDSR_STEPS=$2; shift 2 ;;
        --edsr-shape) shape_list "$1" 3 "${2:-}"; EDSR_SHAPE=$2; shift 2 ;;
        --edsr-features) positive_int "$1" "${2:-}"; EDSR_FEATURES=$2; shift 2 ;;
        --edsr-blocks) positive_int "$1" "${2:-}"; EDSR_BLOCKS=$2; shift 2 ;;
        --edsr-loss) [[ ${2:-} == mse || ${2:-} == mae ]] || die "--edsr-loss is mse or mae"; EDSR_LOSS=$2; shift 2 ;;
        --lr) [[ ${2:-} =~ ^[0-9.eE+-]+$ ]] || die "--lr needs a number"; LR=$2; shift 2 ;;
        --profile) PROFILE=1; shift ;;
        --quick) QUICK=1; shift ;;
        --build) BUILD=${2:?--build needs a value}; shift 2 ;;
        --results) RESULTS=${2:?--results needs a value}; shift 2 ;;
        --data-dir) DATA_DIR=${2:?--data-dir needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done

LAMINA=$BUILD/lamina
[[ -x $LAMINA ]] || die "$LAMINA not found or not executable: build lamina first (make build, or --build DIR)"
[[ -x $PYTHON ]] || die "$PYTHON not found: PyTorch runs with Debian's interpreter"
"$PYTHON" -c 'import torch, h5py' 2>/dev/null ||
    die "$PYTHON cannot import torch and h5py: apt-get install python3-torch python3-h5py"
for model in $MODELS; do
    [[ $model == cosmoflow || $model == edsr ]] || die "unknown model '$model' (cosmoflow or edsr)"
done

read -r load _ < /proc/loadavg
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "bench/science.sh: warning: load average is $load; benchmarks need a quiet machine" >&2
fi

RUN_DIR=runs/bench-science/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR" "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)   # lamina's config names the files by absolute path
echo "raw outputs: $RUN_DIR" >&2
if [[ -z $RESULTS ]]; then
    RESULTS=bench/results/science.json
    [[ $QUICK == 1 ]] && RESULTS=$RUN_DIR/science.json
fi

# Per-model settings, as variables named after the model.
batch_of() { [[ $1 == cosmoflow ]] && echo "$COSMO_BATCH" || echo "$EDSR_BATCH"; }
steps_of() { [[ $1 == cosmoflow ]] && echo "$COSMO_STEPS" || echo "$EDSR_STEPS"; }
shape_of() { [[ $1 == cosmoflow ]] && echo "$COSMO_SHAPE" || echo "$EDSR_SHAPE"; }
loss_of() { [[ $1 == cosmoflow ]] && echo mse || echo "$EDSR_LOSS"; }

model_args() {   # pytorch_science.py's model options, matching lamina_model_yaml
    if [[ $1 == cosmoflow ]]; then
        echo "--model cosmoflow --filters $COSMO_FILTERS"
    else
        echo "--model edsr --features $EDSR_FEATURES --blocks $EDSR_BLOCKS --res-scale $EDSR_RES_SCALE --upscale 2"
    fi
}

lamina_model_yaml() {
    if [[ $1 == cosmoflow ]]; then
        echo "{name: cosmoflow, filters: $COSMO_FILTERS}"
    else
        echo "{name: edsr, features: $EDSR_FEATURES, blocks: $EDSR_BLOCKS, res_scale: $EDSR_RES_SCALE, upscale: 2}"
    fi
}

# One window of steps is one epoch of lamina: the file holds batch x steps
# samples. Files are cached by everything that shapes them.
data_file() {
    local model=$1 count=$(($(batch_of "$1") * $(steps_of "$1")))
    echo "$DATA_DIR/$model-$(shape_of "$model" | tr , x)-n$count.h5"
}

make_data() {
    local model=$1 train count
    train=$(data_file "$model")
    count=$(($(batch_of "$model") * $(steps_of "$model")))
    if [[ -f $train && -f ${train%.h5}-test.h5 ]]; then
        echo "  data: $train (cached)" >&2
        return 0
    fi
    echo "  data: writing $train ($count samples)" >&2
    # shellcheck disable=SC2046  # word splitting of model_args is intended
    "$PYTHON" bench/pytorch_science.py make-data $(model_args "$model") \
        --shape "$(shape_of "$model")" --count "$count" --out "$train.part" \
        --test-out "${train%.h5}-test.h5.part" >/dev/null
    mv "${train%.h5}-test.h5.part" "${train%.h5}-test.h5"
    mv "$train.part" "$train"
}

write_lamina_config() {
    local model=$1 config=$2 epochs=$3 train
    train=$(data_file "$model")
    cat >"$config" <<EOF
# written by bench/science.sh: one warm-up epoch, then one epoch per timed window
task: regression
loss: $(loss_of "$model")
model: $(lamina_model_yaml "$model")
seed: 1
threads: $THREADS
data: {name: hdf5, path: $train, test_path: ${train%.h5}-test.h5}
train: {epochs: $epochs, batch_size: $(batch_of "$model"), eval: false, shuffle: true}
optimizer: {name: sgd, lr: $LR, momentum: $MOMENTUM}
EOF
}

# Runs one command with its output in LOG; on failure says so and goes on
# (the summary marks the missing figure "failed").
attempt() {
    local what=$1 log=$2
    shift 2
    local status=0
    echo "  $what" >&2
    timeout "$RUN_TIMEOUT" "$@" >"$log" 2>&1 || status=$?
    if [[ $status != 0 ]]; then
        [[ $status == 124 ]] && echo "bench/science.sh: $what timed out after ${RUN_TIMEOUT}s" >&2
        echo "bench/science.sh: $what failed (exit $status); last lines of $log:" >&2
        tail -n 5 "$log" | sed 's/^/    /' >&2
        return 1
    fi
}

# lamina's parameter count, from the sync plan that --dry-run prints.
lamina_params() {
    local config=$1 log=$2
    attempt "lamina --dry-run (parameter count)" "$log" \
        env OMP_NUM_THREADS="$THREADS" "$LAMINA" train "$config" --dry-run || return 1
    awk '$1 == "total" { print $2 }' "$log"
}

run_model() {
    local model=$1 config params batch steps
    batch=$(batch_of "$model")
    steps=$(steps_of "$model")
    echo "$model: input $(shape_of "$model"), batch $batch, $REPEATS x (lamina, pytorch)," \
         "1 + $WINDOWS windows of $steps steps, $THREADS threads" >&2
    make_data "$model" || { echo "bench/science.sh: $model: cannot write its data" >&2; return 1; }
    config=$RUN_DIR/lamina-$model.yaml
    write_lamina_config "$model" "$config" $((WINDOWS + 1))
    params=$(lamina_params "$config" "$RUN_DIR/lamina-$model-dry-run.log") || return 1
    [[ $params =~ ^[0-9]+$ ]] || { echo "bench/science.sh: $model: no parameter count in lamina's --dry-run" >&2; return 1; }
    echo "  lamina $model: $params parameters" >&2
    cat >"$RUN_DIR/$model.json" <<EOF
{"input": "$(shape_of "$model" | tr , x)", "batch": $batch, "window_steps": $steps, "loss": "$(loss_of "$model")",
 "lamina_params": $params, "lamina_model": "$(lamina_model_yaml "$model")",
 "data": "$(data_file "$model"): random float32 samples, in memory on both sides (lamina data.name hdf5, no prefetching; PyTorch indexes the same tensors)"}
EOF
    local i
    for ((i = 1; i <= REPEATS; i++)); do
        mkdir -p "$RUN_DIR/lamina-$model-$i"
        attempt "lamina $model run $i" "$RUN_DIR/lamina-$model-$i.log" \
            env OMP_NUM_THREADS="$THREADS" "$LAMINA" train "$config" --out "$RUN_DIR/lamina-$model-$i" \
            --set train.precision="$PRECISION" || true
        # shellcheck disable=SC2046  # word splitting of model_args is intended
        attempt "pytorch $model run $i" "$RUN_DIR/pytorch-$model-$i.log" \
            env OMP_NUM_THREADS="$THREADS" "$PYTHON" bench/pytorch_science.py train $(model_args "$model") \
            --data "$(data_file "$model")" --batch "$batch" --threads "$THREADS" \
            --warmup-steps "$steps" --window-steps "$steps" --windows "$WINDOWS" \
            --lr "$LR" --momentum "$MOMENTUM" --loss "$(loss_of "$model")" --expect-params "$params" \
            --autocast "$([[ $PRECISION == bf16 ]] && echo bf16 || echo none)" || true
    done
    if [[ $PROFILE == 1 ]]; then
        write_lamina_config "$model" "$RUN_DIR/lamina-$model-profile.yaml" 2
        attempt "lamina $model with train.profile" "$RUN_DIR/lamina-$model-profile.log" \
            env OMP_NUM_THREADS="$THREADS" "$LAMINA" train "$RUN_DIR/lamina-$model-profile.yaml" \
            --out "$RUN_DIR/lamina-$model-profile" --set train.profile=true || true
        echo "  lamina $model per-layer profile: $RUN_DIR/lamina-$model-profile.log" >&2
    fi
}

for model in $MODELS; do
    run_model "$model" || echo "bench/science.sh: $model skipped" >&2
done

quick_flag=()
[[ $QUICK == 1 ]] && quick_flag=(--quick)
echo >&2
status=0
# shellcheck disable=SC2086  # MODELS is a word list
"$PYTHON" bench/pytorch_science.py summarize "$RUN_DIR" --models $MODELS --repeats "$REPEATS" \
    --windows "$WINDOWS" --threads "$THREADS" --momentum "$MOMENTUM" "${quick_flag[@]}" \
    --meta "date=$(date -Iseconds)" \
    --meta "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --meta "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
    --meta "cores=$(nproc)" --meta "load_at_start=$load" --meta "lr=$LR" \
    --json-out "$RESULTS" || status=$?
if [[ $PROFILE == 1 ]]; then
    for model in $MODELS; do
        log=$RUN_DIR/lamina-$model-profile.log
        [[ -f $log ]] && { echo; echo "lamina $model, train.profile (last lines of $log):"; tail -n 40 "$log"; }
    done
fi
echo "results: $RESULTS" >&2
exit $status
