//===- MPIRuntimeLoader.h - Load the MPI runtime on first use ---*- C++ -*-===//
//
// The MPI runtime links MPI, which most machines running the CPU backend do
// not have: it is loaded with dlopen when a model exchanges tokens, so every
// other model runs without it and a missing MPI is one clear error.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_EXECUTION_MPIRUNTIMELOADER_H
#define LIB_EXECUTION_MPIRUNTIMELOADER_H

#include "moe/Execution/Executable.h"

namespace mlir::moe {

/// The loaded runtime: the entry points compiled code calls, by symbol name.
struct MPIRuntime {
  ProcessGroup group;
  void (*abort)(int errorCode);
  SmallVector<std::pair<std::string, void *>> entryPoints;
};

/// Loads the runtime (`MOE_MPI_RUNTIME` names another build of it), joins
/// the MPI job and routes runtime failures to `errorHandler`. Later calls
/// return the same runtime.
llvm::Expected<const MPIRuntime &>
loadMPIRuntime(void (*errorHandler)(const char *message));

/// The runtime, if a call of `loadMPIRuntime` succeeded.
const MPIRuntime *getLoadedMPIRuntime();

} // namespace mlir::moe

#endif // LIB_EXECUTION_MPIRUNTIMELOADER_H
