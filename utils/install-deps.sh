#!/usr/bin/env bash
# Installs the Debian packages the project builds, tests and runs with, and
# any extra packages named as arguments (the benchmark's baselines). Does
# nothing when they are all present already.
set -euo pipefail

packages=(
  cmake ninja-build ccache
  clang-22 libclang-rt-22-dev lld-22 llvm-22-dev llvm-22-tools libmlir-22-dev
  mlir-22-tools
  libomp-22-dev
  python3-numpy libopenblas-serial-dev
  libmpich-dev mpich
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0

echo "Installing: ${missing[*]}"
sudo=""
((EUID == 0)) || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
