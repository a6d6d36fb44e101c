#!/usr/bin/env bash
# FedAvg vs FedLAMA vs FedPMA vs FedAvg at interval 2 tau' on Fashion-MNIST
# (configs/fashion-mnist-fedlama.yaml: 128 clients, 25% active, 10 local
# steps, phi 2, 64 rounds), then a table of accuracy against bytes.
# usage: bench/fl_compare.sh [--ranks N] [--partition dirichlet|iid] [--alpha A]
#                            [--rounds R] [--variants "fedavg fedlama partial fedavg2"]
#                            [--report FILE.html]  (the curves, drawn by lamina report)
#                            [--build DIR]  (lamina's build directory, default build)
# Accuracy and bytes do not depend on machine load; seconds do.
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=2 PARTITION=dirichlet ALPHA=0.1 ROUNDS=64 VARIANTS="fedavg fedlama partial fedavg2" REPORT= BUILD=build
while (( $# )); do
  case $1 in
    --ranks) RANKS=$2; shift 2 ;;
    --partition) PARTITION=$2; shift 2 ;;
    --alpha) ALPHA=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    --report) REPORT=${2:?--report needs a value}; shift 2 ;;
    --build) BUILD=${2:?--build needs a value}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "fl_compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
LAMINA=$BUILD/lamina
[[ -x $LAMINA ]] || { echo "fl_compare.sh: $LAMINA missing: run make build" >&2; exit 1; }
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
tag="$PARTITION${PARTITION/iid/}"; [[ $PARTITION == dirichlet ]] && tag="dir$ALPHA"
OUT=runs/fl-bench/$tag
mkdir -p "$OUT"
for variant in $VARIANTS; do
  case $variant in
    fedavg)  extra=(--set fl.aggregator=fedavg) ;;
    fedlama) extra=(--set fl.aggregator=fedlama) ;;
    partial) extra=(--set fl.aggregator=partial) ;;
    fedavg2) extra=(--set fl.aggregator=fedavg --set fl.local_steps=20) ;;
    *) echo "fl_compare.sh: unknown variant $variant" >&2; exit 2 ;;
  esac
  partition_keys=(--set fl.partition="$PARTITION")
  [[ $PARTITION == dirichlet ]] && partition_keys+=(--set fl.alpha="$ALPHA")
  echo "== $variant ($tag) -> $OUT/$variant" >&2
  "${MPIRUN[@]}" -n "$RANKS" "$LAMINA" fl configs/fashion-mnist-fedlama.yaml \
    --set fl.rounds="$ROUNDS" "${partition_keys[@]}" "${extra[@]}" --out "$OUT/$variant" --overwrite \
    > "$OUT/$variant.log" 2>&1 || { echo "$variant failed: see $OUT/$variant.log" >&2; exit 1; }
done
/usr/bin/python3 bench/fl_summary.py "$OUT" $VARIANTS
if [[ -n $REPORT ]]; then
  dirs=()
  for variant in $VARIANTS; do dirs+=("$OUT/$variant"); done
  "$LAMINA" report "${dirs[@]}" --out "$REPORT" \
    --title "Federated aggregators, Fashion-MNIST, partition $tag, $ROUNDS rounds"
fi
