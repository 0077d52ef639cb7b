/*===-- moe-c/Diagnostics.h - Diagnostics as text ----------------*- C -*-===*\
|*                                                                            *|
|* A diagnostic handler that hands each diagnostic over as one formatted     *|
|* string, for callers (Python's ctypes among them) that cannot implement    *|
|* an `MlirDiagnosticHandler`, whose result is a struct.                      *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MOE_C_DIAGNOSTICS_H
#define MOE_C_DIAGNOSTICS_H

#include "mlir-c/Diagnostics.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Attaches a handler to `context` that calls `callback` once per
/// diagnostic, with `location: severity: message` and its notes on the lines
/// after, and reports the diagnostic as handled. `userData` is passed
/// through, and given to `deleteUserData` (when not null) once the handler
/// is detached or the context destroyed. Detach it with
/// `mlirContextDetachDiagnosticHandler`.
MLIR_CAPI_EXPORTED MlirDiagnosticHandlerID moeContextAttachDiagnosticPrinter(
    MlirContext context, MlirStringCallback callback, void *userData,
    void (*deleteUserData)(void *));

#ifdef __cplusplus
}
#endif

#endif // MOE_C_DIAGNOSTICS_H
