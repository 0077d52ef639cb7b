//===- Experts.cpp - Lowering of the expert computations ------------------===//
//
// moe.expert_ffn and moe.experts. The capacity layout ([n, C, d]) is one
// batch over experts, so its GEMMs are `linalg.batch_matmul`s. The dropless
// layout has a data-dependent group per expert: an `scf.for` over experts
// slices each group out of the grouped rows (cost follows the routed rows,
// not n times T) and writes its result back at the same rows.
//
// moe.routed_ffn is the dropless path without the grouped copies: each
// expert's rows are walked in tiles that are gathered straight from the
// tokens and scatter-added, scaled by their gates, into the output.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::lowering;

namespace {

Value activate(OpBuilder &b, Location loc, Activation activation, Value x) {
  Type type = x.getType();
  switch (activation) {
  case Activation::relu:
    return arith::MaximumFOp::create(b, loc, x, floatConstant(b, loc, type, 0));
  case Activation::gelu: {
    // The exact form, 0.5 * x * (1 + erf(x / sqrt(2))).
    Value scaled = arith::MulFOp::create(
        b, loc, x, floatConstant(b, loc, type, M_SQRT1_2));
    Value onePlusErf = arith::AddFOp::create(
        b, loc, floatConstant(b, loc, type, 1.0),
        math::ErfOp::create(b, loc, scaled));
    return arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, floatConstant(b, loc, type, 0.5), x),
        onePlusErf);
  }
  case Activation::silu: {
    Value one = floatConstant(b, loc, type, 1.0);
    Value expNeg =
        math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    return arith::DivFOp::create(b, loc, x,
                                 arith::AddFOp::create(b, loc, one, expNeg));
  }
  }
  llvm_unreachable("unknown activation");
}

/// The weights of one expert, or of all experts at once (batched).
struct FeedForwardWeights {
  Value w1, b1, w3, w2, b2;
};

/// `matrix + bias`, the bias broadcast over the row dimension (`rank - 2`),
/// in `mathType`.
Value addBias(OpBuilder &b, Location loc, Value matrix, Value bias,
              Type mathType) {
  unsigned rank = cast<RankedTensorType>(matrix.getType()).getRank();
  SmallVector<unsigned> biasDims;
  for (unsigned dim = 0; dim < rank; ++dim)
    if (dim != rank - 2)
      biasDims.push_back(dim);
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, matrix),
                           mathType);
  return generic(b, loc, {matrix, bias},
                 {identity, projection(b.getContext(), rank, biasDims)}, init,
                 identity,
                 SmallVector<utils::IteratorType>(
                     rank, utils::IteratorType::parallel),
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   return SmallVector<Value>{arith::AddFOp::create(
                       nb, nl, args[0], convertFloat(nb, nl, args[1], mathType))};
                 })
      .front();
}

/// `act(x . W1 + b1) [* (x . W3)] . W2 + b2` in `mathType`, for `x`
/// `[rows, d]` with one expert's weights, or `[n, C, d]` with all of them.
Value feedForward(OpBuilder &b, Location loc, Value x,
                  const FeedForwardWeights &weights, Activation activation,
                  Type mathType) {
  Value hidden = matmul(b, loc, x, weights.w1, mathType);
  if (weights.b1)
    hidden = addBias(b, loc, hidden, weights.b1, mathType);
  SmallVector<Value> inputs = {hidden};
  if (weights.w3)
    inputs.push_back(matmul(b, loc, x, weights.w3, mathType));
  Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, hidden),
                           mathType);
  Value activated =
      elementwise(b, loc, inputs, init,
                  [&](OpBuilder &nb, Location nl, ValueRange args) {
                    Value result = activate(nb, nl, activation, args[0]);
                    if (weights.w3)
                      result = arith::MulFOp::create(nb, nl, result, args[1]);
                    return SmallVector<Value>{result};
                  })
          .front();
  Value output = matmul(b, loc, activated, weights.w2, mathType);
  if (weights.b2)
    output = addBias(b, loc, output, weights.b2, mathType);
  return output;
}

