//===- Executable.cpp - Compile a module and call its entry points --------===//
//
// Calling convention: both pipelines lower every function with the default
// memref ABI, and the ExecutionEngine wraps each one in a "packed" function
// taking `void **`. A memref argument of rank r expands to 3 + 2r scalars
// (allocated pointer, aligned pointer, offset, sizes, strides); the results
// come back as one struct of such descriptors, all 8-byte fields, so they
// read as a flat array of 64-bit words. The deallocation pipeline gives the
// caller ownership of every returned buffer, allocated through the generic
// allocation functions this library provides.
//
//===----------------------------------------------------------------------===//

#include "moe/Execution/Executable.h"

#include "BufferCache.h"
#include "MPIRuntimeLoader.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "moe/Dialect/MoE/IR/MoEDialect.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "moe/Pipelines/Pipelines.h"
#ifdef MOE_HAVE_CUDA_RUNTIME
#include "moe/Runtime/CUDARuntime.h"
#endif
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>

#include <csetjmp>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <mutex>

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Where a failure inside compiled code (a run-time check, a CUDA driver
/// error) returns to: the `guarded` call running on this thread, if any.
thread_local std::jmp_buf *activeCall = nullptr;
thread_local std::string failureMessage;

/// What compiled code created on the thread of a `guarded` call and has not
/// released yet (buffers; CUDA streams), each with that call and the function
/// that releases it. A failed call jumps over the releases of its
/// intermediate buffers and streams; `guarded` releases what it left. What
/// the workers of a parallel region allocate is not tracked: a failure there
/// ends the process.
struct LiveResources {
  struct Owner {
    const std::jmp_buf *call;
    void (*release)(void *);
  };
  std::mutex mutex;
  llvm::DenseMap<void *, Owner> owners;
};

LiveResources &liveResources() {
  // Leaked on purpose: compiled code may free buffers from static
  // destructors.
  static auto *resources = new LiveResources;
  return *resources;
}

/// Records `resource` with the `guarded` call running on this thread, if any.
void track(void *resource, void (*release)(void *)) {
  if (!resource || !activeCall)
    return;
  LiveResources &live = liveResources();
  std::lock_guard<std::mutex> lock(live.mutex);
  live.owners[resource] = {activeCall, release};
}

void untrack(void *resource) {
  LiveResources &live = liveResources();
  std::lock_guard<std::mutex> lock(live.mutex);
  live.owners.erase(resource);
}

template <void *(*allocate)(size_t), void (*release)(void *)>
void *allocateTracked(size_t bytes) {
  void *buffer = allocate(bytes);
  track(buffer, release);
  return buffer;
}

template <void (*release)(void *)> void releaseTracked(void *buffer) {
  untrack(buffer);
  release(buffer);
}

/// Forgets what `call` left live, releasing it where the call failed (on
/// success what is left are its result buffers, which the caller owns).
void settleResourcesOf(const std::jmp_buf *call, bool failed) {
  SmallVector<std::pair<void *, LiveResources::Owner>> left;
  {
    LiveResources &live = liveResources();
    std::lock_guard<std::mutex> lock(live.mutex);
    for (auto [resource, owner] : live.owners)
      if (owner.call == call)
        left.push_back({resource, owner});
    for (auto [resource, owner] : left)
      live.owners.erase(resource);
  }
  if (failed)
    for (auto [resource, owner] : left)
      owner.release(resource);
}

/// Reports a failure of compiled code by jumping back to `guarded`. Compiled
/// code holds nothing that needs unwinding except the buffers it allocated,
/// which `guarded` frees.
[[noreturn]] void failCompiledCode(const char *message) {
  // Jumping out of an OpenMP parallel region would leave its team unjoined:
  // a failure there (a check in a worker's row block) ends the process.
  if (!activeCall || omp_in_parallel()) {
    std::fprintf(stderr, "moe: %s\n", message);
    std::abort();
  }
  if (message != failureMessage.c_str())
    failureMessage = message;
  std::longjmp(*activeCall, 1);
}

/// Called by compiled code when a run-time check fails (see the
/// convert-moe-runtime-checks pass).
extern "C" void moeRuntimeCheckFailed(const char *message) {
  // The message is built where the jump cannot skip its destructor.
  failureMessage = std::string("run-time check failed: ") + message;
  failCompiledCode(failureMessage.c_str());
}

/// Runs `enterCompiledCode` so that a failure inside it comes back as an
/// error, with what it left live released. No frame with a destructor may
/// lie between here and compiled code: the callable only passes arguments
/// through.
template <typename Callable>
llvm::Error guarded(const Twine &what, Callable enterCompiledCode) {
  std::jmp_buf call;
  std::jmp_buf *enclosingCall = activeCall;
  activeCall = &call;
  if (setjmp(call) != 0) {
    activeCall = enclosingCall;
    settleResourcesOf(&call, /*failed=*/true);
    return llvm::createStringError(what + ": " + failureMessage);
  }
  enterCompiledCode();
  activeCall = enclosingCall;
  settleResourcesOf(&call, /*failed=*/false);
  return llvm::Error::success();
}

} // namespace

