//===- Dispatch.cpp - Lowering of dispatch and combine --------------------===//
//
// moe.dispatch, moe.capacity_dispatch and moe.combine. The slot assignment
// is a sequential scan over the choices (an `scf.for` carrying tensors, which
// bufferizes to in-place stores); moving the token data is a parallel gather
// (`linalg.generic` reading the source row of each destination row).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::lowering;

namespace {

/// `[rows, d]` where row `r` is `input[source[r]]`, or zero where
/// `source[r] < 0`. `source` is `[rows]` of an integer type; `input`
/// `[T, d]`.
Value gatherRows(OpBuilder &b, Location loc, Value input, Value source,
                 ArrayRef<OpFoldResult> resultSizes) {
  auto inputType = cast<RankedTensorType>(input.getType());
  unsigned rank = resultSizes.size();
  Value init = emptyTensor(b, loc, resultSizes, inputType.getElementType());
  SmallVector<unsigned> sourceDims;
  for (unsigned dim = 0; dim + 1 < rank; ++dim)
    sourceDims.push_back(dim);
  return generic(
             b, loc, source, projection(b.getContext(), rank, sourceDims),
             init, b.getMultiDimIdentityMap(rank),
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value sourceRow = args[0];
               Type indexType = sourceRow.getType();
               Value zero = intConstant(nb, nl, indexType, 0);
               Value valid = arith::CmpIOp::create(
                   nb, nl, arith::CmpIPredicate::sge, sourceRow, zero);
               // Clamped so that the load is in bounds even for an empty
               // slot, whose value the select then discards.
               Value clamped = arith::MaxSIOp::create(nb, nl, sourceRow, zero);
               Value row = castIndex(nb, nl, clamped, nb.getIndexType());
               Value column = linalg::IndexOp::create(nb, nl, rank - 1);
               Value value = tensor::ExtractOp::create(
                   nb, nl, input, ValueRange{row, column});
               Value empty =
                   floatConstant(nb, nl, inputType.getElementType(), 0.0);
               return SmallVector<Value>{
                   arith::SelectOp::create(nb, nl, valid, value, empty)};
             })
      .front();
}

OpFoldResult multiplySizes(OpBuilder &b, Location loc, OpFoldResult lhs,
                           OpFoldResult rhs) {
  std::optional<int64_t> lhsConstant = getConstantIntValue(lhs);
  std::optional<int64_t> rhsConstant = getConstantIntValue(rhs);
  if (lhsConstant && rhsConstant)
    return b.getIndexAttr(*lhsConstant * *rhsConstant);
  return arith::MulIOp::create(b, loc,
                               getValueOrCreateConstantIndexOp(b, loc, lhs),
                               getValueOrCreateConstantIndexOp(b, loc, rhs))
      .getResult();
}

/// Reads `tensor[indices]` of an integer tensor as an `index`.
Value extractIndex(OpBuilder &b, Location loc, Value tensor,
                   ValueRange indices) {
  return castIndex(b, loc, tensor::ExtractOp::create(b, loc, tensor, indices),
                   b.getIndexType());
}

} // namespace

