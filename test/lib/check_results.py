#!/usr/bin/env python3
"""Check a runner's results for an example model against the float64 reference.

    check_results.py MODEL --inputs DIR --results DIR [--dtype f32|f16|bf16|f64]
                     [--tokens T] [model overrides: --d --h --n --k ...]

Reads the inputs written by examples/generate_inputs.py (DIR/NN_<arg>.npy,
bf16 as uint16 bit patterns) and the runner's DIR/result_0.npy (output
[T, d]), result_1.npy (importance loss, 0-d), result_2.npy (load loss,
0-d) and, for a model that reports them, result_3.npy (tokens per expert,
[n]), recomputes the layer in float64 (test/lib/moe_reference.py) and compares
with SPEC §2's bounds: relative L2 error < 1e-5 for f32/f64, < 2e-2 for
f16/bf16 (|a - b| / max(|b|, 1e-30) for the 0-d losses).

Prints one line per result and exits 1 on any failure, or on a missing,
unreadable, wrongly typed or wrongly shaped file.  T is taken from the input
x; --tokens, when given, must agree with it.  The model overrides must be the
ones the inputs were generated (and the .mlir compiled) with.

Routing is discontinuous: where two logits of a token are nearly equal at
the top-k boundary the compiler may legitimately route differently, so such
near-ties are reported as warnings that explain a failure there.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_inputs  # noqa: E402
import models  # noqa: E402
import moe_reference  # noqa: E402

BOUNDS = {"f32": 1e-5, "f64": 1e-5, "f16": 2e-2, "bf16": 2e-2}

# SPEC §2: indices must match except where two logits are this close.
SPEC_TIE_TOLERANCE = 1e-6

# f16/bf16 logits are rounded to the storage type between ops, so two logits
# within two units of roundoff may swap places; the near-tie warning widens to
# that for them.
UNIT_ROUNDOFF = {"f16": 2.0 ** -11, "bf16": 2.0 ** -8}

# Near-tie warnings printed per gating level before summarizing the rest.
MAX_TIE_WARNINGS = 10

class CheckError(Exception):
    """A problem with the files to check, reported as one message."""


def load_array(path, dtype, shape, what):
    """Load one .npy in storage dtype `dtype` as float64, checking its shape.

    `shape` may have None for a dimension that is not known yet (T).
    """
    if not path.is_file():
        raise CheckError(f"missing {what}: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CheckError(f"cannot read {what} {path}: {error}")
    expected_dtype = generate_inputs.STORAGE_DTYPES[dtype]
    if array.dtype != expected_dtype:
        raise CheckError(f"{what} {path}: element type '{array.dtype.str}', "
                         f"expected '{expected_dtype.str}' for --dtype {dtype}")
    if len(array.shape) != len(shape) or any(
            want is not None and got != want
            for got, want in zip(array.shape, shape)):
        wanted = ", ".join("T" if want is None else str(want)
                           for want in shape)
        raise CheckError(f"{what} {path}: shape {list(array.shape)}, expected "
                         f"[{wanted}]")
    return generate_inputs.decode(array, dtype)


def load_inputs(config, inputs_dir, dtype, tokens):
    """The entry arguments as float64 by name, and the token count T.

    T is the row count of x; it must equal `tokens` when that is given
    (--tokens, or the static T of the model).
    """
    if not inputs_dir.is_dir():
        raise CheckError(f"inputs directory {inputs_dir} does not exist")
    found = sorted(p.name for p in inputs_dir.iterdir()
                   if generate_inputs.ARGUMENT_FILE.match(p.name))
    expected = [f"{position:02d}_{name}.npy"
                for position, (name, _) in enumerate(config.arguments)]
    if found != expected:
        raise CheckError(f"{inputs_dir} holds argument files {found}, but "
                         f"{config.entry} takes {expected}")
    paths = {name: inputs_dir / file_name
             for (name, _), file_name in zip(config.arguments, expected)}
    x_name = next(name for name, role in config.arguments if role == "input")
    x = load_array(paths[x_name], dtype, (tokens, config.d),
                   f"input '{x_name}'")
    tokens = x.shape[0]
    arrays = {name: x if name == x_name else
              load_array(paths[name], dtype, shape, f"input '{name}'")
              for name, _, shape in config.argument_shapes(tokens)}
    return arrays, tokens


def relative_error(actual, expected):
    """||actual - expected|| / max(||expected||, 1e-30); NaN/inf stay NaN/inf."""
    return (np.linalg.norm(np.ravel(actual - expected)) /
            max(np.linalg.norm(np.ravel(expected)), 1e-30))


def near_ties(routing_logits, tolerance, order_matters, group_size):
    """Warnings for tokens whose routing hangs on two nearly equal logits.

    Checks adjacent logits at the top-k boundary (k-th vs (k+1)-th largest)
    and, when `order_matters` (capacity: choice j has priority over j+1),
    also adjacent logits inside the top k.
    """
    for level in routing_logits:
        logits, k = level["logits"], level["k"]
        order = np.argsort(-logits, axis=1, kind="stable")
        descending = np.take_along_axis(logits, order, axis=1)
        warnings = []
        for i in range(0 if order_matters else k - 1,
                       min(k, logits.shape[1] - 1)):
            upper, lower = descending[:, i], descending[:, i + 1]
            gap = np.abs(upper - lower)
            scale = np.maximum(np.abs(upper), np.abs(lower))
            place = ("the top-k boundary" if i == k - 1
                     else f"choices {i} and {i + 1}")
            for row in np.nonzero(gap <= tolerance * scale)[0]:
                where = f"token {level['token'][row]}"
                offset = 0
                if level["group"] is not None:
                    where += f", group {level['group'][row]}"
                    offset = level["group"][row] * group_size
                unit = "group" if level["level"] == "primary" else "expert"
                closeness = ("are exactly equal (the tie rule, lower index "
                             "first, decides)" if gap[row] == 0 else
                             f"differ by {gap[row] / scale[row]:.2g} relative")
                warnings.append(
                    f"warning: {level['level']} routing of {where}: logits "
                    f"{upper[row]:.9g} ({unit} {offset + order[row, i]}) and "
                    f"{lower[row]:.9g} ({unit} {offset + order[row, i + 1]}) "
                    f"{closeness} at {place}")
        yield from warnings[:MAX_TIE_WARNINGS]
        if len(warnings) > MAX_TIE_WARNINGS:
            yield (f"warning: ... and {len(warnings) - MAX_TIE_WARNINGS} more "
                   f"near-ties in the {level['level']} routing")


def check(config, inputs_dir, results_dir, dtype, tokens):
    """Compare and print; returns True when every result is within bounds."""
    arrays, tokens = load_inputs(config, inputs_dir, dtype, tokens)
    results = [load_array(results_dir / f"result_{i}.npy", dtype, shape,
                          f"result {i} ({name})")
               for i, (name, shape) in enumerate(config.result_shapes(tokens))]
    output, importance_loss, load_loss, intermediates = moe_reference.layer(
        config, arrays)

    bound = BOUNDS[dtype]
    print(f"{config.name}: T={tokens}, dtype {dtype}, reference float64")
    passed = True
    expected_results = [output, importance_loss, load_loss]
    if config.reports_tokens_per_expert:
        expected_results.append(intermediates["tokens_per_expert"])
    for (name, _), actual, expected in zip(
            config.result_shapes(tokens), results, expected_results):
        error = relative_error(actual, expected)
        ok = bool(error < bound)
        passed &= ok
        print(f"  {name:<18} rel error {error:.3e}  bound {bound:.0e}  "
              f"{'PASS' if ok else 'FAIL'}")

    tolerance = max(SPEC_TIE_TOLERANCE, 2 * UNIT_ROUNDOFF.get(dtype, 0.0))
    warnings = list(near_ties(intermediates["routing_logits"], tolerance,
                              config.capacity_factor is not None,
                              config.group_size))
    if warnings:
        print(f"routing near-ties (logits within {tolerance:.2g} relative"
              f"{', two roundoffs of ' + dtype if dtype in UNIT_ROUNDOFF else ''}"
              f"); a mismatch of the output or of a count-based load there "
              f"may be legitimate:")
        for warning in warnings:
            print(f"  {warning}")
    return passed


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=models.MODELS)
    parser.add_argument("--inputs", type=Path, required=True,
                        help="directory of NN_<arg>.npy inputs")
    parser.add_argument("--results", type=Path, required=True,
                        help="directory of result_{0,1,2}.npy")
    parser.add_argument("--dtype", choices=generate_inputs.STORAGE_DTYPES,
                        default="f32")
    parser.add_argument("--tokens", type=int,
                        help="expected T (default: taken from the input x)")
    models.add_override_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = models.config_from_args(args)
        passed = check(config, args.inputs, args.results, args.dtype,
                       config.tokens if config.tokens is not None
                       else args.tokens)
    except (CheckError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not passed:
        print(f"FAIL: {config.name} results differ from the reference")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
