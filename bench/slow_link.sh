#!/usr/bin/env bash
# Sync policies over a real, rate-limited link on this one machine.
#
# Two network namespaces, one rank each, joined by a veth pair that tc
# limits to RATE (../shared/slow-link.md); OpenMPI over TCP only. For each
# variant (sync_common.sh) on ResNet-20 (synthetic 3x32x32) and LeNet
# (Fashion-MNIST), a fixed number of steps without evaluation, 1 thread per
# rank: images/s, bytes, comm and exposed comm seconds, the fraction of
# communication hidden (1 - exposed / comm, and 1 - exposed / exposed of
# allreduce), the speedup over allreduce; PyTorch DDP (gloo) over the same
# link; and `lamina simulate`'s prediction for the same config and link
# beside each measurement. Markdown on stdout, JSON in
# bench/results/slow_link_<rate>.json, raw runs in runs/slow-link/<stamp>/.
#
# Needs root (ip netns, tc). Creates only the namespaces lmn-slowA and
# lmn-slowB, the links lmnv{A,B} (data), lmnh{A,B} / lmnp{A,B} (control) and
# the addresses 10.77.0.{1,2}/24, 10.78.{1,2}.{1,2}/24; refuses to start if
# any of them exists already; removes all of them on exit, whatever the exit.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/slow_link.sh [RATE] [options]
  RATE                 tc rate of the link, e.g. 1gbit (default), 100mbit, 500mbit
  --models "M..."      resnet20, lenet (default both)
  --variants "V..."    rows (default all): allreduce overlap overlap_b1 multistep lazy
                       localsgd_t8 localsgd_adaptive allreduce_fp16 allreduce_bf16
  --steps N            training steps per run (default 60)
  --batch N            global batch (default 64)
  --ddp-steps N        PyTorch DDP timed steps (default 30, after 5 warm-up steps)
  --no-ddp             skip PyTorch DDP
  --no-simulate        skip `lamina simulate`
  --latency-us US      latency given to `lamina simulate` (default: half the
                       measured round trip between the namespaces)
  --quick              smoke run: 6 steps, DDP 3 steps; results go to the run
                       directory, not bench/results
  --build DIR          lamina's build directory (default build)
  --results FILE       summary JSON (default bench/results/slow_link_<RATE>.json)
  -h, --help           this text
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/sync_common.sh
source bench/sync_common.sh

RATE=1gbit MODELS="resnet20 lenet" VARIANTS=$SYNC_ALL_VARIANTS STEPS=60 BATCH=64
DDP=1 DDP_STEPS=30 DDP_WARMUP=5 SIMULATE=1 SIM_STEPS=5 LATENCY_US='' QUICK=0
BUILD=build RESULTS=
THREADS=1   # the two namespaces share the machine's 2 cores
PYTHON=/usr/bin/python3
RUN_TIMEOUT=${RUN_TIMEOUT:-1200}   # seconds per lamina run
DDP_TIMEOUT=${DDP_TIMEOUT:-600}    # seconds per DDP run (both ranks)

NS_A=lmn-slowA NS_B=lmn-slowB
DATA_A=lmnvA DATA_B=lmnvB            # the rate-limited data link
HOST_A=lmnhA HOST_B=lmnhB            # control links, host side ...
PEER_A=lmnpA PEER_B=lmnpB            # ... and namespace side
ADDR_A=10.77.0.1 ADDR_B=10.77.0.2 DATA_NET=10.77.0.0/24
CTL_HOST_A=10.78.1.1 CTL_NS_A=10.78.1.2 CTL_HOST_B=10.78.2.1 CTL_NS_B=10.78.2.2

die() { echo "bench/slow_link.sh: $*" >&2; exit 2; }
positive_int() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer, got '$2'"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --models) MODELS=${2:?--models needs a value}; shift 2 ;;
        --variants) VARIANTS=${2:?--variants needs a value}; shift 2 ;;
        --steps) positive_int "$1" "${2:-}"; STEPS=$2; shift 2 ;;
        --batch) positive_int "$1" "${2:-}"; BATCH=$2; shift 2 ;;
        --ddp-steps) positive_int "$1" "${2:-}"; DDP_STEPS=$2; shift 2 ;;
        --no-ddp) DDP=0; shift ;;
        --no-simulate) SIMULATE=0; shift ;;
        --latency-us) [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--latency-us needs a number, got '${2:-}'"
                      LATENCY_US=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --build) BUILD=${2:?--build needs a value}; shift 2 ;;
        --results) RESULTS=${2:?--results needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option '$1'" ;;
        *) RATE=$1; shift ;;
    esac
