//===- npy-fuzzer.cpp - libFuzzer target for the .npy reader --------------===//
//
// Every byte string is a candidate .npy file: the reader must return an
// array or an error, never crash, read out of bounds or allocate without
// bound.
//
//===----------------------------------------------------------------------===//

#include "moe/Execution/HostArray.h"

#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef contents(reinterpret_cast<const char *>(data), size);
  auto array = mlir::moe::parseNpy(contents, "input");
  if (!array) {
    llvm::consumeError(array.takeError());
    return 0;
  }
  // A parsed array re-encodes to a file that parses to the same array.
  std::string encoded = mlir::moe::encodeNpy(*array);
  auto again = mlir::moe::parseNpy(encoded, "re-encoded");
  if (!again || again->shape != array->shape || again->data != array->data)
    __builtin_trap();
  return 0;
}
