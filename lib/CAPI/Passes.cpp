//===- Passes.cpp - C API for the moe passes and pipelines ----------------===//

#include "moe-c/Passes.h"

#include "moe/Conversion/Passes.h"
#include "moe/Dialect/MoE/Transforms/Passes.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/CAPI/Pass.h"
#include "mlir/InitAllPasses.h"

using namespace mlir;
using namespace mlir::moe;

extern "C" {
#include "moe/Conversion/Passes.capi.cpp.inc"
#include "moe/Dialect/MoE/Transforms/Passes.capi.cpp.inc"
}

void moeRegisterPipelines(void) {
  // Upstream's registry rejects a pipeline registered twice, and embedders
  // that each register what they use may call this more than once.
  static const bool registered = (registerMoEPipelines(), true);
  (void)registered;
}

void moeRegisterAllPasses(void) {
  // Passes may be registered again; only the pipelines need the guard.
  registerAllPasses();
  registerMoEPasses();
  registerMoEConversionPasses();
  moeRegisterPipelines();
}
