"""Inputs and checks for fused-edge-cases.test.

    fused_edge_cases.py inputs DIR
    fused_edge_cases.py check-routing RESULTS_DIR INPUTS_DIR
    fused_edge_cases.py check-routed-ffn RESULTS_DIR INPUTS_DIR

Random values from a fixed seed, then the edge values placed on purpose:
rows of logits that start with -inf (the online softmax's maximum is still
-inf when they arrive), -inf in the middle, a NaN, and exact ties; routings
that name one expert twice for a token. Results are compared with the
float64 reference of test/lib at SPEC §2's f32 bound; NaN must stay NaN.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lib"))
import moe_reference as ref  # noqa: E402

BOUND = 1e-5


def write_inputs(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((6, 8)).astype(np.float32)
    logits[0, :3] = -np.inf
    logits[1, [2, 5]] = -np.inf
    logits[2, 4] = np.nan
    logits[3, [1, 6]] = logits[3].max() + 0.5
    logits[4, :7] = -np.inf
    np.save(out / "logits.npy", logits)

    x = rng.standard_normal((5, 8)).astype(np.float32)
    gates = rng.uniform(0.1, 1.0, (5, 2)).astype(np.float32)
    indices = np.array([[0, 2], [1, 1], [2, 0], [2, 2], [0, 1]], np.int32)
    np.save(out / "x.npy", x)
    np.save(out / "gates.npy", gates)
    np.save(out / "indices.npy", indices)
    np.save(out / "w1.npy", rng.standard_normal((3, 8, 16)).astype(np.float32))
    np.save(out / "b1.npy", rng.standard_normal((3, 16)).astype(np.float32))
    np.save(out / "w2.npy", rng.standard_normal((3, 16, 8)).astype(np.float32))


def relative_error(actual, expected):
    finite = np.isfinite(expected)
    if not np.array_equal(np.isnan(actual), np.isnan(expected)):
        return np.inf
    scale = max(np.abs(expected[finite]).max(initial=0.0), 1e-30)
    return np.abs(actual[finite] - expected[finite]).max(initial=0.0) / scale


def report(name, actual, expected):
    error = relative_error(np.asarray(actual, np.float64), expected)
    verdict = "PASS" if error <= BOUND else "FAIL"
    print(f"{name}: rel error {error:.3e} bound {BOUND:g} {verdict}")
    return error <= BOUND


def check_routing(results, inputs):
    logits = np.load(inputs / "logits.npy")
    values, indices = ref.topk(logits, 3)
    ok = True
    for slot, (name, normalization, renormalize) in enumerate([
            ("softmax_topk", "softmax_topk", False),
            ("topk_softmax", "topk_softmax", False),
            ("sigmoid_topk", "sigmoid_topk", True)]):
        expected = ref.route_weights(logits, values, normalization,
                                     renormalize)
        ok &= report(name, np.load(results / f"result_{slot}.npy"), expected)
    actual_indices = np.load(results / "result_3.npy")
    same = np.array_equal(actual_indices, indices)
    print(f"indices: {'PASS' if same else 'FAIL'}")
    return ok and same


def check_routed_ffn(results, inputs):
    load = lambda name: np.load(inputs / f"{name}.npy")  # noqa: E731
    x, gates, indices = load("x"), load("gates"), load("indices")
    w1, b1, w2 = load("w1"), load("b1"), load("w2")
    expected = np.zeros((x.shape[0], w2.shape[2]))
    for t in range(x.shape[0]):
        for j in range(indices.shape[1]):
            row = ref._expert(x[t:t + 1].astype(np.float64), indices[t, j],
                              w1, b1, None, w2, None, "relu")
            expected[t] += gates[t, j] * row[0]
    return report("routed_ffn", np.load(results / "result_0.npy"), expected)


def main():
    command, *paths = sys.argv[1:]
    if command == "inputs":
        write_inputs(Path(paths[0]))
        return 0
    results, inputs = map(Path, paths)
    check = {"check-routing": check_routing,
             "check-routed-ffn": check_routed_ffn}[command]
    return 0 if check(results, inputs) else 1


if __name__ == "__main__":
    sys.exit(main())