/// The allocation functions compiled code calls for its buffers
/// (`_mlir_memref_to_llvm_alloc`/`_free`): cached host memory on the CPU,
/// managed memory for CUDA, tracked for the case that a call fails.
static std::pair<void *(*)(size_t), void (*)(void *)>
bufferFunctions(Target target) {
#ifdef MOE_HAVE_CUDA_RUNTIME
  if (target == Target::CUDA)
    return {&allocateTracked<&moeCudaAllocate, &moeCudaFree>,
            &releaseTracked<&moeCudaFree>};
#endif
  (void)target;
  return {&allocateTracked<&allocateCachedBuffer, &releaseCachedBuffer>,
          &releaseTracked<&releaseCachedBuffer>};
}

#ifdef MOE_HAVE_CUDA_RUNTIME
/// The streams compiled code launches its kernels on, tracked like its
/// buffers: a call that fails between creating a stream and destroying it (a
/// launch, a kernel's fault) would otherwise leak the stream.
static void *createTrackedStream() {
  void *stream = mgpuStreamCreate();
  track(stream, &moeCudaReleaseStream);
  return stream;
}

static void destroyTrackedStream(void *stream) {
  untrack(stream);
  mgpuStreamDestroy(stream);
}
#endif

/// The shared libraries compiled code calls into (CBLAS, OpenMP, the CUDA
/// runtime), each named by one function it defines, as the dynamic loader
/// found them for this process: wherever the build, or a copy of it, keeps
/// them.
static llvm::Expected<SmallVector<std::string>> runtimeLibraryPaths() {
  std::pair<StringRef, const void *> definitions[] = {
      {"cblas_sgemm", reinterpret_cast<const void *>(&cblas_sgemm)},
      {"omp_in_parallel", reinterpret_cast<const void *>(&omp_in_parallel)},
#ifdef MOE_HAVE_CUDA_RUNTIME
      {"mgpuModuleLoad", reinterpret_cast<const void *>(&mgpuModuleLoad)},
#endif
  };
  SmallVector<std::string> paths;
  for (auto [name, function] : definitions) {
    Dl_info info;
    if (!dladdr(function, &info) || !info.dli_fname || !*info.dli_fname)
      return llvm::createStringError("cannot tell which library defines " +
                                     name);
    paths.push_back(info.dli_fname);
  }
  return paths;
}

void moe::registerExecutionDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<MoEDialect>();
  registerAllToLLVMIRTranslations(registry);
}

bool moe::exchangesTokens(ModuleOp module, unsigned numRanks) {
  return numRanks > 1 ||
         module->walk([](AllToAllOp) { return WalkResult::interrupt(); })
             .wasInterrupted();
}

llvm::Expected<ProcessGroup> moe::joinProcessGroup(unsigned numRanks) {
  auto runtime = loadMPIRuntime(&failCompiledCode);
  if (!runtime)
    return runtime.takeError();
  ProcessGroup group = runtime->group;
  if (numRanks > 1 && group.size != static_cast<int>(numRanks))
    return llvm::createStringError(
        "the model is compiled for " + Twine(numRanks) +
        " ranks, but the MPI job has " + Twine(group.size) +
        " process(es) (start it with mpiexec -n " + Twine(numRanks) + ")");
  return group;
}

void moe::abortProcessGroupIfJoined(int exitCode) {
  if (const MPIRuntime *mpi = getLoadedMPIRuntime())
    mpi->abort(exitCode);
}