/// Expert `expert`'s slice of the stacked `weight` `[n, ...]`, as `type`.
Value sliceExpert(OpBuilder &b, Location loc, Value weight, Value expert,
                  RankedTensorType type) {
  unsigned rank = cast<RankedTensorType>(weight.getType()).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  offsets.front() = expert;
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, weight);
  sizes.front() = b.getIndexAttr(1);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, type, weight, offsets, sizes,
                                        strides);
}

RankedTensorType withoutLeadingDim(Type type) {
  auto tensorType = cast<RankedTensorType>(type);
  return RankedTensorType::get(tensorType.getShape().drop_front(),
                               tensorType.getElementType());
}

Value sliceExpertOrNull(OpBuilder &b, Location loc, Value weight,
                        Value expert) {
  if (!weight)
    return weight;
  return sliceExpert(b, loc, weight, expert,
                     withoutLeadingDim(weight.getType()));
}

/// Expert `expert`'s slices of all the stacked weights.
FeedForwardWeights sliceWeights(OpBuilder &b, Location loc,
                                const FeedForwardWeights &stacked,
                                Value expert) {
  return {sliceExpertOrNull(b, loc, stacked.w1, expert),
          sliceExpertOrNull(b, loc, stacked.b1, expert),
          sliceExpertOrNull(b, loc, stacked.w3, expert),
          sliceExpertOrNull(b, loc, stacked.w2, expert),
          sliceExpertOrNull(b, loc, stacked.b2, expert)};
}

/// `offsets[expert]` and `offsets[expert + 1]` as `index` values: where the
/// group of `expert` begins and ends in the dropless layout.
std::pair<Value, Value> groupBounds(OpBuilder &b, Location loc, Value offsets,
                                    Value expert) {
  auto read = [&](Value position) {
    return castIndex(
        b, loc, tensor::ExtractOp::create(b, loc, offsets, ValueRange{position}),
        b.getIndexType());
  };
  Value begin = read(expert);
  return {begin, read(arith::AddIOp::create(b, loc, expert,
                                            indexConstant(b, loc, 1)))};
}

/// The rows `[begin, begin + size)` of expert `expert`'s group in the
/// dropless layout.
struct Group {
  Value begin, size;
};

/// The group of `expert` in `tokens`, checked at run time to lie inside it:
/// `offsets` is data, and a slice past the rows would read out of bounds.
Group groupOf(OpBuilder &b, Location loc, Value offsets, Value expert,
              Value tokens, StringRef opName) {
  auto [begin, end] = groupBounds(b, loc, offsets, expert);
  Value rows = tensor::DimOp::create(b, loc, tokens, 0);
  auto atMost = [&](Value lhs, Value rhs) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, lhs, rhs);
  };
  Value inside = arith::AndIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc, atMost(indexConstant(b, loc, 0), begin),
                            atMost(begin, end)),
      atMost(end, rows));
  requireAtRunTime(b, loc, inside,
                   opName + ": 'offsets' are not ascending within the rows "
                            "of 'tokens'");
  return {begin, arith::SubIOp::create(b, loc, end, begin)};
}

Value sliceRows(OpBuilder &b, Location loc, Value matrix, Group group) {
  auto type = cast<RankedTensorType>(matrix.getType());
  SmallVector<OpFoldResult> offsets = {group.begin, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {group.size,
                                     tensor::getMixedSize(b, loc, matrix, 1)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      b, loc,
      RankedTensorType::get({ShapedType::kDynamic, type.getDimSize(1)},
                            type.getElementType()),
      matrix, offsets, sizes, strides);
}

/// Writes the group result `value` `[rows, d]` into `dest` at row `begin`.
Value insertRows(OpBuilder &b, Location loc, Value value, Value dest,
                 Value begin) {
  SmallVector<OpFoldResult> offsets = {begin, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return tensor::InsertSliceOp::create(b, loc, value, dest, offsets,
                                       tensor::getMixedSizes(b, loc, value),
                                       strides);
}

/// Writes expert `expert`'s result `value` `[C, d]` into `dest` `[n, C, d]`.
Value insertExpert(OpBuilder &b, Location loc, Value value, Value dest,
                   Value expert) {
  SmallVector<OpFoldResult> offsets = {expert, b.getIndexAttr(0),
                                       b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1)};
  llvm::append_range(sizes, tensor::getMixedSizes(b, loc, value));
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  return tensor::InsertSliceOp::create(b, loc, value, dest, offsets, sizes,
                                       strides);
}

/// `scf.for` over the experts carrying `init`; `body` returns the updated
/// value for one expert.
Value forEachExpert(OpBuilder &b, Location loc, OpFoldResult numExperts,
                    Value init,
                    function_ref<Value(OpBuilder &, Location, Value, Value)>
                        body) {
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0),
      getValueOrCreateConstantIndexOp(b, loc, numExperts),
      indexConstant(b, loc, 1), ValueRange{init},
      [&](OpBuilder &nb, Location nl, Value expert, ValueRange state) {
        scf::YieldOp::create(nb, nl, body(nb, nl, expert, state.front()));
      });
  return loop.getResult(0);
}