done
if [[ $QUICK == 1 ]]; then
    STEPS=6 DDP_STEPS=3 DDP_WARMUP=1 SIM_STEPS=2
fi
check_variants "$VARIANTS" bench/slow_link.sh
for model in $MODELS; do
    [[ $model == lenet || $model == resnet20 ]] || die "unknown model '$model' (lenet or resnet20)"
done

# RATE as tc reads it (SI units: 1gbit = 1e9 bit/s) and in Gbit/s for simulate.
[[ $RATE =~ ^([0-9]+(\.[0-9]+)?)(gbit|mbit|kbit)$ ]] ||
    die "rate '$RATE' is not a number followed by gbit, mbit or kbit (e.g. 1gbit, 100mbit)"
case ${BASH_REMATCH[3]} in
    gbit) GBPS=${BASH_REMATCH[1]} ;;
    mbit) GBPS=$(awk -v r="${BASH_REMATCH[1]}" 'BEGIN { print r / 1e3 }') ;;
    kbit) GBPS=$(awk -v r="${BASH_REMATCH[1]}" 'BEGIN { print r / 1e6 }') ;;
esac

LAMINA=$BUILD/lamina
[[ $(id -u) == 0 ]] || die "needs root: it creates network namespaces and tc queues"
for tool in ip tc mpirun timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (ip/tc: apt-get install iproute2; mpirun: openmpi-bin)"
done
[[ -x $LAMINA ]] || die "$LAMINA not found or not executable: run 'make build' (or give --build DIR)"
[[ -x $PYTHON ]] || die "$PYTHON not found: the summary and PyTorch DDP run with Debian's interpreter"

# --- refuse to touch anything that is not ours.
for ns in "$NS_A" "$NS_B"; do
    [[ ! -e /run/netns/$ns ]] || die "network namespace $ns exists already (another run of this script? \
if none is running: ip netns del $ns)"
done
for link in "$DATA_A" "$DATA_B" "$HOST_A" "$HOST_B" "$PEER_A" "$PEER_B"; do
    ! ip link show "$link" >/dev/null 2>&1 || die "network interface $link exists already; not touching it"
done
if ip -4 -o addr show | grep -Eq ' (10\.77\.0|10\.78\.1|10\.78\.2)\.'; then
    die "an address in 10.77.0.0/24, 10.78.1.0/24 or 10.78.2.0/24 is already in use on this host; not touching it"
fi
if ip -4 route show | grep -Eq '^(10\.77\.0|10\.78\.1|10\.78\.2)\.0/24'; then
    die "a route to 10.77.0.0/24, 10.78.1.0/24 or 10.78.2.0/24 exists already; not touching it"
fi

RATE_TAG=$RATE
RUN_DIR=runs/slow-link/$(date +%Y%m%d-%H%M%S)-$RATE_TAG
mkdir -p "$RUN_DIR"
[[ -n $RESULTS ]] || { [[ $QUICK == 1 ]] && RESULTS=$RUN_DIR/slow_link_$RATE_TAG.json || RESULTS=bench/results/slow_link_$RATE_TAG.json; }
MANIFEST=$RUN_DIR/runs.jsonl
: > "$MANIFEST"
echo "raw outputs: $RUN_DIR" >&2

