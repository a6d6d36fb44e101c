#!/usr/bin/env bash
# Runs every libFuzzer harness of a -DLMN_FUZZ=ON build and prints, per
# target, executions, coverage (libFuzzer's cov: edges, ft: features),
# corpus size and crashes. Exit status 1 if any target crashed.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [RUNS] [JOBS]
# Each target stops at SECONDS or RUNS executions, whichever comes first
# (RUNS 0 = no limit); JOBS targets run at once. Work files live in
# BUILD_DIR/fuzz-work: corpus/<target> (kept between runs, so coverage
# accumulates), logs/<target>.log, artifacts/<target>/ (crashing inputs).
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR [SECONDS] [RUNS] [JOBS]}
seconds=${2:-150}
runs=${3:-1000000}
jobs=${4:-2}
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
bin="$build/tests/fuzz"
work="$build/fuzz-work"
targets=(config idx cifar image hdf5_dataset checkpoint safetensors)

mkdir -p "$work/logs"
for t in "${targets[@]}"; do
  [[ -x "$bin/fuzz_$t" ]] || { echo "lamina: fuzz: $bin/fuzz_$t missing; build with -DLMN_FUZZ=ON" >&2; exit 2; }
  rm -rf "$work/artifacts/$t"
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
done

# Seeds: generated binaries, the repository's configs and a few with
# --set overrides (the harness's "\n#--\n" separator), the key dictionary.
rm -rf "$work/seeds"
ASAN_OPTIONS=detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  "$bin/fuzz_seeds" "$work/seeds" || { echo "lamina: fuzz: seed writer failed" >&2; exit 2; }
mkdir -p "$work/seeds/config"
cp "$source_dir"/configs/*.yaml "$work/seeds/config/"
printf 'model: lenet\n#--\ntrain.epochs=2\n#--\noptimizer.lr=0.5\n' > "$work/seeds/config/set1"
printf 'model:\n  - {type: conv, out: 4, kernel: [3, 3], pad: 1}\n  - {type: flatten}\n  - {type: linear, out: 10}\n#--\nmodel[0].out=8\n#--\nfl.clients=4\n' \
  > "$work/seeds/config/set2"
"$here/make_dict.sh" > "$work/config.dict"

# Telling lamina's frames from HDF5's (below) needs function names and
# source lines in the stacks: without llvm-symbolizer every frame is only
# a module and an offset.
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]]; then
  for candidate in "$(command -v llvm-symbolizer)" "$(command -v llvm-symbolizer-14)" \
                   /usr/lib/llvm-*/bin/llvm-symbolizer; do
    [[ -n $candidate && -x $candidate ]] && { ASAN_SYMBOLIZER_PATH=$candidate; break; }
  done
fi
if [[ ! -x ${ASAN_SYMBOLIZER_PATH:-} ]]; then
  echo "lamina: fuzz: llvm-symbolizer not found (install llvm-14: scripts/install-deps.sh --with-fuzz," \
       "or set ASAN_SYMBOLIZER_PATH)" >&2
  exit 2
fi
export ASAN_SYMBOLIZER_PATH

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
export OMPI_MCA_btl=self OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$here/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# One target: libFuzzer stops at its first crash, so after a crash the
# target is started again (the crashing input saved under artifacts/) until
# its time or executions are spent, at most 5 starts.
run_one() {
  local t=$1 dict=() start=$SECONDS total=0 part=0
  [[ $t == config ]] && dict=(-dict="$work/config.dict")
  : >"$work/logs/$t.log"
  while (( part < 5 )); do
    local left=$(( seconds - (SECONDS - start) )) limit=()
    (( left < 2 )) && break
    if (( runs > 0 )); then
      (( total >= runs )) && break
      limit=(-runs=$(( runs - total )))
    fi
    "$bin/fuzz_$t" "$work/corpus/$t" "$work/seeds/$t" "${dict[@]}" "${limit[@]}" \
      -max_total_time="$left" -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" >"$work/logs/$t.part" 2>&1
    local rc=$?
    cat "$work/logs/$t.part" >>"$work/logs/$t.log"
    local n
    n=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$work/logs/$t.part" | awk '{print $2}' | tail -1)
    [[ -z $n ]] && n=$(grep -oE '^#[0-9]+' "$work/logs/$t.part" | tail -1 | tr -d '#')
    total=$(( total + ${n:-0} ))
    part=$(( part + 1 ))
    (( rc == 0 )) && break
  done
  echo "$total" >"$work/logs/$t.execs"
}
export -f run_one
export work bin seconds runs
echo "lamina: fuzzing ${#targets[@]} targets, each ${seconds} s or ${runs} runs, $jobs at a time"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'

