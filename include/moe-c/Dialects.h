/*===-- moe-c/Dialects.h - C API for the moe dialect -------------*- C -*-===*\
|*                                                                            *|
|* Registers the moe dialect, and everything compiling a model needs, with   *|
|* an MLIR context built through the MLIR C API.                             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MOE_C_DIALECTS_H
#define MOE_C_DIALECTS_H

#include "mlir-c/IR.h"

#ifdef __cplusplus
extern "C" {
#endif

MLIR_DECLARE_CAPI_DIALECT_REGISTRATION(MoE, moe);

/// Adds to `registry` the dialects a model and its compilation use: moe,
/// the upstream dialects with their interface models and extensions, and
/// the translations to LLVM IR. A context that `moeExecutableCreate`
/// compiles in needs them.
MLIR_CAPI_EXPORTED void
moeRegisterCompilerDialects(MlirDialectRegistry registry);

#ifdef __cplusplus
}
#endif

#endif // MOE_C_DIALECTS_H
