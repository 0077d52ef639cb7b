//===- PackedWeightGemm.h - The GEMM over packed expert weights -*- C++ -*-===//
//
// The `linalg.generic` that `moe-materialize-packed-weights` makes of a GEMM
// over packed weights and that `convert-linalg-to-blas` runs in place,
// defined once so that the two agree.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOE_TRANSFORMS_PACKEDWEIGHTGEMM_H
#define MOE_DIALECT_MOE_TRANSFORMS_PACKEDWEIGHTGEMM_H

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

namespace mlir::moe {

/// Indexing maps of `out[m, n1 * width + n0] += lhs[m, k1 * depth + k0] *
/// packed[k1, n1, k0, n0]` over the loops (m, n1, n0, k1, k0), for panels of
/// `depth` weight rows by `width` columns.
inline SmallVector<AffineMap>
getPackedWeightGemmMaps(MLIRContext *ctx, int64_t depth, int64_t width) {
  AffineExpr m, n1, n0, k1, k0;
  bindDims(ctx, m, n1, n0, k1, k0);
  return {AffineMap::get(5, 0, {m, k1 * depth + k0}, ctx),
          AffineMap::get(5, 0, {k1, n1, k0, n0}, ctx),
          AffineMap::get(5, 0, {m, n1 * width + n0}, ctx)};
}

/// Its loops: (m, n1, n0) parallel, (k1, k0) reductions.
inline SmallVector<utils::IteratorType> getPackedWeightGemmIterators() {
  using utils::IteratorType;
  return {IteratorType::parallel, IteratorType::parallel,
          IteratorType::parallel, IteratorType::reduction,
          IteratorType::reduction};
}

} // namespace mlir::moe

#endif // MOE_DIALECT_MOE_TRANSFORMS_PACKEDWEIGHTGEMM_H