# Inputs of HDF5 targets and safetensors exports live on /dev/shm, named by
# the harness's process id: remove those whose process is gone (a crash or
# timeout kills it before it cleans up).
for f in /dev/shm/lamina-fuzz-*; do
  [[ -e $f ]] || continue
  pid=$(basename "$f" | sed -E 's/^lamina-fuzz-([0-9]+).*/\1/')
  [[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null && rm -rf "$f"
done

# A crash, timeout or over-limit malloc whose stack reaches a libhdf5 frame
# before any of lamina's is HDF5 itself failing on a corrupt file (1.10.8: a
# memory error, a global-heap read that runs for minutes, a dataspace copy
# inside H5Dread asking for more than -malloc_limit_mb): upstream, listed,
# not failed. Any other crash, leak, timeout or out-of-memory fails the run.
failed=0
printf '%-14s %12s %8s %8s %7s %8s  %s\n' target executions cov ft corpus crashes status
for t in "${targets[@]}"; do
  log="$work/logs/$t.log"
  execs=$(cat "$work/logs/$t.execs" 2>/dev/null)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | awk '{print $2}')
  corpus=$(grep -oE 'corp: [0-9]+' <<<"$last" | awk '{print $2}')
  # libFuzzer also saves inputs slower than 10 s as slow-unit-*: on a loaded
  # machine that is the machine, not a finding (a hang is timeout-*).
  crashes=$(find "$work/artifacts/$t" -type f ! -name 'slow-unit-*' | wc -l)
  upstream=$(awk '/^==[0-9]+== ?ERROR: (AddressSanitizer|libFuzzer: timeout|libFuzzer: out-of-memory \(malloc)/ {inside=1; next}
                  inside && /^    #[0-9]+ / { if ($0 ~ /\/src\/[a-z]+\/[a-z_0-9]+\.c:|tests\/fuzz\/fuzz_[a-z_0-9]+\.c:/) {inside=0}
                                             else if ($0 ~ /libhdf5/) {n++; inside=0} }
                  END {print n+0}' "$log")
  status=ok
  if (( crashes > upstream )); then
    status="FAILED (see $log, inputs in $work/artifacts/$t)"
    failed=1
  elif (( crashes > 0 )); then
    status="ok; $crashes inside libhdf5 (upstream), inputs in $work/artifacts/$t"
  fi
  printf '%-14s %12s %8s %8s %7s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$crashes" "$status"
done
# A failure in a throwaway checkout (CI's chroot) is lost with it: show each
# failed target's first error with its stack, and its inputs when small.
(( failed )) && for t in "${targets[@]}"; do
  log="$work/logs/$t.log"
  grep -qE '^==[0-9]+== ?ERROR|runtime error|^SUMMARY' "$log" || continue
  echo "--- $t: first error ---" >&2
  awk '/^==[0-9]+== ?ERROR|runtime error/ {on=1} on {print; if (++n == 30) exit}' "$log" >&2
  for f in "$work/artifacts/$t"/*; do
    [[ -f $f && $(basename "$f") != slow-unit-* ]] || continue
    if (( $(stat -c %s "$f") <= 4096 )); then
      echo "--- $t: input $(basename "$f") (base64) ---" >&2
      base64 -w 0 "$f" >&2; echo >&2
    fi
  done
done
exit $failed
