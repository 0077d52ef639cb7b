//===- MoEToLinalg.cpp - MoE ops to linalg --------------------------------===//

#include "moe/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/DialectConversion.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOLINALG
#include "moe/Conversion/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

using BodyBuilder =
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

/// The type math is done in: f16 and bf16 widen to f32 so that GEMM
/// accumulation, softmax and reductions keep f32 accuracy.
FloatType computeType(Type elementType) {
  auto floatType = cast<FloatType>(elementType);
  if (floatType.getWidth() < 32)
    return Float32Type::get(floatType.getContext());
  return floatType;
}

Value convertFloat(OpBuilder &b, Location loc, Value value, Type to) {
  if (value.getType() == to)
    return value;
  if (cast<FloatType>(value.getType()).getWidth() <
      cast<FloatType>(to).getWidth())
    return arith::ExtFOp::create(b, loc, to, value);
  return arith::TruncFOp::create(b, loc, to, value);
}

Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, double value) {
  Value empty = emptyTensor(b, loc, sizes, elementType);
  Value fill = floatConstant(b, loc, elementType, value);
  return linalg::FillOp::create(b, loc, fill, empty).getResult(0);
}

/// A `linalg.generic` over the iteration space of `inits` (identity maps for
/// them); each input comes with its own map.
SmallVector<Value> generic(OpBuilder &b, Location loc, ValueRange inputs,
                           ArrayRef<AffineMap> inputMaps, ValueRange inits,
                           ArrayRef<AffineMap> initMaps,
                           ArrayRef<utils::IteratorType> iterators,
                           BodyBuilder body) {
  SmallVector<AffineMap> maps(inputMaps);
  llvm::append_range(maps, initMaps);
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange(inits), inputs, inits, maps, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        linalg::YieldOp::create(nested, nestedLoc,
                                body(nested, nestedLoc, args));
      });
  return SmallVector<Value>(op.getResults());
}

/// Elementwise over tensors of one shape, producing `inits`.
SmallVector<Value> elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                               ValueRange inits, BodyBuilder body) {
  unsigned rank = cast<RankedTensorType>(inits.front().getType()).getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> inputMaps(inputs.size(), identity);
  SmallVector<AffineMap> initMaps(inits.size(), identity);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return generic(b, loc, inputs, inputMaps, inits, initMaps, iterators, body);
}

/// `(r, c) -> (r)`: one value per row of a matrix.
AffineMap rowMap(MLIRContext *ctx) {
  return AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
}

/// Reduces each row of `input` `[R, C]` with `combine` into `[R]`, starting
/// from `identity`.
Value reduceRows(OpBuilder &b, Location loc, Value input, double identity,
                 function_ref<Value(OpBuilder &, Location, Value, Value)>
                     combine) {
  Type type = cast<RankedTensorType>(input.getType()).getElementType();
  Value init = filledTensor(b, loc, {tensor::getMixedSize(b, loc, input, 0)},
                            type, identity);
  return generic(b, loc, input, b.getMultiDimIdentityMap(2), init,
                 rowMap(b.getContext()),
                 {utils::IteratorType::parallel,
                  utils::IteratorType::reduction},
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   return SmallVector<Value>{
                       combine(nb, nl, args[0], args[1])};
                 })
      .front();
}

Value rowMax(OpBuilder &b, Location loc, Value input) {
  return reduceRows(b, loc, input, -std::numeric_limits<double>::infinity(),
                    [](OpBuilder &nb, Location nl, Value x, Value acc) {
                      return arith::MaximumFOp::create(nb, nl, x, acc);
                    });
}

Value rowSum(OpBuilder &b, Location loc, Value input) {
  return reduceRows(b, loc, input, 0.0,
                    [](OpBuilder &nb, Location nl, Value x, Value acc) {
                      return arith::AddFOp::create(nb, nl, x, acc);
                    });
}

/// `f(matrix[r, c], row[r])` for every element of `matrix` `[R, C]`.
Value withRowValue(OpBuilder &b, Location loc, Value matrix, Value row,
                   function_ref<Value(OpBuilder &, Location, Value, Value)> f) {
  auto type = cast<RankedTensorType>(matrix.getType());
  Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, matrix),
                           type.getElementType());
  AffineMap identity = b.getMultiDimIdentityMap(2);
  return generic(b, loc, {matrix, row}, {identity, rowMap(b.getContext())},
                 init, identity,
                 {utils::IteratorType::parallel, utils::IteratorType::parallel},
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   return SmallVector<Value>{f(nb, nl, args[0], args[1])};
                 })
      .front();
}

/// Elementwise `convertFloat` of a whole tensor.
Value convertTensor(OpBuilder &b, Location loc, Value input, Type to) {
  auto type = cast<RankedTensorType>(input.getType());
  if (type.getElementType() == to)
    return input;
  Value init =
      emptyTensor(b, loc, tensor::getMixedSizes(b, loc, input), to);
  return elementwise(b, loc, input, init,
                     [&](OpBuilder &nb, Location nl, ValueRange args) {
                       return SmallVector<Value>{
                           convertFloat(nb, nl, args[0], to)};
                     })
      .front();
}

