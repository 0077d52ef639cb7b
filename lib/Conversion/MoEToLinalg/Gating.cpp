//===- Gating.cpp - Lowering of gating and routing ops --------------------===//
//
// moe.gate, moe.noisy_gate, moe.topk, moe.route_weights and
// moe.compose_routing to linalg on tensors.
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

/// log(1 + y) accurate for small y on every target (LLVM lowers
/// `math.log1p` to `log(1 + y)`, which loses the low bits of y): with
/// u = 1 + y rounded, log(u) * y / (u - 1) cancels the rounding error of u.
Value log1p(OpBuilder &b, Location loc, Value y) {
  Type type = y.getType();
  Value one = floatConstant(b, loc, type, 1.0);
  Value u = arith::AddFOp::create(b, loc, one, y);
  Value exact = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, u,
                                      one);
  Value corrected = arith::DivFOp::create(
      b, loc,
      arith::MulFOp::create(b, loc, math::LogOp::create(b, loc, u), y),
      arith::SubFOp::create(b, loc, u, one));
  return arith::SelectOp::create(b, loc, exact, y, corrected);
}

struct GateLowering : OpConversionPattern<GateOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    requireSameSize(rewriter, loc, adaptor.getInput(), 1, adaptor.getWGate(),
                    0, "moe.gate: 'input' and 'w_gate' differ in width");
    Value logits = matmul(rewriter, loc, adaptor.getInput(),
                          adaptor.getWGate(), computeType(elementType));
    rewriter.replaceOp(op, convertTensor(rewriter, loc, logits, elementType));
    return success();
  }
};

struct NoisyGateLowering : OpConversionPattern<NoisyGateOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(NoisyGateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getLogits().getType().getElementType();
    Type mathType = computeType(elementType);
    Value input = adaptor.getInput(), noise = adaptor.getNoise();
    requireSameSize(rewriter, loc, input, 1, adaptor.getWGate(), 0,
                    "moe.noisy_gate: 'input' and 'w_gate' differ in width");
    requireSameSize(rewriter, loc, input, 1, adaptor.getWNoise(), 0,
                    "moe.noisy_gate: 'input' and 'w_noise' differ in width");
    requireSameSize(rewriter, loc, adaptor.getWNoise(), 1, adaptor.getWGate(),
                    1, "moe.noisy_gate: 'w_noise' and 'w_gate' differ in the "
                       "number of experts");
    requireSameSize(rewriter, loc, noise, 0, input, 0,
                    "moe.noisy_gate: 'noise' and 'input' differ in the number "
                    "of tokens");
    requireSameSize(rewriter, loc, noise, 1, adaptor.getWGate(), 1,
                    "moe.noisy_gate: 'noise' and 'w_gate' differ in the "
                    "number of experts");
    Value clean = matmul(rewriter, loc, adaptor.getInput(), adaptor.getWGate(),
                         mathType);
    Value noiseLogits = matmul(rewriter, loc, adaptor.getInput(),
                               adaptor.getWNoise(), mathType);
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, clean);
    // One destination per result, so bufferization need not split a shared
    // one.
    SmallVector<Value> inits;
    for (int result = 0; result < 3; ++result)
      inits.push_back(emptyTensor(rewriter, loc, sizes, elementType));
    double epsilon = op.getNoiseEpsilon().convertToDouble();
    SmallVector<Value> results = elementwise(
        rewriter, loc, {clean, noiseLogits, adaptor.getNoise()}, inits,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value cleanValue = args[0], raw = args[1];
          Value sample = convertFloat(b, l, args[2], mathType);
          // softplus(raw) = max(raw, 0) + log1p(exp(-|raw|)), which neither
          // overflows for large raw nor loses precision for negative raw.
          Value zero = floatConstant(b, l, mathType, 0.0);
          Value positivePart = arith::MaximumFOp::create(b, l, raw, zero);
          Value negAbs = arith::NegFOp::create(
              b, l, math::AbsFOp::create(b, l, raw));
          Value softplus = arith::AddFOp::create(
              b, l, positivePart,
              log1p(b, l, math::ExpOp::create(b, l, negAbs)));
          Value stddev = arith::AddFOp::create(
              b, l, softplus, floatConstant(b, l, mathType, epsilon));
          Value noisy = arith::AddFOp::create(
              b, l, cleanValue, arith::MulFOp::create(b, l, sample, stddev));
          return SmallVector<Value>{convertFloat(b, l, noisy, elementType),
                                    convertFloat(b, l, cleanValue, elementType),
                                    convertFloat(b, l, stddev, elementType)};
        });
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// The gate values of the kept logits `values` `[T, k]` (in the math type)
/// under `normalization`; `softmax_topk` also takes each row's maximum and
/// sum of shifted exponentials over all n logits, `[T]` each.
Value normalizeGates(OpBuilder &b, Location loc, Normalization normalization,
                     bool renormalize, Value values, Value logitMax,
                     Value logitExpSum) {
  Type mathType = cast<RankedTensorType>(values.getType()).getElementType();
  Value gates;
  switch (normalization) {
  case Normalization::topk_softmax:
    gates = softmaxRows(b, loc, values);
    break;
  case Normalization::softmax_topk:
    gates = divideRows(b, loc, expOfDifference(b, loc, values, logitMax),
                       logitExpSum);
    break;
  case Normalization::sigmoid_topk:
    gates = mapElements(b, loc, values, mathType,
                        [&](OpBuilder &nb, Location l, Value x) -> Value {
                          Value one = floatConstant(nb, l, mathType, 1.0);
                          Value expNeg = math::ExpOp::create(
                              nb, l, arith::NegFOp::create(nb, l, x));
                          return arith::DivFOp::create(
                              nb, l, one,
                              arith::AddFOp::create(nb, l, one, expNeg));
                        });
    break;
  }
  if (renormalize)
    gates = divideRows(b, loc, gates, rowSum(b, loc, gates));
  return gates;
}