std::string ArraySpec::describe() const {
  std::string text = "tensor<";
  for (int64_t size : shape)
    text += (ShapedType::isDynamic(size) ? std::string("?")
                                         : std::to_string(size)) +
            "x";
  return text + getElementKindName(kind).str() + ">";
}

Executable::~Executable() {
  for (const void *staged : stagedArguments)
    releaseBuffer(const_cast<void *>(staged));
}

/// The entry point of `func`, or an error naming the first type the
/// calling convention cannot carry.
static llvm::Expected<EntryPoint> describeEntryPoint(func::FuncOp func) {
  EntryPoint entry;
  entry.name = func.getName().str();
  auto specOf = [&](Type type, StringRef role,
                    unsigned position) -> llvm::Expected<ArraySpec> {
    auto tensor = dyn_cast<RankedTensorType>(type);
    std::optional<ElementKind> kind =
        tensor ? getElementKind(tensor.getElementType()) : std::nullopt;
    if (!kind) {
      std::string typeText;
      llvm::raw_string_ostream os(typeText);
      os << type;
      return llvm::createStringError(
          "entry point '" + entry.name + "': " + role + " #" +
          Twine(position) + " has type " + typeText +
          "; entry points take and return ranked tensors of f16, bf16, f32, "
          "f64, i32 or i64 (make helper functions private)");
    }
    return ArraySpec{*kind, SmallVector<int64_t>(tensor.getShape())};
  };
  for (auto [position, type] : llvm::enumerate(func.getArgumentTypes())) {
    auto spec = specOf(type, "argument", position);
    if (!spec)
      return spec.takeError();
    entry.arguments.push_back(std::move(*spec));
  }
  for (auto [position, type] : llvm::enumerate(func.getResultTypes())) {
    auto spec = specOf(type, "result", position);
    if (!spec)
      return spec.takeError();
    entry.results.push_back(std::move(*spec));
  }
  return entry;
}

/// Callers' arrays are inputs only: calling an entry point twice must give
/// the same result.
static void markArgumentsReadOnly(func::FuncOp func) {
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
    func.setArgAttr(i, bufferization::BufferizationDialect::kWritableAttrName,
                    BoolAttr::get(func.getContext(), false));
}

/// Notes the arguments split over ranks, by the expand stage or already in
/// the module: their spec becomes every expert's weights, of which the
/// compiled code takes one rank's share.
static void recordExpertShards(ModuleOp module,
                               MutableArrayRef<EntryPoint> entryPoints) {
  for (EntryPoint &entry : entryPoints) {
    auto func = module.lookupSymbol<func::FuncOp>(entry.name);
    if (!func)
      continue;
    for (auto [position, spec] : llvm::enumerate(entry.arguments)) {
      auto shards = func.getArgAttrOfType<IntegerAttr>(
          position, MoEDialect::kExpertShardsAttrName);
      if (!shards)
        continue;
      auto share = cast<ShapedType>(func.getArgumentTypes()[position]);
      spec.expertShards = shards.getInt();
      spec.shape.front() = share.getDimSize(0) * spec.expertShards;
    }
  }
}