/// `lhs [M, K] . rhs [K, N]` accumulated in `accType`.
Value matmul(OpBuilder &b, Location loc, Value lhs, Value rhs, Type accType) {
  Value init = filledTensor(b, loc,
                            {tensor::getMixedSize(b, loc, lhs, 0),
                             tensor::getMixedSize(b, loc, rhs, 1)},
                            accType, 0.0);
  return linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                  ValueRange{lhs, rhs}, ValueRange{init})
      .getResult(0);
}

/// The size of `value`'s dimension `dim` as a float of `type`.
Value dimAsFloat(OpBuilder &b, Location loc, Value value, unsigned dim,
                 Type type) {
  Value size = tensor::DimOp::create(b, loc, value, dim);
  Value asInteger = arith::IndexCastOp::create(b, loc, b.getI64Type(), size);
  return arith::UIToFPOp::create(b, loc, type, asInteger);
}

/// Sums all elements of the 1-D `input` into a scalar.
Value sumAll(OpBuilder &b, Location loc, Value input) {
  Type type = cast<RankedTensorType>(input.getType()).getElementType();
  Value init = filledTensor(b, loc, {}, type, 0.0);
  MLIRContext *ctx = b.getContext();
  AffineMap scalar = AffineMap::get(1, 0, {}, ctx);
  Value sum = generic(b, loc, input, b.getMultiDimIdentityMap(1), init, scalar,
                      {utils::IteratorType::reduction},
                      [](OpBuilder &nb, Location nl, ValueRange args) {
                        return SmallVector<Value>{
                            arith::AddFOp::create(nb, nl, args[0], args[1])};
                      })
                  .front();
  return tensor::ExtractOp::create(b, loc, sum, ValueRange{});
}

/// `weight * value` as the 0-d tensor of `resultType` a loss op returns.
Value weightedLoss(OpBuilder &b, Location loc, const APFloat &weight,
                   Value value, Type resultType) {
  Value weightValue =
      floatConstant(b, loc, value.getType(), weight.convertToDouble());
  Value loss = arith::MulFOp::create(b, loc, weightValue, value);
  return tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({}, resultType),
      convertFloat(b, loc, loss, resultType));
}

//===----------------------------------------------------------------------===//
// Gating
//===----------------------------------------------------------------------===//

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

//===----------------------------------------------------------------------===//
// Routing weights
//===----------------------------------------------------------------------===//

Value expOfDifference(OpBuilder &b, Location loc, Value matrix, Value rowMax) {
  return withRowValue(b, loc, matrix, rowMax,
                      [](OpBuilder &nb, Location nl, Value x, Value m) {
                        return math::ExpOp::create(
                            nb, nl, arith::SubFOp::create(nb, nl, x, m));
                      });
}

Value divideRows(OpBuilder &b, Location loc, Value matrix, Value rowValues) {
  return withRowValue(b, loc, matrix, rowValues,
                      [](OpBuilder &nb, Location nl, Value x, Value s) {
                        return arith::DivFOp::create(nb, nl, x, s);
                      });
}

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
    case Normalization::topk_softmax: {
      Value shifted = expOfDifference(rewriter, loc, values,
                                      rowMax(rewriter, loc, values));
      gates = divideRows(rewriter, loc, shifted, rowSum(rewriter, loc, shifted));
      break;
    }
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
    case Normalization::sigmoid_topk: {
      Value init = emptyTensor(rewriter, loc,
                               tensor::getMixedSizes(rewriter, loc, values),
                               mathType);
      gates = elementwise(rewriter, loc, values, init,
                          [&](OpBuilder &b, Location l, ValueRange args) {
                            Value one = floatConstant(b, l, mathType, 1.0);
                            Value expNeg = math::ExpOp::create(
                                b, l, arith::NegFOp::create(b, l, args[0]));
                            return SmallVector<Value>{arith::DivFOp::create(
                                b, l, one,
                                arith::AddFOp::create(b, l, one, expNeg))};
                          })
                  .front();
      break;
    }
    }
    if (op.getRenormalize())
      gates = divideRows(rewriter, loc, gates, rowSum(rewriter, loc, gates));
    rewriter.replaceOp(op, convertTensor(rewriter, loc, gates, elementType));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

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

struct ConvertMoEToLinalgPass
    : moe::impl::ConvertMoEToLinalgBase<ConvertMoEToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect>();
    target.addIllegalOp<GateOp, NoisyGateOp, RouteWeightsOp, CVSquaredOp,
                        ZLossOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(ctx);
    populateMoEToLinalgConversionPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::moe::populateMoEToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GateLowering, NoisyGateLowering, RouteWeightsLowering,
               CVSquaredLowering, ZLossLowering>(patterns.getContext());
}