# --- set-up and tear-down. CREATED lists what exists, so that tear-down
# removes exactly that, in reverse order, however the script ends.
CREATED=()
CHILDREN=()   # process-group leaders (setsid)
PEERS=()      # plain background processes
# shellcheck disable=SC2317  # reached through the traps
teardown() {
    local status=$? pid i item
    trap - EXIT INT TERM HUP
    # Our own children only: the attempt in flight (its own process group,
    # see attempt) and a DDP peer or probe server started beside it.
    for pid in "${CHILDREN[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${PEERS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${CHILDREN[@]}" "${PEERS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for ((i = ${#CREATED[@]} - 1; i >= 0; i--)); do
        item=${CREATED[i]}
        case $item in
            netns:*) ip netns del "${item#netns:}" 2>/dev/null || true ;;
            link:*) ! ip link show "${item#link:}" >/dev/null 2>&1 || ip link del "${item#link:}" 2>/dev/null || true ;;
        esac
    done
    for item in "${CREATED[@]}"; do
        case $item in
            netns:*) [[ ! -e /run/netns/${item#netns:} ]] || echo "bench/slow_link.sh: could not delete namespace ${item#netns:}" >&2 ;;
            link:*) ! ip link show "${item#link:}" >/dev/null 2>&1 || echo "bench/slow_link.sh: could not delete link ${item#link:}" >&2 ;;
        esac
    done
    [[ ${#CREATED[@]} == 0 ]] || echo "namespaces and links removed" >&2
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

setup_link() {
    local n
    ip netns add "$NS_A"; CREATED+=("netns:$NS_A")
    ip netns add "$NS_B"; CREATED+=("netns:$NS_B")
    ip link add "$DATA_A" type veth peer name "$DATA_B"; CREATED+=("link:$DATA_A")
    ip link set "$DATA_A" netns "$NS_A"
    ip link set "$DATA_B" netns "$NS_B"
    ip -n "$NS_A" addr add "$ADDR_A/24" dev "$DATA_A"
    ip -n "$NS_B" addr add "$ADDR_B/24" dev "$DATA_B"
    ip link add "$HOST_A" type veth peer name "$PEER_A"; CREATED+=("link:$HOST_A")
    ip link add "$HOST_B" type veth peer name "$PEER_B"; CREATED+=("link:$HOST_B")
    ip link set "$PEER_A" netns "$NS_A"
    ip link set "$PEER_B" netns "$NS_B"
    ip addr add "$CTL_HOST_A/24" dev "$HOST_A"
    ip addr add "$CTL_HOST_B/24" dev "$HOST_B"
    ip -n "$NS_A" addr add "$CTL_NS_A/24" dev "$PEER_A"
    ip -n "$NS_B" addr add "$CTL_NS_B/24" dev "$PEER_B"
    ip link set "$HOST_A" up
    ip link set "$HOST_B" up
    for n in A B; do
        local ns_var=NS_$n data_var=DATA_$n peer_var=PEER_$n
        ip -n "${!ns_var}" link set lo up
        ip -n "${!ns_var}" link set "${!data_var}" up
        ip -n "${!ns_var}" link set "${!peer_var}" up
    done
    ip -n "$NS_A" route add default via "$CTL_HOST_A"
    ip -n "$NS_B" route add default via "$CTL_HOST_B"
    ip netns exec "$NS_A" tc qdisc add dev "$DATA_A" root tbf rate "$RATE" burst 256kb latency 50ms
    ip netns exec "$NS_B" tc qdisc add dev "$DATA_B" root tbf rate "$RATE" burst 256kb latency 50ms
}

echo "link: $NS_A ($ADDR_A) <-> $NS_B ($ADDR_B), tc tbf $RATE" >&2
setup_link

FAILED=0
# attempt WHAT LOG CMD...: runs CMD under timeout with its output in LOG, in
# a process group of its own that tear-down can stop (setsid: not being a
# group leader here, it does not fork, so $! leads the group); on failure
# says so, with the log's last lines, and returns 1.
attempt() {
    local what=$1 log=$2 status=0
    shift 2
    echo "  $what" >&2
    setsid timeout "$RUN_TIMEOUT" "$@" >"$log" 2>&1 &
    CHILDREN=("$!")
    wait "$!" || status=$?
    CHILDREN=()
    if [[ $status != 0 ]]; then
        [[ $status == 124 ]] && echo "bench/slow_link.sh: $what timed out after ${RUN_TIMEOUT}s" >&2
        echo "bench/slow_link.sh: $what failed (exit $status); last lines of $log:" >&2
        tail -n 5 "$log" | sed 's/^/    /' >&2
        FAILED=1
        return 1
    fi
}

# record KIND MODEL VARIANT PATH OK [LINK_BYTES]: one manifest line for
# sync_summary.py; LINK_BYTES, what crossed the data link during the run.
record() {
    printf '{"kind":"%s","model":"%s","variant":"%s","path":"%s","ok":%s,"link_bytes":%s}\n' \
        "$1" "$2" "$3" "$4" "$5" "${6:-null}" >> "$MANIFEST"
}

# Bytes both ends have sent into the data link so far (tc's counters): the
# proof that the ranks talked over the limited link, and how much.
link_bytes() {
    local a b
    a=$(ip netns exec "$NS_A" tc -s qdisc show dev "$DATA_A" | awk '/Sent/ { print $2; exit }')
    b=$(ip netns exec "$NS_B" tc -s qdisc show dev "$DATA_B" | awk '/Sent/ { print $2; exit }')
    echo $((${a:-0} + ${b:-0}))
}

# --- the link as TCP sees it: round trip and one-way rate.
PROBE=$RUN_DIR/link-probe.jsonl
probe_mb=16
[[ $GBPS == 0.* ]] && probe_mb=4
ip netns exec "$NS_A" timeout 120 "$PYTHON" bench/net_probe.py server "$ADDR_A" 5201 \
    >"$RUN_DIR/link-probe-server.log" 2>&1 &
probe_server=$!
PEERS=("$probe_server")
ok=true
attempt "link probe (TCP, $probe_mb MB)" "$PROBE.log" \
    ip netns exec "$NS_B" "$PYTHON" bench/net_probe.py client "$ADDR_A" 5201 --megabytes "$probe_mb" || ok=false
wait "$probe_server" 2>/dev/null || true
PEERS=()
grep '^{' "$PROBE.log" > "$PROBE" || true
record probe link probe "$PROBE" "$ok"
if [[ -z $LATENCY_US ]]; then
    LATENCY_US=$("$PYTHON" -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["rtt_us_median"] / 2, 1))' \
        "$PROBE" 2>/dev/null || echo 50)
fi
[[ -s $PROBE ]] && echo "  measured: $(cat "$PROBE")" >&2

export PMIX_MCA_ptl_base_remote_connections=1 PMIX_MCA_ptl_base_if_include=$CTL_HOST_A/24
# shellcheck disable=SC2054  # tcp,self is one argument
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none
        --mca btl tcp,self --mca btl_tcp_if_include "$DATA_NET"
        -x OMP_NUM_THREADS="$THREADS" -x PMIX_MCA_ptl_base_remote_connections -x PMIX_MCA_ptl_base_if_include)

model_config() { [[ $1 == lenet ]] && echo configs/bench-lenet.yaml || echo configs/bench-resnet20.yaml; }
model_sets() {
    case $1 in
        lenet) printf '%s\n' --set train.epochs=1 --set train.max_steps="$STEPS" \
                   --set train.batch_size="$BATCH" --set train.eval=false ;;
        resnet20) resnet20_sets "$STEPS" "$BATCH" ;;
    esac
}

# simulate_options VARIANT METRICS: `lamina simulate` options for the variant,
# with the interval lazy / adaptive localsgd ended the run on.
simulate_options() {
    local state
    state=$("$PYTHON" -c 'import json,sys
last=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
print(int(last.get("lazy_k", last.get("tau", 0))))' "$2" 2>/dev/null || echo 0)
    case $1 in
        allreduce|overlap|multistep) printf '%s\n' --strategies "$1" ;;
        overlap_b1) printf '%s\n' --strategies overlap --bucket-mb 1 ;;
        lazy) printf '%s\n' --strategies lazy; [[ $state == 0 ]] || printf '%s\n' --lazy-k "$state" ;;
        localsgd_t8) printf '%s\n' --strategies localsgd --tau 8 ;;
        localsgd_adaptive) printf '%s\n' --strategies localsgd; [[ $state == 0 ]] || printf '%s\n' --tau "$state" ;;
        allreduce_fp16) printf '%s\n' --strategies allreduce --wire fp16 ;;
        allreduce_bf16) printf '%s\n' --strategies allreduce --wire bf16 ;;
    esac
}

