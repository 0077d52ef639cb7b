#!/usr/bin/env bash
# Benchmarks the compiled MoE layer against PyTorch eager, OpenBLAS sgemm and
# the dense layer, from a fresh clone: installs what it needs (Debian's
# PyTorch; OpenBLAS, so that neither baseline falls back to the reference
# BLAS), builds, and prints the Markdown table of bench/moe_bench.py. On a
# machine with an NVIDIA GPU it then prints the GPU table too
# (bench/gpu-run.sh, with the same --budget).
#
#   bench/run.sh [--quick] [--only SUBSTRING] [--budget SECONDS]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/utils/install-deps.sh" python3-torch libopenblas0-pthread
"$root/utils/build.sh" >/dev/null
/usr/bin/python3 "$root/bench/moe_bench.py" "$@"

budget=()
while (($#)); do
  case "$1" in
    --budget) budget=(--budget "$2"); shift ;;
    --budget=*) budget=("$1") ;;
  esac
  shift
done
if nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo
  "$root/bench/gpu-run.sh" "${budget[@]}"
fi