/// Zeros shaped like `tokens` but `width` wide, as static as `resultType`:
/// rows of the dropless layout beyond the last group keep a defined value.
Value zeroResult(OpBuilder &b, Location loc, RankedTensorType resultType,
                 Value tokens, OpFoldResult width) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, tokens);
  sizes.back() = width;
  for (auto [index, size] : llvm::enumerate(resultType.getShape()))
    if (!ShapedType::isDynamic(size))
      sizes[index] = b.getIndexAttr(size);
  return filledTensor(b, loc, sizes, resultType.getElementType(), 0.0);
}

struct ExpertFFNLowering : OpConversionPattern<ExpertFFNOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ExpertFFNOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    Type elementType = resultType.getElementType();
    Type mathType = computeType(elementType);
    Activation activation = op.getActivation();
    FeedForwardWeights stacked = {adaptor.getW1(), adaptor.getB1(),
                                  adaptor.getW3(), adaptor.getW2(),
                                  adaptor.getB2()};
    Value tokens = adaptor.getTokens();

    if (!adaptor.getOffsets()) {
      Value output =
          feedForward(rewriter, loc, tokens, stacked, activation, mathType);
      rewriter.replaceOp(
          op, castToType(rewriter, loc,
                     convertTensor(rewriter, loc, output, elementType),
                     resultType));
      return success();
    }

    Value offsets = adaptor.getOffsets();
    Value init = zeroResult(rewriter, loc, resultType, tokens,
                            tensor::getMixedSize(rewriter, loc, stacked.w2, 2));
    Value output = forEachExpert(
        rewriter, loc, tensor::getMixedSize(rewriter, loc, stacked.w1, 0), init,
        [&](OpBuilder &b, Location l, Value expert, Value partial) {
          Group group = groupOf(b, l, offsets, expert, tokens,
                                "moe.expert_ffn");
          FeedForwardWeights weights = sliceWeights(b, l, stacked, expert);
          Value groupOutput =
              feedForward(b, l, sliceRows(b, l, tokens, group), weights,
                          activation, mathType);
          return insertRows(b, l, convertTensor(b, l, groupOutput, elementType),
                            partial, group.begin);
        });
    rewriter.replaceOp(op, output);
    return success();
  }
};

/// Inlines the body once per expert, on that expert's group and weights.
struct ExpertsLowering : OpConversionPattern<ExpertsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ExpertsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    RankedTensorType resultType = op.getType();
    int64_t width = resultType.getShape().back();
    if (ShapedType::isDynamic(width))
      return rewriter.notifyMatchFailure(
          op, "the width of the experts' output must be static");
    Location loc = op.getLoc();
    Block &body = op.getBody().front();
    Value bodyResult = cast<YieldOp>(body.getTerminator()).getResult();
    Value tokens = adaptor.getTokens();
    Value offsets = adaptor.getOffsets();
    ValueRange weights = adaptor.getWeights();
    OpFoldResult numExperts =
        offsets ? rewriter.getIndexAttr(
                      cast<RankedTensorType>(offsets.getType()).getDimSize(0) -
                      1)
                : tensor::getMixedSize(rewriter, loc, tokens, 0);
    Value init = zeroResult(rewriter, loc, resultType, tokens,
                            rewriter.getIndexAttr(width));
    Value output = forEachExpert(
        rewriter, loc, numExperts, init,
        [&](OpBuilder &b, Location l, Value expert, Value partial) {
          IRMapping mapping;
          Group group;
          BlockArgument groupArgument = body.getArgument(0);
          if (offsets) {
            group = groupOf(b, l, offsets, expert, tokens, "moe.experts");
            mapping.map(groupArgument, sliceRows(b, l, tokens, group));
          } else {
            mapping.map(groupArgument,
                        sliceExpert(b, l, tokens, expert,
                                    cast<RankedTensorType>(
                                        groupArgument.getType())));
          }
          for (auto [argument, weight] :
               llvm::zip(body.getArguments().drop_front(), weights))
            mapping.map(argument,
                        sliceExpert(b, l, weight, expert,
                                    cast<RankedTensorType>(argument.getType())));
          for (Operation &nested : body.without_terminator())
            b.clone(nested, mapping);
          Value result = mapping.lookupOrDefault(bodyResult);
          return offsets ? insertRows(b, l, result, partial, group.begin)
                         : insertExpert(b, l, result, partial, expert);
        });
    rewriter.replaceOp(op, castToType(rewriter, loc, output, resultType));
    return success();
  }
};

