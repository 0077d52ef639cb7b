//===- FuseExperts.cpp - dispatch + expert_ffn + combine to routed_ffn ----===//

#include "moe/Dialect/MoE/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFUSEEXPERTS
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

struct FuseDispatchExpertsCombine : OpRewritePattern<CombineOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CombineOp combine,
                                PatternRewriter &rewriter) const override {
    auto ffn = combine.getExpertOutput().getDefiningOp<ExpertFFNOp>();
    if (!ffn || !ffn.getOffsets())
      return rewriter.notifyMatchFailure(
          combine, "not the output of dropless feed-forward experts");
    if (!ffn.getOutput().hasOneUse())
      return rewriter.notifyMatchFailure(
          combine, "the expert outputs have users besides the combine");
    if (ffn.getW1().getType().isDynamicDim(0))
      return rewriter.notifyMatchFailure(
          combine, "moe.routed_ffn needs a static expert count in 'w1'");
    auto dispatch = ffn.getTokens().getDefiningOp<DispatchOp>();
    if (!dispatch || ffn.getOffsets() != dispatch.getOffsets() ||
        combine.getRows() != dispatch.getRows())
      return rewriter.notifyMatchFailure(
          combine, "the experts and the combine do not use one dispatch");

    Location loc = rewriter.getFusedLoc(
        {dispatch.getLoc(), ffn.getLoc(), combine.getLoc()});
    Value fused = RoutedFFNOp::create(
        rewriter, loc, dispatch.getInput(), combine.getGates(),
        dispatch.getIndices(), ffn.getW1(), ffn.getB1(), ffn.getW3(),
        ffn.getW2(), ffn.getB2(), ffn.getActivationAttr());
    if (fused.getType() != combine.getType())
      fused = tensor::CastOp::create(rewriter, loc, combine.getType(), fused);
    rewriter.replaceOp(combine, fused);
    return success();
  }
};

struct MoEFuseExpertsPass
    : moe::impl::MoEFuseExpertsBase<MoEFuseExpertsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseExpertsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::moe::populateFuseExpertsPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseDispatchExpertsCombine>(patterns.getContext());
}
