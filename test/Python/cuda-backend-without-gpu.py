# RUN: %python %s 2>&1 | FileCheck %s
# UNSUPPORTED: cuda-gpu, sanitizers
#
# Without a GPU, compiling for the CUDA backend fails with one message that
# says what is missing.

import moe

# CHECK: MoEError: compiling for cuda failed:
# CHECK-NEXT: error: {{.*}}CUDA backend{{.*}}
try:
    moe.compile("func.func @f() { return }", backend="cuda")
    print("compiled")
except moe.MoEError as error:
    print(f"MoEError: {error}")
