//===- BufferCache.h - Reuse of the CPU buffers compiled code allocates ---===//
//
// Compiled code allocates every intermediate buffer on each call (one per
// expert group and GEMM in the dropless layout) and frees it before the call
// returns. Large blocks from malloc come from mmap and go back to the kernel
// on free, so each call page-faults its buffers in again. The cache keeps
// freed blocks by size class for the next call instead.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_EXECUTION_BUFFERCACHE_H
#define LIB_EXECUTION_BUFFERCACHE_H

#include <cstddef>

namespace mlir::moe {

/// A block of at least `bytes` bytes, from the cache when one of its size
/// class is free. Thread-safe. Blocks must go back through
/// `releaseCachedBuffer`.
void *allocateCachedBuffer(size_t bytes);

/// Returns a block to the cache, or to the system once the cache holds its
/// limit of free bytes.
void releaseCachedBuffer(void *block);

} // namespace mlir::moe

#endif // LIB_EXECUTION_BUFFERCACHE_H
