#!/usr/bin/env bash
# Installs the Debian packages lamina needs, skipping those already present.
# Usage: scripts/install-deps.sh [--with-tests] [--with-bench] [--with-fuzz]
#   --with-tests adds what only the tests read with (Pillow, h5py), a
#   one-node Slurm with munge (tests/slurm; srun's PMIx plugin is in
#   slurm-wlm-basic-plugins) and headless Chromium with a font (tests/report);
#   --with-bench adds PyTorch, the yardstick the benchmarks compare against;
#   --with-fuzz adds clang and libFuzzer (make fuzz; clang's OpenMP and
#   sanitizer runtimes are named since recommends are not installed) and
#   llvm-symbolizer (llvm-14), without which a crash's stack has no function
#   names and tests/fuzz/run.sh cannot tell lamina's frames from HDF5's.
set -euo pipefail

packages=(build-essential cmake pkg-config
          libopenmpi-dev openmpi-bin
          libdnnl-dev libopenblas-openmp-dev libyaml-dev zlib1g-dev libhdf5-openmpi-dev
          libturbojpeg0-dev libpng-dev
          dataset-fashion-mnist python3)
for option in "$@"; do
  case "$option" in
    --with-tests) packages+=(python3-h5py python3-pil
                             slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge
                             chromium fonts-dejavu-core) ;;
    --with-bench) packages+=(python3-h5py python3-pil python3-torch python3-numpy) ;;
    --with-fuzz) packages+=(clang libfuzzer-14-dev libclang-rt-14-dev libomp-14-dev llvm-14) ;;
    *) echo "lamina: install-deps: unknown option '$option' (--with-tests, --with-bench, --with-fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi

echo "lamina: installing ${missing[*]}" >&2
sudo_cmd=()
if (( EUID != 0 )); then
  command -v sudo >/dev/null || { echo "lamina: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
