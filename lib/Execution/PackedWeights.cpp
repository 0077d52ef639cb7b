//===- PackedWeights.cpp - Expert weights packed in the GEMMs' panels -----===//
//
// The host side of `moe-pack-expert-weights`: the caller packs each weight
// once, in place, into the layout the packed variant's `linalg.unpack`
// states.
//
//===----------------------------------------------------------------------===//

#include "moe/Execution/Executable.h"

#include <cstring>

using namespace mlir;
using namespace mlir::moe;

llvm::Expected<SmallVector<int64_t>>
moe::packExpertWeights(ElementKind kind, ArrayRef<int64_t> shape, void *data,
                       std::array<int64_t, 2> tiles) {
  auto [depth, width] = tiles;
  if (shape.size() != 3 || depth < 1 || width < 1 || shape[1] % depth != 0 ||
      shape[2] % width != 0)
    return llvm::createStringError(
        "cannot pack " + HostArrayRef{kind, shape, data}.describe() +
        " in panels of " + Twine(depth) + " x " + Twine(width) +
        ": expected [experts, K, N] with K and N multiples of the panel");
  int64_t experts = shape[0], rows = shape[1], columns = shape[2];
  SmallVector<int64_t> packedShape = {experts, rows / depth, columns / width,
                                      depth, width};
  // Shapes from the C API are not bounded otherwise: the byte counts below
  // must not overflow.
  if (auto error = checkShape(shape))
    return llvm::createStringError("cannot pack the weights: " +
                                   llvm::toString(std::move(error)));
  if (HostArrayRef{kind, shape, data}.getNumElements() == 0)
    return packedShape;
  size_t elementSize = getElementSize(kind);
  size_t expertBytes = rows * columns * elementSize;
  size_t segmentBytes = width * elementSize;
  // Each expert's panels take the place of its rows: a copy of the rows is
  // all the memory the packing needs.
  std::vector<uint8_t> expertRows(expertBytes);
  for (int64_t expert = 0; expert < experts; ++expert) {
    uint8_t *packed = static_cast<uint8_t *>(data) + expert * expertBytes;
    std::memcpy(expertRows.data(), packed, expertBytes);
    for (int64_t firstRow = 0; firstRow < rows; firstRow += depth)
      for (int64_t firstColumn = 0; firstColumn < columns; firstColumn += width)
        for (int64_t row = firstRow; row < firstRow + depth; ++row) {
          std::memcpy(packed,
                      expertRows.data() +
                          (row * columns + firstColumn) * elementSize,
                      segmentBytes);
          packed += segmentBytes;
        }
  }
  return packedShape;
}

llvm::Error moe::packExpertWeights(HostArray &weights,
                                   std::array<int64_t, 2> tiles) {
  auto packedShape = packExpertWeights(weights.kind, weights.shape,
                                       weights.data.data(), tiles);
  if (!packedShape)
    return packedShape.takeError();
  weights.shape.assign(packedShape->begin(), packedShape->end());
  return llvm::Error::success();
}
