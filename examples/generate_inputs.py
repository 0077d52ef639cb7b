#!/usr/bin/env python3
"""Write reproducible random inputs for an example model as .npy files.

    generate_inputs.py MODEL --out DIR [--tokens T] [--seed S]
                       [--dtype f32|f16|bf16|f64]
                       [--tie-experts I,J] [--starve-expert E]
                       [model overrides: --d --h --n --k ...]

One file per entry argument, DIR/NN_<argname>.npy with NN the argument's
position, so a sorted glob of DIR is the argument list of the runner.  Arrays
are C-ordered little-endian; f16 is '<f2' and bf16, which NumPy lacks, is the
uint16 bit pattern ('<u2') of the value rounded to nearest-even from float32.

Values are random and never all zero (SPEC §2): x ~ N(0, 1); gate and noise
weights ~ N(0, 1/d), so that gate logits are O(1) and distinct; noise samples
~ N(0, 1); expert weights ~ N(0, 1/fan_in); biases ~ N(0, 0.1) (N(mean,
variance) throughout).  Each operand is drawn from its own stream
default_rng([seed, role]), in float32 whatever the storage dtype, so a model's
weights do not depend on T or on the dtype, and x for T tokens is the first T
rows of x for more.

Edge cases for routing tests:
  --tie-experts I,J   expert J gets expert I's gate column (and noise weights
                      and noise sample when gating is noisy), so their logits
                      are exactly equal in every row and the tie rule decides;
  --starve-expert E   expert E's gate column is solved so that its clean logit
                      is -50 for every token, far below the others: no token
                      chooses it and its dispatch group is empty.
For a hierarchical model both act on the secondary (per-expert) gate.

Other Python code gets the same arrays from `generate_storage` (what is
written) or `generate_inputs` (those values as float64, after rounding).
"""

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models  # noqa: E402  (the registry sits beside this script)

STORAGE_DTYPES = {
    "f32": np.dtype("<f4"),
    "f16": np.dtype("<f2"),
    "bf16": np.dtype("<u2"),
    "f64": np.dtype("<f8"),
}

# Fixed stream number per operand role: the seed of an operand's values must
# not depend on which other operands the model has.
ROLE_STREAMS = ("input", "w_gate", "w_noise", "noise", "secondary_w_gate",
                "secondary_w_noise", "secondary_noise", "w1", "b1", "w3",
                "w2", "b2")

# Clean logit given to a starved expert: far below the O(1) logits of the
# others even after noise * stddev (both O(1)) is added.
STARVED_LOGIT = -50.0

ARGUMENT_FILE = re.compile(r"^\d\d_.+\.npy$")


def encode(values, dtype):
    """Round float values to the storage dtype ('f32', 'f16', 'bf16', 'f64').

    bf16 is produced from float32 by round-to-nearest-even on the bit
    pattern (NaN kept quiet), the rounding every bf16 conversion uses.
    """
    if dtype != "bf16":
        return np.asarray(values).astype(STORAGE_DTYPES[dtype])
    single = np.asarray(values, dtype=np.float32)
    # view() cannot change the itemsize of a 0-d array, hence the reshapes.
    bits = single.reshape(-1).view(np.uint32).reshape(single.shape)
    sixteen = np.uint32(16)  # uint32 operands keep 0-d results uint32
    rounding = ((bits >> sixteen) & np.uint32(1)) + np.uint32(0x7FFF)
    rounded = ((bits + rounding) >> sixteen).astype(np.uint16)
    return np.where(np.isnan(single), np.uint16(0x7FC0),
                    rounded).astype(STORAGE_DTYPES["bf16"])


def decode(stored, dtype):
    """The float64 values of an array in storage dtype `dtype`."""
    if dtype == "bf16":
        bits = (np.asarray(stored, dtype=np.uint16).astype(np.uint32) <<
                np.uint32(16))
        return bits.reshape(-1).view(np.float32).reshape(bits.shape).astype(
            np.float64)
    return np.asarray(stored, dtype=np.float64)


def _standard_deviation(config, role):
    """Scale of the normal distribution of one operand (see module docstring)."""
    if role in ("input", "noise", "secondary_noise"):
        return 1.0
    if role in ("b1", "b2"):
        return np.sqrt(0.1)
    fan_in = config.h if role == "w2" else config.d
    return 1.0 / np.sqrt(fan_in)


def _draw(config, role, shape, seed):
    rng = np.random.default_rng([seed, ROLE_STREAMS.index(role)])
    sample = rng.standard_normal(shape, dtype=np.float32)
    sample *= np.float32(_standard_deviation(config, role))
    return sample


def _check_expert(config, expert, what):
    if not 0 <= expert < config.n:
        raise ValueError(f"{what}: expert {expert} is not in 0..{config.n - 1}")


def _tie_experts(config, arrays, first, second):
    """Give expert `second` the gating columns of expert `first`."""
    _check_expert(config, first, "--tie-experts")
    _check_expert(config, second, "--tie-experts")
    if first == second:
        raise ValueError("--tie-experts needs two different experts")
    prefix = "secondary_" if config.hierarchical else ""
    for role in (config.expert_gate_role, prefix + "w_noise", prefix + "noise"):
        if role in arrays:
            arrays[role][:, second] = arrays[role][:, first]


