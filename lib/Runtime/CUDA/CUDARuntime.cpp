//===- CUDARuntime.cpp - The runtime compiled CUDA code calls -------------===//
//
// The CUDA driver API, loaded with dlopen: the types come from cuda.h, the
// functions from libcuda.so.1 under their versioned ABI names.
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/CUDARuntime.h"

#include <cuda.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

namespace {

struct Driver {
  decltype(&::cuInit) init;
  decltype(&::cuDeviceGetCount) deviceGetCount;
  decltype(&::cuDeviceGet) deviceGet;
  decltype(&::cuDeviceGetAttribute) deviceGetAttribute;
  decltype(&::cuDevicePrimaryCtxRetain) primaryCtxRetain;
  decltype(&::cuCtxSetCurrent) ctxSetCurrent;
  decltype(&::cuGetErrorName) getErrorName;
  decltype(&::cuGetErrorString) getErrorString;
  decltype(&::cuModuleLoadData) moduleLoadData;
  decltype(&::cuModuleLoadDataEx) moduleLoadDataEx;
  decltype(&::cuModuleUnload) moduleUnload;
  decltype(&::cuModuleGetFunction) moduleGetFunction;
  decltype(&::cuLaunchKernel) launchKernel;
  decltype(&::cuStreamCreate) streamCreate;
  decltype(&::cuStreamDestroy) streamDestroy;
  decltype(&::cuStreamSynchronize) streamSynchronize;
  decltype(&::cuMemAllocManaged) memAllocManaged;
  decltype(&::cuMemFree) memFree;
};

struct Runtime {
  std::mutex mutex;
  bool initialized = false;
  std::string initializationError;
  Driver driver{};
  CUdevice device = 0;
  CUcontext context = nullptr;
  MoeCudaErrorHandler errorHandler = nullptr;
  // Kernel names, for messages about failed launches.
  std::unordered_map<CUfunction, std::string> kernelNames;
};

/// Never destroyed: the compiled code's global destructors unload its
/// modules (mgpuModuleUnload) when its execution engine goes, which may be
/// at exit, after a function-local static's destructor would have run.
Runtime &runtime() {
  static Runtime &instance = *new Runtime;
  return instance;
}

/// The message of this thread's failure, for the error handler. The handler
/// does not return (the execution library jumps back to the caller of the
/// compiled code), so the message is kept here, and an entry point raises a
/// failure only where no object with a destructor is alive.
thread_local char failureMessage[2048];

/// Whether a failure has been reported. A faulted context fails every later
/// call, the frees of what the failed call left included; the first report
/// says all there is.
std::atomic<bool> failureReported{false};

void recordFailure(const std::string &message) {
  std::snprintf(failureMessage, sizeof(failureMessage), "%s", message.c_str());
}

[[noreturn]] void raiseFailure() {
  failureReported = true;
  if (MoeCudaErrorHandler handler = runtime().errorHandler)
    handler(failureMessage);
  // No handler, or one that returned: compiled code cannot go on.
  std::fprintf(stderr, "moe CUDA runtime: %s\n", failureMessage);
  std::abort();
}

std::string describe(CUresult result) {
  const Driver &driver = runtime().driver;
  const char *name = nullptr, *text = nullptr;
  if (driver.getErrorName)
    driver.getErrorName(result, &name);
  if (driver.getErrorString)
    driver.getErrorString(result, &text);
  std::string description = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    description += std::string(" (") + text + ")";
  return description;
}

/// Why a module load failed, until the execution library asks: the JIT runs
/// the loads on the thread that compiles.
thread_local std::string moduleLoadFailure;

/// A failed module load: what was recorded is kept for
/// moeCudaTakeModuleLoadFailure, and the load returns no module.
void *deferModuleLoadFailure() {
  if (moduleLoadFailure.empty())
    moduleLoadFailure = failureMessage;
  failureReported = true;
  return nullptr;
}

/// Whether a driver call failed, recording why if so; `what` names the call
/// and what it was for.
bool failed(CUresult result, const std::string &what) {
  if (result == CUDA_SUCCESS)
    return false;
  recordFailure(what + " failed: " + describe(result));
  return true;
}

template <typename Function>
bool loadSymbol(void *library, Function &function, const char *name,
                std::string &error) {
  function = reinterpret_cast<Function>(dlsym(library, name));
  if (!function)
    error = std::string("the NVIDIA driver lacks ") + name;
  return function != nullptr;
}

/// Loads the driver and sets the context; the first call decides.
bool initialize(std::string &error) {
  Runtime &state = runtime();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.initialized || !state.initializationError.empty()) {
    error = state.initializationError;
    return state.initialized;
  }
  auto give = [&](const std::string &why) {
    state.initializationError = why;
    error = why;
    return false;
  };
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library)
    return give(std::string("the NVIDIA driver (libcuda.so.1) is not "
                            "available: ") +
                dlerror());
  Driver &d = state.driver;
  std::string missing;
  if (!loadSymbol(library, d.init, "cuInit", missing) ||
      !loadSymbol(library, d.deviceGetCount, "cuDeviceGetCount", missing) ||
      !loadSymbol(library, d.deviceGet, "cuDeviceGet", missing) ||
      !loadSymbol(library, d.deviceGetAttribute, "cuDeviceGetAttribute",
                  missing) ||
      !loadSymbol(library, d.primaryCtxRetain, "cuDevicePrimaryCtxRetain",
                  missing) ||
      !loadSymbol(library, d.ctxSetCurrent, "cuCtxSetCurrent", missing) ||
      !loadSymbol(library, d.getErrorName, "cuGetErrorName", missing) ||
      !loadSymbol(library, d.getErrorString, "cuGetErrorString", missing) ||
      !loadSymbol(library, d.moduleLoadData, "cuModuleLoadData", missing) ||
      !loadSymbol(library, d.moduleLoadDataEx, "cuModuleLoadDataEx",
                  missing) ||
      !loadSymbol(library, d.moduleUnload, "cuModuleUnload", missing) ||
      !loadSymbol(library, d.moduleGetFunction, "cuModuleGetFunction",
                  missing) ||
      !loadSymbol(library, d.launchKernel, "cuLaunchKernel", missing) ||
      !loadSymbol(library, d.streamCreate, "cuStreamCreate", missing) ||
      !loadSymbol(library, d.streamDestroy, "cuStreamDestroy_v2", missing) ||
      !loadSymbol(library, d.streamSynchronize, "cuStreamSynchronize",
                  missing) ||
      !loadSymbol(library, d.memAllocManaged, "cuMemAllocManaged", missing) ||
      !loadSymbol(library, d.memFree, "cuMemFree_v2", missing))
    return give(missing);
  if (CUresult result = d.init(0); result != CUDA_SUCCESS)
    return give("cuInit failed: " + describe(result));
  int count = 0;
  if (CUresult result = d.deviceGetCount(&count); result != CUDA_SUCCESS)
    return give("cuDeviceGetCount failed: " + describe(result));
  if (count == 0)
    return give("the NVIDIA driver sees no GPU");
  if (CUresult result = d.deviceGet(&state.device, 0); result != CUDA_SUCCESS)
    return give("cuDeviceGet failed: " + describe(result));
  if (CUresult result = d.primaryCtxRetain(&state.context, state.device);
      result != CUDA_SUCCESS)
    return give("cuDevicePrimaryCtxRetain failed: " + describe(result));
  if (CUresult result = d.ctxSetCurrent(state.context); result != CUDA_SUCCESS)
    return give("cuCtxSetCurrent failed: " + describe(result));
  state.initialized = true;
  return true;
}

