//===- MoEToLinalg.cpp - MoE ops to linalg --------------------------------===//
//
// The conversion pass; the patterns of each op family live beside it
// (Gating.cpp, Dispatch.cpp, Experts.cpp, Losses.cpp).
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/Passes.h"

#include "LoweringUtils.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "moe/Dialect/MoE/IR/MoEDialect.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOLINALG
#include "moe/Conversion/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

struct ConvertMoEToLinalgPass
    : moe::impl::ConvertMoEToLinalgBase<ConvertMoEToLinalgPass> {
  using ConvertMoEToLinalgBase::ConvertMoEToLinalgBase;

  void runOnOperation() override {
    for (auto [name, value] : {std::pair{"routed-tile-rows", &routedTileRows},
                               std::pair{"routed-workers", &routedWorkers}})
      if (*value < 1) {
        emitError(getOperation()->getLoc())
            << "convert-moe-to-linalg: '" << name
            << "' must be positive, got " << value->getValue();
        return signalPassFailure();
      }
    // Without these checks the conversion would only say that it failed to
    // legalize the op.
    WalkResult unsupported = getOperation()->walk([](Operation *op) {
      if (isa<LayerOp>(op)) {
        op->emitOpError("must be expanded before it is lowered (run "
                        "--moe-expand-layer first)");
        return WalkResult::interrupt();
      }
      if (isa<AllToAllOp>(op)) {
        op->emitOpError("cannot be lowered to linalg: collectives become "
                        "runtime calls (run --convert-moe-collectives-to-mpi "
                        "first; the CUDA pipeline has no NCCL lowering yet)");
        return WalkResult::interrupt();
      }
      if (auto loss = dyn_cast<SwitchLossOp>(op);
          loss && loss.getLogits().getType().isDynamicDim(1)) {
        op->emitOpError("cannot be lowered with a dynamic number of experts "
                        "(the dimension 1 of 'logits')");
        return WalkResult::interrupt();
      }
      if (auto experts = dyn_cast<ExpertsOp>(op);
          experts && experts.getType().isDynamicDim(
                         experts.getType().getRank() - 1)) {
        op->emitOpError("cannot be lowered with a dynamic output width");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (unsupported.wasInterrupted())
      return signalPassFailure();

    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addIllegalDialect<MoEDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(ctx);
    populateMoEToLinalgConversionPatterns(
        patterns, RoutedFFNLoweringOptions{routedTileRows, routedWorkers});
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::moe::populateMoEToLinalgConversionPatterns(
    RewritePatternSet &patterns, const RoutedFFNLoweringOptions &routed) {
  lowering::populateGatingLoweringPatterns(patterns);
  lowering::populateDispatchLoweringPatterns(patterns);
  lowering::populateExpertLoweringPatterns(patterns, routed);
  lowering::populateLossLoweringPatterns(patterns);
}
