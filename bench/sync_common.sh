# shellcheck shell=bash
# Sourced by bench/sync_compare.sh and bench/slow_link.sh: the variants
# (one table row each) and the settings they share.
#
# A variant is a name and the --set arguments that select it. Only the keys
# of the chosen strategy are set: lamina rejects a key its strategy does
# not read (e.g. parallel.bucket_mb with allreduce).

SYNC_ALL_VARIANTS="allreduce overlap overlap_b1 multistep lazy localsgd_t8 localsgd_adaptive allreduce_fp16 allreduce_bf16"

# variant_sets NAME: prints the --set arguments of NAME, one per line; exit 1
# for an unknown name.
variant_sets() {
    case $1 in
        allreduce) printf '%s\n' --set parallel.strategy=allreduce ;;
        overlap) printf '%s\n' --set parallel.strategy=overlap ;;
        overlap_b1) printf '%s\n' --set parallel.strategy=overlap --set parallel.bucket_mb=1 ;;
        multistep) printf '%s\n' --set parallel.strategy=multistep ;;
        lazy) printf '%s\n' --set parallel.strategy=lazy ;;
        localsgd_t8) printf '%s\n' --set parallel.strategy=localsgd --set parallel.tau=8 ;;
        localsgd_adaptive) printf '%s\n' --set parallel.strategy=localsgd --set parallel.tau=adaptive ;;
        allreduce_fp16) printf '%s\n' --set parallel.strategy=allreduce --set parallel.wire=fp16 ;;
        allreduce_bf16) printf '%s\n' --set parallel.strategy=allreduce --set parallel.wire=bf16 ;;
        *) return 1 ;;
    esac
}

# check_variants "LIST" SCRIPT: dies naming the first unknown variant.
check_variants() {
    local variant
    for variant in $1; do
        variant_sets "$variant" >/dev/null || {
            echo "$2: unknown variant '$variant' (known: $SYNC_ALL_VARIANTS)" >&2
            exit 2
        }
    done
}

# The ResNet-20 run: configs/bench-resnet20.yaml (synthetic 3x32x32), one
# epoch of exactly STEPS steps of global batch BATCH, no evaluation.
resnet20_sets() {
    local steps=$1 batch=$2
    printf '%s\n' --set train.epochs=1 --set train.max_steps="$steps" \
        --set train.batch_size="$batch" --set data.train_size=$((steps * batch)) --set train.eval=false
}
