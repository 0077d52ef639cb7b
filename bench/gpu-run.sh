#!/usr/bin/env bash
# Benchmarks the layer compiled for the GPU against cuBLAS baselines
# (bench/gpu_bench.py) on this machine's GPU: builds bench/gpu_baselines.cu
# with nvcc for the GPU's architecture, then prints the table.
#
#   bench/gpu-run.sh [gpu_bench.py options]
#
# In a checkout it builds moe-run first (utils/build.sh); in the GPU bundle
# (utils/gpu-bundle.sh), where there is no LLVM to build with, it uses the
# bundle's moe-run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -x "$root/bin/moe-run" ]]; then
  moe_run="$root/bin/moe-run"
  python=python3
  out="$root/bin"
else
  "$root/utils/build.sh" moe-run >/dev/null
  out="${MOE_BUILD_DIR:-$root/build}/bin"
  moe_run="$out/moe-run"
  python=/usr/bin/python3
fi

toolkit="${MOE_CUDA_TOOLKIT_PATH:-/usr/local/cuda}"
nvcc="$toolkit/bin/nvcc"
[[ -x "$nvcc" ]] || nvcc="$(command -v nvcc || true)"
if [[ -z "$nvcc" ]]; then
  echo "gpu-run: nvcc not found (set MOE_CUDA_TOOLKIT_PATH)" >&2
  exit 1
fi
capability="$( (nvidia-smi --query-gpu=compute_cap --format=csv,noheader \
  2>/dev/null || true) | head -n1 | tr -d '. ')"
if [[ -z "$capability" ]]; then
  echo "gpu-run: no GPU (nvidia-smi does not list one)" >&2
  exit 1
fi
"$nvcc" -O3 -std=c++17 -arch="sm_$capability" -o "$out/gpu_baselines" \
  "$root/bench/gpu_baselines.cu" -lcublas
exec "$python" "$root/bench/gpu_bench.py" --moe-run "$moe_run" \
  --baselines "$out/gpu_baselines" "$@"