/// `normalizeGates` in `mathType` of the kept logits `values` `[T, k]` of
/// `logits` `[T, n]`, for `softmax_topk` with its own passes over `logits`
/// for their maxima and sums of exponentials.
Value gatesOfKeptLogits(OpBuilder &b, Location loc, Normalization normalization,
                        bool renormalize, Value values, Value logits,
                        Type mathType) {
  Value logitMax, logitExpSum;
  if (normalization == Normalization::softmax_topk) {
    Value wideLogits = convertTensor(b, loc, logits, mathType);
    logitMax = rowMax(b, loc, wideLogits);
    logitExpSum = rowSum(b, loc, expOfDifference(b, loc, wideLogits, logitMax));
  }
  return normalizeGates(b, loc, normalization, renormalize,
                        convertTensor(b, loc, values, mathType), logitMax,
                        logitExpSum);
}

/// Requires at run time that a row with a dynamic width offers `k`
/// candidates.
void requireEnoughCandidates(OpBuilder &b, Location loc, Value input,
                             int64_t k, StringRef opName) {
  if (!cast<RankedTensorType>(input.getType()).isDynamicDim(1))
    return;
  Value enough = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::sge, tensor::DimOp::create(b, loc, input, 1),
      indexConstant(b, loc, k));
  requireAtRunTime(b, loc, enough,
                   opName + ": fewer candidates per row than k");
}

struct TopKLowering : OpConversionPattern<TopKOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(TopKOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    requireEnoughCandidates(rewriter, loc, input, op.getK(), "moe.topk");
    auto [values, indices] = topK(rewriter, loc, input, op.getK(),
                                  op.getIndices().getType().getElementType());
    rewriter.replaceOp(
        op, {castToType(rewriter, loc, values, op.getValues().getType()),
             castToType(rewriter, loc, indices, op.getIndices().getType())});
    return success();
  }
};

struct RouteWeightsLowering : OpConversionPattern<RouteWeightsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(RouteWeightsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Type mathType = computeType(elementType);
    requireSameSize(rewriter, loc, adaptor.getValues(), 0, adaptor.getLogits(),
                    0, "moe.route_weights: 'values' and 'logits' differ in "
                       "the number of tokens");
    Value gates = gatesOfKeptLogits(rewriter, loc, op.getNormalization(),
                                    op.getRenormalize(), adaptor.getValues(),
                                    adaptor.getLogits(), mathType);
    rewriter.replaceOp(op, convertTensor(rewriter, loc, gates, elementType));
    return success();
  }
};

