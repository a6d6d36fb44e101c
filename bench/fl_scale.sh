#!/usr/bin/env bash
# Federated scale: rounds per second and peak memory for K = 100, 1,000 and
# 10,000 clients on 2 ranks, LeNet on Fashion-MNIST, 100 active clients per
# round (so the work per round is the same and only K changes), IID.
# usage: bench/fl_scale.sh [--ranks N] [--clients "100 1000 10000"] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=2 CLIENTS="100 1000 10000" ROUNDS=3
while (( $# )); do
  case $1 in
    --ranks) RANKS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "fl_scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x build/lamina ]] || { echo "fl_scale.sh: build/lamina missing: run make build" >&2; exit 1; }
OUT=runs/fl-scale
mkdir -p "$OUT"
echo "| clients | active | rounds/s | peak RSS per rank (MB) | client state (MB) |"
echo "|---:|---:|---:|---:|---:|"
for k in $CLIENTS; do
  ratio=$(/usr/bin/python3 -c "print(100 / $k)")
  mpirun --oversubscribe --allow-run-as-root --bind-to none -n "$RANKS" build/lamina fl \
    configs/fashion-mnist-fedlama.yaml --set fl.clients="$k" --set fl.active_ratio="$ratio" \
    --set fl.partition=iid --set fl.aggregator=fedavg --set fl.rounds="$ROUNDS" \
    --set fl.eval_every="$ROUNDS" --out "$OUT/k$k" > "$OUT/k$k.log" 2>&1 \
    || { echo "K=$k failed: see $OUT/k$k.log" >&2; exit 1; }
  /usr/bin/python3 - "$OUT/k$k/metrics.jsonl" "$k" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r["seconds"] for r in rows]
print(f"| {sys.argv[2]} | {rows[-1]['active_clients']} | {len(rows) / sum(train):.3f} | "
      f"{max(r['peak_rss_bytes'] for r in rows) / 1e6:.0f} | "
      f"{max(r['client_state_bytes'] for r in rows) / 1e6:.1f} |")
PY
done
