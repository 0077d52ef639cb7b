# -*- Python -*-

import os
import shutil
import sys

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "MOE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test", ".c", ".py"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt", "lib"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moe_obj_root, "test")

config.substitutions.append(("%moe_src_root", config.moe_src_root))
config.substitutions.append(("%moe_obj_root", config.moe_obj_root))
config.substitutions.append(("%moe_tools_dir", config.moe_tools_dir))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
# `not` and `count` are found on PATH rather than substituted.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.moe_tools_dir, config.llvm_tools_dir]
tools = ["moe-capi-test", "moe-opt", "moe-run"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# The numerical tests run NumPy under the interpreter lit itself runs under
# (Debian's /usr/bin/python3, which has python3-numpy).
config.substitutions.append(("%python", sys.executable))
# The Python package's tests import `moe` from the build tree, and the
# project's test and example helpers beside it.
config.environment["PYTHONPATH"] = os.pathsep.join([
    config.moe_python_packages_dir,
    os.path.join(config.moe_src_root, "test", "lib"),
    os.path.join(config.moe_src_root, "examples")])
# An interpreter that is not instrumented cannot load a library built with
# AddressSanitizer.
if config.moe_sanitizers:
    config.available_features.add("sanitizers")
config.substitutions.append(
    ("%run-model",
     "{} {} --moe-run {}".format(
         sys.executable,
         os.path.join(config.moe_src_root, "test", "lib", "run_model.py"),
         os.path.join(config.moe_tools_dir, "moe-run"))))
config.excludes.append("Inputs")
# Fuzzer inputs are data for Fuzz/regressions.test, not tests.
config.excludes.append("ir")

# The CUDA pipeline links libdevice from the toolkit into kernels; ptxas
# assembles them in the cubin format.
toolkit = config.moe_cuda_toolkit
if os.path.exists(os.path.join(toolkit, "nvvm", "libdevice", "libdevice.10.bc")):
    config.available_features.add("cuda-toolkit")
if os.path.exists(os.path.join(toolkit, "bin", "ptxas")) or shutil.which("ptxas"):
    config.available_features.add("ptxas")
# Embedders of an installation compile with the project's C compiler,
# against MLIR's C API headers.
config.substitutions.append(("%cc", getattr(config, "moe_c_compiler", "cc")))
config.substitutions.append(
    ("%mlir_include_dir", getattr(config, "mlir_include_dir", "")))

# The GPU benchmark's cuBLAS baselines build with the toolkit's nvcc.
nvcc = os.path.join(toolkit, "bin", "nvcc")
if os.path.exists(nvcc) and os.path.exists(
        os.path.join(toolkit, "include", "cublas_v2.h")):
    config.available_features.add("nvcc-cublas")
    config.substitutions.append(("%nvcc", nvcc))
# The CUDA runtime is built where cuda.h was found.
if os.path.exists(os.path.join(config.moe_lib_dir, "libmoe_cuda_runtime.so")):
    config.available_features.add("cuda-runtime")

# A stand-in for the NVIDIA driver whose calls fail on request, for the
# runtime's error paths (test/Runtime).
fake_driver_dir = getattr(config, "moe_fake_cuda_driver_dir", "")
if os.path.exists(os.path.join(fake_driver_dir, "libcuda.so.1")):
    config.available_features.add("fake-cuda-driver")
    config.substitutions.append(("%fake_cuda_driver_dir", fake_driver_dir))


def has_cuda_gpu():
    """True when the NVIDIA driver loads and sees at least one GPU."""
    import ctypes

    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return (driver.cuInit(0) == 0 and
            driver.cuDeviceGetCount(ctypes.byref(count)) == 0 and
            count.value > 0)


# GPU execution tests; detected when the tests run, so a build carried to a
# GPU machine runs them there.
if has_cuda_gpu():
    config.available_features.add("cuda-gpu")

# Expert parallelism: the MPI runtime is built where MPI was found, and the
# tests start their ranks with mpiexec. MPICH's launcher runs as root and
# oversubscribes cores without options.
mpiexec = shutil.which("mpiexec")
if mpiexec and os.path.exists(
        os.path.join(config.moe_lib_dir, "libmoe_mpi_runtime.so")):
    config.available_features.add("mpi")
    config.substitutions.append(("%mpiexec", mpiexec))
    # MPICH's UCX transport patches mmap in memory when it loads, which
    # crashes under AddressSanitizer's interceptors; on one host the hooks
    # (for an RDMA registration cache) are not needed.
    config.environment["UCX_MEM_MMAP_HOOK_MODE"] = "none"