/// Builds an `scf.for` over the `choices` `[rows]` of a tile that carries
/// `init`: `body(builder, location, row, choice, token, state)` returns the
/// new state. The choice and its token (`choice / k`) are computed once per
/// row, so the row's elementwise work becomes an inner loop over contiguous
/// elements, which LLVM vectorizes.
Value forEachChoiceRow(
    OpBuilder &b, Location loc, Value choices, Value k, Value init,
    function_ref<Value(OpBuilder &, Location, Value, Value, Value, Value)>
        body) {
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0),
      tensor::DimOp::create(b, loc, choices, 0), indexConstant(b, loc, 1),
      ValueRange{init},
      [&](OpBuilder &nb, Location nl, Value row, ValueRange state) {
        Value choice = castIndex(
            nb, nl, tensor::ExtractOp::create(nb, nl, choices, ValueRange{row}),
            nb.getIndexType());
        Value token = arith::DivUIOp::create(nb, nl, choice, k);
        scf::YieldOp::create(nb, nl,
                             body(nb, nl, row, choice, token, state.front()));
      });
  return loop.getResult(0);
}

/// The tile `[rows, d]` of `mathType` whose row `r` is the input row of the
/// token of `choices[r]`: the gather on load. Unlike `gatherChoiceRows` (one
/// parallel generic, which the thread distribution can split), it runs
/// inside a worker, and a generic over (row, column) would reload the
/// choice for every element: LLVM cannot tell it from the stores, and keeps
/// the copy scalar.
Value gatherTileRows(OpBuilder &b, Location loc, Value input, Value choices,
                     Value k, Type mathType) {
  Value init = emptyTensor(b, loc,
                           {tensor::getMixedSize(b, loc, choices, 0),
                            tensor::getMixedSize(b, loc, input, 1)},
                           mathType);
  return forEachChoiceRow(
      b, loc, choices, k, init,
      [&](OpBuilder &nb, Location nl, Value row, Value, Value token,
          Value tile) {
        Value converted =
            elementwise(nb, nl, extractRow(nb, nl, input, token),
                        extractRow(nb, nl, tile, row),
                        [&](OpBuilder &bb, Location bl, ValueRange args) {
                          return SmallVector<Value>{
                              convertFloat(bb, bl, args[0], mathType)};
                        })
                .front();
        return insertRow(nb, nl, converted, tile, row);
      });
}

/// Adds `gate * values[row]` into `output[token]` for every row of the tile
/// `values` `[rows, d_out]`, whose choices are `choices` `[rows]`. A loop:
/// a token may appear twice if its routing names one expert twice.
Value scatterAddRows(OpBuilder &b, Location loc, Value values, Value choices,
                     Value gates, Value k, Value output) {
  Type elementType = cast<RankedTensorType>(output.getType()).getElementType();
  return forEachChoiceRow(
      b, loc, choices, k, output,
      [&](OpBuilder &nb, Location nl, Value row, Value choice, Value token,
          Value accumulated) {
        Value gate = convertFloat(
            nb, nl,
            tensor::ExtractOp::create(nb, nl, gates, ValueRange{choice}),
            elementType);
        Value sum =
            elementwise(nb, nl, extractRow(nb, nl, values, row),
                        extractRow(nb, nl, accumulated, token),
                        [&](OpBuilder &bb, Location bl, ValueRange args) {
                          return SmallVector<Value>{arith::AddFOp::create(
                              bb, bl, args[1],
                              arith::MulFOp::create(bb, bl, gate, args[0]))};
                        })
                .front();
        return insertRow(nb, nl, sum, accumulated, token);
      });
}