/// Adds the variants `moe-pack-expert-weights` gave the entry points, while
/// they still take tensors, as entry points of their own.
static llvm::Error recordPackedWeights(ModuleOp module,
                                       std::vector<EntryPoint> &entryPoints) {
  std::vector<EntryPoint> added;
  for (EntryPoint &entry : entryPoints) {
    auto func = module.lookupSymbol<func::FuncOp>(entry.name);
    auto fields = func ? func->getAttrOfType<DictionaryAttr>(
                             MoEDialect::kPackedWeightsAttrName)
                       : nullptr;
    if (!fields)
      continue;
    PackedWeights packed;
    packed.entry = fields.getAs<FlatSymbolRefAttr>("entry").getValue().str();
    for (int64_t position :
         fields.getAs<DenseI64ArrayAttr>("arguments").asArrayRef())
      packed.arguments.push_back(position);
    ArrayRef<int64_t> tiles =
        fields.getAs<DenseI64ArrayAttr>("inner_tiles").asArrayRef();
    packed.innerTiles = {tiles[0], tiles[1]};
    auto variant = module.lookupSymbol<func::FuncOp>(packed.entry);
    auto described = describeEntryPoint(variant);
    if (!described)
      return described.takeError();
    described->variantOf = entry.name;
    added.push_back(std::move(*described));
    markArgumentsReadOnly(variant);
    entry.packedWeights = std::move(packed);
  }
  std::move(added.begin(), added.end(), std::back_inserter(entryPoints));
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<Executable>>
Executable::compile(OwningOpRef<ModuleOp> module, const CompileOptions &options,
                    Target target,
                    function_ref<void(OpPassManager &, Stage)> buildStage) {
  MLIRContext *context = module->getContext();
  context->getOrLoadDialect<bufferization::BufferizationDialect>();
  std::unique_ptr<Executable> executable(new Executable());
  executable->target = target;

  // On the CPU, tokens travel through the MPI runtime.
  const MPIRuntime *mpi = nullptr;
  if (target == Target::CPU && exchangesTokens(*module, options.numRanks)) {
    auto group = joinProcessGroup(options.numRanks);
    if (!group)
      return group.takeError();
    executable->group = *group;
    mpi = getLoadedMPIRuntime();
  }
  for (auto func : module->getOps<func::FuncOp>()) {
    if (func.isPrivate() || func.isExternal())
      continue;
    auto entry = describeEntryPoint(func);
    if (!entry)
      return entry.takeError();
    executable->entryPoints.push_back(std::move(*entry));
    markArgumentsReadOnly(func);
  }

  for (Stage stage : getStages(target)) {
    PassManager pm(context);
    buildStage(pm, stage);
    if (failed(pm.run(*module)))
      return llvm::createStringError("compilation failed in the '" +
                                     getStageName(stage) + "' stage");
    if (options.afterStage)
      options.afterStage(getStageName(stage), *module);
    if (stage == Stage::ExpandLayers)
      recordExpertShards(*module, executable->entryPoints);
    if (stage == Stage::LowerToLinalg)
      if (auto error = recordPackedWeights(*module, executable->entryPoints))
        return std::move(error);
  }

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  unsigned optLevel = std::min(options.optLevel, 3u);
  machineBuilder->setCodeGenOptLevel(
      static_cast<llvm::CodeGenOptLevel>(optLevel));
  auto targetMachine = machineBuilder->createTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  auto transformer = makeOptimizingTransformer(optLevel, /*sizeLevel=*/0,
                                               targetMachine->get());
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel =
      static_cast<llvm::CodeGenOptLevel>(optLevel);
  // Compiled code calls CBLAS, OpenMP and the CUDA runtime. This library
  // links them, but a host that loaded it privately (`dlopen` without
  // RTLD_GLOBAL, as Python's ctypes does) keeps their symbols out of a search
  // of the process, so the JIT opens them by path.
  auto runtimeLibraries = runtimeLibraryPaths();
  if (!runtimeLibraries)
    return runtimeLibraries.takeError();
  SmallVector<StringRef> runtimeLibraryRefs(runtimeLibraries->begin(),
                                            runtimeLibraries->end());
  engineOptions.sharedLibPaths = runtimeLibraryRefs;
  auto engine = ExecutionEngine::create(*module, engineOptions,
                                        std::move(*targetMachine));
  if (!engine)
    return engine.takeError();
  executable->engine = std::move(*engine);
  std::pair<void *(*)(size_t), void (*)(void *)> buffers =
      bufferFunctions(target);
  executable->engine->registerSymbols([&](llvm::orc::MangleAndInterner intern) {
    llvm::orc::SymbolMap symbols;
    auto define = [&](StringRef name, auto *function) {
      symbols[intern(name)] = {llvm::orc::ExecutorAddr::fromPtr(function),
                               llvm::JITSymbolFlags::Exported};
    };
    define("moe_runtime_check_failed", &moeRuntimeCheckFailed);
    define("_mlir_memref_to_llvm_alloc", buffers.first);
    define("_mlir_memref_to_llvm_free", buffers.second);
#ifdef MOE_HAVE_CUDA_RUNTIME
    if (target == Target::CUDA) {
      define("mgpuStreamCreate", &createTrackedStream);
      define("mgpuStreamDestroy", &destroyTrackedStream);
    }
#endif
    if (mpi)
      for (const auto &[name, address] : mpi->entryPoints)
        define(name, address);
    return symbols;
  });
  // Global constructors load the kernels of the CUDA target.
  if (auto error = guarded("loading the compiled module",
                           [&] { executable->engine->initialize(); }))
    return std::move(error);
#ifdef MOE_HAVE_CUDA_RUNTIME
  if (char message[2048];
      target == Target::CUDA &&
      moeCudaTakeModuleLoadFailure(message, sizeof(message)) != 0)
    return llvm::createStringError(Twine("loading the compiled module: ") +
                                   message);
#endif
  return executable;
}

llvm::Expected<std::unique_ptr<Executable>>
Executable::compileForCPU(OwningOpRef<ModuleOp> module,
                          const CompileOptions &options) {
  CPUPipelineOptions pipelineOptions;
  pipelineOptions.fuse = options.fuse;
  pipelineOptions.numRanks = options.numRanks;
  pipelineOptions.threads =
      options.threads ? options.threads : omp_get_max_threads();
  pipelineOptions.packWeights = options.packWeights;
  return compile(std::move(module), options, Target::CPU,
                 [&](OpPassManager &pm, Stage stage) {
                   buildCPUStage(pm, stage, pipelineOptions);
                 });
}

llvm::Expected<std::unique_ptr<Executable>>
Executable::compileForCUDA(OwningOpRef<ModuleOp> module,
                           const CompileOptions &options, StringRef chip) {
  if (options.numRanks > 1)
    return llvm::createStringError(
        "expert parallelism over ranks runs on the CPU backend only: the "
        "CUDA backend's collectives (NCCL) have no lowering yet");
#ifdef MOE_HAVE_CUDA_RUNTIME
  char message[512];
  if (moeCudaInitialize(message, sizeof(message)) != 0)
    return llvm::createStringError(
        Twine("the CUDA backend needs an NVIDIA GPU: ") + message);
  moeCudaSetErrorHandler(&failCompiledCode);
  CUDAPipelineOptions pipelineOptions;
  pipelineOptions.fuse = options.fuse;
  pipelineOptions.tensorCores = options.tensorCores;
  if (chip.empty()) {
    char deviceChip[32] = {};
    if (auto error = guarded("asking the GPU for its architecture", [&] {
          moeCudaGetChip(deviceChip, sizeof(deviceChip));
        }))
      return std::move(error);
    pipelineOptions.chip = deviceChip;
  } else {
    pipelineOptions.chip = chip.str();
  }
  // PTX, compiled by the driver for this GPU when the module loads: ptxas
  // is not needed (libdevice still is, when kernels are built).
  pipelineOptions.format = KernelFormat::PTX;
  // A copied build (the GPU bundle) may run where the toolkit lies
  // elsewhere than where it was configured.
  if (const char *toolkit = std::getenv("MOE_CUDA_TOOLKIT_PATH"))
    pipelineOptions.toolkit = toolkit;
  return compile(std::move(module), options, Target::CUDA,
                 [&](OpPassManager &pm, Stage stage) {
                   buildCUDAStage(pm, stage, pipelineOptions);
                 });
#else
  (void)module;
  (void)options;
  (void)chip;
  return llvm::createStringError(
      "this build has no CUDA backend (cuda.h was not found when it was "
      "configured)");
#endif
}

const EntryPoint *Executable::lookup(StringRef name) const {
  for (const EntryPoint &entry : entryPoints)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

/// What an argument passes to compiled code: the caller's array, or this
/// rank's share of the experts in it.
struct ArgumentView {
  const uint8_t *data;
  SmallVector<int64_t> shape;
};

/// Checks `input` against the declared `spec` of argument `position` and
/// returns what rank `rank` passes for it.
static llvm::Expected<ArgumentView>
viewArgument(const EntryPoint &entry, unsigned position,
             const ArraySpec &spec, const HostArrayRef &input, int rank) {
  auto mismatch = [&](const Twine &what) {
    return llvm::createStringError("argument #" + Twine(position) + " of '" +
                                   entry.name + "' must be " +
                                   spec.describe() + ", got " +
                                   input.describe() + " (" + what + ")");
  };
  if (input.kind != spec.kind)
    return mismatch("element type differs");
  if (input.shape.size() != spec.shape.size())
    return mismatch("rank differs");
  ArgumentView view{static_cast<const uint8_t *>(input.data),
                    llvm::to_vector(input.shape)};
  // Sharded weights: every expert (this rank takes its own), or just this
  // rank's experts.
  int64_t shardExperts = spec.expertShards > 1
                             ? spec.shape.front() / spec.expertShards
                             : ShapedType::kDynamic;
  for (auto [dim, sizes] : llvm::enumerate(llvm::zip(spec.shape,
                                                     input.shape))) {
    auto [expected, actual] = sizes;
    if (dim == 0 && actual == shardExperts)
      continue;
    if (!ShapedType::isDynamic(expected) && expected != actual)
      return mismatch("size of dimension " + Twine(dim) + " differs");
  }
  if (spec.expertShards > 1 && input.shape.front() == spec.shape.front()) {
    size_t shardBytes = input.getSizeInBytes() / spec.expertShards;
    view.data += rank * shardBytes;
    view.shape.front() = shardExperts;
  }
  return view;
}

/// Copies the strided buffer at `base` (in elements of `elementSize` bytes)
/// into the C-ordered `out`.
static void copyStrided(const uint8_t *base, ArrayRef<int64_t> sizes,
                        ArrayRef<int64_t> strides, size_t elementSize,
                        uint8_t *&out) {
  if (sizes.empty()) {
    std::memcpy(out, base, elementSize);
    out += elementSize;
    return;
  }
  if (sizes.size() == 1 && strides.front() == 1) {
    size_t bytes = sizes.front() * elementSize;
    std::memcpy(out, base, bytes);
    out += bytes;
    return;
  }
  for (int64_t i = 0; i < sizes.front(); ++i)
    copyStrided(base + i * strides.front() * elementSize, sizes.drop_front(),
                strides.drop_front(), elementSize, out);
}

void *Executable::allocateBuffer(size_t bytes) const {
  return bufferFunctions(target).first(bytes);
}

void Executable::releaseBuffer(void *buffer) const {
  bufferFunctions(target).second(buffer);
}

namespace {
/// A call's entry point and what it passes for its arguments.
struct CallArguments {
  const EntryPoint *entry;
  SmallVector<ArgumentView> views;
};
} // namespace

/// Checks `inputs` against the arguments of `entry`, the entry point called
/// `name` (null if `entryPoints` has none), and returns what rank `rank`
/// passes for them.
static llvm::Expected<CallArguments>
viewArguments(const EntryPoint *entry, StringRef name,
              ArrayRef<EntryPoint> entryPoints, ArrayRef<HostArrayRef> inputs,
              int rank) {
  if (!entry) {
    SmallVector<StringRef> names;
    for (const EntryPoint &candidate : entryPoints)
      names.push_back(candidate.name);
    return llvm::createStringError("no entry point named '" + name +
                                   "' (the module has: " +
                                   llvm::join(names, ", ") + ")");
  }
  if (inputs.size() != entry->arguments.size()) {
    SmallVector<std::string> expected;
    for (const ArraySpec &spec : entry->arguments)
      expected.push_back(spec.describe());
    return llvm::createStringError(
        "'" + name + "' takes " + Twine(entry->arguments.size()) +
        " arguments (" + llvm::join(expected, ", ") + "), got " +
        Twine(inputs.size()));
  }
  SmallVector<ArgumentView> arguments;
  for (auto [position, pair] :
       llvm::enumerate(llvm::zip(entry->arguments, inputs))) {
    auto view = viewArgument(*entry, position, std::get<0>(pair),
                             std::get<1>(pair), rank);
    if (!view)
      return view.takeError();
    arguments.push_back(std::move(*view));
  }
  return CallArguments{entry, std::move(arguments)};
}

llvm::Error Executable::checkArguments(StringRef name,
                                       ArrayRef<HostArrayRef> inputs) const {
  return viewArguments(lookup(name), name, entryPoints, inputs, group.rank)
      .takeError();
}

llvm::Expected<void *> Executable::copyToBuffer(HostArrayRef array) const {
  void *copy = nullptr;
  size_t bytes = array.getSizeInBytes();
  // Allocation failures of the CUDA runtime come back through `guarded`.
  if (auto error = guarded("copying the inputs to the GPU",
                           [&] { copy = allocateBuffer(bytes); }))
    return std::move(error);
  if (bytes != 0)
    std::memcpy(copy, array.data, bytes);
  return copy;
}

llvm::Expected<HostArrayRef> Executable::stageArgument(HostArrayRef array) {
  if (target != Target::CUDA)
    return array;
  auto copy = copyToBuffer(array);
  if (!copy)
    return copy.takeError();
  stagedArguments.insert(*copy);
  array.data = *copy;
  return array;
}

llvm::Expected<SmallVector<HostArray>>
Executable::invoke(StringRef name, ArrayRef<HostArrayRef> inputs) {
  auto call =
      viewArguments(lookup(name), name, entryPoints, inputs, group.rank);
  if (!call)
    return call.takeError();
  const EntryPoint *entry = call->entry;
  SmallVector<ArgumentView> &arguments = call->views;

  // Kernels cannot read the caller's arrays: the CUDA target gets copies in
  // managed memory, freed when the call returns, of those not staged.
  SmallVector<void *> deviceCopies;
  llvm::scope_exit releaseCopies([&] {
    for (void *copy : deviceCopies)
      releaseBuffer(copy);
  });
  for (size_t position = 0; target == Target::CUDA && position < inputs.size();
       ++position) {
    if (stagedArguments.contains(inputs[position].data))
      continue;
    auto copy = copyToBuffer(inputs[position]);
    if (!copy)
      return copy.takeError();
    deviceCopies.push_back(*copy);
    arguments[position].data = static_cast<const uint8_t *>(*copy);
  }

  // Every scalar of the expanded descriptors lives in `words`, which is
  // sized up front so the pointers into it stay valid.
  size_t argumentWords = 0;
  for (const ArgumentView &argument : arguments)
    argumentWords += 3 + 2 * argument.shape.size();
  std::vector<int64_t> words;
  words.reserve(argumentWords);
  for (const ArgumentView &argument : arguments) {
    auto pointer = reinterpret_cast<int64_t>(argument.data);
    words.push_back(pointer); // allocated
    words.push_back(pointer); // aligned
    words.push_back(0);       // offset
    llvm::append_range(words, argument.shape);
    int64_t stride = 1;
    size_t firstStride = words.size();
    words.resize(words.size() + argument.shape.size());
    for (size_t dim = argument.shape.size(); dim-- > 0;) {
      words[firstStride + dim] = stride;
      stride *= argument.shape[dim];
    }
  }
  size_t resultWords = 0;
  for (const ArraySpec &spec : entry->results)
    resultWords += 3 + 2 * spec.shape.size();
  std::vector<int64_t> results(resultWords);

  SmallVector<void *> packedArguments;
  for (int64_t &word : words)
    packedArguments.push_back(&word);
  if (!results.empty())
    packedArguments.push_back(results.data());
  auto entryPoint = engine->lookupPacked(name);
  if (!entryPoint)
    return entryPoint.takeError();
  void (*packed)(void **) = *entryPoint;
  if (auto error = guarded("in '" + name + "'",
                           [&] { packed(packedArguments.data()); }))
    return std::move(error);

  SmallVector<HostArray> outputs;
  // Two results may share one buffer; it is freed once.
  llvm::SmallPtrSet<void *, 8> freed;
  size_t word = 0;
  for (const ArraySpec &spec : entry->results) {
    size_t rank = spec.shape.size();
    auto *allocated = reinterpret_cast<void *>(results[word]);
    auto *aligned = reinterpret_cast<const uint8_t *>(results[word + 1]);
    int64_t offset = results[word + 2];
    ArrayRef<int64_t> sizes(&results[word + 3], rank);
    ArrayRef<int64_t> strides(&results[word + 3 + rank], rank);
    word += 3 + 2 * rank;

    HostArray output;
    output.kind = spec.kind;
    output.shape.assign(sizes.begin(), sizes.end());
    size_t elementSize = getElementSize(spec.kind);
    output.data.resize(output.getNumElements() * elementSize);
    uint8_t *cursor = output.data.data();
    if (output.getNumElements() > 0)
      copyStrided(aligned + offset * elementSize, sizes, strides, elementSize,
                  cursor);
    if (allocated && freed.insert(allocated).second)
      releaseBuffer(allocated);
    outputs.push_back(std::move(output));
  }
  return outputs;
}
