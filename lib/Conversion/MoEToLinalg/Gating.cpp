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

struct GateLowering : OpConversionPattern<GateOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
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
              math::Log1pOp::create(b, l, math::ExpOp::create(b, l, negAbs)));
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
    auto [values, indices] =
        topK(rewriter, op.getLoc(), adaptor.getInput(), op.getK(),
             op.getIndices().getType().getElementType());
    rewriter.replaceOp(
        op, {castToType(rewriter, op.getLoc(), values,
                        op.getValues().getType()),
             castToType(rewriter, op.getLoc(), indices,
                        op.getIndices().getType())});
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
    Value secondaryGates = adaptor.getSecondaryGates();
    Value secondaryIndices = adaptor.getSecondaryIndices();
    Type gateType = op.getGates().getType().getElementType();
    Type indexType = op.getIndices().getType().getElementType();
    Type mathType = computeType(gateType);
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(rewriter, loc, adaptor.getPrimaryGates(), 0),
        tensor::getMixedSize(rewriter, loc, adaptor.getPrimaryGates(), 1),
        tensor::getMixedSize(rewriter, loc, secondaryGates, 2)};
    Value gateInit = emptyTensor(rewriter, loc, sizes, gateType);
    Value indexInit = emptyTensor(rewriter, loc, sizes, indexType);
    Value groupSize = intConstant(rewriter, loc, indexType, op.getGroupSize());
    AffineMap primaryMap = projection(ctx, 3, {0, 1});
    AffineMap identity = rewriter.getMultiDimIdentityMap(3);
    SmallVector<Value> composed = generic(
        rewriter, loc, {adaptor.getPrimaryGates(), adaptor.getPrimaryIndices()},
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
