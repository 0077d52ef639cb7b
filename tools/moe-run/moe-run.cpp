//===- moe-run.cpp - Compile and run an MoE model on .npy inputs ----------===//
//
// moe-run MODEL.mlir [INPUT.npy ...] [--entry=NAME] [--output-dir=DIR]
//         [--repeat=N] [--pack-weights=false] [--dump-stages=DIR]
//         [--backend=cpu|cuda] [--tensor-cores=false]
//
// Compiles MODEL with the CPU (or CUDA) pipeline, calls the entry function on
// the inputs (one .npy per argument, in order), prints a summary of each result
// and optionally writes them as DIR/result_<i>.npy. Errors go to stderr as
// one line each and exit non-zero.
//
//===----------------------------------------------------------------------===//

#include "moe/Execution/Executable.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>

using namespace mlir;
using namespace mlir::moe;

namespace {

// The runner's own options; --help lists only these, not the hundreds that
// libLLVM and libMLIR register (which still parse).
llvm::cl::OptionCategory runnerOptions("moe-run options");

llvm::cl::opt<std::string> modelPath(llvm::cl::Positional,
                                     llvm::cl::desc("<model.mlir>"),
                                     llvm::cl::Required,
                                     llvm::cl::cat(runnerOptions));
llvm::cl::list<std::string> inputPaths(llvm::cl::Positional,
                                       llvm::cl::desc("[input.npy ...]"),
                                       llvm::cl::cat(runnerOptions));
llvm::cl::opt<std::string>
    entryName("entry",
              llvm::cl::desc("Function to call (default: the module's only "
                             "public function)"),
              llvm::cl::value_desc("name"), llvm::cl::cat(runnerOptions));
llvm::cl::alias entryAlias("e", llvm::cl::aliasopt(entryName),
                           llvm::cl::desc("Alias for --entry"),
                           llvm::cl::cat(runnerOptions));
llvm::cl::opt<std::string>
    outputDir("output-dir",
              llvm::cl::desc("Write result i to <dir>/result_<i>.npy"),
              llvm::cl::value_desc("dir"), llvm::cl::cat(runnerOptions));
llvm::cl::alias outputAlias("o", llvm::cl::aliasopt(outputDir),
                            llvm::cl::desc("Alias for --output-dir"),
                            llvm::cl::cat(runnerOptions));
llvm::cl::opt<std::string>
    dumpStages("dump-stages",
               llvm::cl::desc("Write the IR after each pipeline stage to "
                              "<dir>/<n>-<stage>.mlir"),
               llvm::cl::value_desc("dir"), llvm::cl::cat(runnerOptions));
llvm::cl::opt<unsigned>
    repeat("repeat",
           llvm::cl::desc("Call the entry this many more times after the "
                          "first and print the time per call"),
           llvm::cl::init(0), llvm::cl::cat(runnerOptions));
enum class Backend { CPU, CUDA };
llvm::cl::opt<Backend> backend(
    "backend", llvm::cl::desc("Where the model runs"),
    llvm::cl::values(clEnumValN(Backend::CPU, "cpu", "the host CPU (default)"),
                     clEnumValN(Backend::CUDA, "cuda",
                                "the first NVIDIA GPU, through the CUDA "
                                "driver")),
    llvm::cl::init(Backend::CPU), llvm::cl::cat(runnerOptions));
llvm::cl::opt<std::string>
    gpuChip("gpu-chip",
            llvm::cl::desc("GPU architecture to compile for with "
                           "--backend=cuda (default: the GPU's own)"),
            llvm::cl::value_desc("sm_XY"), llvm::cl::cat(runnerOptions));
llvm::cl::opt<bool>
    fuse("fuse",
         llvm::cl::desc("Run the pipeline's fusion stage (default true; "
                        "--fuse=false lowers every moe op on its own)"),
         llvm::cl::init(true), llvm::cl::cat(runnerOptions));
llvm::cl::opt<bool> packWeights(
    "pack-weights",
    llvm::cl::desc("Pack the entry's f32 expert weights once, before the "
                   "first call, into the panels the CPU GEMMs read, and "
                   "call its variant that takes them packed (CPU; default "
                   "true, --pack-weights=false calls the entry on the "
                   "weights as given)"),
    llvm::cl::init(true), llvm::cl::cat(runnerOptions));
llvm::cl::opt<bool> tensorCores(
    "tensor-cores",
    llvm::cl::desc("Run the GEMMs of bf16/f16 models on tensor cores "
                   "(CUDA, sm_80 and newer; default true, "
                   "--tensor-cores=false runs them as loops, one thread "
                   "per output element)"),
    llvm::cl::init(true), llvm::cl::cat(runnerOptions));
llvm::cl::opt<unsigned> ranks(
    "ranks",
    llvm::cl::desc("Split the experts over this many ranks (expert "
                   "parallelism): start one moe-run per rank with mpiexec "
                   "-n <N>. '{rank}' in a file or directory name stands for "
                   "the process's rank, so each reads its own tokens; expert "
                   "weights may be given whole, each rank takes its share"),
    llvm::cl::init(1), llvm::cl::cat(runnerOptions));
// Not "threads": libLLVM registers that name.
llvm::cl::opt<unsigned> cpuThreads(
    "cpu-threads",
    llvm::cl::desc("Threads the layer runs on with --backend=cpu (default: "
                   "OMP_NUM_THREADS, else one per core)"),
    llvm::cl::init(0), llvm::cl::cat(runnerOptions));
llvm::cl::opt<unsigned> optLevel("O", llvm::cl::desc("JIT optimization level"),
                                 llvm::cl::Prefix, llvm::cl::init(3),
                                 llvm::cl::cat(runnerOptions));

int fail(const Twine &message) {
  // One write per line: the ranks of a job share one stderr.
  std::string line;
  llvm::raw_string_ostream os(line);
  llvm::WithColor::error(os, "moe-run") << message << "\n";
  llvm::errs() << line;
  llvm::errs().flush();
  abortProcessGroupIfJoined(1);
  return 1;
}

/// Seconds from `start` to now.
double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

int fail(llvm::Error error) {
  std::string message = llvm::toString(std::move(error));
  return fail(message);
}

int64_t countNonFinite(const HostArray &array) {
  if (array.kind == ElementKind::I32 || array.kind == ElementKind::I64)
    return 0;
  int64_t count = 0;
  for (int64_t i = 0, e = array.getNumElements(); i < e; ++i)
    count += !std::isfinite(array.getAsDouble(i));
  return count;
}

/// One line per result: its type, and its values when there are few of them
/// (losses, tokens per expert), else a checksum. `prefix` names the rank.
void printSummary(StringRef prefix, unsigned position,
                  const HostArray &result) {
  llvm::outs() << prefix << "result #" << position << ": "
               << result.describe();
  int64_t count = result.getNumElements();
  constexpr int64_t kPrintedValues = 64;
  if (count <= kPrintedValues) {
    llvm::outs() << " = ";
    if (!result.shape.empty())
      llvm::outs() << "[";
    for (int64_t i = 0; i < count; ++i)
      llvm::outs() << (i ? " " : "") << llvm::format("%g", result.getAsDouble(i));
    if (!result.shape.empty())
      llvm::outs() << "]";
  } else {
    double sum = 0, sumAbs = 0;
    int64_t nonFinite = 0;
    for (int64_t i = 0; i < count; ++i) {
      double value = result.getAsDouble(i);
      if (!std::isfinite(value)) {
        ++nonFinite;
        continue;
      }
      sum += value;
      sumAbs += std::fabs(value);
    }
    llvm::outs() << llvm::format("  sum = %.6e  mean|x| = %.6e", sum,
                                 sumAbs / static_cast<double>(count));
    if (nonFinite)
      llvm::outs() << "  (" << nonFinite << " non-finite values)";
  }
  llvm::outs() << "\n";
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(runnerOptions);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "moe-run: compile an MoE model and run it on .npy inputs\n");

