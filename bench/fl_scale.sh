#!/usr/bin/env bash
# Federated scale: rounds per second and peak memory for K = 100, 1,000 and
# 10,000 clients on 2 ranks, LeNet on Fashion-MNIST, 100 active clients per
# round (so the work per round is the same and only K changes), IID and
# Dir(0.1) label skew (fl.partition: dirichlet).
# With --accuracy R: FedAvg vs FedLAMA at K = 1,000, Dir(0.1), R rounds,
# --active A clients per round (default 20): upload bytes and the mean test
# accuracy of the evaluations (every 5 rounds).
# usage: bench/fl_scale.sh [--ranks N] [--clients "100 1000 10000"] [--rounds R]
#                          [--partitions "iid dirichlet"] [--accuracy ROUNDS] [--active A]
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=2 CLIENTS="100 1000 10000" ROUNDS=3 PARTITIONS="iid dirichlet" ACCURACY=0 ACTIVE=20
while (( $# )); do
  case $1 in
    --ranks) RANKS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --partitions) PARTITIONS=$2; shift 2 ;;
    --accuracy) ACCURACY=$2; shift 2 ;;
    --active) ACTIVE=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "fl_scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x build/lamina ]] || { echo "fl_scale.sh: build/lamina missing: run make build" >&2; exit 1; }
OUT=runs/fl-scale
mkdir -p "$OUT"
run_fl() {  # NAME KEY=VALUE...
  local name=$1; shift
  local sets=()
  for kv in "$@"; do sets+=(--set "$kv"); done
  mpirun --oversubscribe --allow-run-as-root --bind-to none -n "$RANKS" build/lamina fl \
    configs/fashion-mnist-fedlama.yaml --set fl.alpha=0.1 "${sets[@]}" --out "$OUT/$name" --overwrite \
    > "$OUT/$name.log" 2>&1 || { echo "$name failed: see $OUT/$name.log" >&2; exit 1; }
}

if (( ACCURACY > 0 )); then
  echo "| K | active | aggregator | rounds | upload bytes | mean test acc (every 5 rounds) | last test acc |"
  echo "|---:|---:|---|---:|---:|---:|---:|"
  ratio=$(/usr/bin/python3 -c "print($ACTIVE / 1000)")
  for agg in fedavg fedlama; do
    run_fl "acc-$agg" fl.clients=1000 fl.active_ratio="$ratio" fl.partition=dirichlet \
      fl.aggregator=$agg fl.rounds="$ACCURACY" fl.eval_every=5
    /usr/bin/python3 - "$OUT/acc-$agg/metrics.jsonl" "$agg" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
accs = [r["test_acc"] for r in rows if r.get("test_acc") is not None]
print(f"| 1000 | {rows[-1]['active_clients']} | {sys.argv[2]} | {len(rows)} | {rows[-1]['cum_comm_bytes']:.4g} | "
      f"{sum(accs) / len(accs):.4f} | {accs[-1]:.4f} |")
PY
  done
  exit 0
fi

echo "| partition | clients | active | rounds/s | peak RSS per rank (MB) | client state (MB) |"
echo "|---|---:|---:|---:|---:|---:|"
for partition in $PARTITIONS; do
  for k in $CLIENTS; do
    ratio=$(/usr/bin/python3 -c "print(100 / $k)")
    run_fl "$partition-k$k" fl.clients="$k" fl.active_ratio="$ratio" fl.partition="$partition" \
      fl.aggregator=fedavg fl.rounds="$ROUNDS" fl.eval_every="$ROUNDS"
    /usr/bin/python3 - "$OUT/$partition-k$k/metrics.jsonl" "$k" "$partition" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r["seconds"] for r in rows]
label = "Dir(0.1)" if sys.argv[3] == "dirichlet" else sys.argv[3]
print(f"| {label} | {sys.argv[2]} | {rows[-1]['active_clients']} | {len(rows) / sum(train):.3f} | "
      f"{max(r['peak_rss_bytes'] for r in rows) / 1e6:.0f} | "
      f"{max(r['client_state_bytes'] for r in rows) / 1e6:.1f} |")
PY
  done
done
