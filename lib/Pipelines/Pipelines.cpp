//===- Pipelines.cpp - Named MoE compilation pipelines --------------------===//

#include "moe/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "moe/Conversion/Passes.h"
#include "moe/Dialect/MoE/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::moe;

ArrayRef<CPUStage> moe::getCPUStages() {
  static constexpr CPUStage stages[] = {
      CPUStage::ExpandLayers, CPUStage::LowerToLinalg, CPUStage::Bufferize,
      CPUStage::LowerToLLVM};
  return stages;
}

StringRef moe::getCPUStageName(CPUStage stage) {
  switch (stage) {
  case CPUStage::ExpandLayers:
    return "expand";
  case CPUStage::LowerToLinalg:
    return "linalg";
  case CPUStage::Bufferize:
    return "bufferize";
  case CPUStage::LowerToLLVM:
    return "llvm";
  }
  llvm_unreachable("unknown CPU stage");
}

void moe::buildCPUStage(OpPassManager &pm, CPUStage stage) {
  switch (stage) {
  case CPUStage::ExpandLayers:
    pm.addPass(createMoEExpandLayer());
    // Layers over the same input share their gating, and so do the gates
    // written beside a layer (e.g. to report its routing).
    pm.addPass(createCSEPass());
    return;
  case CPUStage::LowerToLinalg:
    pm.addPass(createConvertMoEToLinalg());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    return;
  case CPUStage::Bufferize: {
    bufferization::OneShotBufferizePassOptions options;
    options.bufferizeFunctionBoundaries = true;
    // Callers (the runner, the C API) pass plain contiguous arrays.
    options.functionBoundaryTypeConversion =
        bufferization::LayoutMapOption::IdentityLayoutMap;
    pm.addPass(bufferization::createOneShotBufferizePass(options));
    bufferization::buildBufferDeallocationPipeline(pm);
    pm.addPass(createConvertLinalgToLoopsPass());
    return;
  }
  case CPUStage::LowerToLLVM:
    pm.addPass(createSCFToControlFlowPass());
    pm.addPass(memref::createExpandStridedMetadataPass());
    pm.addPass(createLowerAffinePass());
    pm.addPass(createFinalizeMemRefToLLVMConversionPass());
    pm.addPass(createConvertMathToLLVMPass());
    // What LLVM has no intrinsic for (erf, erfc) becomes a libm call.
    pm.addPass(createConvertMathToLibmPass());
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    return;
  }
  llvm_unreachable("unknown CPU stage");
}

void moe::buildCPUPipeline(OpPassManager &pm) {
  for (CPUStage stage : getCPUStages())
    buildCPUStage(pm, stage);
}

void moe::registerMoEPipelines() {
  PassPipelineRegistration<>(
      "moe-cpu-pipeline",
      "Lower moe ops on tensors to the LLVM dialect for the CPU (expand, "
      "linalg, bufferize, LLVM)",
      buildCPUPipeline);
}