/// One `linalg.generic` (`scanRowTopK`) scans each row of the logits once,
/// reducing it into the k best (key, column) pairs and, for `softmax_topk`,
/// into the running maximum and sum of shifted exponentials (an online
/// softmax). The gates are then computed on `[T, k]` only. Above
/// `kMaxScannedTopK`, where the scan's body would grow with k, the top-k
/// takes selection passes and the softmax its own passes over the row.
struct RouteLowering : OpConversionPattern<RouteOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(RouteOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = adaptor.getLogits();
    Type elementType = op.getGates().getType().getElementType();
    Type indexType = op.getIndices().getType().getElementType();
    Type mathType = computeType(elementType);
    requireEnoughCandidates(rewriter, loc, logits, op.getK(), "moe.route");
    auto [gates, indices] =
        op.getK() > kMaxScannedTopK
            ? selectThenNormalize(rewriter, op, logits, mathType, indexType)
            : scanAndNormalize(rewriter, op, logits, mathType, indexType);
    rewriter.replaceOp(
        op, {castToType(rewriter, loc,
                        convertTensor(rewriter, loc, gates, elementType),
                        op.getGates().getType()),
             castToType(rewriter, loc, indices, op.getIndices().getType())});
    return success();
  }

private:
  /// The gates (in `mathType`) and indices from one scan of each row.
  static std::pair<Value, Value> scanAndNormalize(OpBuilder &rewriter,
                                                  RouteOp op, Value logits,
                                                  Type mathType,
                                                  Type indexType) {
    Location loc = op.getLoc();
    int64_t k = op.getK();
    bool onlineSoftmax = op.getNormalization() == Normalization::softmax_topk;
    OpFoldResult rows = tensor::getMixedSize(rewriter, loc, logits, 0);
    SmallVector<Value> softmaxInits;
    if (onlineSoftmax)
      softmaxInits = {
          filledTensor(rewriter, loc, rows, mathType, -kInfinity),
          filledTensor(rewriter, loc, rows, mathType, 0.0)};
    auto onlineSoftmaxUpdate = [&](OpBuilder &b, Location l, Value logit,
                                   ValueRange state) -> SmallVector<Value> {
      Value x = convertFloat(b, l, logit, mathType);
      Value max = state[0], sum = state[1];
      // One exponential per logit: a new maximum rescales the sum so far,
      // any other logit adds its own term. A -inf logit adds nothing, also
      // while the maximum is still -inf (where the difference would be NaN).
      Value newMax =
          arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x, max);
      Value exponent = arith::SelectOp::create(
          b, l, newMax, arith::SubFOp::create(b, l, max, x),
          arith::SubFOp::create(b, l, x, max));
      Value negativeInfinity =
          arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, x,
                                floatConstant(b, l, mathType, -kInfinity));
      Value term = arith::SelectOp::create(
          b, l, negativeInfinity, floatConstant(b, l, mathType, 0.0),
          math::ExpOp::create(b, l, exponent));
      Value rescaled = arith::AddFOp::create(
          b, l, arith::MulFOp::create(b, l, sum, term),
          floatConstant(b, l, mathType, 1.0));
      return {arith::MaximumFOp::create(b, l, max, x),
              arith::SelectOp::create(b, l, newMax, rescaled,
                                      arith::AddFOp::create(b, l, sum, term))};
    };
    RowTopK scan = scanRowTopK(
        rewriter, loc, logits, k, indexType, softmaxInits,
        onlineSoftmax ? RowScanUpdate(onlineSoftmaxUpdate) : nullptr);
    Value values = scan.values, indices = scan.indices;
    Value logitMax = onlineSoftmax ? scan.extra[0] : Value();
    Value logitExpSum = onlineSoftmax ? scan.extra[1] : Value();
    Value gates =
        normalizeGates(rewriter, loc, op.getNormalization(),
                       op.getRenormalize(), values, logitMax, logitExpSum);
    return {gates, indices};
  }

  /// The gates (in `mathType`) and indices from k selection passes over each
  /// row (`topK`), and for `softmax_topk` the softmax's own passes.
  static std::pair<Value, Value> selectThenNormalize(OpBuilder &b, RouteOp op,
                                                     Value logits,
                                                     Type mathType,
                                                     Type indexType) {
    Location loc = op.getLoc();
    auto [values, indices] = topK(b, loc, logits, op.getK(), indexType);
    Value gates =
        gatesOfKeptLogits(b, loc, op.getNormalization(), op.getRenormalize(),
                          values, logits, mathType);
    return {gates, indices};
  }
};

