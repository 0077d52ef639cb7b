#!/usr/bin/env python3
"""Run an example model (or a variant of it) with moe-run and check it.

    run_model.py MODEL --moe-run PATH --work DIR [--backend cpu|cuda]
                 [--no-fuse] [--pack-weights] [--ranks R [--mpiexec PATH]]
                 [--tokens T] [--seed S]
                 [--dtype f32|f16|bf16|f64] [--tie-experts I,J]
                 [--starve-expert E] [model overrides: --d --h --n --k ...]

Generates the inputs (examples/generate_inputs.py) into DIR/inputs, compiles
and runs the model with moe-run into DIR/results, and compares the results
with the float64 reference (test/lib/check_results.py). The example's own
.mlir file is used when the configuration is the example's; a variant (other
sizes, attributes or dtype) gets its entry function written to
DIR/model.mlir. Exits 1 when moe-run fails or a result is out of bounds.

With --ranks R the experts are split over R ranks: R moe-run processes run
under mpiexec, each on its own tokens (drawn with seed S + rank, in
DIR/inputs-RANK) and the same weights, and each rank's results are checked
against the single-process reference on its tokens (SPEC §1.6).
"""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_results  # noqa: E402
import generate_inputs  # noqa: E402
import models  # noqa: E402

# Arguments with one row per token; the others are weights.
TOKEN_ROLES = ("input", "noise", "secondary_noise")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=models.MODELS)
    parser.add_argument("--moe-run", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--backend", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--no-fuse", action="store_true",
                        help="compile without the fusion stage")
    parser.add_argument("--pack-weights", action="store_true",
                        help="pack the expert weights before the call "
                        "(moe-run --pack-weights)")
    parser.add_argument("--cpu-threads", type=int,
                        help="threads the experts run on (moe-run's default: "
                             "one per core)")
    parser.add_argument("--ranks", type=int, default=1,
                        help="split the experts over this many MPI ranks")
    parser.add_argument("--mpiexec", default="mpiexec",
                        help="MPI launcher used with --ranks")
    parser.add_argument("--tokens", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=generate_inputs.STORAGE_DTYPES,
                        default="f32")
    parser.add_argument("--tie-experts", type=generate_inputs.expert_pair,
                        metavar="I,J")
    parser.add_argument("--starve-expert", type=int, metavar="E")
    models.add_override_arguments(parser)
    args = parser.parse_args(argv)

    config = models.config_from_args(args)
    tokens = config.token_count(args.tokens)
    rank_dirs = [args.work / (f"inputs-{rank}" if args.ranks > 1 else "inputs")
                 for rank in range(args.ranks)]
    weights = None
    for rank, inputs in enumerate(rank_dirs):
        arrays = generate_inputs.generate_storage(
            config, tokens, args.seed + rank, args.dtype, args.tie_experts,
            args.starve_expert)
        # Ranks have their own tokens and share the weights.
        weights = weights or {name: arrays[name] for name, role, _ in
                              config.argument_shapes(tokens)
                              if role not in TOKEN_ROLES}
        arrays.update(weights)
        paths = generate_inputs.write_inputs(inputs, arrays)
    results = args.work / ("results-{rank}" if args.ranks > 1 else "results")
    if args.ranks > 1:
        paths = [args.work / "inputs-{rank}" / path.name for path in paths]

    model = config.mlir_file
    if config.differs_from_file or args.dtype != "f32":
        model = args.work / "model.mlir"
        model.write_text(models.render_mlir(config, args.dtype))

    command = [str(args.moe_run), str(model), *map(str, paths),
               "--output-dir", str(results), f"--backend={args.backend}"]
    if args.no_fuse:
        command.append("--fuse=false")
    # moe-run packs by default; the tests choose.
    command.append(f"--pack-weights={str(args.pack_weights).lower()}")
    if args.cpu_threads is not None:
        command.append(f"--cpu-threads={args.cpu_threads}")
    if args.ranks > 1:
        command = [args.mpiexec, "-n", str(args.ranks), *command,
                   f"--ranks={args.ranks}"]
    run = subprocess.run(command, capture_output=True, text=True)
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        sys.stderr.write(run.stderr)
        print(f"FAIL: moe-run exited with {run.returncode}")
        return 1

    passed = True
    for rank, inputs in enumerate(rank_dirs):
        if args.ranks > 1:
            print(f"rank {rank}:")
        passed &= check_results.check(
            config, inputs, Path(str(results).replace("{rank}", str(rank))),
            args.dtype, tokens)
    if not passed:
        print(f"FAIL: {config.name} results differ from the reference")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