ExpertGroups lowering::groupByExpert(OpBuilder &b, Location loc, Value indices,
                                     int64_t numExperts) {
  Type indexType = cast<RankedTensorType>(indices.getType()).getElementType();
  Value zero = indexConstant(b, loc, 0);
  Value one = indexConstant(b, loc, 1);

  // offsets = exclusive prefix sum of the tokens per expert.
  Value counts = sumPerExpert(b, loc, indices, Value(), numExperts, indexType);
  Value offsets = tensor::InsertOp::create(
      b, loc, intConstant(b, loc, indexType, 0),
      emptyTensor(b, loc, {b.getIndexAttr(numExperts + 1)}, indexType),
      ValueRange{zero});
  auto prefixSum = scf::ForOp::create(
      b, loc, zero, indexConstant(b, loc, numExperts), one,
      ValueRange{offsets, intConstant(b, loc, indexType, 0)},
      [&](OpBuilder &nb, Location l, Value expert, ValueRange state) {
        Value count =
            tensor::ExtractOp::create(nb, l, counts, ValueRange{expert});
        Value end = arith::AddIOp::create(nb, l, state[1], count);
        Value next = arith::AddIOp::create(nb, l, expert, one);
        Value updated =
            tensor::InsertOp::create(nb, l, end, state[0], ValueRange{next});
        scf::YieldOp::create(nb, l, ValueRange{updated, end});
      });
  offsets = prefixSum.getResult(0);

  // Walks the choices in token order, giving each the next free row of its
  // expert's group.
  OpFoldResult numTokens = tensor::getMixedSize(b, loc, indices, 0);
  OpFoldResult k = tensor::getMixedSize(b, loc, indices, 1);
  OpFoldResult numRows = multiplySizes(b, loc, numTokens, k);
  Value kValue = getValueOrCreateConstantIndexOp(b, loc, k);
  Value nextFree = tensor::ExtractSliceOp::create(
      b, loc, offsets, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(numExperts)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  Value rows = emptyTensor(b, loc, {numTokens, k}, indexType);
  Value sourceChoices = emptyTensor(b, loc, numRows, indexType);
  auto assign = scf::ForOp::create(
      b, loc, zero, getValueOrCreateConstantIndexOp(b, loc, numRows), one,
      ValueRange{nextFree, rows, sourceChoices},
      [&](OpBuilder &nb, Location l, Value choice, ValueRange state) {
        Value token = arith::DivUIOp::create(nb, l, choice, kValue);
        Value slot = arith::RemUIOp::create(nb, l, choice, kValue);
        Value expert = extractIndex(nb, l, indices, {token, slot});
        Value row =
            tensor::ExtractOp::create(nb, l, state[0], ValueRange{expert});
        Value rowIndex = castIndex(nb, l, row, nb.getIndexType());
        Value newNextFree = tensor::InsertOp::create(
            nb, l,
            arith::AddIOp::create(nb, l, row, intConstant(nb, l, indexType, 1)),
            state[0], ValueRange{expert});
        Value newRows = tensor::InsertOp::create(nb, l, row, state[1],
                                                 ValueRange{token, slot});
        Value newSources = tensor::InsertOp::create(
            nb, l, castIndex(nb, l, choice, indexType), state[2],
            ValueRange{rowIndex});
        scf::YieldOp::create(nb, l,
                             ValueRange{newNextFree, newRows, newSources});
      });
  return {offsets, assign.getResult(1), assign.getResult(2)};
}

Value lowering::gatherChoiceRows(OpBuilder &b, Location loc, Value input,
                                 Value choices, Value k, Type elementType) {
  OpFoldResult rows = tensor::getMixedSize(b, loc, choices, 0);
  Value init = emptyTensor(
      b, loc, {rows, tensor::getMixedSize(b, loc, input, 1)}, elementType);
  return generic(b, loc, choices, projection(b.getContext(), 2, {0}), init,
                 b.getMultiDimIdentityMap(2),
                 {utils::IteratorType::parallel, utils::IteratorType::parallel},
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   Value choice = castIndex(nb, nl, args[0], nb.getIndexType());
                   Value token = arith::DivUIOp::create(nb, nl, choice, k);
                   Value value = tensor::ExtractOp::create(
                       nb, nl, input,
                       ValueRange{token, linalg::IndexOp::create(nb, nl, 1)});
                   return SmallVector<Value>{
                       convertFloat(nb, nl, value, elementType)};
                 })
      .front();
}

void lowering::requireValidRouting(OpBuilder &b, Operation *op, Value input,
                                   Value indices, int64_t numExperts) {
  Location loc = op->getLoc();
  StringRef name = op->getName().getStringRef();
  requireSameSize(b, loc, indices, 0, input, 0,
                  name + ": 'indices' and 'input' differ in the number of "
                         "tokens");
  requireAllInRange(b, loc, indices, 0, indexConstant(b, loc, numExperts),
                    name + ": an expert index is outside [0, num_experts)");
}

namespace {

struct DispatchLowering : OpConversionPattern<DispatchOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(DispatchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    Value indices = adaptor.getIndices();
    requireValidRouting(rewriter, op, input, indices, op.getNumExperts());
    ExpertGroups groups =
        groupByExpert(rewriter, loc, indices, op.getNumExperts());
    Value tokens = gatherChoiceRows(
        rewriter, loc, input, groups.sourceChoices,
        tensor::DimOp::create(rewriter, loc, indices, 1),
        cast<RankedTensorType>(input.getType()).getElementType());
    rewriter.replaceOp(
        op, {castToType(rewriter, loc, tokens, op.getTokens().getType()),
             groups.offsets,
             castToType(rewriter, loc, groups.rows, op.getRows().getType())});
    return success();
  }
};

