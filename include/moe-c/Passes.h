/*===-- moe-c/Passes.h - C API for the moe passes and pipelines --*- C -*-===*\
|*                                                                            *|
|* Creates and registers the moe passes (`mlirCreateMoE<Pass>`,              *|
|* `mlirRegisterMoE<Pass>`, generated from their ODS) and the named          *|
|* pipelines, so `mlirParsePassPipeline` accepts them by name.              *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MOE_C_PASSES_H
#define MOE_C_PASSES_H

#include "mlir-c/Pass.h"

#include "moe/Conversion/Passes.capi.h.inc"
#include "moe/Dialect/MoE/Transforms/Passes.capi.h.inc"

#ifdef __cplusplus
extern "C" {
#endif

/// Registers `moe-cpu-pipeline`, `moe-cuda-pipeline` and their stages.
/// Calls after the first do nothing.
MLIR_CAPI_EXPORTED void moeRegisterPipelines(void);

/// Registers everything `moe-opt` accepts: upstream MLIR's passes, the moe
/// passes and conversions, and the pipelines. Calls after the first do
/// nothing.
MLIR_CAPI_EXPORTED void moeRegisterAllPasses(void);

#ifdef __cplusplus
}
#endif

#endif // MOE_C_PASSES_H
