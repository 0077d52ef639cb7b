/*===-- moe-c/Execution.h - Compile modules and call them ---------*- C -*-===*\
|*                                                                            *|
|* Compiles a module of moe ops for the CPU or an NVIDIA GPU, JITs it in     *|
|* this process, and calls its public functions on the caller's arrays.      *|
|*                                                                            *|
|* Handles are created by `...Create` and released by `...Destroy`; a null   *|
|* handle reports a failure. An executable does not refer to the module or   *|
|* the context it was compiled from, and may be called from several threads  *|
|* at once, except when it exchanges tokens between MPI ranks (only the      *|
|* thread that compiled it may call it then).                                *|
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
typedef enum MoeElementKind {
  MoeElementKindF16,
  MoeElementKindBF16,
  MoeElementKindF32,
  MoeElementKindF64,
  MoeElementKindI32,
  MoeElementKindI64,
} MoeElementKind;

typedef enum MoeBackend {
  /// The host CPU: OpenBLAS GEMMs, OpenMP threads.
  MoeBackendCPU,
  /// The first NVIDIA GPU, through the project's CUDA runtime.
  MoeBackendCUDA,
} MoeBackend;

/// A dense, C-ordered array in memory the caller owns.
typedef struct MoeArray {
  MoeElementKind kind;
  intptr_t rank;
  /// `rank` sizes.
  const int64_t *shape;
  const void *data;
} MoeArray;

/// How to compile; opaque, so that options can be added without breaking
/// callers.
typedef struct MoeCompileOptions {
  void *ptr;
} MoeCompileOptions;

/// A compiled module, ready to call.
typedef struct MoeExecutable {
  void *ptr;
} MoeExecutable;

/// The arrays one call returned, owned by the caller until destroyed.
typedef struct MoeResults {
  void *ptr;
} MoeResults;

//===----------------------------------------------------------------------===//
// Compile options
//===----------------------------------------------------------------------===//

/// The defaults: CPU, optimization level 3, fused, one rank, OpenMP's
/// default threads, the GPU's own chip.
MLIR_CAPI_EXPORTED MoeCompileOptions moeCompileOptionsCreate(void);

MLIR_CAPI_EXPORTED void moeCompileOptionsDestroy(MoeCompileOptions options);

MLIR_CAPI_EXPORTED void moeCompileOptionsSetBackend(MoeCompileOptions options,
                                                    MoeBackend backend);

/// LLVM optimization level of the JIT, 0 to 3.
MLIR_CAPI_EXPORTED void moeCompileOptionsSetOptLevel(MoeCompileOptions options,
                                                     unsigned level);

/// Whether the pipeline's fusion stage runs.
MLIR_CAPI_EXPORTED void moeCompileOptionsSetFuse(MoeCompileOptions options,
                                                 bool fuse);

/// Ranks the experts are split over (CPU): with more than one, this process
/// is one rank of an MPI job of that size.
MLIR_CAPI_EXPORTED void moeCompileOptionsSetNumRanks(MoeCompileOptions options,
                                                     unsigned numRanks);

/// CPU threads; 0: OpenMP's default (`OMP_NUM_THREADS`, else one per core).
MLIR_CAPI_EXPORTED void moeCompileOptionsSetThreads(MoeCompileOptions options,
                                                    unsigned threads);

/// Whether entry points with f32 expert weights get a variant taking them
/// packed in the panels the CPU GEMMs read (`moeExecutableGetPackedWeights`).
MLIR_CAPI_EXPORTED void
moeCompileOptionsSetPackWeights(MoeCompileOptions options, bool packWeights);

/// Whether GEMMs of bf16/f16 operands run on tensor cores (CUDA, on chips
/// that have them; default true): false runs them as loop kernels.
MLIR_CAPI_EXPORTED void
moeCompileOptionsSetTensorCores(MoeCompileOptions options, bool tensorCores);

/// GPU architecture for the CUDA backend (`sm_90`), copied; empty: the
/// GPU's own.
MLIR_CAPI_EXPORTED void moeCompileOptionsSetChip(MoeCompileOptions options,
                                                 MlirStringRef chip);

//===----------------------------------------------------------------------===//
// Executables
//===----------------------------------------------------------------------===//

/// Compiles a copy of `module` (its context must hold the dialects of
/// `moeRegisterCompilerDialects`) and JITs it; null `options` are the
/// defaults. On failure returns a null executable; the diagnostics, the
/// pipeline's and then one naming what failed (an invalid option, a missing
/// GPU), went to the handlers of the module's context.
MLIR_CAPI_EXPORTED MoeExecutable moeExecutableCreate(MlirModule module,
                                                     MoeCompileOptions options);

static inline bool moeExecutableIsNull(MoeExecutable executable) {
  return !executable.ptr;
}

MLIR_CAPI_EXPORTED void moeExecutableDestroy(MoeExecutable executable);

/// The public functions of the compiled module, in the module's order.
MLIR_CAPI_EXPORTED intptr_t
moeExecutableGetNumEntryPoints(MoeExecutable executable);

/// The name of entry point `pos` (< the number of entry points), valid as
/// long as the executable.
MLIR_CAPI_EXPORTED MlirStringRef
moeExecutableGetEntryPointName(MoeExecutable executable, intptr_t pos);

/// An entry point's variant that takes its expert weights packed, which
/// executables compiled with `moeCompileOptionsSetPackWeights` have where
/// the entry point has such weights. Weights stay the same from call to
/// call: pack them once (`moePackExpertWeights`) and call the variant.
typedef struct MoePackedWeights {
  /// The variant, an entry point of its own; valid as long as the
  /// executable.
  MlirStringRef entry;
  /// Positions of the packed arguments, increasing; valid as long as the
  /// executable.
  intptr_t numArguments;
  const unsigned *arguments;
  /// The panel each is packed in: `[n, K, N]` becomes `[n, K / d, N / w,
  /// d, w]` for `{d, w}`.
  int64_t innerTiles[2];
} MoePackedWeights;

/// Fills `packed` and returns true where entry point `name` has a packed
/// variant; returns false otherwise.
MLIR_CAPI_EXPORTED bool moeExecutableGetPackedWeights(MoeExecutable executable,
                                                      MlirStringRef name,
                                                      MoePackedWeights *packed);

/// Packs the `[n, K, N]` array at `data` (`rank` sizes at `shape`; memory
/// the caller owns and lets this write) in place into panels of
/// `innerTiles`, and writes its new shape, 5 sizes, to `packedShape`. On
/// failure (a shape the panels do not divide) calls `onError`, when not
/// null, with one message, leaves the data as it was and returns false.
MLIR_CAPI_EXPORTED bool moePackExpertWeights(MoeElementKind kind, intptr_t rank,
                                             const int64_t *shape, void *data,
                                             const int64_t innerTiles[2],
                                             int64_t packedShape[5],
                                             MlirStringCallback onError,
                                             void *userData);

/// Copies `array` where the executable's compiled code reads it in place
/// and writes a view of the copy to `*staged`, valid as long as the
/// executable: calls given that view make no copy of their own (for CUDA,
/// each call otherwise copies its inputs to managed memory). On the CPU,
/// where compiled code reads the caller's arrays, `*staged` is `array`. The
/// view shares `array`'s shape pointer. On failure calls `onError`, when not
/// null, with one message and returns false.
MLIR_CAPI_EXPORTED bool moeExecutableStageArgument(MoeExecutable executable,
                                                   MoeArray array,
                                                   MoeArray *staged,
                                                   MlirStringCallback onError,
                                                   void *userData);

/// Calls the entry point `name` on `inputs`, which it reads in place and
/// checks against its argument types first. On failure (a wrong argument, a
/// failed run-time check of the compiled code) calls `onError`, when not
/// null, with one message and returns null results; the executable stays
/// usable, but the buffers the failed call had allocated are not freed. A
/// check that fails inside a parallel region of the compiled code (a block
/// of rows run by an OpenMP thread) cannot return: it prints its message
/// and ends the process.
MLIR_CAPI_EXPORTED MoeResults moeExecutableInvoke(
    MoeExecutable executable, MlirStringRef name, intptr_t numInputs,
    const MoeArray *inputs, MlirStringCallback onError, void *userData);

static inline bool moeResultsIsNull(MoeResults results) {
  return !results.ptr;
}

MLIR_CAPI_EXPORTED intptr_t moeResultsGetNumArrays(MoeResults results);

/// Result `pos`; its shape and data live as long as `results`.
MLIR_CAPI_EXPORTED MoeArray moeResultsGetArray(MoeResults results,
                                               intptr_t pos);

/// Destroys `results`; null results are allowed.
MLIR_CAPI_EXPORTED void moeResultsDestroy(MoeResults results);

#ifdef __cplusplus
}
#endif

#endif // MOE_C_EXECUTION_H