  DialectRegistry registry;
  registerExecutionDialects(registry);
  MLIRContext context(registry);

  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> file =
      openInputFile(modelPath, &errorMessage);
  if (!file)
    return fail(errorMessage);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return fail("'" + modelPath + "' is not valid IR (see the diagnostics above)");

  if (!gpuChip.empty() && !isNVPTXChip(gpuChip))
    return fail("--gpu-chip must name an NVIDIA architecture such as sm_90, "
                "got '" + gpuChip + "'");

  if (ranks == 0)
    return fail("--ranks must be at least 1");
  if (backend == Backend::CUDA && ranks > 1)
    return fail("--ranks needs the CPU backend: the CUDA backend's "
                "collectives (NCCL) have no lowering yet");
  // A model that exchanges tokens runs as one rank of an MPI job, whose
  // rank names its files.
  ProcessGroup group;
  if (exchangesTokens(*module, ranks)) {
    auto joined = joinProcessGroup(ranks);
    if (!joined)
      return fail(joined.takeError());
    group = *joined;
  }
  std::string rankName = std::to_string(group.rank);
  auto forThisRank = [&](StringRef path) {
    std::string resolved = path.str();
    for (size_t at = resolved.find("{rank}"); at != std::string::npos;
         at = resolved.find("{rank}", at + rankName.size()))
      resolved.replace(at, strlen("{rank}"), rankName);
    return resolved;
  };
  std::string outputPath = forThisRank(outputDir);
  if (group.size > 1 && !outputDir.empty() && outputPath == outputDir)
    return fail("with several ranks, --output-dir must contain '{rank}': "
                "each rank writes its own results");
  std::string summaryPrefix =
      group.size > 1 ? "rank " + rankName + ": " : std::string();