/// One `linalg.generic` over `(t, i, j)` that reads each token's secondary
/// routing at the group its primary choice `i` picked.
struct ComposeRoutingLowering : OpConversionPattern<ComposeRoutingOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ComposeRoutingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value primaryGates = adaptor.getPrimaryGates();
    Value primaryIndices = adaptor.getPrimaryIndices();
    Value secondaryGates = adaptor.getSecondaryGates();
    Value secondaryIndices = adaptor.getSecondaryIndices();
    for (Value other : {primaryIndices, secondaryGates, secondaryIndices})
      requireSameSize(rewriter, loc, other, 0, primaryGates, 0,
                      "moe.compose_routing: the routings differ in the "
                      "number of tokens");
    requireSameSize(rewriter, loc, primaryIndices, 1, primaryGates, 1,
                    "moe.compose_routing: 'primary_indices' and "
                    "'primary_gates' differ in width");
    for (unsigned dim : {1u, 2u})
      requireSameSize(rewriter, loc, secondaryIndices, dim, secondaryGates,
                      dim, "moe.compose_routing: 'secondary_indices' and "
                           "'secondary_gates' differ in shape");
    // The indices address the secondary routing and name flat experts.
    requireAllInRange(rewriter, loc, primaryIndices, 0,
                      tensor::DimOp::create(rewriter, loc, secondaryGates, 1),
                      "moe.compose_routing: a primary index is not a group");
    requireAllInRange(rewriter, loc, secondaryIndices, 0,
                      indexConstant(rewriter, loc, op.getGroupSize()),
                      "moe.compose_routing: a secondary index is outside the "
                      "group");
    Type gateType = op.getGates().getType().getElementType();
    Type indexType = op.getIndices().getType().getElementType();
    Type mathType = computeType(gateType);
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(rewriter, loc, primaryGates, 0),
        tensor::getMixedSize(rewriter, loc, primaryGates, 1),
        tensor::getMixedSize(rewriter, loc, secondaryGates, 2)};
    Value gateInit = emptyTensor(rewriter, loc, sizes, gateType);
    Value indexInit = emptyTensor(rewriter, loc, sizes, indexType);
    Value groupSize = intConstant(rewriter, loc, indexType, op.getGroupSize());
    AffineMap primaryMap = projection(ctx, 3, {0, 1});
    AffineMap identity = rewriter.getMultiDimIdentityMap(3);
    SmallVector<Value> composed = generic(
        rewriter, loc, {primaryGates, primaryIndices},
        {primaryMap, primaryMap}, {gateInit, indexInit}, {identity, identity},
        SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value primaryIndex = args[1];
          Value group = castIndex(b, l, primaryIndex, b.getIndexType());
          SmallVector<Value> at = {linalg::IndexOp::create(b, l, 0), group,
                                   linalg::IndexOp::create(b, l, 2)};
          Value secondaryGate =
              tensor::ExtractOp::create(b, l, secondaryGates, at);
          Value secondaryIndex =
              tensor::ExtractOp::create(b, l, secondaryIndices, at);
          Value gate = arith::MulFOp::create(
              b, l, convertFloat(b, l, args[0], mathType),
              convertFloat(b, l, secondaryGate, mathType));
          // The verifier gives primary and secondary indices one type.
          Value index = arith::AddIOp::create(
              b, l, arith::MulIOp::create(b, l, primaryIndex, groupSize),
              secondaryIndex);
          return SmallVector<Value>{convertFloat(b, l, gate, gateType), index};
        });
    SmallVector<ReassociationIndices> flatten = {{0}, {1, 2}};
    SmallVector<Value> results;
    for (auto [value, result] : llvm::zip(composed, op.getResults())) {
      Value flat =
          tensor::CollapseShapeOp::create(rewriter, loc, value, flatten);
      results.push_back(castToType(rewriter, loc, flat, result.getType()));
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

void lowering::populateGatingLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<GateLowering, NoisyGateLowering, TopKLowering,
               RouteWeightsLowering, RouteLowering, ComposeRoutingLowering>(
      patterns.getContext());
}
