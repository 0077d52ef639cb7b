#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, ASan + UBSan + coverage) and runs
# each on a seed corpus taken from the test suite: moe-ir-fuzzer (parse,
# verify, the CPU pipeline, the CUDA pipeline up to kernel outlining) and
# moe-npy-fuzzer (the .npy reader). A crash fails the script and leaves the
# input in build-fuzz/findings/; make it a regression test.
#
#   utils/fuzz.sh            a bounded, reproducible run (fixed seed and run
#                            counts, about a minute), as CI does
#   utils/fuzz.sh SECONDS    fuzz each target for SECONDS instead
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
MOE_BUILD_DIR="$build" MOE_CMAKE_ARGS="-DMOE_ENABLE_FUZZERS=ON" \
  "$root/utils/build.sh" moe-ir-fuzzer moe-npy-fuzzer

work="$build/fuzz"
rm -rf "$work" "$build/findings"
mkdir -p "$work/ir-seeds" "$work/ir-corpus" "$work/npy-seeds" \
  "$work/npy-corpus" "$build/findings"
# One seed per module of the test suite's split files.
/usr/bin/python3 - "$root" "$work/ir-seeds" <<'PY'
import pathlib, sys
root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
sources = sorted(root.glob("test/**/*.mlir")) + sorted(root.glob("examples/*.mlir"))
for path in sources:
    for index, chunk in enumerate(path.read_text().split("// -----")):
        name = "-".join(path.relative_to(root).with_suffix("").parts)
        (out / f"{name}-{index}.mlir").write_text(chunk)
PY
# Inputs that once crashed a target stay in its seeds.
cp "$root"/test/Fuzz/ir/* "$work/ir-seeds/"
/usr/bin/python3 "$root/test/Tools/Inputs/make_arrays.py" "$work/npy-seeds"

if (($#)); then
  budget=(-max_total_time="$1")
  ir_budget=("${budget[@]}")
  npy_budget=("${budget[@]}")
else
  ir_budget=(-seed=1 -runs=20000)
  npy_budget=(-seed=1 -runs=2000000)
fi
cd "$build/findings"
# Runs one fuzzer, keeping its summary lines; fails when it exits non-zero
# (a crash, or a fuzzer that could not start).
fuzz() {
  local status=0
  "$@" >"$work/log" 2>&1 || status=$?
  grep -E "^(stat::number_of_executed_units|==[0-9]+==|SUMMARY|Test unit written)" \
    "$work/log" || true
  if ((status != 0)); then
    tail -n 20 "$work/log" >&2
    echo "fuzz.sh: $1 exited with status $status" >&2
    return "$status"
  fi
}
echo "moe-ir-fuzzer: ${ir_budget[*]}"
fuzz "$build/bin/moe-ir-fuzzer" "${ir_budget[@]}" -timeout=30 \
  -rss_limit_mb=4096 -print_final_stats=1 "$work/ir-corpus" "$work/ir-seeds"
echo "moe-npy-fuzzer: ${npy_budget[*]}"
fuzz "$build/bin/moe-npy-fuzzer" "${npy_budget[@]}" -print_final_stats=1 \
  "$work/npy-corpus" "$work/npy-seeds"
if compgen -G "$build/findings/*-*" >/dev/null; then
  echo "fuzz.sh: crashes found, inputs in $build/findings:" >&2
  ls "$build/findings" >&2
  exit 1
fi
echo "fuzz.sh: no crash"
