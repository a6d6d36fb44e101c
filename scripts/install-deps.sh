#!/usr/bin/env bash
# Installs the Debian packages lamina needs, skipping those already present.
# Usage: scripts/install-deps.sh [--with-bench]   (bench adds python3-torch)
set -euo pipefail

packages=(build-essential cmake pkg-config
          libopenmpi-dev openmpi-bin
          libdnnl-dev libopenblas-openmp-dev libyaml-dev zlib1g-dev libhdf5-openmpi-dev
          dataset-fashion-mnist python3 python3-h5py)
if [[ "${1:-}" == "--with-bench" ]]; then
  packages+=(python3-torch python3-numpy)
fi

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
