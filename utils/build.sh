#!/usr/bin/env bash
# Configures and builds the project in ./build (Ninja, clang-22, lld, ccache),
# installing the Debian packages it needs first when any is missing.
#
#   utils/build.sh            install what is missing, configure, build
#   utils/build.sh TARGET...  the same, building only the given targets
#
# MOE_BUILD_DIR picks another build directory, MOE_CMAKE_ARGS adds options
# when it is first configured (e.g. -DMOE_ENABLE_SANITIZERS=ON), MOE_JOBS
# sets the parallelism.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_BUILD_DIR:-$root/build}"

"$root/utils/install-deps.sh"

# Lets ccache reuse objects compiled in another checkout of the project.
export CCACHE_BASEDIR="$root"

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    ${MOE_CMAKE_ARGS:-}
fi
if (($#)); then
  cmake --build "$build" -j "${MOE_JOBS:-2}" --target "$@"
else
  cmake --build "$build" -j "${MOE_JOBS:-2}"
fi
