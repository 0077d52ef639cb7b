# RUN: %python %s | FileCheck %s
# UNSUPPORTED: sanitizers
#
# Every example layer, scaled down, compiled through the Python package and
# called on NumPy arrays drawn with fixed seeds, against the float64
# reference (test/lib/moe_reference.py) at the bounds of SPEC §2: f32 and
# bf16 storage, fused and unfused pipelines, one and two threads.

import numpy as np

import check_results
import generate_inputs
import models
import moe
import moe_reference

# (model, overrides, tokens, dtype, compile options)
CASES = [
    ("paper-lm", dict(d=32, h=64, n=8, k=4), 40, "f32", dict(threads=2)),
    ("paper-lm", dict(d=32, h=64, n=8, k=4), 40, "f32",
     dict(threads=1, fuse=False)),
    ("hierarchical", dict(d=32, h=48, n=16, k=2, num_groups=4, group_k=2), 24,
     "f32", dict(threads=2)),
    ("mixtral", dict(d=32, h=64), 16, "bf16", dict(threads=2)),
    ("capacity", dict(tokens=32, d=32, h=64, n=8), 32, "f32",
     dict(threads=2)),
]


def run(name, overrides, tokens, dtype, options, seed=7):
    config = models.model_config(name, **overrides)
    stored = generate_inputs.generate_storage(config, tokens, seed, dtype)
    executable = moe.compile(models.render_mlir(config, dtype), **options)
    results = executable.invoke(config.entry, *stored.values())

    expected = moe_reference.layer(
        config, {key: generate_inputs.decode(value, dtype)
                 for key, value in stored.items()})
    expected_results = list(expected[:3])
    if config.reports_tokens_per_expert:
        expected_results.append(expected[3]["tokens_per_expert"])
    print(f"{name} {dtype} {options}:")
    for (result_name, shape), actual, reference in zip(
            config.result_shapes(tokens), results, expected_results):
        assert actual.shape == tuple(shape), (actual.shape, shape)
        values = generate_inputs.decode(actual, dtype) \
            if actual.dtype.kind != "i" else actual
        error = check_results.relative_error(values, reference)
        verdict = "PASS" if error < check_results.BOUNDS[dtype] else "FAIL"
        print(f"  {result_name} {verdict} ({error:.1e})")


for case in CASES:
    run(*case)

# CHECK: paper-lm f32 {'threads': 2}:
# CHECK-NEXT: output PASS
# CHECK-NEXT: importance_loss PASS
# CHECK-NEXT: load_loss PASS
# CHECK-NEXT: tokens_per_expert PASS
# CHECK: paper-lm f32 {'threads': 1, 'fuse': False}:
# CHECK-NEXT: output PASS
# CHECK: hierarchical f32
# CHECK-NEXT: output PASS
# CHECK-NEXT: importance_loss PASS
# CHECK-NEXT: load_loss PASS
# CHECK: mixtral bf16
# CHECK-NEXT: output PASS
# CHECK: capacity f32
# CHECK-NEXT: output PASS
# CHECK-NOT: FAIL
