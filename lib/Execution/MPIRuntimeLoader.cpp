//===- MPIRuntimeLoader.cpp - Load the MPI runtime on first use -----------===//

#include "MPIRuntimeLoader.h"

#include "moe/Runtime/MPIRuntime.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <optional>

using namespace mlir;
using namespace mlir::moe;

/// The runtime beside the binary or library this code is linked into: the
/// library folder of the build tree or of an installation holds both it and
/// libMoECAPI.so, and `bin/moe-run` finds it in `../lib`. Empty where MPI
/// was not found when the project was configured.
static std::string builtRuntimePath() {
#ifdef MOE_MPI_RUNTIME_NAME
  auto *self = reinterpret_cast<void *>(&builtRuntimePath);
  Dl_info info;
  if (!dladdr(self, &info) || !info.dli_fname)
    return "";
  // For the main program dladdr names argv[0], which a PATH lookup leaves
  // without a folder; a symbolic link points elsewhere than the binary.
  std::string binary = info.dli_fname;
  if (!llvm::sys::path::has_parent_path(binary))
    binary = llvm::sys::fs::getMainExecutable(nullptr, self);
  SmallString<256> path;
  if (llvm::sys::fs::real_path(binary, path))
    return "";
  llvm::sys::path::remove_filename(path);
  llvm::sys::path::append(path, "..", MOE_INSTALL_LIBDIR, MOE_MPI_RUNTIME_NAME);
  return std::string(path);
#else
  return "";
#endif
}

static llvm::Expected<MPIRuntime>
openRuntime(void (*errorHandler)(const char *message)) {
  const char *override = std::getenv("MOE_MPI_RUNTIME");
  std::string path = override ? override : builtRuntimePath();
  if (path.empty())
    return llvm::createStringError(
        "expert parallelism needs MPI, and this build has no MPI runtime "
        "(MPI was not found when it was configured; install libmpich-dev "
        "and reconfigure)");
  // RTLD_GLOBAL: MPI implementations load their own plugins, which expect
  // MPI's symbols to be global.
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (!library)
    return llvm::createStringError(
        Twine("expert parallelism needs MPI: cannot load the MPI runtime: ") +
        dlerror());
  auto symbol = [&](StringRef name) -> llvm::Expected<void *> {
    if (void *address = dlsym(library, name.str().c_str()))
      return address;
    return llvm::createStringError("the MPI runtime '" + path +
                                   "' lacks '" + name + "'");
  };

  auto initialize = symbol("moeMpiInitialize");
  if (!initialize)
    return initialize.takeError();
  auto setErrorHandler = symbol("moeMpiSetErrorHandler");
  if (!setErrorHandler)
    return setErrorHandler.takeError();
  auto abort = symbol("moeMpiAbort");
  if (!abort)
    return abort.takeError();
  MPIRuntime runtime;
  runtime.abort = reinterpret_cast<decltype(&moeMpiAbort)>(*abort);
#define MOE_MPI_ALL_TO_ALL_NAME(type, bytes) "moe_mpi_all_to_all_" #type,
  for (StringRef name : {"moe_mpi_exchange_counts",
                         MOE_MPI_ROW_TYPES(MOE_MPI_ALL_TO_ALL_NAME)}) {
#undef MOE_MPI_ALL_TO_ALL_NAME
    auto address = symbol(name);
    if (!address)
      return address.takeError();
    runtime.entryPoints.emplace_back(name.str(), *address);
  }

  char message[256] = {};
  auto *initializeFunction =
      reinterpret_cast<decltype(&moeMpiInitialize)>(*initialize);
  if (initializeFunction(&runtime.group.rank, &runtime.group.size, message,
                         sizeof(message)) != 0)
    return llvm::createStringError(Twine("cannot join the MPI job: ") +
                                   message);
  reinterpret_cast<decltype(&moeMpiSetErrorHandler)>(*setErrorHandler)(
      errorHandler);
  return runtime;
}

namespace {
std::mutex mutex;
std::optional<MPIRuntime> loaded;
} // namespace

const MPIRuntime *moe::getLoadedMPIRuntime() {
  std::lock_guard<std::mutex> lock(mutex);
  return loaded ? &*loaded : nullptr;
}

llvm::Expected<const MPIRuntime &>
moe::loadMPIRuntime(void (*errorHandler)(const char *message)) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!loaded) {
    auto runtime = openRuntime(errorHandler);
    if (!runtime)
      return runtime.takeError();
    loaded = std::move(*runtime);
  }
  return *loaded;
}
