//===- Losses.cpp - Lowering of the balancing losses ----------------------===//
//
// moe.importance, moe.load, moe.cv_squared, moe.switch_loss and moe.z_loss.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::lowering;

namespace {

struct ImportanceLowering : OpConversionPattern<ImportanceOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ImportanceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    for (unsigned dim : {0u, 1u})
      requireSameSize(rewriter, loc, adaptor.getIndices(), dim,
                      adaptor.getGates(), dim,
                      "moe.importance: 'indices' and 'gates' differ in shape");
    Value importance =
        sumPerExpert(rewriter, loc, adaptor.getIndices(), adaptor.getGates(),
                     op.getNumExperts(), computeType(elementType));
    rewriter.replaceOp(op,
                       convertTensor(rewriter, loc, importance, elementType));
    return success();
  }
};

/// The load estimator runs on rows `[R, m]`: one row per token, or per token
/// and group for the secondary level of a hierarchical layer.
struct LoadLowering : OpConversionPattern<LoadOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(LoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Type mathType = computeType(elementType);
    Value logits = adaptor.getLogits();
    unsigned rank = cast<RankedTensorType>(logits.getType()).getRank();
    bool grouped = rank == 3;
    for (Value noise : {adaptor.getCleanLogits(), adaptor.getNoiseStddev()})
      if (noise)
        for (unsigned dim = 0; dim < rank; ++dim)
          requireSameSize(rewriter, loc, noise, dim, logits, dim,
                          "moe.load: the noise operands and 'logits' differ "
                          "in shape");
    if (Value primaryIndices = adaptor.getPrimaryIndices()) {
      requireSameSize(rewriter, loc, primaryIndices, 0, logits, 0,
                      "moe.load: 'primary_indices' and 'logits' differ in "
                      "the number of tokens");
      requireSameSize(rewriter, loc, adaptor.getPrimaryLoad(), 0, logits, 1,
                      "moe.load: 'primary_load' and 'logits' differ in the "
                      "number of groups");
    }
    auto asRows = [&](Value value) -> Value {
      if (!value || !grouped)
        return value;
      return tensor::CollapseShapeOp::create(
          rewriter, loc, value, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    };
    Value probabilities =
        membershipProbabilities(rewriter, loc, asRows(logits),
                                asRows(adaptor.getCleanLogits()),
                                asRows(adaptor.getNoiseStddev()), op.getK(),
                                mathType);

    Value load;
    if (!grouped) {
      load = sumOverFirstDim(rewriter, loc, probabilities);
    } else {
      SmallVector<OpFoldResult> groupedSizes =
          tensor::getMixedSizes(rewriter, loc, logits);
      auto groupedType = RankedTensorType::get(
          cast<RankedTensorType>(logits.getType()).getShape(), mathType);
      Value perGroup = tensor::ExpandShapeOp::create(
          rewriter, loc, groupedType, probabilities,
          ArrayRef<ReassociationIndices>{{0, 1}, {2}}, groupedSizes);
      load = adaptor.getPrimaryIndices()
                 ? loadWithinGroups(rewriter, loc, perGroup,
                                    adaptor.getPrimaryIndices(),
                                    adaptor.getPrimaryLoad(), mathType)
                 : sumOverTokens(rewriter, loc, perGroup, Value());
    }
    load = convertTensor(rewriter, loc, load, elementType);
    rewriter.replaceOp(op, castToType(rewriter, loc, load, op.getType()));
    return success();
  }

  /// `P[r, e]`: with noise, the probability that entry `e` of row `r` stays
  /// in the top k when its noise is redrawn,
  /// `Phi((clean - kth_excluding(logits, k, e)) / stddev)`; without, 1 where
  /// `e` is in the row's top k and 0 elsewhere. A row shorter than k + 1 has
  /// no (k+1)-th value: top-k selection then yields -inf there, so P is 1.
  static Value membershipProbabilities(OpBuilder &b, Location loc,
                                       Value logits, Value clean,
                                       Value stddev, int64_t k,
                                       Type mathType) {
    bool noisy = static_cast<bool>(clean);
    auto [values, indices] =
        topK(b, loc, logits, noisy ? k + 1 : k, b.getI64Type());
    SmallVector<Value> inputs = {logits, extractColumn(b, loc, values, k - 1),
                                 extractColumn(b, loc, indices, k - 1)};
    if (noisy)
      llvm::append_range(inputs, ValueRange{extractColumn(b, loc, values, k),
                                            clean, stddev});
    AffineMap identity = b.getMultiDimIdentityMap(2);
    AffineMap row = projection(b.getContext(), 2, {0});
    SmallVector<AffineMap> maps = {identity, row, row};
    if (noisy)
      llvm::append_range(maps, ArrayRef<AffineMap>{row, identity, identity});
    Value init =
        emptyTensor(b, loc, tensor::getMixedSizes(b, loc, logits), mathType);
    return generic(
               b, loc, inputs, maps, init, identity,
               {utils::IteratorType::parallel, utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 // Ranked as top-k selection ranks it, so a NaN that top-k
                 // picked (as -inf) counts as picked here too.
                 Value key = rankingKey(nb, nl, args[0], mathType);
                 Value kth = convertFloat(nb, nl, args[1], mathType);
                 Value kthColumn = args[2];
                 Value column = castIndex(
                     nb, nl, linalg::IndexOp::create(nb, nl, 1), nb.getI64Type());
                 // In the top k exactly when top-k selection (value
                 // descending, lower column first) reaches it by the k-th
                 // pick.
                 Value inTopK = arith::OrIOp::create(
                     nb, nl,
                     arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OGT,
                                           key, kth),
                     arith::AndIOp::create(
                         nb, nl,
                         arith::CmpFOp::create(nb, nl,
                                               arith::CmpFPredicate::OEQ, key,
                                               kth),
                         arith::CmpIOp::create(nb, nl,
                                               arith::CmpIPredicate::sle,
                                               column, kthColumn)));
                 if (!noisy)
                   return SmallVector<Value>{arith::SelectOp::create(
                       nb, nl, inTopK, floatConstant(nb, nl, mathType, 1.0),
                       floatConstant(nb, nl, mathType, 0.0))};
                 Value next = convertFloat(nb, nl, args[3], mathType);
                 Value threshold =
                     arith::SelectOp::create(nb, nl, inTopK, next, kth);
                 Value margin = arith::SubFOp::create(
                     nb, nl, convertFloat(nb, nl, args[4], mathType),
                     threshold);
                 Value z = arith::DivFOp::create(
                     nb, nl, margin, convertFloat(nb, nl, args[5], mathType));
                 return SmallVector<Value>{normalCdf(nb, nl, z)};
               })
        .front();
  }

  /// `[a, b]` sums over tokens of `perGroup` `[T, a, b]`, each token weighted
  /// by `tokenWeights` `[T, a]` where given.
  static Value sumOverTokens(OpBuilder &b, Location loc, Value perGroup,
                             Value tokenWeights) {
    MLIRContext *ctx = b.getContext();
    Type type = cast<RankedTensorType>(perGroup.getType()).getElementType();
    Value init = filledTensor(b, loc,
                              {tensor::getMixedSize(b, loc, perGroup, 1),
                               tensor::getMixedSize(b, loc, perGroup, 2)},
                              type, 0.0);
    SmallVector<Value> inputs = {perGroup};
    SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(3)};
    if (tokenWeights) {
      inputs.push_back(tokenWeights);
      maps.push_back(projection(ctx, 3, {0, 1}));
    }
    return generic(b, loc, inputs, maps, init, projection(ctx, 3, {1, 2}),
                   {utils::IteratorType::reduction,
                    utils::IteratorType::parallel,
                    utils::IteratorType::parallel},
                   [&](OpBuilder &nb, Location nl, ValueRange args) {
                     Value term = args[0];
                     if (tokenWeights)
                       term = arith::MulFOp::create(nb, nl, term, args[1]);
                     return SmallVector<Value>{
                         arith::AddFOp::create(nb, nl, args.back(), term)};
                   })
        .front();
  }

  /// SPEC §1.3: `Load_H[i, j] = primary_load[i] * Load_i(X^(i))[j] /
  /// |X^(i)|`, with `X^(i)` the tokens whose primary choices include group
  /// `i`; 0 for a group no token chose.
  static Value loadWithinGroups(OpBuilder &b, Location loc, Value perGroup,
                                Value primaryIndices, Value primaryLoad,
                                Type mathType) {
    MLIRContext *ctx = b.getContext();
    // routed[t, i] = 1 if token t chose group i, else 0.
    Value routedInit =
        filledTensor(b, loc,
                     {tensor::getMixedSize(b, loc, perGroup, 0),
                      tensor::getMixedSize(b, loc, perGroup, 1)},
                     mathType, 0.0);
    Value routed =
        generic(b, loc, primaryIndices, projection(ctx, 3, {0, 2}),
                routedInit, projection(ctx, 3, {0, 1}),
                {utils::IteratorType::parallel, utils::IteratorType::parallel,
                 utils::IteratorType::reduction},
                [&](OpBuilder &nb, Location nl, ValueRange args) {
                  Value group =
                      castIndex(nb, nl, linalg::IndexOp::create(nb, nl, 1),
                                args[0].getType());
                  Value chosen = arith::CmpIOp::create(
                      nb, nl, arith::CmpIPredicate::eq, args[0], group);
                  Value mark = arith::SelectOp::create(
                      nb, nl, chosen, floatConstant(nb, nl, mathType, 1.0),
                      floatConstant(nb, nl, mathType, 0.0));
                  return SmallVector<Value>{
                      arith::MaximumFOp::create(nb, nl, args[1], mark)};
                })
            .front();
    Value withinLoad = sumOverTokens(b, loc, perGroup, routed);
    Value groupTokens = sumOverFirstDim(b, loc, routed);
    Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, withinLoad),
                             mathType);
    AffineMap group = projection(ctx, 2, {0});
    return generic(
               b, loc, {withinLoad, groupTokens, primaryLoad},
               {b.getMultiDimIdentityMap(2), group, group}, init,
               b.getMultiDimIdentityMap(2),
               {utils::IteratorType::parallel, utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 Value zero = floatConstant(nb, nl, mathType, 0.0);
                 Value scaled = arith::DivFOp::create(
                     nb, nl,
                     arith::MulFOp::create(
                         nb, nl, convertFloat(nb, nl, args[2], mathType),
                         args[0]),
                     args[1]);
                 Value empty = arith::CmpFOp::create(
                     nb, nl, arith::CmpFPredicate::OEQ, args[1], zero);
                 return SmallVector<Value>{
                     arith::SelectOp::create(nb, nl, empty, zero, scaled)};
               })
        .front();
  }
};

