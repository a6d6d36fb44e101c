#!/usr/bin/env bash
# Memory: a generated HDF5 file (uint8 3 x 64 x 64 rows, ~490 MB) three
# times larger than a memory cgroup (v1) limit of 160 MB (a rank's baseline
# with oneDNN, OpenMP and MPI is ~90 MB, so one rank) trains out of core
# inside that cgroup, and reports peak_rss_mb below the limit;
# the same file held in memory inside the cgroup does not survive (the
# limit is real); data.max_memory refuses the in-memory load up front.
# Skips (77) without h5py or a writable /sys/fs/cgroup/memory.
source "$(dirname "$0")/testing.bash"
/usr/bin/python3 -c "import h5py" 2> /dev/null || { echo "SKIP: no h5py"; exit 77; }
CGROUP=/sys/fs/cgroup/memory/lamina_ooc_$$
LIMIT_MB=160
mkdir "$CGROUP" 2> /dev/null && echo $((LIMIT_MB << 20)) > "$CGROUP/memory.limit_in_bytes" 2> /dev/null \
  || { rmdir "$CGROUP" 2> /dev/null; echo "SKIP: cannot create a memory cgroup"; exit 77; }
# No swap escape where the kernel offers the knob.
echo $((LIMIT_MB << 20)) > "$CGROUP/memory.memsw.limit_in_bytes" 2> /dev/null || true
trap 'rm -rf "$WORK"; rmdir "$CGROUP" 2> /dev/null' EXIT

/usr/bin/python3 - "$WORK/big.h5" "$WORK/small.h5" <<'PY' || fail "generate files"
import sys, h5py, numpy as np
rng = np.random.default_rng(1)
for path, rows in ((sys.argv[1], 40000), (sys.argv[2], 512)):
    with h5py.File(path, "w") as f:
        images = f.create_dataset("images", (rows, 3, 64, 64), dtype="uint8", chunks=(16, 3, 64, 64))
        labels = rng.integers(0, 10, rows)
        for first in range(0, rows, 2000):
            block = rng.integers(0, 256, (min(2000, rows - first), 3, 64, 64), dtype=np.uint8)
            block[:, 0, :8, :8] = labels[first:first + len(block), None, None] * 25  # learnable
            images[first:first + len(block)] = block
        f["labels"] = labels
PY
ls -l "$WORK/big.h5" | awk '{ print "generated", $5 / 1048576, "MB" }'
cat > "$WORK/run.yaml" <<YAML
seed: 1
threads: 1
data: {name: hdf5, path: $WORK/big.h5, test_path: $WORK/small.h5, prefetch_samples: 128}
model:
  - {type: conv, out: 4, kernel: 4, stride: 4, activation: relu}
  - {type: flatten}
  - {type: linear, out: 10, init: glorot}
train: {epochs: 1, batch_size: 128, eval_batch_size: 100}
YAML
# Run a command inside the cgroup (the shell joins it first, so every
# process mpirun starts is charged to it).
in_cgroup() { bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CGROUP" "$@"; }

in_cgroup $MPIRUN -n 1 "$LAMINA" train "$WORK/run.yaml" --out "$WORK/ooc" > /dev/null 2> "$WORK/ooc.err" \
  || fail "out-of-core training inside a ${LIMIT_MB} MB cgroup failed: $(tail -3 "$WORK/ooc.err")"
# ru_maxrss also counts shared library pages the cgroup charged to whoever
# touched them first, so it is held against the file, not the limit.
/usr/bin/python3 - "$WORK/ooc/metrics.jsonl" "$WORK/big.h5" <<'PY' || fail "peak_rss_mb missing or not far below the file size"
import json, os, sys
record = [json.loads(l) for l in open(sys.argv[1])][-1]
file_mb = os.path.getsize(sys.argv[2]) / 2**20
print("out of core: peak_rss_mb", record["peak_rss_mb"], "steps", record["step"], "file MB", file_mb)
assert record["step"] == 313 and 0 < record["peak_rss_mb"] < file_mb / 2
PY
status=0
in_cgroup $MPIRUN -n 1 "$LAMINA" train "$WORK/run.yaml" --set data.in_memory=true --set train.max_steps=2 \
  --out "$WORK/mem" > /dev/null 2>&1 || status=$?
(( status != 0 )) || fail "the whole 490 MB file fit in memory inside a ${LIMIT_MB} MB cgroup: the limit is not enforced"
expect_failure "data.max_memory refuses the in-memory load" "data.max_memory" \
  "$LAMINA" train "$WORK/run.yaml" --set data.in_memory=true --set data.max_memory=$LIMIT_MB
finish
