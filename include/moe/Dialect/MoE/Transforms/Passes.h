//===- Passes.h - MoE dialect transformations -------------------*- C++ -*-===//

#ifndef MOE_DIALECT_MOE_TRANSFORMS_PASSES_H
#define MOE_DIALECT_MOE_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace moe {

#define GEN_PASS_DECL
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"

/// Adds the pattern rewriting `moe.layer` into fine-grained MoE ops.
void populateExpandLayerPatterns(RewritePatternSet &patterns);

/// Adds the pattern fusing `moe.topk` + `moe.route_weights` into
/// `moe.route`.
void populateFuseRoutingPatterns(RewritePatternSet &patterns);

/// Adds the pattern fusing dispatch, `moe.expert_ffn` and combine into
/// `moe.routed_ffn`.
void populateFuseExpertsPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"

} // namespace moe
} // namespace mlir

#endif // MOE_DIALECT_MOE_TRANSFORMS_PASSES_H