  // Read the inputs first: a wrong file is reported before a long compile.
  SmallVector<HostArray> inputs;
  for (const std::string &pattern : inputPaths) {
    std::string path = forThisRank(pattern);
    auto array = readNpy(path);
    if (!array)
      return fail(array.takeError());
    // Routing of NaN logits is defined (NaN ranks lowest) but rarely what the
    // user meant: say so, and go on.
    if (int64_t count = countNonFinite(*array))
      llvm::WithColor::warning(llvm::errs(), "moe-run")
          << path << " holds " << count << " non-finite values\n";
    inputs.push_back(std::move(*array));
  }
  SmallVector<HostArrayRef> arguments(inputs.begin(), inputs.end());

  CompileOptions options;
  options.optLevel = optLevel;
  options.fuse = fuse;
  options.packWeights = packWeights;
  options.tensorCores = tensorCores;
  options.numRanks = ranks;
  options.threads = cpuThreads;
  unsigned stageNumber = 0;
  std::string dumpError;
  if (!dumpStages.empty()) {
    if (std::error_code error = llvm::sys::fs::create_directories(dumpStages))
      return fail("cannot create '" + dumpStages + "': " + error.message());
    options.afterStage = [&](StringRef stage, ModuleOp stageModule) {
      SmallString<128> path(dumpStages);
      llvm::sys::path::append(path,
                              Twine(++stageNumber) + "-" + stage + ".mlir");
      auto output = openOutputFile(path, &dumpError);
      if (!output)
        return;
      stageModule->print(output->os());
      output->keep();
    };
  }
  auto executable =
      backend == Backend::CUDA
          ? Executable::compileForCUDA(std::move(module), options, gpuChip)
          : Executable::compileForCPU(std::move(module), options);
  if (!executable)
    return fail(executable.takeError());
  if (!dumpError.empty())
    return fail(dumpError);

  std::string entry = entryName;
  if (entry.empty()) {
    SmallVector<StringRef> ownEntries;
    for (const EntryPoint &candidate : (*executable)->getEntryPoints())
      if (candidate.variantOf.empty())
        ownEntries.push_back(candidate.name);
    if (ownEntries.size() != 1)
      return fail("'" + modelPath + "' has " + Twine(ownEntries.size()) +
                  " public functions; choose one with --entry");
    entry = ownEntries.front().str();
  }

  // As a server would: weights that stay the same are packed once, in
  // place.
  std::string packingNote;
  const EntryPoint *described = (*executable)->lookup(entry);
  if (const std::optional<PackedWeights> &packing =
          described ? described->packedWeights : std::nullopt) {
    if (auto error = (*executable)->checkArguments(entry, arguments))
      return fail(std::move(error));
    auto packStart = std::chrono::steady_clock::now();
    for (unsigned position : packing->arguments) {
      if (auto error = packExpertWeights(inputs[position], packing->innerTiles))
        return fail(std::move(error));
      arguments[position] = inputs[position];
    }
    entry = packing->entry;
    packingNote = llvm::formatv("; expert weights packed before it, in "
                                "{0:F3} ms",
                                secondsSince(packStart) * 1e3);
  }

  // The calls on the GPU read their inputs where the first call left them,
  // as a framework keeps its weights on the device.
  if (backend == Backend::CUDA) {
    for (HostArrayRef &argument : arguments) {
      auto staged = (*executable)->stageArgument(argument);
      if (!staged)
        return fail(staged.takeError());
      argument = *staged;
    }
  }

  auto start = std::chrono::steady_clock::now();
  auto results = (*executable)->invoke(entry, arguments);
  if (!results)
    return fail(results.takeError());
  double firstCall = secondsSince(start);

  for (auto [position, result] : llvm::enumerate(*results))
    printSummary(summaryPrefix, position, result);

  if (!outputPath.empty()) {
    if (std::error_code error = llvm::sys::fs::create_directories(outputPath))
      return fail("cannot create '" + outputPath + "': " + error.message());
    for (auto [position, result] : llvm::enumerate(*results)) {
      SmallString<128> path(outputPath);
      llvm::sys::path::append(path, "result_" + Twine(position) + ".npy");
      if (auto error = writeNpy(path, result))
        return fail(std::move(error));
    }
  }

  if (repeat == 0) {
    llvm::outs() << llvm::format("time: %.3f ms (one call%s)\n",
                                 firstCall * 1e3, packingNote.c_str());
    return 0;
  }
  double total = 0, fastest = std::numeric_limits<double>::infinity();
  for (unsigned call = 0; call < repeat; ++call) {
    auto callStart = std::chrono::steady_clock::now();
    auto again = (*executable)->invoke(entry, arguments);
    double seconds = secondsSince(callStart);
    if (!again)
      return fail(again.takeError());
    total += seconds;
    fastest = std::min(fastest, seconds);
  }
  llvm::outs() << llvm::format(
      "time per call: %.3f ms mean, %.3f ms min over %u calls (after a "
      "first call of %.3f ms%s)\n",
      total / repeat * 1e3, fastest * 1e3, static_cast<unsigned>(repeat),
      firstCall * 1e3, packingNote.c_str());
  return 0;
}
