#!/usr/bin/env python3
"""Self-test of the float64 reference, the input generator and the checker.

    selftest_reference.py

The reference is the contract the compiler is tested against, so it is
checked here against independent formulations (a per-token loop over the
paper's formulas), against its own special cases (dropless = capacity with
room for everything, k == n load = T, vanishing noise = count, one group =
flat load) and on handmade inputs whose answers are known (tie rule, drop
order, empty expert groups, bf16 rounding).  The full-size example models run
once at small T.  Exits 1 on the first failure; takes seconds.
"""

import contextlib
import dataclasses
import io
import math
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_results  # noqa: E402
import generate_inputs  # noqa: E402
import models  # noqa: E402
import moe_reference as ref  # noqa: E402

# Small variants of every example: same structure, tiny sizes.
SMALL = {
    "paper-lm": dict(d=16, h=24, n=8, k=3),
    "hierarchical": dict(d=16, h=24, n=12, num_groups=3, group_k=2, k=2),
    "mixtral": dict(d=16, h=24, n=6, k=2),
    "capacity": dict(tokens=12, d=16, h=24, n=4, k=2),
}


def small(name, **extra):
    return models.model_config(name, **{**SMALL[name], **extra})


def inputs(config, **options):
    """Float64 inputs for `config`: its static T, else 10 tokens."""
    return generate_inputs.generate_inputs(config, config.tokens or 10,
                                           seed=7, **options)


def close(actual, expected, what, tolerance=1e-12):
    error = np.max(np.abs(np.asarray(actual) - np.asarray(expected)),
                   initial=0.0)
    scale = max(np.max(np.abs(expected), initial=0.0), 1.0)
    assert error <= tolerance * scale, f"{what}: differs by {error:.3g}"


def direct_expert(config, ops, e, row):
    """Expert e on one token, written straight from SPEC §1.5."""
    act = {"relu": lambda z: max(z, 0.0),
           "gelu": lambda z: 0.5 * z * (1 + math.erf(z / math.sqrt(2))),
           "silu": lambda z: z / (1 + math.exp(-z))}[config.activation]
    hidden = row @ ops["w1"][e] + (ops["b1"][e] if "b1" in ops else 0.0)
    hidden = np.array([act(z) for z in hidden])
    if "w3" in ops:
        hidden = hidden * (row @ ops["w3"][e])
    return hidden @ ops["w2"][e] + (ops["b2"][e] if "b2" in ops else 0.0)


def direct_gates(config, logits):
    """G(x) for one token over the entries of `logits`, as a dict index -> weight."""
    order = sorted(range(len(logits)), key=lambda i: (-logits[i], i))[:config.k]
    if config.normalization == "topk_softmax":
        raw = [math.exp(logits[i] - logits[order[0]]) for i in order]
        raw = [r / sum(raw) for r in raw]
    elif config.normalization == "softmax_topk":
        top = max(logits)
        total = sum(math.exp(v - top) for v in logits)
        raw = [math.exp(logits[i] - top) / total for i in order]
    else:
        raw = [1 / (1 + math.exp(-logits[i])) for i in order]
    if config.renormalize:
        raw = [r / sum(raw) for r in raw]
    return dict(zip(order, raw))


def direct_output(config, arrays):
    """y(x) = sum_i G(x)_i E_i(x) per token (hierarchical: two-level sum), dropless."""
    ops = {role: arrays[name] for name, role in config.arguments}
    x = ops["input"]

    def logits(w, w_noise, noise, t):
        clean = x[t] @ w
        if w_noise is None:
            return clean
        stddev = np.log1p(np.exp(x[t] @ w_noise)) + config.noise_epsilon
        return clean + noise[t] * stddev

    out = np.zeros((x.shape[0], config.d))
    for t in range(x.shape[0]):
        primary = logits(ops["w_gate"], ops.get("w_noise"), ops.get("noise"), t)
        if not config.hierarchical:
            for e, g in direct_gates(config, primary).items():
                out[t] += g * direct_expert(config, ops, e, x[t])
            continue
        b = config.group_size
        secondary = logits(ops["secondary_w_gate"],
                           ops.get("secondary_w_noise"),
                           ops.get("secondary_noise"), t)
        group_config = dataclasses.replace(config, k=config.group_k)
        for i, gp in direct_gates(group_config, primary).items():
            for j, gs in direct_gates(config, secondary[i * b:(i + 1) * b]).items():
                out[t] += gp * gs * direct_expert(config, ops, i * b + j, x[t])
    return out


