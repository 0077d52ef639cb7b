#!/usr/bin/env bash
# Packs the GPU execution tests into one archive that runs on a machine with
# an NVIDIA driver, the CUDA toolkit and a python3 with NumPy, but without
# LLVM/MLIR 22: the GPU machines the `device` tool lends (docs/GPU.md).
#
#   utils/gpu-bundle.sh [ARCHIVE]    default: build-static/moe-gpu-bundle.tar.xz
#
# It builds `moe-run` with LLVM and MLIR linked in (-DMOE_LINK_LLVM_STATIC=ON,
# in build-static/ or MOE_BUILD_DIR) and copies it, stripped, with the
# project's CUDA runtime, the shared libraries they and lit's FileCheck and
# `not` load (all but glibc and the C++ runtime), lit itself, and the tests,
# examples and reference into one folder. Its binaries find their libraries
# beside them (RPATH $ORIGIN/../lib). There:
#
#   tar xf moe-gpu-bundle.tar.xz && moe-gpu-bundle/run-tests.sh
#
# runs test/Integration/CUDA and test/Integration/CPU with lit (arguments:
# other tests or lit options), and moe-gpu-bundle/bench/gpu-run.sh the GPU
# benchmark (bench/gpu_bench.py, with the toolkit's nvcc and cuBLAS).
# utils/check-gpu-bundle.sh tests the bundle where LLVM is out of sight.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_BUILD_DIR:-$root/build-static}"
archive="${1:-$build/moe-gpu-bundle.tar.xz}"
llvm=/usr/lib/llvm-22

# libzstd-dev: LLVM's static Support library links zstd, and LLVM's CMake
# package names its development files.
"$root/utils/install-deps.sh" libzstd-dev
MOE_BUILD_DIR="$build" MOE_CMAKE_ARGS="-DMOE_LINK_LLVM_STATIC=ON" \
  "$root/utils/build.sh" moe-run
if [[ ! -f "$build/lib/libmoe_cuda_runtime.so" ]]; then
  echo "gpu-bundle: the CUDA runtime was not built (no cuda.h under" \
    "MOE_CUDA_TOOLKIT_PATH); a bundle without it cannot run on a GPU" >&2
  exit 1
fi

bundle="$build/moe-gpu-bundle"
rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
strip -o "$bundle/bin/moe-run" "$build/bin/moe-run"
cp "$llvm/bin/FileCheck" "$llvm/bin/not" "$llvm/bin/count" "$bundle/bin/"
cp "$build/lib/libmoe_cuda_runtime.so" "$bundle/lib/"

# The libraries the binaries load (OpenBLAS, OpenMP, Z3 for FileCheck, ...),
# by the names they ask for. glibc and the C++ runtime stay the host's own:
# binaries built here run with a newer host's, and the host's NumPy, which
# the tests run, may need the newer ones.
host_owned='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libstdc[+][+]|libgcc_s)[.]so'
binaries=(bin/moe-run bin/FileCheck bin/not lib/libmoe_cuda_runtime.so)
for binary in "${binaries[@]}"; do
  ldd "$bundle/$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r name path; do
  [[ "$name" =~ $host_owned ]] && continue
  [[ -e "$bundle/lib/$name" ]] || cp -L "$path" "$bundle/lib/$name"
done
# The newest glibc and C++ runtime versions the binaries need; the host's
# must be at least as new.
needs="$(for binary in "${binaries[@]}"; do
  objdump -T "$bundle/$binary"
done | grep -o 'GLIBC\(XX\)\?_[0-9.]*' | sort -u -V |
  awk -F_ '{ newest[$1] = $0 } END { print newest["GLIBC"], newest["GLIBCXX"] }')"
# Run before the tests, on the machine they run on: every library the
# binaries load is found, and comes from the bundle unless it is the host's
# glibc or C++ runtime (the JIT opens OpenBLAS, OpenMP and the CUDA runtime
# where the loader found them).
sed -e "s#@BINARIES@#${binaries[*]}#" -e "s#@HOST_OWNED@#$host_owned#" \
  -e "s#@NEEDS@#$needs#" >"$bundle/check-libraries.sh" <<'EOF'