/// The driver, initialized, for the entry points compiled code calls; null
/// once it has recorded why not.
const Driver *driver(const char *caller) {
  if (std::string error; !initialize(error)) {
    recordFailure(std::string(caller) + ": " + error);
    return nullptr;
  }
  // Compiled code may run on another thread than the initializing one.
  if (failed(runtime().driver.ctxSetCurrent(runtime().context),
             "cuCtxSetCurrent"))
    return nullptr;
  return &runtime().driver;
}

/// Runs `release(driver)`, a driver call (`call`) that releases something,
/// for the entry point `caller`. Releases also run while cleaning up after a
/// failure, outside any call that could report one, and an unloaded driver
/// reports itself deinitialized: print what went wrong, unless a failure was
/// reported already, but do not fail the cleanup.
template <typename Release>
void cleanUp(const char *caller, const char *call, Release release) {
  const Driver *d = driver(caller);
  if (!d) {
    if (!failureReported)
      std::fprintf(stderr, "moe CUDA runtime: %s\n", failureMessage);
    return;
  }
  CUresult result = release(*d);
  if (result != CUDA_SUCCESS && result != CUDA_ERROR_DEINITIALIZED &&
      !failureReported)
    std::fprintf(stderr, "moe CUDA runtime: %s failed: %s\n", call,
                 describe(result).c_str());
}

} // namespace

