//===- HostArray.h - Dense arrays in host memory ----------------*- C++ -*-===//
//
// The arrays that cross the boundary between a caller (the runner, the C API,
// Python) and compiled code: a C-ordered buffer with an element kind and a
// shape, and their `.npy` encoding.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_EXECUTION_HOSTARRAY_H
#define MOE_EXECUTION_HOSTARRAY_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class Type;
namespace moe {

/// The element types compiled entry points accept and return.
enum class ElementKind { F16, BF16, F32, F64, I32, I64 };

/// Bytes per element.
size_t getElementSize(ElementKind kind);

/// The MLIR spelling (`f32`, `bf16`, ...).
StringRef getElementKindName(ElementKind kind);

/// The kind of an MLIR element type, if it is one compiled code exchanges.
std::optional<ElementKind> getElementKind(Type type);

/// Checks that `shape` is one compiled code can take: no negative size, and
/// few enough elements (2^48) that every product of sizes, stride and byte
/// count it computes in int64_t stays far from overflow, even when another
/// size is zero.
llvm::Error checkShape(ArrayRef<int64_t> shape);

/// A dense, C-ordered array in host memory that the caller owns: what an
/// entry point reads its arguments from, without a copy.
struct HostArrayRef {
  ElementKind kind = ElementKind::F32;
  ArrayRef<int64_t> shape;
  const void *data = nullptr;

  int64_t getNumElements() const;
  size_t getSizeInBytes() const {
    return getNumElements() * getElementSize(kind);
  }
  /// `tensor<4x512xf32>`-style description for messages.
  std::string describe() const;
};

/// Allocates like std::allocator but leaves the bytes a vector grows by
/// uninitialized: arrays are sized and then filled by a read or a copy, and
/// zeroing gigabytes of weights first is one more pass over memory.
template <typename T> struct UninitializedAllocator : std::allocator<T> {
  template <typename U> struct rebind {
    using other = UninitializedAllocator<U>;
  };
  template <typename U> void construct(U *element) {
    ::new (static_cast<void *>(element)) U;
  }
  template <typename U, typename... Args>
  void construct(U *element, Args &&...args) {
    ::new (static_cast<void *>(element)) U(std::forward<Args>(args)...);
  }
};

/// A dense, C-ordered array owned by the host. `data.resize` leaves the new
/// bytes uninitialized.
struct HostArray {
  ElementKind kind = ElementKind::F32;
  SmallVector<int64_t> shape;
  std::vector<uint8_t, UninitializedAllocator<uint8_t>> data;

  int64_t getNumElements() const;
  /// `tensor<4x512xf32>`-style description for messages.
  std::string describe() const;
  /// Element `index` (in C order) widened to double.
  double getAsDouble(int64_t index) const;

  operator HostArrayRef() const { return {kind, shape, data.data()}; }
};

/// Decodes the `.npy` bytes in `contents`; `name` is used in error messages.
/// Accepts little-endian `<f2`, `<f4`, `<f8`, `<i4`, `<i8`, and `<u2` as
/// bf16 bit patterns (the ml_dtypes/uint16 convention); `ml_dtypes`'
/// `bfloat16` descr (`<V2`) is taken as bf16 too.
llvm::Expected<HostArray> parseNpy(StringRef contents, StringRef name);

/// Reads and decodes the `.npy` file at `path`.
llvm::Expected<HostArray> readNpy(StringRef path);

/// Encodes `array` as `.npy` (format 1.0); bf16 is written as `<u2`.
std::string encodeNpy(const HostArray &array);

/// Writes `array` to `path` as `.npy`.
llvm::Error writeNpy(StringRef path, const HostArray &array);

} // namespace moe
} // namespace mlir

#endif // MOE_EXECUTION_HOSTARRAY_H
