"""Writes the .npy files the moe-run tests feed to Inputs/scale.mlir: good
ones and every kind of bad one, into the directory given as argument."""

import sys
from pathlib import Path

import numpy as np

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
x = np.arange(12, dtype=np.float32).reshape(3, 4)
np.save(out / "x.npy", x)
np.save(out / "w.npy", np.array([1, 2, 3, 4], dtype=np.float32))
np.save(out / "x_f64.npy", x.astype(np.float64))
np.save(out / "x_rank3.npy", x.reshape(1, 3, 4))
np.save(out / "w_5.npy", np.ones(5, dtype=np.float32))
np.save(out / "w_i16.npy", np.ones(4, dtype=np.int16))
np.save(out / "x_big_endian.npy", x.astype(">f4"))
np.save(out / "x_fortran.npy", np.asfortranarray(x))
(out / "x_truncated.npy").write_bytes((out / "x.npy").read_bytes()[:-5])
(out / "x_trailing.npy").write_bytes((out / "x.npy").read_bytes() + b"\0")
(out / "not_npy.npy").write_text("hello")
(out / "bad_header.npy").write_bytes(
    b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',\n")
