//===- Pipelines.h - Named MoE compilation pipelines ------------*- C++ -*-===//
//
// The pipelines that take a module of `moe` ops (and upstream ops on tensors)
// to code for a target. Each pipeline is a sequence of stages that can also
// be run one at a time, so drivers can show the IR between them.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PIPELINES_PIPELINES_H
#define MOE_PIPELINES_PIPELINES_H

#include "mlir/Support/LLVM.h"

namespace mlir {
class OpPassManager;
namespace moe {

/// The stages of the CPU pipeline, in order.
enum class CPUStage {
  /// `moe.layer` to the fine-grained ops.
  ExpandLayers,
  /// `moe` ops to linalg/tensor/scf/arith/math on tensors.
  LowerToLinalg,
  /// Tensors to buffers, with deallocation; linalg ops to loops.
  Bufferize,
  /// Everything to the LLVM dialect, ready for the JIT.
  LowerToLLVM,
};

/// All CPU stages, in pipeline order.
ArrayRef<CPUStage> getCPUStages();

/// A short name for file names and messages (`expand`, `linalg`, ...).
StringRef getCPUStageName(CPUStage stage);

/// Adds the passes of one stage of the CPU pipeline to `pm` (a module pass
/// manager).
void buildCPUStage(OpPassManager &pm, CPUStage stage);

/// Adds the whole CPU pipeline: `moe` ops on tensors to the LLVM dialect.
/// Function arguments that are not marked `bufferization.writable = false`
/// may be written in place.
void buildCPUPipeline(OpPassManager &pm);

/// Registers the named pipelines (`moe-cpu-pipeline`) with the pass
/// registry, for `moe-opt`.
void registerMoEPipelines();

} // namespace moe
} // namespace mlir

#endif // MOE_PIPELINES_PIPELINES_H