if [[ $SIMULATE == 1 ]] && ! "$LAMINA" simulate --help >/dev/null 2>&1; then
    echo "bench/slow_link.sh: '$LAMINA simulate' is not available in this build; no predictions" >&2
    SIMULATE=0
fi

for model in $MODELS; do
    echo "$model: 2 ranks (one per namespace) x $THREADS thread, global batch $BATCH, $STEPS steps, $RATE" >&2
    mapfile -t base < <(model_sets "$model")
    config=$(model_config "$model")
    for variant in $VARIANTS; do
        mapfile -t sets < <(variant_sets "$variant")
        out=$RUN_DIR/$model-$variant
        train=(train "$config" --out "$out" --set threads="$THREADS" "${base[@]}" "${sets[@]}")
        ok=true
        before=$(link_bytes)
        attempt "lamina $model $variant -> $out" "$out.log" \
            "${MPIRUN[@]}" -np 1 ip netns exec "$NS_A" "$LAMINA" "${train[@]}" \
            : -np 1 ip netns exec "$NS_B" "$LAMINA" "${train[@]}" || ok=false
        record lamina "$model" "$variant" "$out/metrics.jsonl" "$ok" $(($(link_bytes) - before))
        if [[ $SIMULATE == 1 ]]; then
            mapfile -t sim < <(simulate_options "$variant" "$out/metrics.jsonl")
            ok=true
            attempt "lamina simulate $model $variant (link $GBPS Gbit/s, ${LATENCY_US} us)" "$out-simulate.log" \
                env OMP_NUM_THREADS="$THREADS" "$LAMINA" simulate "$config" --ranks 2 \
                --link "$GBPS,$LATENCY_US" --steps "$SIM_STEPS" --set threads="$THREADS" \
                --set train.batch_size="$BATCH" "${sim[@]}" --out "$out-simulate.json" || ok=false
            record simulate "$model" "$variant" "$out-simulate.json" "$ok"
        fi
    done
    if [[ $DDP == 1 ]]; then
        data_args=(--data fashion-mnist)
        [[ $model == resnet20 ]] && data_args=(--data synthetic --synthetic-size 6400)
        ddp=(bench/pytorch_ddp.py --world 2 --master "$ADDR_A:29500" --model "$model" "${data_args[@]}"
             --batch "$BATCH" --threads "$THREADS" --steps "$DDP_STEPS" --warmup "$DDP_WARMUP")
        out=$RUN_DIR/$model-pytorch_ddp.jsonl
        before=$(link_bytes)
        ip netns exec "$NS_B" env GLOO_SOCKET_IFNAME="$DATA_B" OMP_NUM_THREADS="$THREADS" \
            timeout "$DDP_TIMEOUT" "$PYTHON" "${ddp[@]}" --rank 1 >"$out.rank1.log" 2>&1 &
        ddp_peer=$!
        PEERS=("$ddp_peer")
        ok=true
        attempt "pytorch DDP (gloo) $model -> $out" "$out.log" \
            timeout "$DDP_TIMEOUT" ip netns exec "$NS_A" env GLOO_SOCKET_IFNAME="$DATA_A" \
            OMP_NUM_THREADS="$THREADS" "$PYTHON" "${ddp[@]}" --rank 0 || ok=false
        wait "$ddp_peer" || { ok=false; FAILED=1; echo "bench/slow_link.sh: DDP rank 1 failed: see $out.rank1.log" >&2; }
        PEERS=()
        grep '^{' "$out.log" > "$out" || true
        record ddp "$model" pytorch_ddp "$out" "$ok" $(($(link_bytes) - before))
    fi
done

echo >&2
"$PYTHON" bench/sync_summary.py slowlink "$RUN_DIR" --json-out "$RESULTS" \
    --meta "rate=$RATE" --meta "gbits_per_second=$GBPS" --meta "simulate_latency_us=$LATENCY_US" \
    --meta "date=$(date -Iseconds)" \
    --meta "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --meta "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
    --meta "cores=$(nproc)" --meta "quick=$QUICK" --meta "steps=$STEPS" --meta "batch=$BATCH" \
    --meta "threads_per_rank=$THREADS" --meta "ddp_steps=$DDP_STEPS" || FAILED=1
echo "summary: $RESULTS" >&2
exit "$FAILED"
