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

struct TopKLowering : OpConversionPattern<TopKOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(TopKOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    if (op.getInput().getType().isDynamicDim(1)) {
      Value enough = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::sge,
          tensor::DimOp::create(rewriter, loc, input, 1),
          indexConstant(rewriter, loc, op.getK()));
      requireAtRunTime(rewriter, loc, enough,
                       "moe.topk: fewer candidates per row than k");
    }
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
    Value values = convertTensor(rewriter, loc, adaptor.getValues(), mathType);
    Value gates;
    switch (op.getNormalization()) {
    case Normalization::topk_softmax:
      gates = softmaxRows(rewriter, loc, values);
      break;
    case Normalization::softmax_topk: {
      Value logits =
          convertTensor(rewriter, loc, adaptor.getLogits(), mathType);
      Value max = rowMax(rewriter, loc, logits);
      Value denominator =
          rowSum(rewriter, loc, expOfDifference(rewriter, loc, logits, max));
      gates = divideRows(rewriter, loc,
                         expOfDifference(rewriter, loc, values, max),
                         denominator);
      break;
    }
    case Normalization::sigmoid_topk:
      gates = mapElements(rewriter, loc, values, mathType,
                          [&](OpBuilder &b, Location l, Value x) -> Value {
                            Value one = floatConstant(b, l, mathType, 1.0);
                            Value expNeg = math::ExpOp::create(
                                b, l, arith::NegFOp::create(b, l, x));
                            return arith::DivFOp::create(
                                b, l, one,
                                arith::AddFOp::create(b, l, one, expNeg));
                          });
      break;
    }
    if (op.getRenormalize())
      gates = divideRows(rewriter, loc, gates, rowSum(rewriter, loc, gates));
    rewriter.replaceOp(op, convertTensor(rewriter, loc, gates, elementType));
    return success();
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
               RouteWeightsLowering, ComposeRoutingLowering>(
      patterns.getContext());
}
