#!/usr/bin/env bash
# A CosmoFlow-shape model on synthetic Gaussian-random-field cubes (16^3 x 4)
# on 2 ranks drives the test MSE well below predicting the mean (1.0 on the
# normalized targets), with every sync policy.
source "$(dirname "$0")/testing.bash"

check_metrics() { # FILE CONDITION DESCRIPTION
  /usr/bin/python3 - "$1" "$2" <<'PY' || fail "$3"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
ok = eval(sys.argv[2])
print(("ok: " if ok else "FAIL: ") + sys.argv[2] + "  " + json.dumps({k: r.get(k) for k in ("test_mse", "test_mae")}))
sys.exit(0 if ok else 1)
PY
}

# ---- CosmoFlow on synthetic cubes ----
cat > "$WORK/cosmo.yaml" <<YAML
task: regression
model: {name: cosmoflow, filters: 8}
seed: 1
threads: 1
data: {name: grf-cubes, shape: [4, 16, 16, 16], train_size: 1024, test_size: 256}
train: {epochs: 5, batch_size: 32}
optimizer: {name: adam, lr: 0.002}
YAML
# lazy reduces some layers' gradients less often and has varied most
# between builds (test MSE 0.47 to 0.69 here), hence its looser bound.
for strategy in allreduce overlap multistep localsgd lazy; do
  bound=0.5; [[ $strategy == lazy ]] && bound=0.8
  $MPIRUN -n 2 "$LAMINA" train "$WORK/cosmo.yaml" --set parallel.strategy=$strategy \
    --out "$WORK/cosmo-$strategy" > "$WORK/cosmo.log" 2>&1 || { fail "cosmoflow run ($strategy)"; cat "$WORK/cosmo.log" >&2; }
  check_metrics "$WORK/cosmo-$strategy/metrics.jsonl" "r['test_mse'] < $bound and 'test_psnr' not in r" \
    "cosmoflow ($strategy) does not learn the field parameters"
done

finish
