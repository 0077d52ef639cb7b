//===- ShardExperts.cpp - Split the experts over ranks --------------------===//
//
// Expert parallelism on the dropless layout. The rows a dispatch groups by
// expert are already in rank order (rank r's experts are consecutive), so
// the send counts are differences of the group offsets and the grouped rows
// go out as they are. Each row travels with its expert's local index: the
// receiver regroups by it with an ordinary moe.dispatch, and undoes that
// with an ordinary moe.combine, so no new op is needed and the inner
// dispatch, experts and combine fuse like any other.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "moe/Dialect/MoE/IR/MoEDialect.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOESHARDEXPERTS
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// `type` with a dynamic leading dimension: the rows a rank receives.
RankedTensorType withDynamicRows(RankedTensorType type) {
  SmallVector<int64_t> shape(type.getShape());
  shape.front() = ShapedType::kDynamic;
  return type.clone(shape);
}

/// Rows of the grouped `offsets` [n+1] that go to each rank:
/// `offsets[(r+1)m] - offsets[rm]` for `m` experts per rank.
Value buildSendCounts(OpBuilder &b, Location loc, Value offsets,
                      int64_t numRanks, int64_t expertsPerRank) {
  auto offsetsType = cast<RankedTensorType>(offsets.getType());
  SmallVector<Value> rankStarts;
  for (int64_t rank = 0; rank <= numRanks; ++rank) {
    Value position =
        arith::ConstantIndexOp::create(b, loc, rank * expertsPerRank);
    rankStarts.push_back(tensor::ExtractOp::create(b, loc, offsets, position));
  }
  SmallVector<Value> counts;
  for (int64_t rank = 0; rank < numRanks; ++rank)
    counts.push_back(arith::SubIOp::create(b, loc, rankStarts[rank + 1],
                                           rankStarts[rank]));
  return tensor::FromElementsOp::create(
      b, loc, offsetsType.clone({numRanks}), counts);
}

/// The index of each grouped row's expert on its rank, `e mod m`, where the
/// row's expert `e` is the number of later groups that start at or before
/// it: `#{e' in [1, n) : offsets[e'] <= row}`.
Value buildLocalExperts(OpBuilder &b, Location loc, Value rows, Value offsets,
                        int64_t numExperts, int64_t expertsPerRank) {
  auto offsetsType = cast<RankedTensorType>(offsets.getType());
  Type indexType = offsetsType.getElementType();
  Value laterStarts = tensor::ExtractSliceOp::create(
      b, loc, offsets, ArrayRef<OpFoldResult>{b.getIndexAttr(1)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(numExperts - 1)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  OpFoldResult rowCount = tensor::getMixedSize(b, loc, rows, 0);
  Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<OpFoldResult>{rowCount},
                                        indexType);
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(indexType));
  Value zeros = linalg::FillOp::create(b, loc, zero, empty).getResult(0);

  MLIRContext *ctx = b.getContext();
  AffineExpr row = getAffineDimExpr(0, ctx), start = getAffineDimExpr(1, ctx);
  auto experts = linalg::GenericOp::create(
      b, loc, zeros.getType(), laterStarts, zeros,
      ArrayRef<AffineMap>{AffineMap::get(2, 0, start),
                          AffineMap::get(2, 0, row)},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                    utils::IteratorType::reduction},
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value position = arith::IndexCastOp::create(
            nested, nestedLoc, indexType,
            linalg::IndexOp::create(nested, nestedLoc, 0));
        Value started = arith::CmpIOp::create(
            nested, nestedLoc, arith::CmpIPredicate::sle, args[0], position);
        Value step = arith::ExtUIOp::create(nested, nestedLoc, indexType,
                                            started);
        linalg::YieldOp::create(
            nested, nestedLoc,
            ValueRange{arith::AddIOp::create(nested, nestedLoc, args[1], step)
                           .getResult()});
      });

  Value perRank = arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(indexType, expertsPerRank));
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, ctx);
  auto local = linalg::GenericOp::create(
      b, loc, zeros.getType(), experts.getResult(0), empty,
      ArrayRef<AffineMap>{identity, identity},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        linalg::YieldOp::create(
            nested, nestedLoc,
            ValueRange{
                arith::RemUIOp::create(nested, nestedLoc, args[0], perRank)
                    .getResult()});
      });
  return local.getResult(0);
}

