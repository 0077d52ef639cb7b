//===- BufferCache.cpp - Reuse of the CPU buffers compiled code allocates -===//

#include "BufferCache.h"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

using namespace mlir::moe;

namespace {

/// Each block starts with a header recording its size class, so that a
/// release needs only the pointer (as `free` does); the header keeps the
/// payload 64-byte aligned.
constexpr size_t kHeaderBytes = 64;
/// Free bytes kept for reuse; beyond this, released blocks go back to the
/// system.
constexpr size_t kMaxCachedBytes = size_t(1) << 30;
/// Small blocks are served well by malloc itself.
constexpr size_t kSmallestClass = size_t(1) << 12;

struct Cache {
  std::mutex mutex;
  std::map<size_t, std::vector<void *>> freeBlocks;
  size_t cachedBytes = 0;

  ~Cache() {
    for (auto &[size, blocks] : freeBlocks)
      for (void *block : blocks)
        std::free(block);
  }
};

Cache &cache() {
  // Leaked on purpose: compiled code may release buffers from static
  // destructors of other objects after this one would be gone.
  static Cache *instance = new Cache();
  return *instance;
}

/// Rounds up to a power of two, so that the blocks of one size class serve
/// every request up to it.
size_t sizeClass(size_t bytes) {
  size_t size = kSmallestClass;
  while (size < bytes)
    size <<= 1;
  return size;
}

} // namespace

void *mlir::moe::allocateCachedBuffer(size_t bytes) {
  size_t size = sizeClass(bytes);
  void *block = nullptr;
  {
    Cache &state = cache();
    std::lock_guard<std::mutex> lock(state.mutex);
    auto found = state.freeBlocks.find(size);
    if (found != state.freeBlocks.end() && !found->second.empty()) {
      block = found->second.back();
      found->second.pop_back();
      state.cachedBytes -= size;
    }
  }
  if (!block) {
    block = std::malloc(kHeaderBytes + size);
    if (!block)
      return nullptr;
    *static_cast<size_t *>(block) = size;
  }
  return static_cast<char *>(block) + kHeaderBytes;
}

void mlir::moe::releaseCachedBuffer(void *payload) {
  if (!payload)
    return;
  void *block = static_cast<char *>(payload) - kHeaderBytes;
  size_t size = *static_cast<size_t *>(block);
  Cache &state = cache();
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    if (state.cachedBytes + size <= kMaxCachedBytes) {
      state.freeBlocks[size].push_back(block);
      state.cachedBytes += size;
      return;
    }
  }
  std::free(block);
}
