#!/usr/bin/env python3
"""Times the compiled MoE layer against its baselines, side by side.

    moe_bench.py [--quick] [--only NAME-SUBSTRING] [--budget SECONDS]

For each shape (the paper's LM layer, d 512, h 1024, k 4, n in {8, 64, 256},
T in {16, 256, 4096}; a Mixtral-style SwiGLU layer, d 1024, h 3584, n 8, k 2)
it runs, one after the other on this machine:

  compiled   the layer through moe-run (CPU pipeline; the expert weights
             packed once before the calls, moe-run's default)
  unpacked   the same on the weights as given (moe-run --pack-weights=false)
  unfused    the same without the fusion stage (moe-run --fuse=false)
  torch      PyTorch eager, the usual loop over experts (bench/torch_moe.py)
  sgemm      the same expert FLOPs as OpenBLAS sgemm (bench/sgemm_ceiling.py)
  dense      the layer compiled with every expert on every token (k = n),
             where its buffers fit in memory

and prints a Markdown table: time per call (mean), tokens/s, GFLOP/s (the
sparse layer's useful FLOPs: gating and k experts per token, whatever the
implementation executed), the process's peak memory, and each baseline's
time relative to the compiled layer (> 1: the compiled layer is faster).
"""

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import generate_inputs  # noqa: E402
import models  # noqa: E402

BUILD = Path(os.environ.get("MOE_BUILD_DIR", ROOT / "build"))
MOE_RUN = BUILD / "bin" / "moe-run"
PYTHON = "/usr/bin/python3"


def shapes(quick):
    tokens = (16, 256) if quick else (16, 256, 4096)
    experts = (8, 64) if quick else (8, 64, 256)
    for n in experts:
        for t in tokens:
            yield (f"paper-lm n={n} T={t}", "paper-lm", dict(n=n), t)
    for t in tokens:
        yield (f"mixtral T={t}", "mixtral", {}, t)


def run_measured(command):
    """Runs `command`; returns (stdout, peak resident memory in MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        pid = os.fork()
        if pid == 0:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                os.execv(command[0], [str(part) for part in command])
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{' '.join(map(str, command))} failed:\n"
                               f"{err.read()}")
        return out.read(), usage.ru_maxrss / 1024.0


def cpu_model():
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def useful_flops(config, tokens):
    gated = "w3" in config.roles
    experts = 2 * tokens * config.k * config.d * config.h * (3 if gated else 2)
    gates = 2 * tokens * config.d * config.n * (2 if "w_noise" in config.roles
                                                else 1)
    return experts + gates


def repeats_for(seconds_per_call, budget):
    return max(2, min(50, int(budget / max(seconds_per_call, 1e-6))))


def time_compiled(config, tokens, work, budget, options=()):
    model = work / f"{config.name}-k{config.k}.mlir"
    model.write_text(models.render_mlir(config))
    inputs = sorted(str(p) for p in (work / "inputs").glob("*.npy"))
    probe, _ = run_measured([MOE_RUN, model, *inputs, *options, "--repeat=1"])
    first = float(re.search(r"mean, ([0-9.]+) ms min", probe).group(1)) / 1e3
    output, peak = run_measured([MOE_RUN, model, *inputs, *options,
                                 f"--repeat={repeats_for(first, budget)}"])
    mean = float(re.search(r"time per call: ([0-9.]+) ms mean", output)
                 .group(1)) / 1e3
    return mean, peak


def time_torch(config, tokens, work, budget):
    description = {**config.layer_attributes(),
                   "threads": len(os.sched_getaffinity(0))}
    path = work / "torch.json"
    path.write_text(json.dumps(description))
    script = ROOT / "bench" / "torch_moe.py"
    probe, _ = run_measured([PYTHON, script, path, work / "inputs", 1])
    first = json.loads(probe)["min"]
    output, peak = run_measured([PYTHON, script, path, work / "inputs",
                                 repeats_for(first, budget)])
    result = json.loads(output)
    return result["mean"], peak, result


def time_sgemm(config, tokens, budget):
    script = ROOT / "bench" / "sgemm_ceiling.py"
    gated = int("w3" in config.roles)
    arguments = [tokens * config.k, config.d, config.h, gated]
    probe, _ = run_measured([PYTHON, script, *arguments, 1])
    first = json.loads(probe)["min"]
    output, peak = run_measured([PYTHON, script, *arguments,
                                 repeats_for(first, budget)])
    result = json.loads(output)
    return result["mean"], peak, result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="n in {8, 64}, T in {16, 256}")
    parser.add_argument("--only", help="run the shapes whose name contains this")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds of timed calls per implementation")
    args = parser.parse_args()
    if not MOE_RUN.exists():
        sys.exit(f"{MOE_RUN} is missing: build first (utils/build.sh)")

    print(f"# {time.strftime('%Y-%m-%d')}, {cpu_model()}, "
          f"{os.cpu_count()} cores")
    print()
    print("| shape | impl | ms/call | tokens/s | GFLOP/s | peak MB | "
          "vs compiled |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    blas_reported = False
    for name, base, overrides, tokens in shapes(args.quick):
        if args.only and args.only not in name:
            continue
        config = models.model_config(base, **overrides)
        flops = useful_flops(config, tokens)
        with tempfile.TemporaryDirectory(dir=BUILD) as directory:
            work = Path(directory)
            arrays = generate_inputs.generate_storage(config, tokens, seed=0)
            generate_inputs.write_inputs(work / "inputs", arrays)
            rows = []
            compiled, peak = time_compiled(config, tokens, work, args.budget)
            rows.append(("compiled", compiled, peak))
            seconds, peak = time_compiled(config, tokens, work, args.budget,
                                          ["--pack-weights=false"])
            rows.append(("unpacked", seconds, peak))
            seconds, peak = time_compiled(config, tokens, work, args.budget,
                                          ["--fuse=false"])
            rows.append(("unfused", seconds, peak))
            seconds, peak, torch_info = time_torch(config, tokens, work,
                                                   args.budget)
            rows.append(("torch", seconds, peak))
            seconds, peak, sgemm_info = time_sgemm(config, tokens, args.budget)
            rows.append(("sgemm", seconds, peak))
            dense = models.model_config(base, **overrides, k=config.n)
            hidden_bytes = 4 * tokens * dense.k * dense.h
            if hidden_bytes <= 2 << 30:
                seconds, peak = time_compiled(dense, tokens, work, args.budget)
                rows.append(("dense", seconds, peak))
        for impl, seconds, peak in rows:
            print(f"| {name} | {impl} | {seconds * 1e3:.2f} | "
                  f"{tokens / seconds:,.0f} | {flops / seconds / 1e9:.1f} | "
                  f"{peak:,.0f} | {seconds / compiled:.2f} |")
        if not blas_reported:
            blas_reported = True
            print(f"<!-- torch: {torch_info['threads']} threads, "
                  f"{' '.join(torch_info['blas'])}; numpy BLAS: "
                  f"{' '.join(sgemm_info['blas'])} -->")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
