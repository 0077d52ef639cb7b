//===- ParallelIteratorsFirst.cpp - Reductions inside parallel loops ------===//
//
// Interchanges the loops of linalg.generic ops so that every parallel
// iterator comes before every reduction, through the upstream
// interchangeGenericOp.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEPARALLELITERATORSFIRST
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

struct ParallelIteratorsFirst : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<unsigned> parallel, reductions;
    for (auto [position, iterator] :
         llvm::enumerate(op.getIteratorTypesArray()))
      (linalg::isParallelIterator(iterator) ? parallel : reductions)
          .push_back(position);
    if (parallel.empty() || reductions.empty() ||
        reductions.front() > parallel.back())
      return rewriter.notifyMatchFailure(op, "parallel iterators come first");
    SmallVector<unsigned> order(parallel);
    order.append(reductions);
    return linalg::interchangeGenericOp(rewriter, op, order);
  }
};

struct MoEParallelIteratorsFirstPass
    : moe::impl::MoEParallelIteratorsFirstBase<MoEParallelIteratorsFirstPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ParallelIteratorsFirst>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
