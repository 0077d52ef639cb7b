//===- Pipelines.h - Named MoE compilation pipelines ------------*- C++ -*-===//
//
// The pipelines that take a module of `moe` ops (and upstream ops on tensors)
// to code for a target. Each pipeline is a sequence of stages that can also
// be run one at a time, so drivers can show the IR between them. The targets
// share every stage up to bufferization and differ after it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PIPELINES_PIPELINES_H
#define MOE_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir {
class OpPassManager;
namespace moe {

enum class Target { CPU, CUDA };

/// How the CUDA pipeline embeds kernels in the host module.
enum class KernelFormat { PTX, Cubin, Fatbin };

/// Whether `chip` names an NVPTX processor that LLVM can compile for
/// (`sm_80`, `sm_90a`, ...). LLVM itself only warns about an unknown one and
/// emits code for none.
bool isNVPTXChip(StringRef chip);

/// Whether `chip` (an NVPTX chip, such as sm_90a) runs the tensor-core
/// `mma.sync` shapes of 16-bit floats, m16n8k16: sm_80 and newer.
bool hasTensorCoreMMA(StringRef chip);

/// Parses a `chip` option with `isNVPTXChip`: a typo is an option error
/// naming the value, not one error per kernel late in the pipeline.
struct NVPTXChipParser : llvm::cl::parser<std::string> {
  using llvm::cl::parser<std::string>::parser;
  bool parse(llvm::cl::Option &option, StringRef argName, StringRef value,
             std::string &chip);
};

/// Options of the CPU pipeline (`moe-cpu-pipeline{...}`).
struct CPUPipelineOptions : PassPipelineOptions<CPUPipelineOptions> {
  Option<bool> fuse{*this, "fuse",
                    llvm::cl::desc("Run the fusion stage (off: every moe op "
                                   "is lowered on its own, for comparison)"),
                    llvm::cl::init(true)};
  Option<int64_t> numRanks{
      *this, "num-ranks",
      llvm::cl::desc("Split the experts over this many ranks, one MPI "
                     "process each (expert parallelism)"),
      llvm::cl::init(1)};
  Option<int64_t> threads{
      *this, "threads",
      llvm::cl::desc("Threads (OpenMP) for the fused experts' workers and "
                     "the row blocks of the token loops; 1: no threads"),
      llvm::cl::init(1)};
  Option<bool> approximateMath{
      *this, "approximate-math",
      llvm::cl::desc("Compute f32 math functions (exp, log, erf, erfc, "
                     "...) with polynomials that vectorize (off: libm "
                     "calls)"),
      llvm::cl::init(true)};
  Option<bool> packWeights{
      *this, "pack-weights",
      llvm::cl::desc("Give each entry function with packable expert weights "
                     "a variant taking them packed in the GEMMs' panels, "
                     "and a function packing them (moe-pack-expert-weights; "
                     "docs/Performance.md says when it pays)"),
      llvm::cl::init(false)};
};

/// Options of the CUDA pipeline (`moe-cuda-pipeline{...}`).
struct CUDAPipelineOptions : PassPipelineOptions<CUDAPipelineOptions> {
  Option<bool> fuse{*this, "fuse",
                    llvm::cl::desc("Run the fusion stage (off: every moe op "
                                   "is lowered on its own, for comparison)"),
                    llvm::cl::init(true)};
  Option<std::string, NVPTXChipParser> chip{
      *this, "chip", llvm::cl::desc("GPU architecture to compile for"),
      llvm::cl::init("sm_90")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features, such as the PTX ISA version (+ptx80); "
                     "default: the lowest version the chip supports, which "
                     "LLVM chooses (a fixed one would be too old for newer "
                     "chips)"),
      llvm::cl::init("")};
  Option<KernelFormat> format{
      *this, "format", llvm::cl::desc("How kernels are embedded"),
      llvm::cl::init(KernelFormat::Fatbin),
      llvm::cl::values(
          clEnumValN(KernelFormat::PTX, "isa",
                     "PTX text, compiled by the driver when loaded"),
          clEnumValN(KernelFormat::Cubin, "bin",
                     "cubin for the chip, assembled by ptxas"),
          clEnumValN(KernelFormat::Fatbin, "fatbin",
                     "fatbin holding the cubin and the PTX"))};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit root: ptxas for bin/fatbin, libdevice "
                     "for math functions"),
      llvm::cl::init(MOE_CUDA_TOOLKIT_PATH)};
  Option<bool> tensorCores{
      *this, "tensor-cores",
      llvm::cl::desc("Run GEMMs of bf16/f16 operands on tensor cores "
                     "(convert-linalg-to-tensor-cores) on chips that have "
                     "them (sm_80 and newer); off: with the other linalg "
                     "ops, one thread per output element"),
      llvm::cl::init(true)};
  ListOption<int64_t> blockSizes{
      *this, "block-sizes",
      llvm::cl::desc("Threads per block along the innermost parallel loop "
                     "dimensions (default 16,16)")};
};

/// The stages of the pipelines, in order; `MapToGPU` is CUDA's only.
enum class Stage {
  /// `moe.layer` to the fine-grained ops, with the experts split over
  /// ranks where there are several.
  ExpandLayers,
  /// Fine-grained ops fused where the fused form reads or writes less
  /// memory: routing on both targets, dispatch-experts-combine on the CPU.
  Fuse,
  /// `moe` ops to linalg/tensor/scf/arith/math on tensors; on the CPU,
  /// collectives to MPI runtime calls.
  LowerToLinalg,
  /// Tensors to buffers, with deallocation; linalg ops to loops (parallel
  /// loops for CUDA).
  Bufferize,
  /// Parallel loops tiled into blocks and threads, outlined as kernels.
  MapToGPU,
  /// Everything to the LLVM dialect (and kernels to binaries), ready for the
  /// JIT.
  LowerToLLVM,
};

/// The stages of `target`'s pipeline, in order.
ArrayRef<Stage> getStages(Target target);

/// A short name for file names and messages (`expand`, `linalg`, ...).
StringRef getStageName(Stage stage);

/// Adds the passes of one stage of the CPU pipeline to `pm` (a module pass
/// manager).
void buildCPUStage(OpPassManager &pm, Stage stage,
                   const CPUPipelineOptions &options);

/// Adds the passes of one stage of the CUDA pipeline. Host buffers are
/// allocated through `_mlir_memref_to_llvm_alloc`/`_free`, which the CUDA
/// runtime implements with managed memory, so host loops and kernels share
/// them.
void buildCUDAStage(OpPassManager &pm, Stage stage,
                    const CUDAPipelineOptions &options);

/// Adds the whole CPU pipeline: `moe` ops on tensors to the LLVM dialect.
/// Function arguments that are not marked `bufferization.writable = false`
/// may be written in place.
void buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options);

/// Adds the whole CUDA pipeline: `moe` ops on tensors to host code in the
/// LLVM dialect that launches NVVM kernels embedded as `gpu.binary`.
void buildCUDAPipeline(OpPassManager &pm, const CUDAPipelineOptions &options);

/// Registers the named pipelines (`moe-cpu-pipeline`, `moe-cuda-pipeline`)
/// with the pass registry, for `moe-opt`.
void registerMoEPipelines();

} // namespace moe
} // namespace mlir

#endif // MOE_PIPELINES_PIPELINES_H
