//===- Execution.cpp - C API to compile modules and call them -------------===//

#include "moe-c/Execution.h"

#include "moe/Execution/Executable.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Support.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace mlir::moe;

static Executable *unwrap(MlirMoEExecutable executable) {
  return static_cast<Executable *>(executable.ptr);
}

static SmallVector<HostArray> *unwrap(MlirMoEResults results) {
  return static_cast<SmallVector<HostArray> *>(results.ptr);
}

// The C enum is kept in the order of `ElementKind`, so a kind converts by
// value both ways.
static_assert(static_cast<int>(ElementKind::F16) == MlirMoEElementKindF16 &&
                  static_cast<int>(ElementKind::BF16) ==
                      MlirMoEElementKindBF16 &&
                  static_cast<int>(ElementKind::F32) == MlirMoEElementKindF32 &&
                  static_cast<int>(ElementKind::F64) == MlirMoEElementKindF64 &&
                  static_cast<int>(ElementKind::I32) == MlirMoEElementKindI32 &&
                  static_cast<int>(ElementKind::I64) == MlirMoEElementKindI64,
              "MlirMoEElementKind and ElementKind differ");

MlirMoECompileOptions mlirMoECompileOptionsGetDefault(void) {
  CompileOptions defaults;
  MlirMoECompileOptions options;
  options.backend = MlirMoEBackendCPU;
  options.optLevel = defaults.optLevel;
  options.fuse = defaults.fuse;
  options.numRanks = defaults.numRanks;
  options.threads = defaults.threads;
  options.chip = mlirStringRefCreate(nullptr, 0);
  return options;
}

MlirMoEExecutable mlirMoEExecutableCreate(MlirModule module,
                                          const MlirMoECompileOptions *options) {
  MlirMoECompileOptions defaults = mlirMoECompileOptionsGetDefault();
  if (!options)
    options = &defaults;
  ModuleOp source = unwrap(module);
  auto fail = [&](const Twine &message) {
    emitError(source.getLoc()) << message;
    return MlirMoEExecutable{nullptr};
  };
  if (options->backend != MlirMoEBackendCPU &&
      options->backend != MlirMoEBackendCUDA)
    return fail("unknown backend " + Twine(options->backend));
  CompileOptions compileOptions;
  compileOptions.optLevel = options->optLevel;
  compileOptions.fuse = options->fuse;
  compileOptions.numRanks = options->numRanks;
  compileOptions.threads = options->threads;
  OwningOpRef<ModuleOp> copy(source.clone());
  auto executable =
      options->backend == MlirMoEBackendCUDA
          ? Executable::compileForCUDA(std::move(copy), compileOptions,
                                       unwrap(options->chip))
          : Executable::compileForCPU(std::move(copy), compileOptions);
  if (!executable)
    return fail(llvm::toString(executable.takeError()));
  return MlirMoEExecutable{executable->release()};
}

void mlirMoEExecutableDestroy(MlirMoEExecutable executable) {
  delete unwrap(executable);
}

intptr_t mlirMoEExecutableGetNumEntryPoints(MlirMoEExecutable executable) {
  return unwrap(executable)->getEntryPoints().size();
}

MlirStringRef mlirMoEExecutableGetEntryPointName(MlirMoEExecutable executable,
                                                 intptr_t pos) {
  return wrap(StringRef(unwrap(executable)->getEntryPoints()[pos].name));
}

MlirMoEResults mlirMoEExecutableInvoke(MlirMoEExecutable executable,
                                       MlirStringRef name, intptr_t numInputs,
                                       const MlirMoEArray *inputs,
                                       MlirStringCallback onError,
                                       void *userData) {
  auto fail = [&](const std::string &message) {
    onError(wrap(StringRef(message)), userData);
    return MlirMoEResults{nullptr};
  };
  if (numInputs < 0 || (numInputs > 0 && !inputs))
    return fail("the inputs are not an array");
  SmallVector<HostArrayRef> arguments;
  for (const MlirMoEArray &input : ArrayRef(inputs, numInputs)) {
    std::string position = "argument #" + std::to_string(arguments.size());
    if (input.kind < MlirMoEElementKindF16 ||
        input.kind > MlirMoEElementKindI64)
      return fail(position + " has an unknown element kind " +
                  std::to_string(input.kind));
    if (input.rank < 0 || (input.rank > 0 && !input.shape))
      return fail(position + " has no shape");
    HostArrayRef argument{static_cast<ElementKind>(input.kind),
                          ArrayRef(input.shape, input.rank), input.data};
    if (llvm::any_of(argument.shape, [](int64_t size) { return size < 0; }))
      return fail(position + " has a negative size");
    if (!argument.data && argument.getNumElements() != 0)
      return fail(position + " has no data");
    arguments.push_back(argument);
  }
  auto results = unwrap(executable)->invoke(unwrap(name), arguments);
  if (!results)
    return fail(llvm::toString(results.takeError()));
  return MlirMoEResults{new SmallVector<HostArray>(std::move(*results))};
}

intptr_t mlirMoEResultsGetNumArrays(MlirMoEResults results) {
  return unwrap(results)->size();
}

MlirMoEArray mlirMoEResultsGetArray(MlirMoEResults results, intptr_t pos) {
  const HostArray &array = (*unwrap(results))[pos];
  return MlirMoEArray{static_cast<MlirMoEElementKind>(array.kind),
                      static_cast<intptr_t>(array.shape.size()),
                      array.shape.data(), array.data.data()};
}

void mlirMoEResultsDestroy(MlirMoEResults results) { delete unwrap(results); }