/// Rewrites one dropless expert op (`moe.expert_ffn` or `moe.experts`) whose
/// weights already have this rank's types: exchange, regroup, run, restore,
/// exchange back.
template <typename ExpertOpT>
void exchangeAround(ExpertOpT op, int64_t numRanks, int64_t numExperts,
                    IRRewriter &rewriter) {
  Location loc = op.getLoc();
  int64_t expertsPerRank = numExperts / numRanks;
  rewriter.setInsertionPoint(op);
  Value tokens = op.getTokens(), offsets = op.getOffsets();
  auto tokensType = cast<RankedTensorType>(tokens.getType());
  auto offsetsType = cast<RankedTensorType>(offsets.getType());
  auto countsType = offsetsType.clone({numRanks});

  Value sendCounts =
      buildSendCounts(rewriter, loc, offsets, numRanks, expertsPerRank);
  Value localExperts = buildLocalExperts(rewriter, loc, tokens, offsets,
                                         numExperts, expertsPerRank);
  auto receivedTokens = AllToAllOp::create(
      rewriter, loc, TypeRange{withDynamicRows(tokensType), countsType},
      tokens, sendCounts, numRanks);
  auto receivedExperts = AllToAllOp::create(
      rewriter, loc,
      TypeRange{withDynamicRows(
                    cast<RankedTensorType>(localExperts.getType())),
                countsType},
      localExperts, sendCounts, numRanks);
  Value receivedRows =
      tensor::DimOp::create(rewriter, loc, receivedTokens.getOutput(), 0);
  Value choices = tensor::ExpandShapeOp::create(
      rewriter, loc, offsetsType.clone({ShapedType::kDynamic, 1}),
      receivedExperts.getOutput(), ArrayRef<ReassociationIndices>{{0, 1}},
      ArrayRef<OpFoldResult>{receivedRows, rewriter.getIndexAttr(1)});
  auto regroup = DispatchOp::create(rewriter, loc, receivedTokens.getOutput(),
                                    choices, expertsPerRank);

  Value output = op.getOutput();
  auto outputType = cast<RankedTensorType>(output.getType());
  rewriter.modifyOpInPlace(op, [&] {
    op.getTokensMutable().assign(regroup.getTokens());
    op.getOffsetsMutable().assign(regroup.getOffsets());
    output.setType(withDynamicRows(outputType));
  });

  rewriter.setInsertionPointAfter(op);
  Type elementType = outputType.getElementType();
  Value unitGates = linalg::FillOp::create(
                        rewriter, loc,
                        arith::ConstantOp::create(
                            rewriter, loc, rewriter.getFloatAttr(elementType, 1.0))
                            .getResult(),
                        tensor::EmptyOp::create(
                            rewriter, loc,
                            ArrayRef<OpFoldResult>{receivedRows,
                                                   rewriter.getIndexAttr(1)},
                            elementType)
                            .getResult())
                        .getResult(0);
  auto restore = CombineOp::create(rewriter, loc, output, unitGates,
                                   regroup.getRows());
  auto returned = AllToAllOp::create(
      rewriter, loc, TypeRange{withDynamicRows(outputType), countsType},
      restore.getOutput(), receivedTokens.getRecvCounts(), numRanks);
  Value result = returned.getOutput();
  if (result.getType() != outputType)
    result = tensor::CastOp::create(rewriter, loc, outputType, result);
  rewriter.replaceAllUsesExcept(output, result, restore);
}

struct MoEShardExpertsPass
    : moe::impl::MoEShardExpertsBase<MoEShardExpertsPass> {
  using MoEShardExpertsBase::MoEShardExpertsBase;

  void runOnOperation() override {
    if (numRanks < 1) {
      emitError(getOperation()->getLoc())
          << "moe-shard-experts: 'num-ranks' must be positive, got "
          << numRanks.getValue();
      return signalPassFailure();
    }
    if (numRanks == 1)
      return;
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (failed(shardFunction(func)))
        return signalPassFailure();
  }

  LogicalResult shardFunction(func::FuncOp func);
};