#!/usr/bin/env bash
# Checks that this bundle's binaries can start here: every library they load
# is found, and comes from the bundle unless it is the host's glibc or C++
# runtime, which must be @NEEDS@ or newer.
set -euo pipefail
bundle="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binaries=(@BINARIES@)
# ldd fails on a binary whose glibc is too old, after saying so.
problems="$(for path in "${binaries[@]/#/$bundle/}"; do
  { ldd "$path" 2>&1 || true; } | awk -v binary="${path#"$bundle/"}" \
    -v bundle="$bundle/" -v host_owned='@HOST_OWNED@' '
      /not found/ { print binary ": " $0; next }
      $2 == "=>" && $3 ~ /^\// && $1 !~ host_owned && index($3, bundle) != 1 {
        print binary ": " $1 " from " $3
      }'
done)"
if [[ -n "$problems" ]]; then
  echo "check-libraries: the bundle cannot run here (it needs @NEEDS@ or" \
    "newer, and every other library from its lib/):" >&2
  echo "$problems" >&2
  exit 1
fi
EOF
chmod +x "$bundle/check-libraries.sh"

# lit, run by the host's python3; the tests; the helpers they import.
mkdir -p "$bundle/lit"
cp -r "$llvm/utils/lit/lit" "$bundle/lit/"
find "$bundle/lit" -name __pycache__ -prune -exec rm -rf {} +
cat >"$bundle/bin/lit" <<'EOF'
#!/usr/bin/env python3
import os
import sys

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lit"))
from lit.main import main

main()
EOF
chmod +x "$bundle/bin/lit"
mkdir -p "$bundle/test"
cp "$root/test/lit.cfg.py" "$bundle/test/"
cp -r "$root/test/lib" "$root/test/Integration" "$root/test/Tools" \
  "$bundle/test/"
cp -r "$root/examples" "$bundle/"
mkdir -p "$bundle/bench"
cp "$root/bench/gpu_bench.py" "$root/bench/gpu_baselines.cu" \
  "$root/bench/gpu-run.sh" "$root/bench/torch_moe.py" \
  "$root/bench/loaded_blas.py" "$bundle/bench/"
find "$bundle/test" "$bundle/examples" -name __pycache__ -prune \
  -exec rm -rf {} +
# The site configuration of test/lit.site.cfg.py.in, with every path inside
# the bundle, wherever it is unpacked.
cat >"$bundle/test/lit.site.cfg.py" <<EOF
import os

import lit.llvm

bundle = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
config.llvm_tools_dir = os.path.join(bundle, "bin")
config.moe_obj_root = bundle
config.moe_src_root = bundle
config.moe_tools_dir = os.path.join(bundle, "bin")
config.moe_lib_dir = os.path.join(bundle, "lib")
# The GPU machine's toolkit may lie elsewhere than the building machine's.
config.moe_cuda_toolkit = os.environ.get(
    "MOE_CUDA_TOOLKIT_PATH",
    "$(sed -n 's/^MOE_CUDA_TOOLKIT_PATH:PATH=//p' "$build/CMakeCache.txt")")
config.moe_python_packages_dir = os.path.join(bundle, "python_packages")
config.moe_sanitizers = ""

lit.llvm.initialize(lit_config, config)
lit_config.load_config(config, os.path.join(bundle, "test", "lit.cfg.py"))
EOF
cat >"$bundle/run-tests.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the GPU and CPU execution tests (or the tests and lit options given)
# with the python3 on PATH, which needs NumPy.
set -euo pipefail
bundle="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$bundle/check-libraries.sh"
(($#)) || set -- -v "$bundle/test/Integration/CUDA" "$bundle/test/Integration/CPU"
exec python3 "$bundle/bin/lit" "$@"
EOF
chmod +x "$bundle/run-tests.sh"

mkdir -p "$(dirname "$archive")"
tar -C "$(dirname "$bundle")" -cf - "$(basename "$bundle")" |
  xz -T"${MOE_JOBS:-2}" -6 >"$archive"
echo "gpu-bundle: $archive ($(du -h "$archive" | cut -f1))"
