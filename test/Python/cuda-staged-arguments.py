# RUN: env LD_LIBRARY_PATH=%fake_cuda_driver_dir %python %s 2>&1 | FileCheck %s
# REQUIRES: cuda-runtime, fake-cuda-driver
# UNSUPPORTED: sanitizers
#
# For CUDA, Executable.stage copies an argument to managed memory once, and
# invoke passes the copy to every call. The stand-in driver runs no kernel:
# the model is host code, its result a copy of its argument. (tensor_cores
# has no GEMM to act on here; it is accepted.)

import numpy as np

import moe

PASS_THROUGH = """
func.func @pass_through(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  return %x : tensor<3x4xf32>
}
"""

# CHECK: staged: [0.0, 1.0, 2.0, 3.0] (3, 4)
# CHECK-NEXT: again: True
# CHECK-NEXT: copy, not a view: True
executable = moe.compile(PASS_THROUGH, backend="cuda", tensor_cores=False)
x = np.arange(12, dtype=np.float32).reshape(3, 4)
staged = executable.stage(x)
(first,) = executable.invoke("pass_through", staged)
print("staged:", first[0].tolist(), first.shape)
(second,) = executable.invoke("pass_through", staged)
print("again:", np.array_equal(second, x))
x[0, 0] = 100
(third,) = executable.invoke("pass_through", staged)
print("copy, not a view:", third[0, 0] == 0)