struct RoutedFFNLowering : OpConversionPattern<RoutedFFNOp> {
  RoutedFFNLowering(MLIRContext *ctx, RoutedFFNLoweringOptions options)
      : OpConversionPattern(ctx), options(options) {}

  LogicalResult
  matchAndRewrite(RoutedFFNOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    Type elementType = resultType.getElementType();
    Type mathType = computeType(elementType);
    Value input = adaptor.getInput(), gates = adaptor.getGates();
    Value indices = adaptor.getIndices();
    int64_t numExperts = op.getW1().getType().getDimSize(0);
    FeedForwardWeights stacked = {adaptor.getW1(), adaptor.getB1(),
                                  adaptor.getW3(), adaptor.getW2(),
                                  adaptor.getB2()};
    for (unsigned dim : {0u, 1u})
      requireSameSize(rewriter, loc, indices, dim, gates, dim,
                      "moe.routed_ffn: 'indices' and 'gates' differ in shape");
    requireValidRouting(rewriter, op, input, indices, numExperts);
    ExpertGroups groups = groupByExpert(rewriter, loc, indices, numExperts);
    Value k = tensor::DimOp::create(rewriter, loc, indices, 1);
    Value flatGates = tensor::CollapseShapeOp::create(
        rewriter, loc, gates, ArrayRef<ReassociationIndices>{{0, 1}});

    // One worker's share of the work, scatter-added into `partial` `[T,
    // d_out]`: with several workers, the loops count the tiles over all
    // experts in order and `worker` takes those equal to it modulo the worker
    // count; `worker` is null when there is one.
    bool shared = options.workers > 1;
    auto accumulateShare = [&](OpBuilder &b, Location l, Value worker,
                               Value partial) {
      Value zero = indexConstant(b, l, 0);
      Value one = indexConstant(b, l, 1);
      Value step = indexConstant(b, l, options.tileRows);
      SmallVector<Value> init = {partial};
      if (shared)
        init.push_back(zero);
      auto experts = scf::ForOp::create(
          b, l, zero, indexConstant(b, l, numExperts), one, init,
          [&](OpBuilder &eb, Location el, Value expert, ValueRange state) {
            FeedForwardWeights weights = sliceWeights(eb, el, stacked, expert);
            // The offsets come from the grouping just built: no bounds check.
            Value begin, end;
            std::tie(begin, end) =
                groupBounds(eb, el, groups.offsets, expert);
            auto tiles = scf::ForOp::create(
                eb, el, begin, end, step, state,
                [&](OpBuilder &tb, Location tl, Value tileBegin,
                    ValueRange tileState) {
                  Value output = tileState.front();
                  auto computeTile = [&](OpBuilder &cb, Location cl) {
                    // affine.min bounds the tile for the GEMM lowering, which
                    // then needs no run-time check of its row count.
                    Value size = affine::AffineMinOp::create(
                        cb, cl,
                        AffineMap::get(1, 2,
                                       {cb.getAffineSymbolExpr(0),
                                        cb.getAffineSymbolExpr(1) -
                                            cb.getAffineDimExpr(0)},
                                       cb.getContext()),
                        ValueRange{tileBegin, step, end});
                    Value choices = tensor::ExtractSliceOp::create(
                        cb, cl, groups.sourceChoices,
                        ArrayRef<OpFoldResult>{tileBegin},
                        ArrayRef<OpFoldResult>{size},
                        ArrayRef<OpFoldResult>{cb.getIndexAttr(1)});
                    // The gather on load: converted to the math type as read.
                    Value tile =
                        gatherTileRows(cb, cl, input, choices, k, mathType);
                    Value tileOutput = feedForward(
                        cb, cl, tile, weights, op.getActivation(), mathType);
                    return scatterAddRows(cb, cl, tileOutput, choices,
                                          flatGates, k, output);
                  };
                  if (!shared) {
                    scf::YieldOp::create(tb, tl, computeTile(tb, tl));
                    return;
                  }
                  Value tileNumber = tileState[1];
                  Value mine = arith::CmpIOp::create(
                      tb, tl, arith::CmpIPredicate::eq,
                      arith::RemUIOp::create(
                          tb, tl, tileNumber,
                          indexConstant(tb, tl, options.workers)),
                      worker);
                  auto ifMine = scf::IfOp::create(
                      tb, tl, mine,
                      [&](OpBuilder &cb, Location cl) {
                        scf::YieldOp::create(cb, cl, computeTile(cb, cl));
                      },
                      [&](OpBuilder &cb, Location cl) {
                        scf::YieldOp::create(cb, cl, output);
                      });
                  scf::YieldOp::create(
                      tb, tl,
                      ValueRange{ifMine.getResult(0),
                                 arith::AddIOp::create(tb, tl, tileNumber,
                                                       one)});
                });
            scf::YieldOp::create(eb, el, tiles.getResults());
          });
      return experts.getResult(0);
    };

    OpFoldResult tokens = tensor::getMixedSize(rewriter, loc, input, 0);
    OpFoldResult width = tensor::getMixedSize(rewriter, loc, stacked.w2, 2);
    Value output =
        shared ? accumulateInParallel(rewriter, loc, tokens, width, mathType,
                                      accumulateShare)
               : accumulateShare(rewriter, loc, /*worker=*/nullptr,
                                 filledTensor(rewriter, loc, {tokens, width},
                                              mathType, 0.0));
    rewriter.replaceOp(
        op, castToType(rewriter, loc,
                       convertTensor(rewriter, loc, output, elementType),
                       resultType));
    return success();
  }

private:
  /// Runs `accumulateShare` for every worker in an `scf.forall`, each into
  /// its own `[T, d_out]` slice of a `[workers, T, d_out]` buffer (a token's
  /// rows may go to tiles of different workers), and sums the slices.
  Value accumulateInParallel(
      OpBuilder &b, Location loc, OpFoldResult tokens, OpFoldResult width,
      Type mathType,
      function_ref<Value(OpBuilder &, Location, Value, Value)> accumulateShare)
      const {
    SmallVector<OpFoldResult> perWorkerSizes = {b.getIndexAttr(options.workers),
                                                tokens, width};
    Value perWorker = emptyTensor(b, loc, perWorkerSizes, mathType);
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(options.workers)},
        ValueRange{perWorker}, /*mapping=*/std::nullopt,
        [&](OpBuilder &wb, Location wl, ValueRange arguments) {
          Value worker = arguments[0], shared = arguments[1];
          SmallVector<OpFoldResult> offsets = {worker, wb.getIndexAttr(0),
                                               wb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {wb.getIndexAttr(1), tokens, width};
          SmallVector<OpFoldResult> strides(3, wb.getIndexAttr(1));
          RankedTensorType sliceType =
              tensor::ExtractSliceOp::inferCanonicalRankReducedResultType(
                  /*resultRank=*/2, cast<RankedTensorType>(shared.getType()),
                  sizes);
          Value mine = tensor::ExtractSliceOp::create(
              wb, wl, sliceType, shared, offsets, sizes, strides);
          // Each worker clears its own slice, in parallel.
          Value zeroed = linalg::FillOp::create(
                             wb, wl, floatConstant(wb, wl, mathType, 0.0), mine)
                             .getResult(0);
          Value share = accumulateShare(wb, wl, worker, zeroed);
          auto inParallel = scf::InParallelOp::create(wb, wl);
          OpBuilder::InsertionGuard guard(wb);
          wb.setInsertionPointToStart(inParallel.getBody());
          tensor::ParallelInsertSliceOp::create(wb, wl, share, shared, offsets,
                                                sizes, strides);
        });
    return sumOverFirstDim(b, loc, forall.getResult(0));
  }

  RoutedFFNLoweringOptions options;
};

} // namespace

void lowering::populateExpertLoweringPatterns(
    RewritePatternSet &patterns, const RoutedFFNLoweringOptions &routed) {
  patterns.add<ExpertFFNLowering, ExpertsLowering>(patterns.getContext());
  patterns.add<RoutedFFNLowering>(patterns.getContext(), routed);
}