struct CVSquaredLowering : OpConversionPattern<CVSquaredOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(CVSquaredOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Type mathType = computeType(elementType);
    Value input = adaptor.getInput();
    if (cast<RankedTensorType>(input.getType()).getRank() == 2)
      input = tensor::CollapseShapeOp::create(rewriter, loc, input,
                                              ArrayRef<ReassociationIndices>{
                                                  {0, 1}});
    input = convertTensor(rewriter, loc, input, mathType);

    Value count = dimAsFloat(rewriter, loc, input, 0, mathType);
    Value mean = arith::DivFOp::create(rewriter, loc,
                                       sumAll(rewriter, loc, input), count);
    Value init = emptyTensor(rewriter, loc,
                             tensor::getMixedSizes(rewriter, loc, input),
                             mathType);
    Value squaredDeviations =
        elementwise(rewriter, loc, input, init,
                    [&](OpBuilder &b, Location l, ValueRange args) {
                      Value deviation = arith::SubFOp::create(b, l, args[0],
                                                              mean);
                      return SmallVector<Value>{
                          arith::MulFOp::create(b, l, deviation, deviation)};
                    })
            .front();
    Value one = floatConstant(rewriter, loc, mathType, 1.0);
    Value variance = arith::DivFOp::create(
        rewriter, loc, sumAll(rewriter, loc, squaredDeviations),
        arith::SubFOp::create(rewriter, loc, count, one));
    Value meanSquared = arith::MulFOp::create(rewriter, loc, mean, mean);
    Value denominator = arith::AddFOp::create(
        rewriter, loc, meanSquared,
        floatConstant(rewriter, loc, mathType, 1e-10));
    Value ratio = arith::DivFOp::create(rewriter, loc, variance, denominator);
    rewriter.replaceOp(op, weightedLoss(rewriter, loc, op.getWeight(), ratio,
                                        elementType));
    return success();
  }
};