struct CapacityDispatchLowering : OpConversionPattern<CapacityDispatchOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(CapacityDispatchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    Value indices = adaptor.getIndices();
    Type indexType = cast<RankedTensorType>(indices.getType()).getElementType();
    int64_t numExperts = op.getNumExperts();
    Value zero = indexConstant(rewriter, loc, 0);
    Value one = indexConstant(rewriter, loc, 1);
    OpFoldResult numTokens = tensor::getMixedSize(rewriter, loc, indices, 0);
    OpFoldResult k = tensor::getMixedSize(rewriter, loc, indices, 1);
    Value numTokensValue =
        getValueOrCreateConstantIndexOp(rewriter, loc, numTokens);
    Value kValue = getValueOrCreateConstantIndexOp(rewriter, loc, k);
    requireValidRouting(rewriter, op, input, indices, numExperts);

    OpFoldResult capacity = capacityOf(rewriter, op, numTokensValue, kValue);
    Value capacityValue = castIndex(
        rewriter, loc, getValueOrCreateConstantIndexOp(rewriter, loc, capacity),
        indexType);
    OpFoldResult numSlots = multiplySizes(
        rewriter, loc, rewriter.getIndexAttr(numExperts), capacity);

    Value filled = filledTensor(rewriter, loc,
                                {rewriter.getIndexAttr(numExperts)}, indexType,
                                0.0);
    Value rows = emptyTensor(rewriter, loc, {numTokens, k}, indexType);
    Value sourceToken = filledTensor(rewriter, loc, numSlots, indexType, -1.0);
    // Priority order: every token's first choice, then every second one, ...
    auto assign = scf::ForOp::create(
        rewriter, loc, zero,
        arith::MulIOp::create(rewriter, loc, numTokensValue, kValue), one,
        ValueRange{filled, rows, sourceToken},
        [&](OpBuilder &b, Location l, Value choice, ValueRange state) {
          Value slot = arith::DivUIOp::create(b, l, choice, numTokensValue);
          Value token = arith::RemUIOp::create(b, l, choice, numTokensValue);
          Value expertValue = tensor::ExtractOp::create(
              b, l, indices, ValueRange{token, slot});
          Value expert = castIndex(b, l, expertValue, b.getIndexType());
          Value used =
              tensor::ExtractOp::create(b, l, state[0], ValueRange{expert});
          Value kept = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt,
                                             used, capacityValue);
          Value position = arith::AddIOp::create(
              b, l, arith::MulIOp::create(b, l, expertValue, capacityValue),
              used);
          Value dropped = intConstant(b, l, indexType, -1);
          Value newRows = tensor::InsertOp::create(
              b, l, arith::SelectOp::create(b, l, kept, position, dropped),
              state[1], ValueRange{token, slot});
          Value usedAfter = arith::SelectOp::create(
              b, l, kept,
              arith::AddIOp::create(b, l, used,
                                    intConstant(b, l, indexType, 1)),
              used);
          Value newFilled = tensor::InsertOp::create(b, l, usedAfter, state[0],
                                                     ValueRange{expert});
          auto recordSource = scf::IfOp::create(
              b, l, kept,
              [&](OpBuilder &tb, Location tl) {
                Value updated = tensor::InsertOp::create(
                    tb, tl, castIndex(tb, tl, token, indexType), state[2],
                    ValueRange{castIndex(tb, tl, position, tb.getIndexType())});
                scf::YieldOp::create(tb, tl, updated);
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, state[2]);
              });
          scf::YieldOp::create(
              b, l, ValueRange{newFilled, newRows, recordSource.getResult(0)});
        });

    Value sources = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({numExperts, getConstantIntValue(capacity)
                                               .value_or(ShapedType::kDynamic)},
                              indexType),
        assign.getResult(2), {{0, 1}},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(numExperts), capacity});
    OpFoldResult width = tensor::getMixedSize(rewriter, loc, input, 1);
    Value tokens =
        gatherRows(rewriter, loc, input, sources,
                   {rewriter.getIndexAttr(numExperts), capacity, width});
    rewriter.replaceOp(
        op, {castToType(rewriter, loc, tokens, op.getTokens().getType()),
             castToType(rewriter, loc, assign.getResult(1),
                              op.getRows().getType())});
    return success();
  }

  /// `C = ceil(k * T * capacity_factor / n)`: the static value where the type
  /// has one, else the same double arithmetic as
  /// `CapacityDispatchOp::computeCapacity`, emitted.
  static OpFoldResult capacityOf(OpBuilder &b, CapacityDispatchOp op,
                                 Value numTokens, Value k) {
    int64_t staticCapacity = op.getTokens().getType().getDimSize(1);
    if (!ShapedType::isDynamic(staticCapacity))
      return b.getIndexAttr(staticCapacity);
    Location loc = op.getLoc();
    Type f64 = b.getF64Type();
    Value choices = castIndex(b, loc, arith::MulIOp::create(b, loc, k, numTokens),
                              b.getI64Type());
    Value scaled = arith::MulFOp::create(
        b, loc, arith::SIToFPOp::create(b, loc, f64, choices),
        floatConstant(b, loc, f64, op.getCapacityFactor().convertToDouble()));
    Value perExpert = arith::DivFOp::create(
        b, loc, scaled,
        floatConstant(b, loc, f64, static_cast<double>(op.getNumExperts())));
    Value rounded = math::CeilOp::create(b, loc, perExpert);
    return castIndex(b, loc,
                     arith::FPToSIOp::create(b, loc, b.getI64Type(), rounded),
                     b.getIndexType());
  }
};

