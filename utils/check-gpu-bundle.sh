#!/usr/bin/env bash
# Builds the GPU bundle (utils/gpu-bundle.sh), unpacks it in a fresh folder
# and runs its tests there the way a GPU machine without LLVM would: with
# /usr/lib/llvm-22 and this checkout hidden behind empty folders (a private
# mount namespace, which needs root). Without a GPU that is the CPU tests and
# the CUDA backend's one-line error; the GPU tests report as unsupported.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$root/utils/gpu-bundle.sh" "$work/moe-gpu-bundle.tar.xz"
tar -C "$work" -xf "$work/moe-gpu-bundle.tar.xz"
mkdir "$work/empty"
# The unpacked folder keeps to the host's glibc and C++ runtime and its own
# lib/; the build's environment must not leak into it either.
# The GPU benchmark's driver runs there too (its plan needs no GPU).
run_hidden='mount --bind "$1" /usr/lib/llvm-22 && mount --bind "$1" "$2" &&
  "$3/run-tests.sh" && python3 "$3/bench/gpu_bench.py" --plan'
if unshare --mount mount --bind "$work/empty" /usr/lib/llvm-22 2>/dev/null; then
  env -i PATH=/usr/bin:/bin HOME="$work" unshare --mount \
    bash -euc "$run_hidden" check-gpu-bundle \
    "$work/empty" "$root" "$work/moe-gpu-bundle"
else
  echo "check-gpu-bundle: no private mount namespace here (needs root);" \
    "testing with LLVM in sight" >&2
  env -i PATH=/usr/bin:/bin HOME="$work" "$work/moe-gpu-bundle/run-tests.sh"
  env -i PATH=/usr/bin:/bin HOME="$work" \
    python3 "$work/moe-gpu-bundle/bench/gpu_bench.py" --plan
fi
