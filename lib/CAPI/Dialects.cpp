//===- Dialects.cpp - C API for the moe dialect ---------------------------===//

#include "moe-c/Dialects.h"

#include "moe/Dialect/MoE/IR/MoEDialect.h"
#include "moe/Execution/Executable.h"

#include "mlir/CAPI/Registration.h"

MLIR_DEFINE_CAPI_DIALECT_REGISTRATION(MoE, moe, mlir::moe::MoEDialect)

void moeRegisterCompilerDialects(MlirDialectRegistry registry) {
  mlir::moe::registerExecutionDialects(*unwrap(registry));
}
