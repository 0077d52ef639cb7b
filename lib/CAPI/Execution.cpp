//===- Execution.cpp - C API to compile modules and call them -------------===//

#include "moe-c/Execution.h"

#include "moe/Execution/Executable.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Support.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace mlir::moe;

static Executable *unwrap(MoeExecutable executable) {
  return static_cast<Executable *>(executable.ptr);
}

static SmallVector<HostArray> *unwrap(MoeResults results) {
  return static_cast<SmallVector<HostArray> *>(results.ptr);
}

// The C enum is kept in the order of `ElementKind`, so a kind converts by
// value both ways.
static_assert(static_cast<int>(ElementKind::F16) == MoeElementKindF16 &&
                  static_cast<int>(ElementKind::BF16) ==
                      MoeElementKindBF16 &&
                  static_cast<int>(ElementKind::F32) == MoeElementKindF32 &&
                  static_cast<int>(ElementKind::F64) == MoeElementKindF64 &&
                  static_cast<int>(ElementKind::I32) == MoeElementKindI32 &&
                  static_cast<int>(ElementKind::I64) == MoeElementKindI64,
              "MoeElementKind and ElementKind differ");

namespace {
/// What `MoeCompileOptions` holds.
struct CompileRequest {
  MoeBackend backend = MoeBackendCPU;
  CompileOptions options;
  std::string chip;
};
} // namespace

static CompileRequest *unwrap(MoeCompileOptions options) {
  return static_cast<CompileRequest *>(options.ptr);
}

MoeCompileOptions moeCompileOptionsCreate(void) {
  return MoeCompileOptions{new CompileRequest};
}

void moeCompileOptionsDestroy(MoeCompileOptions options) {
  delete unwrap(options);
}

void moeCompileOptionsSetBackend(MoeCompileOptions options,
                                 MoeBackend backend) {
  unwrap(options)->backend = backend;
}

void moeCompileOptionsSetOptLevel(MoeCompileOptions options, unsigned level) {
  unwrap(options)->options.optLevel = level;
}

void moeCompileOptionsSetFuse(MoeCompileOptions options, bool fuse) {
  unwrap(options)->options.fuse = fuse;
}

void moeCompileOptionsSetNumRanks(MoeCompileOptions options,
                                  unsigned numRanks) {
  unwrap(options)->options.numRanks = numRanks;
}

void moeCompileOptionsSetThreads(MoeCompileOptions options, unsigned threads) {
  unwrap(options)->options.threads = threads;
}

void moeCompileOptionsSetPackWeights(MoeCompileOptions options,
                                     bool packWeights) {
  unwrap(options)->options.packWeights = packWeights;
}

void moeCompileOptionsSetTensorCores(MoeCompileOptions options,
                                     bool tensorCores) {
  unwrap(options)->options.tensorCores = tensorCores;
}

void moeCompileOptionsSetChip(MoeCompileOptions options, MlirStringRef chip) {
  unwrap(options)->chip = unwrap(chip).str();
}

MoeExecutable moeExecutableCreate(MlirModule module,
                                  MoeCompileOptions options) {
  CompileRequest defaults;
  const CompileRequest &request = options.ptr ? *unwrap(options) : defaults;
  ModuleOp source = unwrap(module);
  auto fail = [&](const Twine &message) {
    emitError(source.getLoc()) << message;
    return MoeExecutable{nullptr};
  };
  if (request.backend != MoeBackendCPU && request.backend != MoeBackendCUDA)
    return fail("unknown backend " + Twine(request.backend));
  if (request.options.optLevel > 3)
    return fail("optimization level " + Twine(request.options.optLevel) +
                " is not in 0..3");
  if (request.options.numRanks < 1)
    return fail("the experts need at least one rank");
  OwningOpRef<ModuleOp> copy(source.clone());
  auto executable =
      request.backend == MoeBackendCUDA
          ? Executable::compileForCUDA(std::move(copy), request.options,
                                       request.chip)
          : Executable::compileForCPU(std::move(copy), request.options);
  if (!executable)
    return fail(llvm::toString(executable.takeError()));
  return MoeExecutable{executable->release()};
}

void moeExecutableDestroy(MoeExecutable executable) {
  delete unwrap(executable);
}

intptr_t moeExecutableGetNumEntryPoints(MoeExecutable executable) {
  return unwrap(executable)->getEntryPoints().size();
}

MlirStringRef moeExecutableGetEntryPointName(MoeExecutable executable,
                                             intptr_t pos) {
  ArrayRef<EntryPoint> entryPoints = unwrap(executable)->getEntryPoints();
  assert(pos >= 0 && static_cast<size_t>(pos) < entryPoints.size() &&
         "entry point position out of range");
  return wrap(StringRef(entryPoints[pos].name));
}

