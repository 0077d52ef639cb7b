//===- Executable.h - Compile a module and call its entry points -*- C++ -*-===//
//
// The one place where the runner, the C API and the Python package turn a
// module of `moe` ops into callable code: compile it with a target's
// pipeline, JIT it in process, and call an entry function on host arrays.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_EXECUTION_EXECUTABLE_H
#define MOE_EXECUTION_EXECUTABLE_H

#include "moe/Execution/HostArray.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/Error.h"

#include <array>
#include <functional>
#include <memory>
#include <vector>

namespace mlir {
class DialectRegistry;
class ExecutionEngine;
namespace moe {

/// Adds what compiling and running needs to `registry`: the moe dialect,
/// upstream dialects and their interface models, and the LLVM IR
/// translations.
void registerExecutionDialects(DialectRegistry &registry);

/// The type of one argument or result of an entry point, as written before
/// lowering. Dynamic sizes are `ShapedType::kDynamic`.
struct ArraySpec {
  ElementKind kind;
  SmallVector<int64_t> shape;
  /// For expert weights split over ranks (`moe-shard-experts`), the number
  /// of ranks: the caller passes every expert's weights, `shape`, and each
  /// rank takes its own `1 / expertShards` of the leading dimension, or the
  /// caller passes just that share.
  int64_t expertShards = 1;

  /// `tensor<?x512xf32>`-style description for messages.
  std::string describe() const;
};

/// An entry point's variant that takes its expert weights packed in the
/// panels the CPU GEMMs read (`moe-pack-expert-weights`); an entry point of
/// its own. The caller packs them once (`packExpertWeights`).
struct PackedWeights {
  /// Takes the same arguments, with those at `arguments` packed.
  std::string entry;
  SmallVector<unsigned> arguments;
  /// Each packed argument `[n, K, N]` is passed as `linalg.pack` with these
  /// inner tiles `{d, w}` on dims 1 and 2 leaves it: `[n, K / d, N / w, d,
  /// w]`.
  std::array<int64_t, 2> innerTiles = {};
};

/// Packs `data`, an `[n, K, N]` array of `kind`, in place into the layout
/// of `PackedWeights::innerTiles` `tiles` and returns its new shape, `[n,
/// K / d, N / w, d, w]`. Needs one expert's worth of memory besides. Fails,
/// leaving `data` as it was, where `shape` is not `[n, K, N]` with K and N
/// multiples of `tiles`.
llvm::Expected<SmallVector<int64_t>>
packExpertWeights(ElementKind kind, ArrayRef<int64_t> shape, void *data,
                  std::array<int64_t, 2> tiles);

/// The same on an array of its own, whose shape it updates.
llvm::Error packExpertWeights(HostArray &weights, std::array<int64_t, 2> tiles);

/// A public function of the compiled module, callable on host arrays.
struct EntryPoint {
  std::string name;
  SmallVector<ArraySpec> arguments;
  SmallVector<ArraySpec> results;
  /// Where weights that stay the same from call to call are better packed
  /// once.
  std::optional<PackedWeights> packedWeights;
  /// For the functions of another entry point's `packedWeights`, its name;
  /// empty for the module's own public functions.
  std::string variantOf;
};

/// This process's place in a job of several processes (expert parallelism,
/// SPEC §1.6), one per rank.
struct ProcessGroup {
  int rank = 0;
  int size = 1;
};

/// Whether `module`, compiled with its experts split over `numRanks`,
/// exchanges tokens between ranks: it is split over several, or it was
/// written with `moe.all_to_all`. It then runs as one rank of an MPI job.
bool exchangesTokens(ModuleOp module, unsigned numRanks);

/// Joins the MPI job this process was started in (by `mpiexec -n
/// numRanks`), loading the MPI runtime on first use. Fails with one message
/// where MPI or the runtime is missing, or where a model split over
/// `numRanks` > 1 ranks finds a job of another size (a model not split may
/// still have collectives of its own, which check the job themselves).
llvm::Expected<ProcessGroup> joinProcessGroup(unsigned numRanks);

/// Where this process has joined an MPI job (`joinProcessGroup`, or a model
/// with collectives), ends every process of it with `exitCode`: a rank that
/// fails alone would leave the others waiting in their next exchange
/// forever. Returns otherwise.
void abortProcessGroupIfJoined(int exitCode);

struct CompileOptions {
  /// Called with the module after each pipeline stage (e.g. to dump it).
  std::function<void(StringRef stage, ModuleOp module)> afterStage;
  /// LLVM optimization level of the JIT (0-3).
  unsigned optLevel = 3;
  /// Whether the pipeline's fusion stage runs.
  bool fuse = true;
  /// Ranks the experts are split over: with more than one, this process is
  /// one rank of an MPI job of that size, holds `1 / numRanks` of each
  /// expert weight, and exchanges tokens with the other ranks.
  unsigned numRanks = 1;
  /// CPU threads for the fused experts and the token loops (the pipeline's
  /// `threads`); 0: OpenMP's default (`OMP_NUM_THREADS`, else one per core).
  unsigned threads = 0;
  /// Whether entry points with expert weights get a variant taking them
  /// packed (`EntryPoint::packedWeights`; the CPU pipeline's
  /// `pack-weights`).
  bool packWeights = false;
  /// Whether GEMMs of 16-bit operands run on tensor cores (CUDA; the
  /// pipeline's `tensor-cores`), on chips that have them.
  bool tensorCores = true;
};

class Executable {
public:
  ~Executable();

