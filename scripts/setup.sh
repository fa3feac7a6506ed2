#!/usr/bin/env bash
# Installs the Debian 12 packages e2llm needs; a quick no-op when all are present.
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --bench  also python3-torch, for the Python twins in bench/
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config git ca-certificates
  libtorch-dev libgloo-dev libopenblas0-pthread        # LibTorch 1.13 CPU, c10d headers, fast BLAS
  libsentencepiece-dev sentencepiece                   # tokenizer plugin, spm_encode for tests
  libtomlplusplus-dev libboost-dev libboost-filesystem-dev libfmt-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libutf8proc-dev libbenchmark-dev
  chromium fonts-dejavu-core                           # headless check of the HTML report
)
if [[ "${1:-}" == "--bench" ]]; then packages+=(python3-torch); fi

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then missing+=("$p"); fi
done
if (( ${#missing[@]} == 0 )); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: done"