def test_layer_matches_per_token_formula():
    for name in models.MODELS:
        # Dropless, so the direct sum is the whole answer.
        config = small(name, capacity_factor=None)
        arrays = inputs(config)
        output, *_ = ref.layer(config, arrays)
        close(output, direct_output(config, arrays), f"{name} output", 1e-10)
    for normalization in models.NORMALIZATIONS:
        config = small("mixtral", normalization=normalization,
                       renormalize=normalization == "sigmoid_topk")
        arrays = inputs(config)
        close(ref.layer(config, arrays)[0], direct_output(config, arrays),
              f"mixtral {normalization}", 1e-10)


def test_dropless_equals_roomy_capacity():
    for name in models.MODELS:
        dropless = small(name, capacity_factor=None)
        roomy = small(name, capacity_factor=1e3)
        arrays = inputs(dropless)
        for a, b, what in zip(ref.layer(dropless, arrays)[:3],
                              ref.layer(roomy, arrays)[:3],
                              ("output", "importance loss", "load loss")):
            close(a, b, f"{name} {what}")


def test_capacity_drops_in_priority_order():
    x = np.arange(4.0)[:, None] + 1.0
    indices = np.array([[0, 1], [1, 0], [0, 2], [2, 1]])
    # C = ceil(2*4*0.5/3) = 2; all first choices (token order), then seconds.
    tokens, rows = ref.capacity_dispatch(x, indices, 3, 0.5)
    assert rows.tolist() == [[0, 3], [2, -1], [1, 5], [4, -1]], rows
    assert tokens[:, :, 0].tolist() == [[1, 3], [2, 1], [4, 3]], tokens
    out = ref.combine(tokens * 10, np.full((4, 2), 0.5), rows)
    assert out[:, 0].tolist() == [10.0, 10.0, 30.0, 20.0], out
    assert ref.capacity(256, 2, 16, 1.25) == 40


def test_topk_tie_rule():
    values, indices = ref.topk(np.array([[1.0, 3.0, 3.0, 2.0, 3.0]]), 4)
    assert indices.tolist() == [[1, 2, 4, 3]], indices
    assert values.tolist() == [[3.0, 3.0, 3.0, 2.0]], values
    first, second = 1, 2  # in the same group for the hierarchical variant
    for name in models.MODELS:
        config = small(name)
        arrays = inputs(config, tie_experts=(first, second))
        for arg, role in config.arguments:
            if role in ("w_gate", "w_noise", "noise") and config.hierarchical:
                continue  # the primary gate scores groups, not experts
            if "gate" in role or "noise" in role:
                assert np.array_equal(arrays[arg][:, first],
                                      arrays[arg][:, second]), f"{name} {arg}"
        rows = ref.layer(config, arrays)[3]["indices"].tolist()
        assert any(first in row for row in rows), \
            f"{name}: the tied experts were never chosen"
        for row in rows:
            # Lower index first: the higher one is only chosen after it
            # (a tie inside the top k), never instead of it (at the boundary).
            assert second not in row or (
                first in row and row.index(first) < row.index(second)), \
                f"{name}: tie not broken to the lower index: {row}"


def test_starved_expert_has_empty_group():
    for name in models.MODELS:
        config = small(name, capacity_factor=None)
        starved = config.n - 2
        arrays = inputs(config, starve_expert=starved)
        _, _, _, inter = ref.layer(config, arrays)
        assert inter["tokens_per_expert"][starved] == 0, name
        _, offsets, _ = ref.dispatch(arrays["x"], inter["indices"], config.n)
        assert offsets[starved] == offsets[starved + 1], offsets
        assert offsets[-1] == inter["indices"].size


def test_dispatch_layout():
    x = np.arange(4.0)[:, None]
    indices = np.array([[2, 0], [0, 2], [3, 0], [0, 3]])
    tokens, offsets, rows = ref.dispatch(x, indices, 5)
    assert offsets.tolist() == [0, 4, 4, 6, 8, 8], offsets
    assert tokens[:, 0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3], tokens
    assert rows.tolist() == [[4, 0], [1, 5], [6, 2], [3, 7]], rows
    out = ref.expert_ffn(np.ones((8, 1)), offsets, np.ones((5, 1, 1)), None,
                         None, np.arange(5.0)[:, None, None], None, "relu")
    assert out[:, 0].tolist() == [0, 0, 0, 0, 2, 2, 3, 3], out


