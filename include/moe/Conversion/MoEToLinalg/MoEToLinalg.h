//===- MoEToLinalg.h - MoE ops to linalg ------------------------*- C++ -*-===//

#ifndef MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H
#define MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H

#include <cstdint>

namespace mlir {
class RewritePatternSet;
namespace moe {

/// How `moe.routed_ffn` walks its work: tiles of `tileRows` rows of one
/// expert, shared out over `workers` parallel workers (one: a sequential
/// loop; more: an `scf.forall`, each worker accumulating into its own
/// output).
struct RoutedFFNLoweringOptions {
  int64_t tileRows = 512;
  int64_t workers = 1;
};

/// Adds the patterns lowering MoE ops to linalg/tensor/arith/math.
void populateMoEToLinalgConversionPatterns(
    RewritePatternSet &patterns, const RoutedFFNLoweringOptions &routed = {});

} // namespace moe
} // namespace mlir

#endif // MOE_CONVERSION_MOETOLINALG_MOETOLINALG_H
