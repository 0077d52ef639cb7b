#!/usr/bin/env python3
"""Times the layer compiled for the GPU against its GPU baselines, side by side.

    gpu_bench.py [--moe-run PATH] [--baselines PATH] [--budget SECONDS]
                 [--only NAME-SUBSTRING] [--plan]

Shapes: the Mixtral-style SwiGLU layer at full width, bf16 (d 4096, h 14336,
n 8, k 2), at T = 4096 tokens (prefill) and T in {1, 16, 32} (decode). For
each it runs, one after the other on this machine's GPU:

  compiled   the layer through `moe-run --backend=cuda` (the CUDA pipeline;
             its inputs copied to the GPU once, its results copied back by
             every call)
  torch      PyTorch eager on the GPU in bf16, the usual loop over experts
             (bench/torch_moe.py), where the python3 running this has a
             PyTorch that sees the GPU
  eager      the same loop written on cuBLAS (gpu_baselines eager: gating
             GEMM, routing, indices to the host, per expert a gather, three
             GEMMs, SwiGLU, weighted scatter-add)
  cublas     the same expert FLOPs as dense bf16 cuBLAS GEMMs (gpu_baselines
             gemm): the ceiling of the experts' arithmetic at T = 4096 (one
             expert's weights: no ceiling at the decode sizes, which read
             several experts')

and prints a Markdown table: time per call (mean), tokens/s, TFLOP/s (the
layer's useful FLOPs: gating and k experts per token) and each baseline's time
relative to the compiled layer (> 1: the compiled layer is faster). The
baselines' outputs are checked against the compiled layer's. For the
decode shapes it also prints the bandwidth on the expert weights the tokens
actually route to, against a device-to-device copy's (gpu_baselines
bandwidth). `--plan` prints the shapes, FLOPs and bytes without running.

Needs NumPy and a GPU; gpu_baselines is built with nvcc from
bench/gpu_baselines.cu (bench/gpu-run.sh does both).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import generate_inputs  # noqa: E402
import models  # noqa: E402

WIDTH = dict(d=4096, h=14336, n=8, k=2)
# How far a baseline's output may be from the compiled layer's: PyTorch's
# bf16 layer rounds every step (the hidden activations too) to bf16, a few
# 1e-2 on one token; another layer (other routing or activation) is off by
# O(1).
SAME_LAYER_BOUND = 0.1


def shapes():
    for tokens in (4096, 1, 16, 32):
        yield f"mixtral-gpu T={tokens}", tokens


def useful_flops(config, tokens):
    experts = 2 * tokens * config.k * config.d * config.h * 3
    return experts + 2 * tokens * config.d * config.n


def expert_bytes(config, experts_read):
    """Bytes of bf16 weights (w1, w3, w2) of `experts_read` experts."""
    return experts_read * 3 * config.d * config.h * 2


def experts_routed_to(config, x, gate):
    """How many experts the tokens route to: the top k of x @ gate."""
    x = generate_inputs.decode(x, "bf16")
    gate = generate_inputs.decode(gate, "bf16")
    top = np.argsort(-(x @ gate), axis=1, kind="stable")[:, :config.k]
    return len(np.unique(top))


def run(command):
    result = subprocess.run([str(part) for part in command],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n"
                           f"{result.stderr}")
    return result.stdout


def repeats_for(seconds_per_call, budget):
    return max(2, min(50, int(budget / max(seconds_per_call, 1e-6))))


def time_baseline(baselines, arguments, budget):
    first = json.loads(run([baselines, *arguments, 1]))["min"]
    return json.loads(run([baselines, *arguments,
                           repeats_for(first, budget)]))["mean"]


def time_compiled(moe_run, model, inputs, results, budget):
    options = ["--backend=cuda", f"--output-dir={results}"]
    probe = run([moe_run, model, *inputs, *options, "--repeat=1"])
    first = float(re.search(r"mean, ([0-9.]+) ms min", probe).group(1)) / 1e3
    output = run([moe_run, model, *inputs, *options,
                  f"--repeat={repeats_for(first, budget)}"])
    return float(re.search(r"time per call: ([0-9.]+) ms mean", output)
                 .group(1)) / 1e3


def relative_error(actual, expected):
    return float(np.linalg.norm(actual - expected) /
                 max(np.linalg.norm(expected), 1e-30))


def torch_sees_gpu():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def time_torch(config, inputs, output, budget):
    description = {**config.layer_attributes(), "dtype": "bf16",
                   "device": "cuda", "output": str(output)}
    path = output.with_suffix(".json")
    path.write_text(json.dumps(description))
    script = ROOT / "bench" / "torch_moe.py"
    first = json.loads(run([sys.executable, script, path, inputs, 1]))["min"]
    return json.loads(run([sys.executable, script, path, inputs,
                           repeats_for(first, budget)]))["mean"]


def note(text):
    """A line under the table, also printed at once (to stderr): a run
    stopped at a time limit keeps what it learnt."""
    print(f"note: {text}", file=sys.stderr, flush=True)
    NOTES.append(text)


NOTES = []


def same_layer(name, baseline, actual, compiled):
    """Whether a baseline's output is the compiled layer's, noted."""
    error = relative_error(actual.reshape(-1), compiled)
    if error > SAME_LAYER_BOUND:
        note(f"{name}: the {baseline} row is left out: its output is "
             f"{error:.2e} from the compiled layer's (bound "
             f"{SAME_LAYER_BOUND}), another layer")
        return False
    note(f"{name}: {baseline} output vs compiled, relative L2 {error:.1e}")
    return True


def measured(name, baseline, timing):
    """`timing()`, or None (noted) where the baseline fails: the other rows
    are still worth the GPU time."""
    try:
        return timing()
    except (RuntimeError, OSError, ValueError, KeyError) as error:
        note(f"{name}: {baseline} failed: {error}")
        return None


def gpu_name():
    try:
        return run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
                   ).splitlines()[0]
    except (OSError, RuntimeError, IndexError):
        return "unknown GPU"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    build = Path(os.environ.get("MOE_BUILD_DIR", ROOT / "build"))
    parser.add_argument("--moe-run", type=Path,
                        default=build / "bin" / "moe-run")
    parser.add_argument("--baselines", type=Path,
                        default=build / "bin" / "gpu_baselines")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds of timed calls per implementation")
    parser.add_argument("--only",
                        help="run the shapes whose name contains this")
    parser.add_argument("--plan", action="store_true",
                        help="print the shapes, FLOPs and weight bytes only")
    args = parser.parse_args()
    config = models.model_config("mixtral", **WIDTH)

    if args.plan:
        for name, tokens in shapes():
            print(f"{name}: {useful_flops(config, tokens) / 1e9:.1f} GFLOP, "
                  f"routed rows {tokens * config.k}, weights "
                  f"{expert_bytes(config, config.n) / 2**30:.2f} GiB")
        return
    for tool in (args.moe_run, args.baselines):
        if not tool.exists():
            sys.exit(f"{tool} is missing (bench/gpu-run.sh builds both)")

    print(f"# {time.strftime('%Y-%m-%d')}, {gpu_name()}")
    print()
    print("| shape | impl | ms/call | tokens/s | TFLOP/s | vs compiled |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    copy_bandwidth = None
    selected = [(name, tokens) for name, tokens in shapes()
                if not args.only or args.only in name]
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        # x for T tokens is the first T rows of the largest shape's
        # (examples/generate_inputs.py), and the weights do not depend on T:
        # they are drawn and written once.
        arrays = generate_inputs.generate_storage(
            config, max(tokens for _, tokens in selected), seed=0,
            dtype="bf16")
        weights = [name for name, _ in config.arguments if name != "x"]
        paths = generate_inputs.write_inputs(work / "inputs", arrays)
        raw = work / "raw"
        raw.mkdir()
        for argument in weights:
            arrays[argument].tofile(raw / f"{argument}.bin")
        model = work / "model.mlir"
        model.write_text(models.render_mlir(config, dtype="bf16"))
        with_torch = torch_sees_gpu()
        if not with_torch:
            note("no torch row: this python3 has no PyTorch that sees a GPU")

        for name, tokens in selected:
            flops = useful_flops(config, tokens)
            x = arrays["x"][:tokens]
            np.save(work / "x.npy", x)
            x.tofile(raw / "x.bin")
            inputs = [work / "x.npy", *paths[1:]]
            compiled = time_compiled(args.moe_run, model, inputs,
                                     work / "results", args.budget)
            rows = [("compiled", compiled)]
            compiled_y = generate_inputs.decode(
                np.load(work / "results" / "result_0.npy"),
                "bf16").reshape(-1)

            if with_torch:
                # torch_moe.py reads a folder of NN_<argument>.npy.
                torch_inputs = work / f"torch-{tokens}"
                torch_inputs.mkdir()
                for position, path in enumerate(inputs):
                    (torch_inputs / paths[position].name).symlink_to(path)
                torch_y = work / f"torch-{tokens}.npy"
                seconds = measured(name, "torch", lambda: time_torch(
                    config, torch_inputs, torch_y, args.budget))
                if seconds and same_layer(name, "torch", np.load(torch_y),
                                          compiled_y):
                    rows.append(("torch", seconds))

            seconds = measured(name, "eager", lambda: time_baseline(
                args.baselines,
                ["eager", raw, tokens, config.d, config.h, config.n,
                 config.k], args.budget))
            if seconds and same_layer(
                    name, "eager",
                    np.fromfile(raw / "y.bin", dtype=np.float32),
                    compiled_y):
                rows.append(("eager", seconds))

            seconds = measured(name, "cublas", lambda: time_baseline(
                args.baselines,
                ["gemm", tokens * config.k, config.d, config.h],
                args.budget))
            if seconds:
                rows.append(("cublas", seconds))

            if tokens <= 32:
                if copy_bandwidth is None:
                    copied = 1 << 30
                    seconds = measured(name, "bandwidth",
                                       lambda: time_baseline(
                                           args.baselines,
                                           ["bandwidth", copied],
                                           args.budget))
                    if seconds:
                        copy_bandwidth = 2 * copied / seconds
                        note(f"device-to-device copy: "
                             f"{copy_bandwidth / 1e9:.0f} GB/s")
                read = expert_bytes(
                    config, experts_routed_to(config, x, arrays["w_gate"]))
                if copy_bandwidth:
                    note(f"{name}: expert weights read {read / 1e9:.2f} GB, "
                         f"{read / compiled / 1e9:.0f} GB/s = "
                         f"{read / compiled / copy_bandwidth:.2f}x the "
                         f"copy's")
            for impl, seconds in rows:
                print(f"| {name} | {impl} | {seconds * 1e3:.3f} | "
                      f"{tokens / seconds:,.0f} | "
                      f"{flops / seconds / 1e12:.2f} | "
                      f"{seconds / compiled:.2f} |")
            sys.stdout.flush()
    print()
    for text in NOTES:
        print(f"- {text}")


if __name__ == "__main__":
    main()