LogicalResult MoEShardExpertsPass::shardFunction(func::FuncOp func) {
  SmallVector<Operation *> expertOps;
  WalkResult walk = func.walk([&](Operation *op) {
    if (isa<RoutedFFNOp>(op)) {
      op->emitOpError("cannot be split over ranks: shard the experts before "
                      "the fusion stage, on moe.dispatch, moe.expert_ffn and "
                      "moe.combine");
      return WalkResult::interrupt();
    }
    if (isa<ExpertFFNOp, ExpertsOp>(op))
      expertOps.push_back(op);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (expertOps.empty())
    return success();

  Block &entry = func.front();
  llvm::SetVector<BlockArgument> weightArguments;
  SmallVector<int64_t> expertCounts;
  for (Operation *op : expertOps) {
    Value offsets = isa<ExpertFFNOp>(op) ? cast<ExpertFFNOp>(op).getOffsets()
                                         : cast<ExpertsOp>(op).getOffsets();
    if (!offsets)
      return op->emitOpError(
          "cannot be split over ranks: expert parallelism needs the dropless "
          "layout (moe.dispatch), not expert capacity");
    int64_t groupBounds =
        cast<RankedTensorType>(offsets.getType()).getDimSize(0);
    if (ShapedType::isDynamic(groupBounds))
      return op->emitOpError("cannot be split over ranks: the expert count "
                             "is dynamic");
    int64_t numExperts = groupBounds - 1;
    if (numExperts % numRanks != 0)
      return op->emitOpError("cannot split ")
             << numExperts << " experts evenly over " << numRanks.getValue()
             << " ranks";
    expertCounts.push_back(numExperts);

    SmallVector<Value> weights;
    if (auto ffn = dyn_cast<ExpertFFNOp>(op))
      llvm::append_range(weights,
                         ValueRange{ffn.getW1(), ffn.getB1(), ffn.getW3(),
                                    ffn.getW2(), ffn.getB2()});
    else
      llvm::append_range(weights, cast<ExpertsOp>(op).getWeights());
    for (Value weight : weights) {
      if (!weight)
        continue;
      if (cast<ShapedType>(weight.getType()).getDimSize(0) != numExperts)
        return op->emitOpError("cannot be split over ranks: a weight does "
                               "not stack ")
               << numExperts << " experts in a static leading dimension";
      auto argument = dyn_cast<BlockArgument>(weight);
      if (!argument || argument.getOwner() != &entry)
        return op->emitOpError("cannot be split over ranks: a weight is not "
                               "an argument of '")
               << func.getName()
               << "' (each rank receives its share of the weights as "
                  "arguments)";
      weightArguments.insert(argument);
    }
  }

  ModuleOp module = getOperation();
  if (!SymbolTable::symbolKnownUseEmpty(func, module))
    return func.emitError("cannot split the experts of '")
           << func.getName()
           << "' over ranks: it has callers, whose weights would change type";
  for (BlockArgument argument : weightArguments)
    for (OpOperand &use : argument.getUses()) {
      Operation *user = use.getOwner();
      bool asWeight =
          llvm::is_contained(expertOps, user) && use.getOperandNumber() >= 2;
      if (!asWeight)
        return user->emitOpError("uses argument #")
               << argument.getArgNumber()
               << ", which holds expert weights split over ranks; only expert "
                  "ops may use it";
    }

  MLIRContext *ctx = &getContext();
  for (BlockArgument argument : weightArguments) {
    auto stacked = cast<RankedTensorType>(argument.getType());
    SmallVector<int64_t> shape(stacked.getShape());
    shape.front() /= numRanks;
    argument.setType(stacked.clone(shape));
    func.setArgAttr(argument.getArgNumber(),
                    MoEDialect::kExpertShardsAttrName,
                    IntegerAttr::get(IntegerType::get(ctx, 64), numRanks));
  }
  func.setFunctionType(
      FunctionType::get(ctx, entry.getArgumentTypes(), func.getResultTypes()));

  IRRewriter rewriter(ctx);
  for (auto [op, numExperts] : llvm::zip(expertOps, expertCounts)) {
    if (auto ffn = dyn_cast<ExpertFFNOp>(op))
      exchangeAround(ffn, numRanks, numExperts, rewriter);
    else
      exchangeAround(cast<ExpertsOp>(op), numRanks, numExperts, rewriter);
  }
  return success();
}

} // namespace