extern "C" {

int moeCudaInitialize(char *message, size_t messageSize) {
  std::string error;
  if (initialize(error))
    return 0;
  if (messageSize > 0)
    std::snprintf(message, messageSize, "%s", error.c_str());
  return -1;
}

void moeCudaGetChip(char *chip, size_t chipSize) {
  const Driver *d = driver("moeCudaGetChip");
  int major = 0, minor = 0;
  CUdevice device = runtime().device;
  if (!d ||
      failed(d->deviceGetAttribute(
                 &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
             "cuDeviceGetAttribute") ||
      failed(d->deviceGetAttribute(
                 &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
             "cuDeviceGetAttribute"))
    raiseFailure();
  std::snprintf(chip, chipSize, "sm_%d%d", major, minor);
}

void moeCudaSetErrorHandler(MoeCudaErrorHandler handler) {
  runtime().errorHandler = handler;
}

int moeCudaTakeModuleLoadFailure(char *message, size_t messageSize) {
  if (moduleLoadFailure.empty())
    return 0;
  if (messageSize > 0)
    std::snprintf(message, messageSize, "%s", moduleLoadFailure.c_str());
  moduleLoadFailure.clear();
  return -1;
}

void *moeCudaAllocate(size_t bytes) {
  const Driver *d = driver("moeCudaAllocate");
  CUdeviceptr pointer = 0;
  // cuMemAllocManaged rejects 0 bytes; empty tensors still need an address.
  if (!d || failed(d->memAllocManaged(&pointer, bytes ? bytes : 1,
                                      CU_MEM_ATTACH_GLOBAL),
                   "cuMemAllocManaged(" + std::to_string(bytes) + " bytes)"))
    raiseFailure();
  return reinterpret_cast<void *>(pointer);
}

void moeCudaFree(void *pointer) {
  if (!pointer)
    return;
  cleanUp("moeCudaFree", "cuMemFree", [&](const Driver &d) {
    return d.memFree(reinterpret_cast<CUdeviceptr>(pointer));
  });
}

void moeCudaReleaseStream(void *stream) {
  cleanUp("moeCudaReleaseStream", "cuStreamDestroy", [&](const Driver &d) {
    return d.streamDestroy(static_cast<CUstream>(stream));
  });
}

void *mgpuModuleLoad(void *data, size_t size) {
  (void)size;
  const Driver *d = driver("mgpuModuleLoad");
  CUmodule module = nullptr;
  if (!d || failed(d->moduleLoadData(&module, data),
                   "cuModuleLoadData (loading the kernels' cubin)"))
    return deferModuleLoadFailure();
  return module;
}

void *mgpuModuleLoadJIT(void *data, int optLevel) {
  const Driver *d = driver("mgpuModuleLoadJIT");
  if (!d)
    return deferModuleLoadFailure();
  char log[8192] = {};
  CUjit_option options[] = {CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {reinterpret_cast<void *>(static_cast<intptr_t>(optLevel)),
                    log, reinterpret_cast<void *>(sizeof(log))};
  CUmodule module = nullptr;
  CUresult result = d->moduleLoadDataEx(&module, data, 3, options, values);
  if (result != CUDA_SUCCESS) {
    recordFailure("cuModuleLoadDataEx (compiling the kernels' PTX) failed: " +
                  describe(result) + (log[0] ? std::string(": ") + log : ""));
    return deferModuleLoadFailure();
  }
  return module;
}

void mgpuModuleUnload(void *module) {
  // Runs from global destructors, also after a failed load.
  if (!module)
    return;
  cleanUp("mgpuModuleUnload", "cuModuleUnload", [&](const Driver &d) {
    return d.moduleUnload(static_cast<CUmodule>(module));
  });
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  const Driver *d = driver("mgpuModuleGetFunction");
  CUfunction function = nullptr;
  if (!d || failed(d->moduleGetFunction(&function,
                                        static_cast<CUmodule>(module), name),
                   std::string("cuModuleGetFunction(kernel '") + name + "')"))
    raiseFailure();
  Runtime &state = runtime();
  std::lock_guard<std::mutex> lock(state.mutex);
  state.kernelNames[function] = name;
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedMemoryBytes, void *stream,
                      void **params, void **extra, size_t paramsCount) {
  (void)paramsCount;
  auto kernel = static_cast<CUfunction>(function);
  // An empty loop nest (no tokens, say) launches nothing.
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return;
  auto kernelName = [&] {
    Runtime &state = runtime();
    std::lock_guard<std::mutex> lock(state.mutex);
    auto known = state.kernelNames.find(kernel);
    return known != state.kernelNames.end() ? known->second
                                            : std::string("?");
  };
  auto shape = [&] {
    return "grid " + std::to_string(gridX) + "x" + std::to_string(gridY) +
           "x" + std::to_string(gridZ) + ", block " + std::to_string(blockX) +
           "x" + std::to_string(blockY) + "x" + std::to_string(blockZ);
  };
  constexpr intptr_t kMaxGridX = (intptr_t(1) << 31) - 1, kMaxGridYZ = 65535;
  if (gridX > kMaxGridX || gridY > kMaxGridYZ || gridZ > kMaxGridYZ) {
    recordFailure("kernel '" + kernelName() + "' needs a larger grid (" +
                  shape() + ") than CUDA allows; choose other block sizes");
    raiseFailure();
  }
  const Driver *d = driver("mgpuLaunchKernel");
  if (!d)
    raiseFailure();
  CUresult result = d->launchKernel(
      kernel, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemoryBytes,
      static_cast<CUstream>(stream), params, extra);
  if (result != CUDA_SUCCESS) {
    recordFailure("cuLaunchKernel(kernel '" + kernelName() + "', " + shape() +
                  ") failed: " + describe(result));
    raiseFailure();
  }
}

void *mgpuStreamCreate(void) {
  const Driver *d = driver("mgpuStreamCreate");
  CUstream stream = nullptr;
  if (!d || failed(d->streamCreate(&stream, CU_STREAM_NON_BLOCKING),
                   "cuStreamCreate"))
    raiseFailure();
  return stream;
}

void mgpuStreamDestroy(void *stream) {
  const Driver *d = driver("mgpuStreamDestroy");
  if (!d || failed(d->streamDestroy(static_cast<CUstream>(stream)),
                   "cuStreamDestroy"))
    raiseFailure();
}

void mgpuStreamSynchronize(void *stream) {
  // Faults of a kernel surface here, after its launch succeeded.
  const Driver *d = driver("mgpuStreamSynchronize");
  if (!d || failed(d->streamSynchronize(static_cast<CUstream>(stream)),
                   "cuStreamSynchronize (waiting for a kernel)"))
    raiseFailure();
}

void *_mlir_memref_to_llvm_alloc(size_t bytes) {
  return moeCudaAllocate(bytes);
}

void _mlir_memref_to_llvm_free(void *pointer) { moeCudaFree(pointer); }

} // extern "C"
