#!/usr/bin/env bash
# lamina simulate: a table with every strategy at every requested rank
# count, a JSON copy with --out, and clear errors for bad --link / --ranks.
source "$(dirname "$0")/testing.bash"

CONFIG=${LMN_SOURCE_DIR:?set by ctest}/configs/bench-lenet.yaml
quick=(--steps 1 --set threads=1 --set data.path="$DATA")

if "$LAMINA" simulate "$CONFIG" --ranks 2,4 --link 1,50 "${quick[@]}" --out "$WORK/sim.json" \
    > "$WORK/table" 2> "$WORK/err"; then
  for ranks in 2 4; do
    for strategy in allreduce overlap multistep lazy localsgd; do
      grep -Eq "^ +$ranks +$strategy +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+" "$WORK/table" \
        || fail "no row for $strategy at $ranks ranks"
      grep -q "\"ranks\":$ranks,\"strategy\":\"$strategy\"" "$WORK/sim.json" \
        || fail "sim.json lacks $strategy at $ranks ranks"
    done
  done
  # LeNet's fc1 (1.6M weights) is cheaper to sync by activations at batch 64.
  grep -Eq "^ +2 +multistep .*act:fc1" "$WORK/table" || fail "multistep does not report fc1's activation exchange"
  grep -q '"activation_exchange":\["fc1"\]' "$WORK/sim.json" || fail "sim.json lacks the per-layer choice"
  rows=$(grep -cE "^ +[0-9]+ +(allreduce|overlap|multistep|lazy|localsgd) " "$WORK/table")
  (( rows == 10 )) || fail "expected 10 rows, got $rows"
  echo "ok: table and JSON with every strategy at 2 and 4 ranks"
else
  fail "lamina simulate failed:"; sed 's/^/    /' "$WORK/err" >&2
fi

# fp16 on the wire halves the bytes of the allreduce row.
"$LAMINA" simulate "$CONFIG" --ranks 2 --link 1,50 --strategies allreduce "${quick[@]}" > "$WORK/fp32" 2>&1
"$LAMINA" simulate "$CONFIG" --ranks 2 --link 1,50 --strategies allreduce --wire fp16 "${quick[@]}" > "$WORK/fp16" 2>&1
mb32=$(awk '$2 == "allreduce" {print $7}' "$WORK/fp32")
mb16=$(awk '$2 == "allreduce" {print $7}' "$WORK/fp16")
if awk -v a="$mb32" -v b="$mb16" 'BEGIN {exit !(a > 0 && (b * 2 - a) ^ 2 < 1e-6)}'; then
  echo "ok: fp16 halves the bytes ($mb32 -> $mb16 MB)"
else
  fail "fp16 bytes: '$mb32' -> '$mb16'"
fi

sim=("$LAMINA" simulate "$CONFIG" "${quick[@]}")
expect_failure "link without latency" "--link 1: expected GBPS,LATENCY_US" "${sim[@]}" --link 1
expect_failure "zero bandwidth" "--link 0,50: expected GBPS,LATENCY_US" "${sim[@]}" --link 0,50
expect_failure "link not a number" "--link fast,5" "${sim[@]}" --link fast,5
expect_failure "negative latency" "--link 1,-5" "${sim[@]}" --link 1,-5
expect_failure "missing link" "missing --link" "${sim[@]}"
expect_failure "zero ranks" "--ranks 0: '0' is not a rank count" "${sim[@]}" --link 1,50 --ranks 0
expect_failure "empty rank" "--ranks 2,,4: '' is not a rank count" "${sim[@]}" --link 1,50 --ranks 2,,4
expect_failure "ranks not a number" "'x' is not a rank count" "${sim[@]}" --link 1,50 --ranks 2,x
expect_failure "unknown strategy" "unknown strategy 'gossip'" "${sim[@]}" --link 1,50 --strategies allreduce,gossip
expect_failure "groups not dividing" "3 groups do not divide 2 ranks" "${sim[@]}" --link 1,50 --ranks 2,4 --groups 3
expect_failure "too many lazy layers" "--lazy-layers 9: the model has only 2 convolution layers" \
  "${sim[@]}" --link 1,50 --ranks 2 --lazy-layers 9
expect_failure "bad wire" "--wire fp8" "${sim[@]}" --link 1,50 --wire fp8
expect_failure "bad fc exchange" "--fc-exchange sometimes: choose auto, never or always" \
  "${sim[@]}" --link 1,50 --fc-exchange sometimes
expect_failure "two ranks, bad link" "--link 1" $MPIRUN -n 2 "${sim[@]}" --link 1
finish
