#!/usr/bin/env python3
"""PyTorch eager baseline: the MoE layer as users write it today.

    torch_moe.py CONFIG.json INPUT_DIR REPEAT

Loads the same .npy inputs the compiled layer gets (examples/generate_inputs.py
layout: NN_<argument>.npy) and runs the layer the usual way: noisy top-k
gating, a loop over experts gathering each expert's tokens with index_select
and scattering the weighted outputs back with index_add_, and the importance
and load losses. CONFIG's "dtype" (f32, or bf16/f16: the inputs' storage, in
which the layer then runs), "device" ("cpu", or "cuda": timed between
synchronizations) and "output" (a .npy path for the last call's output, in
f32) are optional. Prints one JSON line: mean and min seconds
per call, and the BLAS (CPU) or GPU PyTorch ran on.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from loaded_blas import loaded_blas


DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def load_inputs(config, directory):
    dtype = config.get("dtype", "f32")
    device = config.get("device", "cpu")
    arrays = {}
    for path in sorted(Path(directory).glob("*.npy")):
        name = path.stem.split("_", 1)[1]
        stored = np.load(path)
        if dtype == "bf16":  # uint16 bit patterns, the upper half of an f32
            stored = (stored.astype(np.uint32) << 16).view(np.float32)
        arrays[name] = torch.from_numpy(stored.astype(np.float32)).to(
            device=device, dtype=DTYPES[dtype])
    by_role = {}
    for name, role in config["arguments"]:
        by_role[role] = arrays[name]
    return by_role


def cv_squared(values):
    values = values.float()
    return values.var() / (values.mean() ** 2 + 1e-10)


def layer(a, config):
    x = a["input"]
    n, k = config["n"], config["k"]
    clean = x @ a["w_gate"]
    noisy = "w_noise" in a
    if noisy:
        stddev = F.softplus(x @ a["w_noise"]) + config["noise_epsilon"]
        logits = clean + a["noise"] * stddev
    else:
        logits = clean
    if config["normalization"] == "softmax_topk":
        probabilities = torch.softmax(logits, dim=1)
        gates, indices = probabilities.topk(k, dim=1)
    else:
        values, indices = logits.topk(k, dim=1)
        gates = torch.softmax(values, dim=1)
    if config["renormalize"]:
        gates = gates / gates.sum(dim=1, keepdim=True)

    activation = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}[
        config["activation"]]
    output = torch.zeros_like(x)
    for expert in range(n):
        tokens, slots = (indices == expert).nonzero(as_tuple=True)
        if tokens.numel() == 0:
            continue
        rows = x.index_select(0, tokens)
        hidden = rows @ a["w1"][expert]
        if "b1" in a:
            hidden = hidden + a["b1"][expert]
        hidden = activation(hidden)
        if "w3" in a:
            hidden = hidden * (rows @ a["w3"][expert])
        out = hidden @ a["w2"][expert]
        if "b2" in a:
            out = out + a["b2"][expert]
        output.index_add_(0, tokens, out * gates[tokens, slots].unsqueeze(1))

    importance = torch.zeros(n, dtype=gates.dtype, device=x.device
                             ).scatter_add_(0, indices.flatten(),
                                            gates.flatten())
    if noisy and k < n:
        top, top_indices = logits.topk(k + 1, dim=1)
        in_top = torch.zeros_like(logits, dtype=torch.bool).scatter_(
            1, top_indices[:, :k], True)
        threshold = torch.where(in_top, top[:, k:k + 1], top[:, k - 1:k])
        normal = torch.distributions.Normal(0.0, 1.0)
        load = normal.cdf((clean - threshold) / stddev).sum(0)
    else:
        load = torch.zeros(n, device=x.device).scatter_add_(
            0, indices.flatten(), torch.ones(indices.numel(), device=x.device))
    return (output, config["importance_weight"] * cv_squared(importance),
            config["load_weight"] * cv_squared(load))


def main():
    config = json.loads(Path(sys.argv[1]).read_text())
    arrays = load_inputs(config, sys.argv[2])
    repeat = int(sys.argv[3])
    torch.set_num_threads(config.get("threads", torch.get_num_threads()))
    on_gpu = config.get("device", "cpu") == "cuda"
    synchronize = torch.cuda.synchronize if on_gpu else (lambda: None)
    times = []
    with torch.no_grad():
        output = layer(arrays, config)[0]
        synchronize()
        for _ in range(repeat):
            start = time.perf_counter()
            output = layer(arrays, config)[0]
            synchronize()
            times.append(time.perf_counter() - start)
    if "output" in config:
        np.save(config["output"], output.float().cpu().numpy())
    print(json.dumps({
        "mean": sum(times) / len(times), "min": min(times),
        "threads": torch.get_num_threads(),
        "blas": [torch.cuda.get_device_name()] if on_gpu else loaded_blas()}))


if __name__ == "__main__":
    main()
