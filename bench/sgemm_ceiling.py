#!/usr/bin/env python3
"""The practical ceiling: the layer's expert FLOPs as plain OpenBLAS sgemm.

    sgemm_ceiling.py ROWS D H GATED REPEAT

Times [ROWS, D] x [D, H] (twice when GATED) and [ROWS, H] x [H, D] through
NumPy's matmul, which Debian links to the system BLAS; prints one JSON line
with mean and min seconds and the BLAS library NumPy actually loaded (read
from the process's memory map, so a fallback to the reference BLAS shows).
"""

import json
import sys
import time

import numpy as np

from loaded_blas import loaded_blas


def main():
    rows, d, h, gated, repeat = (int(value) for value in sys.argv[1:6])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, d), dtype=np.float32)
    w1 = rng.standard_normal((d, h), dtype=np.float32)
    w3 = rng.standard_normal((d, h), dtype=np.float32)
    w2 = rng.standard_normal((h, d), dtype=np.float32)

    def experts():
        hidden = x @ w1
        if gated:
            hidden = hidden * (x @ w3)
        return hidden @ w2

    experts()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        experts()
        times.append(time.perf_counter() - start)
    print(json.dumps({"mean": sum(times) / len(times), "min": min(times),
                      "blas": loaded_blas()}))


if __name__ == "__main__":
    main()
