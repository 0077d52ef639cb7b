/*===-- moe-c/Execution.h - Compile modules and call them ---------*- C -*-===*\
|*                                                                            *|
|* Compiles a module of moe ops for the CPU or an NVIDIA GPU, JITs it in     *|
|* this process, and calls its public functions on the caller's arrays.      *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MOE_C_EXECUTION_H
#define MOE_C_EXECUTION_H

#include "mlir-c/IR.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The element types entry points take and return. bf16 values are their
/// 16-bit patterns.
typedef enum MlirMoEElementKind {
  MlirMoEElementKindF16,
  MlirMoEElementKindBF16,
  MlirMoEElementKindF32,
  MlirMoEElementKindF64,
  MlirMoEElementKindI32,
  MlirMoEElementKindI64,
} MlirMoEElementKind;

typedef enum MlirMoEBackend {
  /// The host CPU: OpenBLAS GEMMs, OpenMP threads.
  MlirMoEBackendCPU,
  /// The first NVIDIA GPU, through the project's CUDA runtime.
  MlirMoEBackendCUDA,
} MlirMoEBackend;

/// A dense, C-ordered array in memory the caller owns.
typedef struct MlirMoEArray {
  MlirMoEElementKind kind;
  intptr_t rank;
  /// `rank` sizes.
  const int64_t *shape;
  const void *data;
} MlirMoEArray;

typedef struct MlirMoECompileOptions {
  MlirMoEBackend backend;
  /// LLVM optimization level of the JIT, 0 to 3.
  unsigned optLevel;
  /// Whether the pipeline's fusion stage runs.
  bool fuse;
  /// Ranks the experts are split over (CPU): with more than one, this
  /// process is one rank of an MPI job of that size.
  unsigned numRanks;
  /// CPU threads; 0: OpenMP's default (`OMP_NUM_THREADS`, else one per core).
  unsigned threads;
  /// GPU architecture for the CUDA backend (`sm_90`); empty: the GPU's own.
  MlirStringRef chip;
} MlirMoECompileOptions;

/// A compiled module, ready to call.
typedef struct MlirMoEExecutable {
  void *ptr;
} MlirMoEExecutable;

/// The arrays one call returned, owned by the caller until destroyed.
typedef struct MlirMoEResults {
  void *ptr;
} MlirMoEResults;

/// CPU, level 3, fused, one rank, OpenMP's default threads, the GPU's chip.
MLIR_CAPI_EXPORTED MlirMoECompileOptions mlirMoECompileOptionsGetDefault(void);

/// Compiles a copy of `module` (its context must hold the dialects of
/// `mlirMoERegisterCompilerDialects`) and JITs it; null `options` are the
/// defaults. On failure returns a null executable; the diagnostics, the
/// pipeline's and then one naming what failed, went to the handlers of the
/// module's context.
MLIR_CAPI_EXPORTED MlirMoEExecutable mlirMoEExecutableCreate(
    MlirModule module, const MlirMoECompileOptions *options);

static inline bool mlirMoEExecutableIsNull(MlirMoEExecutable executable) {
  return !executable.ptr;
}

MLIR_CAPI_EXPORTED void mlirMoEExecutableDestroy(MlirMoEExecutable executable);

/// The public functions of the compiled module, in the module's order.
MLIR_CAPI_EXPORTED intptr_t
mlirMoEExecutableGetNumEntryPoints(MlirMoEExecutable executable);

MLIR_CAPI_EXPORTED MlirStringRef
mlirMoEExecutableGetEntryPointName(MlirMoEExecutable executable, intptr_t pos);

/// Calls the entry point `name` on `inputs`, which it reads in place and
/// checks against its argument types first. On failure (a wrong argument, a
/// failed run-time check of the compiled code) calls `onError` with one
/// message and returns null results.
MLIR_CAPI_EXPORTED MlirMoEResults mlirMoEExecutableInvoke(
    MlirMoEExecutable executable, MlirStringRef name, intptr_t numInputs,
    const MlirMoEArray *inputs, MlirStringCallback onError, void *userData);

static inline bool mlirMoEResultsIsNull(MlirMoEResults results) {
  return !results.ptr;
}

MLIR_CAPI_EXPORTED intptr_t mlirMoEResultsGetNumArrays(MlirMoEResults results);

/// Result `pos`; its shape and data live as long as `results`.
MLIR_CAPI_EXPORTED MlirMoEArray mlirMoEResultsGetArray(MlirMoEResults results,
                                                       intptr_t pos);

MLIR_CAPI_EXPORTED void mlirMoEResultsDestroy(MlirMoEResults results);

#ifdef __cplusplus
}
#endif

#endif // MOE_C_EXECUTION_H
