"""Writes the .npy files the moe-run tests feed to the models in Inputs/:
good ones and every kind of bad one, into the directory given as argument."""

import sys
from pathlib import Path

import numpy as np


def raw_npy(header, data=b""):
    """A version 1.0 .npy file with `header` as written, which NumPy would
    not produce."""
    text = header.encode()
    text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
x = np.arange(12, dtype=np.float32).reshape(3, 4)
np.save(out / "x.npy", x)
np.save(out / "w.npy", np.array([1, 2, 3, 4], dtype=np.float32))
np.save(out / "x_f64.npy", x.astype(np.float64))
np.save(out / "x_nan.npy", np.where(x == 5, np.nan, np.where(x == 6, np.inf, x)))
np.save(out / "x_rank3.npy", x.reshape(1, 3, 4))
np.save(out / "w_5.npy", np.ones(5, dtype=np.float32))
np.save(out / "w_i16.npy", np.ones(4, dtype=np.int16))
np.save(out / "x_big_endian.npy", x.astype(">f4"))
np.save(out / "x_fortran.npy", np.asfortranarray(x))
rng = np.random.default_rng(0)
np.save(out / "x_1000.npy", rng.standard_normal((1000, 4), dtype=np.float32))
np.save(out / "w_4x3.npy", rng.standard_normal((4, 3), dtype=np.float32))
np.save(out / "noise_1.npy", rng.standard_normal((1, 3), dtype=np.float32))
np.save(out / "noise_1000.npy",
        rng.standard_normal((1000, 3), dtype=np.float32))
np.save(out / "indices_good.npy", np.array([[1, 0], [3, 1], [2, 0]], np.int32))
np.save(out / "indices_bad.npy",
        np.array([[1, 0], [1, 300000000], [2, -7]], np.int32))
np.save(out / "x_128.npy", rng.standard_normal((3, 128), dtype=np.float32))
np.save(out / "gates_3x1.npy", np.ones((3, 1), np.float32))
np.save(out / "experts_3x1.npy", np.array([[1], [0], [1]], np.int64))
np.save(out / "w1_2x128x64.npy",
        rng.standard_normal((2, 128, 64), dtype=np.float32))
np.save(out / "w1_2x128x32.npy",
        rng.standard_normal((2, 128, 32), dtype=np.float32))
np.save(out / "w2_2x64x128.npy",
        rng.standard_normal((2, 64, 128), dtype=np.float32))
with open(out / "x_v2.npy", "wb") as file:
    np.lib.format.write_array(file, x, version=(2, 0))
(out / "header_cut.npy").write_bytes((out / "x.npy").read_bytes()[:20])
(out / "huge_header.npy").write_bytes(
    b"\x93NUMPY\x02\x00" + (2**31 - 1).to_bytes(4, "little"))
(out / "x_truncated.npy").write_bytes((out / "x.npy").read_bytes()[:-5])
(out / "x_trailing.npy").write_bytes((out / "x.npy").read_bytes() + b"\0")
(out / "not_npy.npy").write_text("hello")
(out / "duplicate_key.npy").write_bytes(raw_npy(
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (3,)}",
    bytes(24)))
(out / "huge_shape.npy").write_bytes(raw_npy(
    "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (100000000000000000, 0)}"))
(out / "bad_header.npy").write_bytes(
    b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',\n")