  /// Compiles `module` for the host CPU. Diagnostics of the pipeline go to
  /// the module context's handler; the error then names the failing stage.
  static llvm::Expected<std::unique_ptr<Executable>>
  compileForCPU(OwningOpRef<ModuleOp> module, const CompileOptions &options);

  /// Compiles `module` for the first NVIDIA GPU (`chip` such as "sm_90", or
  /// empty for the GPU's own) and loads its kernels. Fails with one message
  /// where there is no driver or no GPU.
  static llvm::Expected<std::unique_ptr<Executable>>
  compileForCUDA(OwningOpRef<ModuleOp> module, const CompileOptions &options,
                 StringRef chip = "");

  ArrayRef<EntryPoint> getEntryPoints() const { return entryPoints; }

  /// The entry point called `name`, or null.
  const EntryPoint *lookup(StringRef name) const;

  /// Checks `inputs` against the entry point's argument types (count, element
  /// type, rank, static sizes) and calls it. The inputs are only read, in
  /// place on the CPU; the results are copies the caller owns. Sizes
  /// that must agree between arguments but are dynamic, and indices in the
  /// data, are checked by the compiled code; a failed check is returned as
  /// an error (the buffers the call had allocated are leaked).
  llvm::Expected<SmallVector<HostArray>> invoke(StringRef name,
                                                ArrayRef<HostArrayRef> inputs);

  /// Checks `inputs` as `invoke` does, without calling: e.g. before packing
  /// the weights of a call.
  llvm::Error checkArguments(StringRef name,
                             ArrayRef<HostArrayRef> inputs) const;

  /// `array` where compiled code reads it in place, for calls that repeat
  /// on the same data: on the CPU, `array` itself; for CUDA, a copy in
  /// managed memory, owned by the executable, which `invoke` then passes
  /// without copying it again (the GPU keeps the pages it touched). The
  /// view's shape is `array`'s.
  llvm::Expected<HostArrayRef> stageArgument(HostArrayRef array);

private:
  Executable() = default;

  static llvm::Expected<std::unique_ptr<Executable>>
  compile(OwningOpRef<ModuleOp> module, const CompileOptions &options,
          Target target,
          function_ref<void(OpPassManager &, Stage)> buildStage);

  /// Buffers compiled code may read and free: from the buffer cache on the
  /// CPU, managed memory for CUDA.
  void *allocateBuffer(size_t bytes) const;
  void releaseBuffer(void *buffer) const;
  /// A buffer holding a copy of `array`'s data.
  llvm::Expected<void *> copyToBuffer(HostArrayRef array) const;

  Target target = Target::CPU;
  /// The copies `stageArgument` made, released with the executable.
  llvm::DenseSet<const void *> stagedArguments;
  ProcessGroup group;
  std::unique_ptr<ExecutionEngine> engine;
  std::vector<EntryPoint> entryPoints;
};

} // namespace moe
} // namespace mlir

#endif // MOE_EXECUTION_EXECUTABLE_H
