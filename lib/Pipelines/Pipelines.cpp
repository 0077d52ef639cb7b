//===- Pipelines.cpp - Named MoE compilation pipelines --------------------===//

#include "moe/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Triple.h"
#include "moe/Conversion/Passes.h"
#include "moe/Dialect/MoE/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::moe;

ArrayRef<Stage> moe::getStages(Target target) {
  static constexpr Stage cpuStages[] = {
      Stage::ExpandLayers, Stage::Fuse, Stage::LowerToLinalg,
      Stage::Bufferize, Stage::LowerToLLVM};
  static constexpr Stage cudaStages[] = {
      Stage::ExpandLayers, Stage::Fuse,     Stage::LowerToLinalg,
      Stage::Bufferize,    Stage::MapToGPU, Stage::LowerToLLVM};
  return target == Target::CPU ? ArrayRef<Stage>(cpuStages)
                               : ArrayRef<Stage>(cudaStages);
}

StringRef moe::getStageName(Stage stage) {
  switch (stage) {
  case Stage::ExpandLayers:
    return "expand";
  case Stage::Fuse:
    return "fuse";
  case Stage::LowerToLinalg:
    return "linalg";
  case Stage::Bufferize:
    return "bufferize";
  case Stage::MapToGPU:
    return "gpu";
  case Stage::LowerToLLVM:
    return "llvm";
  }
  llvm_unreachable("unknown stage");
}

bool moe::isNVPTXChip(StringRef chip) {
  static const llvm::Target *nvptx = [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTargetMC();
    std::string unused;
    return llvm::TargetRegistry::lookupTarget(
        llvm::Triple("nvptx64-nvidia-cuda"), unused);
  }();
  if (!nvptx || !chip.starts_with("sm_"))
    return false;
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(nvptx->createMCSubtargetInfo(
      llvm::Triple("nvptx64-nvidia-cuda"), "", ""));
  return subtarget && subtarget->isCPUStringValid(chip);
}

bool moe::hasTensorCoreMMA(StringRef chip) {
  unsigned version = 0;
  return chip.consume_front("sm_") && !chip.consumeInteger(10, version) &&
         version >= 80;
}

bool NVPTXChipParser::parse(llvm::cl::Option &option, StringRef argName,
                            StringRef value, std::string &chip) {
  if (!isNVPTXChip(value))
    return option.error("'" + value +
                        "' is not an NVPTX chip LLVM knows (such as sm_80, "
                        "sm_90, sm_90a)");
  chip = value.str();
  return false;
}

/// Buffers are allocated through `_mlir_memref_to_llvm_alloc`/`_free`, which
/// the execution library provides: a cache of host blocks on the CPU, managed
/// memory for CUDA.
static FinalizeMemRefToLLVMConversionPassOptions genericAllocationFunctions() {
  FinalizeMemRefToLLVMConversionPassOptions options;
  options.useGenericFunctions = true;
  return options;
}