def test_load_special_cases():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((9, 5))
    clean = logits - 0.3 * rng.standard_normal((9, 5))
    stddev = 0.5 + rng.random((9, 5))
    close(ref.load(logits, 5, clean, stddev), np.full(5, 9.0), "k == n load")
    close(ref.load(logits, 5), np.full(5, 9.0), "k == n count")
    members = np.zeros((9, 5))
    np.put_along_axis(members, ref.topk(logits, 2)[1], 1.0, axis=1)
    close(ref.load(logits, 2), members.sum(0), "count")
    # Vanishing noise: the smooth load becomes the count of H = clean.
    close(ref.load(logits, 2, logits, np.full((9, 5), 1e-9)),
          members.sum(0), "noise -> 0")
    # kth_excluding by hand for one token.
    row = np.array([[0.5, 2.0, -1.0, 1.0]])
    noisy = ref.load(row, 2, row + 0.25, np.ones_like(row))
    phi = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))  # noqa: E731
    expected = [phi(0.75 - 1.0), phi(2.25 - 0.5), phi(-0.75 - 1.0),
                phi(1.25 - 0.5)]
    close(noisy, expected, "kth_excluding")
    # One group containing everything: Load_H is the flat load.
    flat = ref.load(logits, 2, clean, stddev)
    primary = ref.load(np.zeros((9, 1)), 1)
    within = ref.load(logits[:, None, :], 2, clean[:, None, :],
                      stddev[:, None, :], np.zeros((9, 1), np.int64), primary)
    close(within[0], flat, "one-group Load_H")
    # Load_H by its definition, token by token.
    groups = rng.standard_normal((9, 3, 4))
    primary_indices = ref.topk(rng.standard_normal((9, 3)), 2)[1]
    primary_load = rng.random(3) * 9
    load_h = ref.load(groups, 2, groups + 0.1, np.ones_like(groups),
                      primary_indices, primary_load)
    for i in range(3):
        members_i = [t for t in range(9) if i in primary_indices[t]]
        per_token = [ref.load(groups[t:t + 1, i], 2, groups[t:t + 1, i] + 0.1,
                              np.ones((1, 4))) for t in members_i]
        expected = (primary_load[i] * np.sum(per_token, axis=0) / len(members_i)
                    if members_i else np.zeros(4))
        close(load_h[i], expected, f"Load_H group {i}")
    # A group no token reaches has zero load.
    unused = ref.load(logits.reshape(9, 1, 5).repeat(2, 1), 2, None, None,
                      np.zeros((9, 1), np.int64), np.array([9.0, 0.0]))
    assert np.all(unused[1] == 0) and np.all(unused[0] == members.sum(0))


def test_losses():
    v = np.array([1.0, 2.0, 3.0, 6.0])
    close(ref.cv_squared(v, 0.5), 0.5 * np.var(v, ddof=1) / (3.0 ** 2 + 1e-10),
          "cv_squared")
    logits = np.array([[0.0, 1.0, 2.0], [2.0, 0.0, -1.0]])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    f = np.array([1, 1, 2]) / 4.0
    close(ref.switch_loss(logits, np.array([[2, 1], [0, 2]]), 0.1),
          0.1 * 3 * np.sum(f * p.mean(0)), "switch_loss")
    close(ref.z_loss(logits, 0.1),
          0.1 * np.mean(np.log(np.exp(logits).sum(1)) ** 2), "z_loss")
    # softmax_topk with every expert kept needs no renormalization.
    values, _ = ref.topk(logits, 3)
    close(ref.route_weights(logits, values, "softmax_topk"),
          ref.route_weights(logits, values, "topk_softmax"), "k == n")


def test_bf16_encoding():
    one = 1.0
    cases = {one: 0x3F80, one + 2 ** -8: 0x3F80, one + 3 * 2 ** -8: 0x3F82,
             one + 2 ** -8 + 2 ** -20: 0x3F81, -2.0: 0xC000, -0.0: 0x8000,
             float(np.finfo(np.float32).max): 0x7F80, float("nan"): 0x7FC0}
    encoded = generate_inputs.encode(np.array(list(cases), np.float32), "bf16")
    assert encoded.dtype == np.dtype("<u2")
    assert encoded.tolist() == list(cases.values()), [hex(v) for v in encoded]
    decoded = generate_inputs.decode(encoded[:5], "bf16")
    assert decoded.tolist() == [1.0, 1.0, 1.0 + 2 ** -6, 1.0 + 2 ** -7, -2.0]


def test_generator_is_reproducible():
    config = small("paper-lm")
    a = generate_inputs.generate_storage(config, 6, seed=3, dtype="f16")
    b = generate_inputs.generate_storage(config, 6, seed=3, dtype="f16")
    longer = generate_inputs.generate_storage(config, 9, seed=3, dtype="f16")
    for name in a:
        assert a[name].dtype == np.dtype("<f2") and np.any(a[name] != 0), name
        assert np.array_equal(a[name], b[name]), name
    assert np.array_equal(longer["x"][:6], a["x"])
    assert np.array_equal(longer["w1"], a["w1"])
    other = generate_inputs.generate_storage(config, 6, seed=4, dtype="f16")
    assert not np.array_equal(other["x"], a["x"])


