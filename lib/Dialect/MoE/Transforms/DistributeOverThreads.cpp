//===- DistributeOverThreads.cpp - Token loops split over threads ---------===//
//
// Tiles the linalg ops of a lowered layer that run over the tokens into
// `scf.forall`s of one block of rows per thread, through the upstream
// TilingInterface.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEDISTRIBUTEOVERTHREADS
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

struct MoEDistributeOverThreadsPass
    : moe::impl::MoEDistributeOverThreadsBase<MoEDistributeOverThreadsPass> {
  using MoEDistributeOverThreadsBase::MoEDistributeOverThreadsBase;

  void runOnOperation() override {
    if (threads < 1 || minRows < 1) {
      emitError(getOperation()->getLoc())
          << "moe-distribute-over-threads: 'threads' and 'min-rows' must be "
             "positive, got "
          << threads.getValue() << " and " << minRows.getValue();
      return signalPassFailure();
    }
    if (threads == 1)
      return;
    func::FuncOp function = getOperation();
    SmallVector<linalg::LinalgOp> candidates;
    for (Operation &op : function.getBody().getOps())
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(&op);
          linalgOp && linalgOp.hasPureTensorSemantics() &&
          isa<TilingInterface>(&op))
        candidates.push_back(linalgOp);

    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      std::optional<unsigned> rowLoop = firstLargeParallelLoop(op);
      if (!rowLoop)
        continue;
      // One thread count along the row loop, none (0) along the others.
      SmallVector<OpFoldResult> numThreads(op.getNumLoops(),
                                           rewriter.getIndexAttr(0));
      numThreads[*rowLoop] = rewriter.getIndexAttr(threads);
      scf::SCFTilingOptions options;
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      options.setNumThreads(numThreads);
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled))
        continue;
      rewriter.replaceOp(op, tiled->replacements);
    }
  }

  /// The first parallel loop of `op`, if it runs over enough rows to be
  /// worth a fork: a dynamic size (the tokens) or at least `minRows`.
  std::optional<unsigned> firstLargeParallelLoop(linalg::LinalgOp op) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    for (auto [loop, type] : llvm::enumerate(op.getIteratorTypesArray())) {
      if (type != utils::IteratorType::parallel)
        continue;
      if (ShapedType::isDynamic(ranges[loop]) || ranges[loop] >= minRows)
        return loop;
      return std::nullopt;
    }
    return std::nullopt;
  }
};

} // namespace