/// One `linalg.generic` over `(t, column, choice)`, reducing the choices:
/// each token gathers its k expert rows, so no scatter and no `[T, k, d]`
/// temporary.
struct CombineLowering : OpConversionPattern<CombineOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(CombineOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value expertOutput = adaptor.getExpertOutput();
    if (cast<RankedTensorType>(expertOutput.getType()).getRank() == 3)
      expertOutput = tensor::CollapseShapeOp::create(
          rewriter, loc, expertOutput,
          ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    Type elementType = op.getType().getElementType();
    Type mathType = computeType(elementType);
    Value gates = adaptor.getGates(), rows = adaptor.getRows();
    for (unsigned dim : {0u, 1u})
      requireSameSize(rewriter, loc, rows, dim, gates, dim,
                      "moe.combine: 'rows' and 'gates' differ in shape");
    requireAllInRange(rewriter, loc, rows, -1,
                      tensor::DimOp::create(rewriter, loc, expertOutput, 0),
                      "moe.combine: a row is outside the expert output");
    Value init = filledTensor(
        rewriter, loc,
        {tensor::getMixedSize(rewriter, loc, gates, 0),
         tensor::getMixedSize(rewriter, loc, expertOutput, 1)},
        mathType, 0.0);
    AffineMap choiceMap = projection(ctx, 3, {0, 2});
    Value sum =
        generic(rewriter, loc, {gates, rows},
                {choiceMap, choiceMap}, init, projection(ctx, 3, {0, 1}),
                {utils::IteratorType::parallel, utils::IteratorType::parallel,
                 utils::IteratorType::reduction},
                [&](OpBuilder &b, Location l, ValueRange args) {
                  Value row = args[1];
                  Value zero = intConstant(b, l, row.getType(), 0);
                  Value kept = arith::CmpIOp::create(
                      b, l, arith::CmpIPredicate::sge, row, zero);
                  // A dropped choice (-1) reads row 0 and is discarded.
                  Value rowIndex =
                      castIndex(b, l, arith::MaxSIOp::create(b, l, row, zero),
                                b.getIndexType());
                  Value value = tensor::ExtractOp::create(
                      b, l, expertOutput,
                      ValueRange{rowIndex, linalg::IndexOp::create(b, l, 1)});
                  Value weighted = arith::MulFOp::create(
                      b, l, convertFloat(b, l, args[0], mathType),
                      convertFloat(b, l, value, mathType));
                  Value contribution = arith::SelectOp::create(
                      b, l, kept, weighted, floatConstant(b, l, mathType, 0.0));
                  return SmallVector<Value>{
                      arith::AddFOp::create(b, l, args[2], contribution)};
                })
            .front();
    Value output = convertTensor(rewriter, loc, sum, elementType);
    rewriter.replaceOp(op,
                       castToType(rewriter, loc, output, op.getType()));
    return success();
  }
};

} // namespace

void lowering::populateDispatchLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<DispatchLowering, CapacityDispatchLowering, CombineLowering>(
      patterns.getContext());
}
