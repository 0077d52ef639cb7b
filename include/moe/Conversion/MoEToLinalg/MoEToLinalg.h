//===- MoEToLinalg.h - MoE ops to linalg ------------------------*- C++ -*-===//

#ifndef MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H
#define MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H

#include <cstdint>

namespace mlir {
class RewritePatternSet;
namespace moe {

/// Adds the patterns lowering MoE ops to linalg/tensor/arith/math.
/// `routedTileRows` is the tile height of `moe.routed_ffn`'s expert GEMMs.
void populateMoEToLinalgConversionPatterns(RewritePatternSet &patterns,
                                           int64_t routedTileRows = 512);

} // namespace moe
} // namespace mlir

#endif // MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H
