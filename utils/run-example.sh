#!/usr/bin/env bash
# Compiles one example MoE model for the CPU and runs it end to end: makes its
# weights and inputs (fixed seed), runs it with moe-run, prints each result
# (output shape and checksum, balancing losses, tokens per expert) and the
# time per call, then checks the results against the float64 reference.
#
#   utils/run-example.sh [MODEL] [--tokens T] [--repeat N] [--seed S]
#
# MODEL: paper-lm (default), hierarchical, mixtral, capacity. Expects a built
# tree (utils/build.sh); files go to build/examples/MODEL.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_BUILD_DIR:-$root/build}"
python=/usr/bin/python3

model=paper-lm
tokens=128
repeat=5
seed=0
while (($#)); do
  case "$1" in
    --tokens) tokens="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run-example.sh: unknown option '$1'" >&2; exit 2 ;;
    *) model="$1"; shift ;;
  esac
done

moe_run="$build/bin/moe-run"
if [[ ! -x "$moe_run" ]]; then
  echo "run-example.sh: $moe_run is missing; build first (utils/build.sh)" >&2
  exit 1
fi

work="$build/examples/$model"
rm -rf "$work"
describe=$("$python" - "$root" "$model" "$tokens" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/examples")
import models
config = models.MODELS[sys.argv[2]]
tokens = config.token_count(int(sys.argv[3]) if config.tokens is None else None)
names = ", ".join(f"#{i} {name}" for i, (name, _) in
                  enumerate(config.result_shapes(tokens)))
print(f"{config.mlir_file}\t{tokens}\t{names}")
PY
)
IFS=$'\t' read -r mlir_file tokens result_names <<<"$describe"

echo "== $model: $mlir_file, T = $tokens tokens, seed $seed"
"$python" "$root/examples/generate_inputs.py" "$model" --out "$work/inputs" \
  --tokens "$tokens" --seed "$seed" >/dev/null
echo "results: $result_names"
"$moe_run" "$mlir_file" "$work"/inputs/*.npy --output-dir "$work/results" \
  --repeat "$repeat"
echo "== reference check (float64 NumPy, SPEC 2 bounds)"
"$python" "$root/test/lib/check_results.py" "$model" --inputs "$work/inputs" \
  --results "$work/results" --tokens "$tokens"
