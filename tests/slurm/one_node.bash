# A one-node Slurm cluster under a temporary directory, for the Slurm tests
# (sourced, not run). slurm_start DIR writes munge's key and a slurm.conf
# with this node's real CPUs and memory, starts munged, slurmctld and slurmd
# as the current user, and exports SLURM_CONF for sbatch/squeue/scontrol;
# slurm_stop stops what slurm_start started. Both return 77 with a reason on
# stderr where Slurm cannot run here (missing packages, no way to start a
# daemon), which the test turns into a skip.

slurm_skip() { echo "SKIP: $*" >&2; return 77; }

slurm_free_port() {  # a TCP port nothing listens on, from the dynamic range
  local port
  for port in $(shuf -i 20000-60000 -n 50); do
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "$port"; return 0; }
  done
  return 1
}

slurm_write_conf() {  # DIR NODE
  local dir=$1 node=$2 hardware cpus memory ctld_port slurmd_port
  hardware=$(slurmd -C 2>/dev/null | head -n 1)
  cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<< "$hardware")
  memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<< "$hardware")
  [[ -n "$cpus" && -n "$memory" ]] || { slurm_skip "slurmd -C does not describe this node: '$hardware'"; return; }
  ctld_port=$(slurm_free_port) && slurmd_port=$(slurm_free_port) || { slurm_skip "no free TCP port"; return; }
  cat > "$dir/slurm.conf" <<CONF
ClusterName=lamina-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmdDebug=info
# No systemd, no cgroups in a test machine or CI chroot: track processes by
# their parent ids and bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobRequeue=1
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
}

slurm_start_munge() {  # DIR
  local dir=$1
  mkdir -p "$dir/munge" && chmod 700 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none && chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" 2> "$dir/munge/start.err" \
    || { slurm_skip "munged does not start here: $(tail -n 1 "$dir/munge/start.err")"; return; }
}

# Waits until the node is idle (slurmd registered), at most 60 s.
slurm_await_node() {
  local state
  for _ in $(seq 120); do
    state=$(sinfo -h -o %T 2>/dev/null | head -n 1)
    [[ "$state" == idle ]] && return 0
    sleep 0.5
  done
  slurm_skip "the node never became idle (state '$state'); slurmd log: $(tail -n 3 "$SLURM_TEST_DIR/slurmd.log" 2>/dev/null | tr '\n' ' ')"
}

slurm_start() {  # DIR
  local dir=$1 node tool
  for tool in munged slurmctld slurmd sbatch scontrol sinfo; do
    command -v "$tool" > /dev/null || { slurm_skip "$tool is not installed (scripts/install-deps.sh --with-tests)"; return; }
  done
  node=$(hostname -s)
  export SLURM_TEST_DIR=$dir SLURM_CONF=$dir/slurm.conf
  mkdir -p "$dir/state" "$dir/spool"
  slurm_write_conf "$dir" "$node" || return
  slurm_start_munge "$dir" || return
  slurmctld -f "$SLURM_CONF" -i 2> "$dir/slurmctld.err" \
    || { slurm_skip "slurmctld does not start here: $(tail -n 2 "$dir/slurmctld.err" "$dir/slurmctld.log" 2>/dev/null | tr '\n' ' ')"; return; }
  slurmd -f "$SLURM_CONF" -N "$node" 2> "$dir/slurmd.err" \
    || { slurm_skip "slurmd does not start here: $(tail -n 2 "$dir/slurmd.err" "$dir/slurmd.log" 2>/dev/null | tr '\n' ' ')"; return; }
  slurm_await_node
}

slurm_stop() {
  local dir=${SLURM_TEST_DIR:-} file pid
  [[ -n "$dir" ]] || return 0
  scancel --full --quiet --user="$(id -un)" 2>/dev/null
  for file in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [[ -s "$file" ]] || continue
    pid=$(cat "$file")
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  return 0
}