/// `array` as the execution library takes it, checked; `what` names it in
/// the error.
static llvm::Expected<HostArrayRef> viewArray(const MoeArray &array,
                                              const Twine &what) {
  if (array.kind < MoeElementKindF16 || array.kind > MoeElementKindI64)
    return llvm::createStringError(what + " has an unknown element kind " +
                                   Twine(static_cast<int>(array.kind)));
  if (array.rank < 0 || (array.rank > 0 && !array.shape))
    return llvm::createStringError(what + " has no shape");
  HostArrayRef view{static_cast<ElementKind>(array.kind),
                    ArrayRef(array.shape, array.rank), array.data};
  if (auto error = checkShape(view.shape))
    return llvm::createStringError(what + ": " +
                                   llvm::toString(std::move(error)));
  if (!view.data && view.getNumElements() != 0)
    return llvm::createStringError(what + " has no data");
  return view;
}

bool moeExecutableGetPackedWeights(MoeExecutable executable, MlirStringRef name,
                                   MoePackedWeights *packed) {
  const EntryPoint *entry = unwrap(executable)->lookup(unwrap(name));
  if (!entry || !entry->packedWeights)
    return false;
  const PackedWeights &weights = *entry->packedWeights;
  packed->entry = wrap(StringRef(weights.entry));
  packed->numArguments = static_cast<intptr_t>(weights.arguments.size());
  packed->arguments = weights.arguments.data();
  packed->innerTiles[0] = weights.innerTiles[0];
  packed->innerTiles[1] = weights.innerTiles[1];
  return true;
}

bool moePackExpertWeights(MoeElementKind kind, intptr_t rank,
                          const int64_t *shape, void *data,
                          const int64_t innerTiles[2], int64_t packedShape[5],
                          MlirStringCallback onError, void *userData) {
  auto fail = [&](llvm::Error error) {
    if (onError)
      onError(wrap(StringRef(llvm::toString(std::move(error)))), userData);
    return false;
  };
  auto view = viewArray(MoeArray{kind, rank, shape, data}, "the weights array");
  if (!view)
    return fail(view.takeError());
  auto packed = packExpertWeights(view->kind, view->shape, data,
                                  {innerTiles[0], innerTiles[1]});
  if (!packed)
    return fail(packed.takeError());
  llvm::copy(*packed, packedShape);
  return true;
}

bool moeExecutableStageArgument(MoeExecutable executable, MoeArray array,
                                MoeArray *staged, MlirStringCallback onError,
                                void *userData) {
  auto fail = [&](llvm::Error error) {
    if (onError)
      onError(wrap(StringRef(llvm::toString(std::move(error)))), userData);
    return false;
  };
  auto view = viewArray(array, "the argument");
  if (!view)
    return fail(view.takeError());
  auto copy = unwrap(executable)->stageArgument(*view);
  if (!copy)
    return fail(copy.takeError());
  *staged = array;
  staged->data = copy->data;
  return true;
}

MoeResults moeExecutableInvoke(MoeExecutable executable,
                                       MlirStringRef name, intptr_t numInputs,
                                       const MoeArray *inputs,
                                       MlirStringCallback onError,
                                       void *userData) {
  auto fail = [&](const std::string &message) {
    if (onError)
      onError(wrap(StringRef(message)), userData);
    return MoeResults{nullptr};
  };
  if (numInputs < 0 || (numInputs > 0 && !inputs))
    return fail("the inputs are not an array");
  SmallVector<HostArrayRef> arguments;
  for (const MoeArray &input : ArrayRef(inputs, numInputs)) {
    auto argument = viewArray(input, "argument #" + Twine(arguments.size()));
    if (!argument)
      return fail(llvm::toString(argument.takeError()));
    arguments.push_back(*argument);
  }
  auto results = unwrap(executable)->invoke(unwrap(name), arguments);
  if (!results)
    return fail(llvm::toString(results.takeError()));
  return MoeResults{new SmallVector<HostArray>(std::move(*results))};
}

intptr_t moeResultsGetNumArrays(MoeResults results) {
  return unwrap(results)->size();
}

MoeArray moeResultsGetArray(MoeResults results, intptr_t pos) {
  assert(pos >= 0 && static_cast<size_t>(pos) < unwrap(results)->size() &&
         "result position out of range");
  const HostArray &array = (*unwrap(results))[pos];
  return MoeArray{static_cast<MoeElementKind>(array.kind),
                      static_cast<intptr_t>(array.shape.size()),
                      array.shape.data(), array.data.data()};
}

void moeResultsDestroy(MoeResults results) { delete unwrap(results); }
