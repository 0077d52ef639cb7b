//===- MoEToLinalg.h - MoE ops to linalg ------------------------*- C++ -*-===//

#ifndef MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H
#define MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H

namespace mlir {
class RewritePatternSet;
namespace moe {

/// Adds the patterns lowering MoE ops to linalg/tensor/arith/math.
void populateMoEToLinalgConversionPatterns(RewritePatternSet &patterns);

} // namespace moe
} // namespace mlir

#endif // MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H