def quietly(script_main, argv):
    """Run a script's main(argv); return (exit code, what it printed)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = script_main(argv)
    return code, printed.getvalue()


def test_checker_round_trip():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, dtype in (("paper-lm", "f32"), ("hierarchical", "bf16"),
                            ("capacity", "f16")):
            overrides = SMALL[name]
            flags = [f"--{key.replace('_', '-')}={value}"
                     for key, value in overrides.items()]
            in_dir, out_dir = tmp / name / "in", tmp / name / "out"
            code, printed = quietly(generate_inputs.main, [
                name, "--out", str(in_dir), "--dtype", dtype] + flags)
            assert code == 0, printed
            config = small(name)
            arrays, tokens = check_results.load_inputs(config, in_dir, dtype,
                                                       None)
            output, importance_loss, load_loss, intermediates = ref.layer(
                config, arrays)
            results = [output, importance_loss, load_loss]
            if config.reports_tokens_per_expert:
                results.append(intermediates["tokens_per_expert"])
            out_dir.mkdir()
            for i, value in enumerate(results):
                np.save(out_dir / f"result_{i}.npy",
                        generate_inputs.encode(np.float32(value), dtype))
            argv = [name, "--inputs", str(in_dir), "--results", str(out_dir),
                    "--dtype", dtype] + flags
            code, printed = quietly(check_results.main, argv)
            assert code == 0, f"{name}: exact results fail:\n{printed}"
            perturbed = results[0] * (1 + 5 * check_results.BOUNDS[dtype])
            np.save(out_dir / "result_0.npy",
                    generate_inputs.encode(np.float32(perturbed), dtype))
            code, printed = quietly(check_results.main, argv)
            assert code == 1, f"{name}: wrong output passes:\n{printed}"
            np.save(out_dir / "result_0.npy",
                    generate_inputs.encode(np.float32(results[0][:-1]), dtype))
            code, printed = quietly(check_results.main, argv)
            assert code == 1, f"{name}: bad shape passes:\n{printed}"
            np.save(out_dir / "result_0.npy",
                    generate_inputs.encode(np.float32(results[0]), dtype))
            (out_dir / "result_2.npy").unlink()
            code, printed = quietly(check_results.main, argv)
            assert code == 1, f"{name}: missing passes:\n{printed}"


def layer_attributes(text):
    """The attribute dict of the moe.layer in a .mlir text, values as strings."""
    body = re.search(r"moe\.layer.*?\{(.*?)\}", text, re.S).group(1)
    return {key: enum or plain for key, enum, plain in re.findall(
        r"(\w+) = (?:#moe\.\w+<(\w+)>|([\w.+-]+))", body)}


def test_registry_matches_mlir():
    """The hand-written registry against the .mlir files it describes."""
    defaults = {field.name: field.default
                for field in dataclasses.fields(models.ModelConfig)}
    for name, config in models.MODELS.items():
        text = config.mlir_file.read_text()
        signature = re.search(r"func\.func @(\w+)\((.*?)\)\s*->", text, re.S)
        assert signature.group(1) == config.entry, name
        declared = re.findall(r"%(\w+): tensor<([^>]*)>", signature.group(2))
        expected = [(arg, "x".join(map(str, shape)) + "xf32")
                    for arg, _, shape in
                    config.argument_shapes(config.tokens or "?")]
        assert declared == expected, f"{name}: {declared} != {expected}"
        attributes = layer_attributes(text)
        assert int(attributes.pop("num_experts")) == config.n, name
        for field, value in attributes.items():
            current = getattr(config, field)
            written = (value == "true" if isinstance(current, bool) else
                       value if isinstance(current, str) else float(value))
            assert current == written, f"{name}.{field}: {current} != {value}"
        for field in set(models.OVERRIDABLE) - set(attributes) - {
                "tokens", "d", "h", "n"}:
            assert getattr(config, field) == defaults[field], \
                f"{name}.{field} is not written, so it must be the default"


def test_full_size_models():
    for name, config in models.MODELS.items():
        tokens = config.tokens or 4
        start = time.perf_counter()
        arrays = generate_inputs.generate_inputs(config, tokens, seed=0)
        output, importance_loss, load_loss, inter = ref.layer(config, arrays)
        assert output.shape == (tokens, config.d), output.shape
        assert np.all(np.isfinite(output)) and np.any(output != 0), name
        assert np.isfinite(importance_loss) and np.isfinite(load_loss), name
        assert inter["indices"].shape == (tokens, config.experts_per_token)
        print(f"    {name}: T={tokens}, {time.perf_counter() - start:.1f}s, "
              f"losses {importance_loss:.4g} {load_loss:.4g}")


def main():
    tests = [(name, test) for name, test in globals().items()
             if name.startswith("test_")]
    for name, test in tests:
        print(f"{name} ...", flush=True)
        try:
            test()
        except AssertionError as error:
            print(f"FAIL {name}: {error}")
            return 1
    print(f"all {len(tests)} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
