//===- ir-fuzzer.cpp - libFuzzer target for parsing and the pipelines -----===//
//
// Every byte string is a candidate module: parsing, verification and each
// stage of the CPU pipeline, then the CUDA pipeline's stages up to kernel
// outlining, must end in success or a diagnostic, never a crash. Seeded with
// the test suite's .mlir files.
//
//===----------------------------------------------------------------------===//

#include "moe/Execution/Executable.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/ErrorHandling.h"

#include <cstddef>
#include <cstdint>

using namespace mlir;

namespace {

MLIRContext &context() {
  static MLIRContext *instance = [] {
    DialectRegistry registry;
    moe::registerExecutionDialects(registry);
    auto *created = new MLIRContext(registry);
    created->loadAllAvailableDialects();
    return created;
  }();
  return *instance;
}

/// Runs the stages of `target`'s pipeline on a copy of `module`, stopping at
/// the first that reports an error. Fusion only rewrites valid IR into valid
/// IR, so a fuse stage that fails on what the expand stage accepted is a
/// finding, like a crash.
void runStages(ModuleOp module, moe::Target target) {
  OwningOpRef<ModuleOp> copy = module.clone();
  moe::CPUPipelineOptions cpuOptions;
  moe::CUDAPipelineOptions cudaOptions;
  cudaOptions.format = moe::KernelFormat::PTX;
  for (moe::Stage stage : moe::getStages(target)) {
    // Serializing kernels runs the NVPTX backend, which is LLVM's to fuzz.
    if (target == moe::Target::CUDA && stage == moe::Stage::LowerToLLVM)
      return;
    PassManager pm(&context());
    if (target == moe::Target::CPU)
      moe::buildCPUStage(pm, stage, cpuOptions);
    else
      moe::buildCUDAStage(pm, stage, cudaOptions);
    if (succeeded(pm.run(*copy)))
      continue;
    if (stage == moe::Stage::Fuse)
      llvm::report_fatal_error("the fuse stage failed on IR that the expand "
                               "stage accepted");
    return;
  }
}

/// MLIR 22's parsers of these ops crash on a malformed integer list
/// (test/Fuzz/upstream-crashes.test): a finding there is upstream's, and
/// would stop every run at its first mutation of such an op.
bool namesOpWithUpstreamParserCrash(StringRef text) {
  return llvm::any_of(
      ArrayRef<StringRef>{"linalg.reduce", "linalg.transpose",
                          "linalg.broadcast"},
      [&](StringRef op) { return text.contains(op); });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  MLIRContext &ctx = context();
  // Diagnostics are expected; only crashes are findings.
  ScopedDiagnosticHandler silence(&ctx, [](Diagnostic &) { return success(); });
  // The lexer, like every reader of source files, expects the NUL that
  // ends a file's buffer; the fuzzer's bytes have none.
  std::string text(reinterpret_cast<const char *>(data), size);
  if (namesOpWithUpstreamParserCrash(text))
    return 0;
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &ctx);
  if (!module)
    return 0;
  runStages(*module, moe::Target::CPU);
  runStages(*module, moe::Target::CUDA);
  return 0;
}