def _starve_expert(config, arrays, expert, dtype):
    """Solve expert `expert`'s gate column so its clean logit is STARVED_LOGIT.

    x @ w = STARVED_LOGIT * ones has an exact solution when T <= d; it is
    computed from the stored (rounded) x and then checked after rounding w.
    """
    _check_expert(config, expert, "--starve-expert")
    if config.k >= config.group_size:
        raise ValueError(f"--starve-expert: with k = {config.k} of "
                         f"{config.group_size} experts every expert is chosen")
    x = decode(arrays["input"], dtype)
    tokens = x.shape[0]
    if tokens > config.d:
        raise ValueError(f"--starve-expert needs T ({tokens}) <= d "
                         f"({config.d}) to solve for the gate column")
    target = np.full(tokens, STARVED_LOGIT)
    column, *_ = np.linalg.lstsq(x, target, rcond=None)
    gate = arrays[config.expert_gate_role]
    gate[:, expert] = encode(column.astype(np.float32), dtype)
    reached = x @ decode(gate[:, expert], dtype)
    if np.max(np.abs(reached - target)) > 1.0:
        raise ValueError(f"--starve-expert: after rounding to {dtype} the "
                         f"logit of expert {expert} comes out as high as "
                         f"{np.max(reached):.3g} instead of {STARVED_LOGIT}")


def generate_storage(config, tokens, seed=0, dtype="f32", tie_experts=None,
                     starve_expert=None):
    """The entry arguments of `config` for T = tokens, in storage dtype.

    Returns a dict argument name -> array, in argument order.  `tie_experts`
    is a pair (I, J), `starve_expert` an expert index (module docstring).
    """
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"unknown dtype '{dtype}' "
                         f"(known: {', '.join(STORAGE_DTYPES)})")
    by_role = {role: encode(_draw(config, role, shape, seed), dtype)
               for _, role, shape in config.argument_shapes(tokens)}
    if tie_experts is not None:
        _tie_experts(config, by_role, *tie_experts)
    if starve_expert is not None:
        _starve_expert(config, by_role, starve_expert, dtype)
    return {name: by_role[role] for name, role in config.arguments}


def generate_inputs(config, tokens, seed=0, dtype="f32", tie_experts=None,
                    starve_expert=None):
    """Like generate_storage, but each array as float64 of the stored values."""
    stored = generate_storage(config, tokens, seed, dtype, tie_experts,
                              starve_expert)
    return {name: decode(array, dtype) for name, array in stored.items()}


def write_inputs(out_dir, arrays):
    """Write DIR/NN_<name>.npy per argument, removing stale argument files.

    A sorted glob of DIR must be exactly this argument list, so NN_*.npy
    files left by an earlier run with other arguments are deleted.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{position:02d}_{name}.npy"
             for position, name in enumerate(arrays)]
    for stale in sorted(out_dir.iterdir()):
        if ARGUMENT_FILE.match(stale.name) and stale not in paths:
            print(f"note: removing stale argument file {stale}",
                  file=sys.stderr)
            stale.unlink()
    for path, array in zip(paths, arrays.values()):
        np.save(path, np.ascontiguousarray(array))
    return paths


def expert_pair(text):
    try:
        first, second = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I,J, got '{text}'")
    return first, second


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=models.MODELS)
    parser.add_argument("--out", type=Path, required=True,
                        help="directory for the NN_<arg>.npy files")
    parser.add_argument("--tokens", type=int,
                        help="token count T (default: the model's static T, "
                             f"else {models.DEFAULT_TOKENS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=STORAGE_DTYPES, default="f32")
    parser.add_argument("--tie-experts", type=expert_pair, metavar="I,J")
    parser.add_argument("--starve-expert", type=int, metavar="E")
    parser.add_argument("--emit-mlir", type=Path, metavar="FILE",
                        help="also write the entry function of this "
                             "configuration (for variants without a .mlir)")
    models.add_override_arguments(parser)
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    try:
        config = models.config_from_args(args)
        tokens = config.token_count(args.tokens)
        if tokens < 1:
            raise ValueError("--tokens must be positive")
        arrays = generate_storage(config, tokens, args.seed, args.dtype,
                                  args.tie_experts, args.starve_expert)
    except ValueError as error:
        parser.error(str(error))
    if args.emit_mlir:
        args.emit_mlir.parent.mkdir(parents=True, exist_ok=True)
        args.emit_mlir.write_text(models.render_mlir(config, args.dtype))
    elif config.differs_from_file:
        changed = ", ".join(f"{field}={getattr(config, field)}"
                            for field in config.differs_from_file)
        print(f"note: {config.name} with {changed} differs from "
              f"{config.mlir_file.name}; run it with a .mlir that matches",
              file=sys.stderr)
    for path in write_inputs(args.out, arrays):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
