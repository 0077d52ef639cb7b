//===- FuseRouting.cpp - moe.topk + moe.route_weights to moe.route --------===//

#include "moe/Dialect/MoE/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFUSEROUTING
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

struct FuseTopKAndRouteWeights : OpRewritePattern<RouteWeightsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RouteWeightsOp weights,
                                PatternRewriter &rewriter) const override {
    auto topk = weights.getValues().getDefiningOp<TopKOp>();
    if (!topk || topk.getInput() != weights.getLogits())
      return rewriter.notifyMatchFailure(
          weights, "the kept values are not the top-k of these logits");
    if (!topk.getValues().hasOneUse())
      return rewriter.notifyMatchFailure(
          weights, "the kept values have users besides the routing weights");

    // At the top-k, which the users of its indices follow.
    rewriter.setInsertionPoint(topk);
    auto route = RouteOp::create(
        rewriter, rewriter.getFusedLoc({topk.getLoc(), weights.getLoc()}),
        weights.getType(), topk.getIndices().getType(), weights.getLogits(),
        topk.getKAttr(), weights.getNormalizationAttr(),
        weights.getRenormalizeAttr());
    rewriter.replaceOp(weights, route.getGates());
    rewriter.replaceAllUsesWith(topk.getIndices(), route.getIndices());
    rewriter.eraseOp(topk);
    return success();
  }
};

struct MoEFuseRoutingPass
    : moe::impl::MoEFuseRoutingBase<MoEFuseRoutingPass> {
  using MoEFuseRoutingBase::MoEFuseRoutingBase;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseRoutingPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::moe::populateFuseRoutingPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseTopKAndRouteWeights>(patterns.getContext());
}