struct ZLossLowering : OpConversionPattern<ZLossOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ZLossOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Type mathType = computeType(elementType);
    Value logits = convertTensor(rewriter, loc, adaptor.getLogits(), mathType);
    Value max = rowMax(rewriter, loc, logits);
    Value sumExp =
        rowSum(rewriter, loc, expOfDifference(rewriter, loc, logits, max));
    Value init = emptyTensor(rewriter, loc,
                             tensor::getMixedSizes(rewriter, loc, max),
                             mathType);
    Value squaredLogSumExp =
        elementwise(rewriter, loc, {max, sumExp}, init,
                    [&](OpBuilder &b, Location l, ValueRange args) {
                      Value logSumExp = arith::AddFOp::create(
                          b, l, args[0], math::LogOp::create(b, l, args[1]));
                      return SmallVector<Value>{
                          arith::MulFOp::create(b, l, logSumExp, logSumExp)};
                    })
            .front();
    Value mean = arith::DivFOp::create(
        rewriter, loc, sumAll(rewriter, loc, squaredLogSumExp),
        dimAsFloat(rewriter, loc, logits, 0, mathType));
    rewriter.replaceOp(op, weightedLoss(rewriter, loc, op.getWeight(), mean,
                                        elementType));
    return success();
  }
};

struct SwitchLossLowering : OpConversionPattern<SwitchLossOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(SwitchLossOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Type mathType = computeType(elementType);
    Value logits = convertTensor(rewriter, loc, adaptor.getLogits(), mathType);
    Value indices = adaptor.getIndices();
    requireSameSize(rewriter, loc, indices, 0, logits, 0,
                    "moe.switch_loss: 'indices' and 'logits' differ in the "
                    "number of tokens");
    auto logitsType = cast<RankedTensorType>(logits.getType());
    int64_t numExperts = logitsType.getDimSize(1);
    if (ShapedType::isDynamic(numExperts))
      return rewriter.notifyMatchFailure(op, "the expert count must be static");

    // n * sum_e f_e * p_e with f_e = count_e / (T * k) and
    // p_e = probabilitySum_e / T.
    Value counts =
        sumPerExpert(rewriter, loc, indices, Value(), numExperts, mathType);
    Value probabilitySums =
        sumOverFirstDim(rewriter, loc, softmaxRows(rewriter, loc, logits));
    Value products =
        elementwise(rewriter, loc, {counts, probabilitySums},
                    emptyTensor(rewriter, loc,
                                {rewriter.getIndexAttr(numExperts)}, mathType),
                    [](OpBuilder &b, Location l, ValueRange args) {
                      return SmallVector<Value>{
                          arith::MulFOp::create(b, l, args[0], args[1])};
                    })
            .front();
    Value numTokens = dimAsFloat(rewriter, loc, indices, 0, mathType);
    Value perToken = dimAsFloat(rewriter, loc, indices, 1, mathType);
    Value normalizer = arith::MulFOp::create(
        rewriter, loc, arith::MulFOp::create(rewriter, loc, numTokens, perToken),
        numTokens);
    Value loss = arith::DivFOp::create(
        rewriter, loc,
        arith::MulFOp::create(
            rewriter, loc,
            floatConstant(rewriter, loc, mathType,
                          static_cast<double>(numExperts)),
            sumAll(rewriter, loc, products)),
        normalizer);
    rewriter.replaceOp(op, weightedLoss(rewriter, loc, op.getWeight(), loss,
                                        elementType));
    return success();
  }
};

} // namespace

void lowering::populateLossLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<ImportanceLowering, LoadLowering, CVSquaredLowering,
               SwitchLossLowering, ZLossLowering>(patterns.getContext());
}