/// The stages both targets share. `routedWorkers` is the CPU's thread count
/// (the CUDA pipeline has no `moe.routed_ffn`).
static void buildCommonStage(OpPassManager &pm, Stage stage,
                             int64_t routedWorkers = 1) {
  switch (stage) {
  case Stage::ExpandLayers:
    pm.addPass(createMoEExpandLayer());
    // Layers over the same input share their gating, and so do the gates
    // written beside a layer (e.g. to report its routing).
    pm.addPass(createCSEPass());
    return;
  case Stage::LowerToLinalg: {
    ConvertMoEToLinalgOptions lowering;
    lowering.routedWorkers = routedWorkers;
    pm.addPass(createConvertMoEToLinalg(lowering));
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    // One pass over the data for chains of elementwise ops (bias and
    // activation after a GEMM, the steps of a softmax), and no buffer
    // between them.
    pm.addPass(createLinalgElementwiseOpFusionPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    return;
  }
  case Stage::Bufferize: {
    bufferization::OneShotBufferizePassOptions options;
    options.bufferizeFunctionBoundaries = true;
    // Callers (the runner, the C API) pass plain contiguous arrays.
    options.functionBoundaryTypeConversion =
        bufferization::LayoutMapOption::IdentityLayoutMap;
    pm.addPass(bufferization::createOneShotBufferizePass(options));
    bufferization::buildBufferDeallocationPipeline(pm);
    // A returned buffer the function does not own (an argument, a constant)
    // is cloned for the caller; the clones become allocations and copies.
    pm.addPass(createConvertBufferizationToMemRefPass());
    return;
  }
  case Stage::Fuse:
  case Stage::MapToGPU:
  case Stage::LowerToLLVM:
    break;
  }
  llvm_unreachable("not a stage the targets share");
}

void moe::buildCPUStage(OpPassManager &pm, Stage stage,
                        const CPUPipelineOptions &options) {
  switch (stage) {
  case Stage::ExpandLayers:
    buildCommonStage(pm, stage);
    if (options.numRanks != 1) {
      MoEShardExpertsOptions shard;
      shard.numRanks = options.numRanks;
      pm.addPass(createMoEShardExperts(shard));
    }
    return;
  case Stage::LowerToLinalg:
    if (options.packWeights)
      pm.addPass(createMoEPackExpertWeights());
    pm.addPass(createConvertMoECollectivesToMPI());
    buildCommonStage(pm, stage, options.threads);
    if (options.packWeights)
      pm.addPass(createMoEMaterializePackedWeights());
    if (options.threads > 1) {
      MoEDistributeOverThreadsOptions distribute;
      distribute.threads = options.threads;
      pm.addNestedPass<func::FuncOp>(
          createMoEDistributeOverThreads(distribute));
    }
    return;
  case Stage::Fuse:
    if (!options.fuse)
      return;
    pm.addPass(createMoEFuseRouting());
    pm.addPass(createMoEFuseExperts());
    return;
  case Stage::Bufferize:
    buildCommonStage(pm, stage);
    if (options.threads > 1) {
      // The workers of moe.routed_ffn and the row blocks of the token loops
      // become OpenMP parallel loops, one iteration per thread. BLAS calls
      // inside run on their worker's thread: the execution library links the
      // serial OpenBLAS.
      pm.addPass(createForallToParallelLoopPass());
      ConvertSCFToOpenMPPassOptions openMP;
      openMP.numThreads = options.threads;
      pm.addPass(createConvertSCFToOpenMPPass(openMP));
      // Inlines the alloca scopes around the loop bodies, whose single block
      // the bodies' control flow would not fit. Before the BLAS calls: a call
      // might allocate on the stack for all the canonicalizer knows.
      pm.addPass(createCanonicalizerPass());
    }
    // Strided copies become loops with the rest of linalg, not calls into
    // MLIR's runner utilities. After the last canonicalization, which could
    // fold a cast into a copy and make it strided.
    pm.addPass(createConvertStridedCopiesToLinalg());
    pm.addPass(createConvertLinalgToBLAS());
    pm.addPass(createConvertLinalgToLoopsPass());
    return;
  case Stage::MapToGPU:
    llvm_unreachable("the CPU pipeline has no GPU stage");
  case Stage::LowerToLLVM:
    // First: the approximations are built of arith, math and vector ops,
    // which the passes below lower.
    if (options.approximateMath)
      pm.addPass(createConvertMathToPolynomials());
    pm.addPass(createSCFToControlFlowPass());
    pm.addPass(createConvertRuntimeChecksToCalls());
    pm.addPass(memref::createExpandStridedMetadataPass());
    pm.addPass(createLowerAffinePass());
    pm.addPass(createConvertVectorToLLVMPass());
    pm.addPass(createFinalizeMemRefToLLVMConversionPass(
        genericAllocationFunctions()));
    pm.addPass(createConvertMathToLLVMPass());
    // What LLVM has no intrinsic for (erf, erfc) becomes a libm call.
    pm.addPass(createConvertMathToLibmPass());
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createConvertOpenMPToLLVMPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    return;
  }
  llvm_unreachable("unknown stage");
}

void moe::buildCUDAStage(OpPassManager &pm, Stage stage,
                         const CUDAPipelineOptions &options) {
  switch (stage) {
  case Stage::ExpandLayers:
  case Stage::LowerToLinalg:
    buildCommonStage(pm, stage);
    return;
  case Stage::Fuse:
    // Not the experts: moe.routed_ffn's scatter-add is a host loop over
    // rows, which would launch a kernel per row. The GPU needs its own
    // grouped-GEMM kernels for that fusion.
    if (options.fuse)
      pm.addPass(createMoEFuseRouting());
    return;
  case Stage::Bufferize:
    buildCommonStage(pm, stage);
    // Strided copies become kernels with the rest of linalg.
    pm.addPass(createConvertStridedCopiesToLinalg());
    if (options.tensorCores && hasTensorCoreMMA(options.chip))
      pm.addPass(createConvertLinalgToTensorCores());
    // Named ops (a user's linalg.reduce over the tokens) as generics, whose
    // loops the next pass reorders.
    pm.addPass(createLinalgGeneralizeNamedOpsPass());
    pm.addPass(createMoEParallelIteratorsFirst());
    pm.addPass(createConvertLinalgToParallelLoopsPass());
    return;
  case Stage::MapToGPU: {
    SmallVector<int64_t> blockSizes(options.blockSizes.begin(),
                                    options.blockSizes.end());
    if (blockSizes.empty())
      blockSizes = {16, 16};
    OpPassManager &funcPm = pm.nest<func::FuncOp>();
    // Constant inner bounds (with a guard inside) let the inner loops become
    // the threads of a block of fixed size.
    funcPm.addPass(
        createParallelLoopTilingPass(blockSizes, /*noMinMaxBounds=*/true));
    funcPm.addPass(createGpuMapParallelLoopsPass());
    funcPm.addPass(createConvertParallelLoopToGpuPass());
    // Constants and index computations the launches use go into the kernels:
    // as kernel arguments, the kernels would divide by run-time values and
    // could not unroll their loops.
    funcPm.addPass(createGpuLaunchSinkIndexComputationsPass());
    pm.addPass(createGpuKernelOutliningPass());
    pm.addPass(createMoEScopeLaunchStack());
    return;
  }
  case Stage::LowerToLLVM: {
    pm.addPass(createSCFToControlFlowPass());
    pm.addPass(createConvertRuntimeChecksToCalls());
    pm.addPass(memref::createExpandStridedMetadataPass());
    pm.addPass(createLowerAffinePass());

    // Kernels before the host, as upstream's gpu-lower-to-nvvm-pipeline
    // does: the host's memref lowering knows no GPU memory space, and would
    // report the kernels' shared memory as an error.
    OpPassManager &kernelPm = pm.nest<gpu::GPUModuleOp>();
    kernelPm.addPass(createConvertGpuOpsToNVVMOps());
    kernelPm.addPass(createCanonicalizerPass());
    kernelPm.addPass(createCSEPass());
    kernelPm.addPass(createReconcileUnrealizedCastsPass());

    pm.addPass(
        createFinalizeMemRefToLLVMConversionPass(genericAllocationFunctions()));
    pm.addPass(createConvertFuncToLLVMPass());
    // NVVM for the chosen chip, with libdevice for math functions.
    GpuNVVMAttachTargetOptions target;
    target.chip = options.chip;
    target.features = options.features;
    target.optLevel = 3;
    // Without it, kernels calling math functions fail to load or assemble,
    // naming the missing __nv_* function.
    std::string libdevice = options.toolkit + "/nvvm/libdevice/libdevice.10.bc";
    if (llvm::sys::fs::exists(libdevice))
      target.linkLibs.push_back(libdevice);
    pm.addPass(createGpuNVVMAttachTarget(target));
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertIndexToLLVMPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());

    // Host: launches become runtime calls; kernels become binaries.
    pm.addPass(createGpuToLLVMConversionPass());
    GpuModuleToBinaryPassOptions binary;
    // A missing toolkit is only an error where ptxas is needed (bin,
    // fatbin); gpu-module-to-binary then says so itself.
    if (llvm::sys::fs::is_directory(options.toolkit))
      binary.toolkitPath = options.toolkit;
    switch (options.format) {
    case KernelFormat::PTX:
      binary.compilationTarget = "isa";
      break;
    case KernelFormat::Cubin:
      binary.compilationTarget = "bin";
      break;
    case KernelFormat::Fatbin:
      binary.compilationTarget = "fatbin";
      break;
    }
    pm.addPass(createGpuModuleToBinaryPass(binary));
    pm.addPass(createConvertMathToLLVMPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    return;
  }
  }
  llvm_unreachable("unknown stage");
}

void moe::buildCPUPipeline(OpPassManager &pm,
                           const CPUPipelineOptions &options) {
  for (Stage stage : getStages(Target::CPU))
    buildCPUStage(pm, stage, options);
}

void moe::buildCUDAPipeline(OpPassManager &pm,
                            const CUDAPipelineOptions &options) {
  for (Stage stage : getStages(Target::CUDA))
    buildCUDAStage(pm, stage, options);
}

void moe::registerMoEPipelines() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "moe-cpu-pipeline",
      "Lower moe ops on tensors to the LLVM dialect for the CPU (expand, "
      "fuse, linalg, bufferize, LLVM)",
      buildCPUPipeline);
  PassPipelineRegistration<CUDAPipelineOptions>(
      "moe-cuda-pipeline",
      "Lower moe ops on tensors to host LLVM-dialect code launching NVVM "
      "kernels (expand, fuse, linalg, bufferize, map to GPU, LLVM and binaries)",
      buildCUDAPipeline);
}
