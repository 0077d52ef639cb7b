//===- LoweringUtils.cpp - Builders shared by the MoE lowerings -----------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::lowering;

FloatType lowering::computeType(Type elementType) {
  auto floatType = cast<FloatType>(elementType);
  if (floatType.getWidth() < 32)
    return Float32Type::get(floatType.getContext());
  return floatType;
}

Value lowering::convertFloat(OpBuilder &b, Location loc, Value value,
                             Type to) {
  if (value.getType() == to)
    return value;
  if (cast<FloatType>(value.getType()).getWidth() <
      cast<FloatType>(to).getWidth())
    return arith::ExtFOp::create(b, loc, to, value);
  return arith::TruncFOp::create(b, loc, to, value);
}

Value lowering::floatConstant(OpBuilder &b, Location loc, Type type,
                              double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

Value lowering::intConstant(OpBuilder &b, Location loc, Type type,
                            int64_t value) {
  return arith::ConstantOp::create(b, loc, type,
                                   b.getIntegerAttr(type, value));
}

Value lowering::indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value lowering::castIndex(OpBuilder &b, Location loc, Value value, Type to) {
  if (value.getType() == to)
    return value;
  return arith::IndexCastOp::create(b, loc, to, value);
}

/// The size of `value`'s dimension `dim` as an `index`.
static Value dimSize(OpBuilder &b, Location loc, Value value, unsigned dim) {
  return getValueOrCreateConstantIndexOp(
      b, loc, tensor::getMixedSize(b, loc, value, dim));
}

Value lowering::dimAsFloat(OpBuilder &b, Location loc, Value value,
                           unsigned dim, Type type) {
  Value asInteger =
      castIndex(b, loc, dimSize(b, loc, value, dim), b.getI64Type());
  return arith::UIToFPOp::create(b, loc, type, asInteger);
}

Value lowering::rankingKey(OpBuilder &b, Location loc, Value value,
                           Type keyType) {
  Value key = convertFloat(b, loc, value, keyType);
  Value isNaN =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, key, key);
  return arith::SelectOp::create(
      b, loc, isNaN, floatConstant(b, loc, keyType, -kInfinity), key);
}

Value lowering::normalCdf(OpBuilder &b, Location loc, Value z) {
  Type type = z.getType();
  Value scaled = arith::MulFOp::create(b, loc, z,
                                       floatConstant(b, loc, type, -M_SQRT1_2));
  return arith::MulFOp::create(b, loc, floatConstant(b, loc, type, 0.5),
                               math::ErfcOp::create(b, loc, scaled));
}

void lowering::requireAtRunTime(OpBuilder &b, Location loc, Value condition,
                                const Twine &message) {
  cf::AssertOp::create(b, loc, condition, b.getStringAttr(message));
}

void lowering::requireSameSize(OpBuilder &b, Location loc, Value a,
                               unsigned dimA, Value c, unsigned dimB,
                               const Twine &message) {
  auto typeA = cast<RankedTensorType>(a.getType());
  auto typeC = cast<RankedTensorType>(c.getType());
  if (!typeA.isDynamicDim(dimA) && !typeC.isDynamicDim(dimB))
    return;
  Value same = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                     dimSize(b, loc, a, dimA),
                                     dimSize(b, loc, c, dimB));
  requireAtRunTime(b, loc, same, message);
}

void lowering::requireAllInRange(OpBuilder &b, Location loc, Value values,
                                 int64_t low, Value high,
                                 const Twine &message) {
  auto type = cast<RankedTensorType>(values.getType());
  Type elementType = type.getElementType();
  Type i64 = b.getI64Type();
  Value lowValue = intConstant(b, loc, elementType, low);
  Value highValue = castIndex(b, loc, high, elementType);
  Value init = filledTensor(b, loc, {}, i64, 0.0);
  unsigned rank = type.getRank();
  Value outside =
      generic(b, loc, values, b.getMultiDimIdentityMap(rank), init,
              projection(b.getContext(), rank, {}),
              SmallVector<utils::IteratorType>(rank,
                                               utils::IteratorType::reduction),
              [&](OpBuilder &nb, Location nl, ValueRange args) {
                Value below = arith::CmpIOp::create(
                    nb, nl, arith::CmpIPredicate::slt, args[0], lowValue);
                Value above = arith::CmpIOp::create(
                    nb, nl, arith::CmpIPredicate::sge, args[0], highValue);
                Value bad = arith::ExtUIOp::create(
                    nb, nl, i64, arith::OrIOp::create(nb, nl, below, above));
                return SmallVector<Value>{
                    arith::AddIOp::create(nb, nl, args[1], bad)};
              })
          .front();
  Value count = tensor::ExtractOp::create(b, loc, outside, ValueRange{});
  Value none = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, count,
                                     intConstant(b, loc, i64, 0));
  requireAtRunTime(b, loc, none, message);
}

Value lowering::emptyTensor(OpBuilder &b, Location loc,
                            ArrayRef<OpFoldResult> sizes, Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value lowering::filledTensor(OpBuilder &b, Location loc,
                             ArrayRef<OpFoldResult> sizes, Type elementType,
                             double value) {
  Value empty = emptyTensor(b, loc, sizes, elementType);
  Value fill = isa<FloatType>(elementType)
                   ? floatConstant(b, loc, elementType, value)
                   : intConstant(b, loc, elementType,
                                 static_cast<int64_t>(value));
  return linalg::FillOp::create(b, loc, fill, empty).getResult(0);
}

SmallVector<Value> lowering::generic(OpBuilder &b, Location loc,
                                     ValueRange inputs,
                                     ArrayRef<AffineMap> inputMaps,
                                     ValueRange inits,
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

SmallVector<Value> lowering::elementwise(OpBuilder &b, Location loc,
                                         ValueRange inputs, ValueRange inits,
                                         BodyBuilder body) {
  unsigned rank = cast<RankedTensorType>(inits.front().getType()).getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> inputMaps(inputs.size(), identity);
  SmallVector<AffineMap> initMaps(inits.size(), identity);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return generic(b, loc, inputs, inputMaps, inits, initMaps, iterators, body);
}

Value lowering::mapElements(
    OpBuilder &b, Location loc, Value input, Type resultType,
    function_ref<Value(OpBuilder &, Location, Value)> f) {
  Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, input),
                           resultType);
  return elementwise(b, loc, input, init,
                     [&](OpBuilder &nb, Location nl, ValueRange args) {
                       return SmallVector<Value>{f(nb, nl, args[0])};
                     })
      .front();
}

AffineMap lowering::projection(MLIRContext *ctx, unsigned rank,
                               ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> results;
  for (unsigned dim : dims)
    results.push_back(getAffineDimExpr(dim, ctx));
  return AffineMap::get(rank, 0, results, ctx);
}

/// Reduces each row of `input` `[R, C]` with `combine` into `[R]`, starting
/// from `identity`.
static Value reduceRows(OpBuilder &b, Location loc, Value input,
                        double identity, ScalarCombiner combine) {
  Type type = cast<RankedTensorType>(input.getType()).getElementType();
  Value init = filledTensor(b, loc, {tensor::getMixedSize(b, loc, input, 0)},
                            type, identity);
  return generic(b, loc, input, b.getMultiDimIdentityMap(2), init,
                 projection(b.getContext(), 2, {0}),
                 {utils::IteratorType::parallel,
                  utils::IteratorType::reduction},
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   return SmallVector<Value>{
                       combine(nb, nl, args[0], args[1])};
                 })
      .front();
}

Value lowering::rowMax(OpBuilder &b, Location loc, Value input) {
  return reduceRows(b, loc, input, -kInfinity,
                    [](OpBuilder &nb, Location nl, Value x, Value acc) {
                      return arith::MaximumFOp::create(nb, nl, x, acc);
                    });
}

Value lowering::rowSum(OpBuilder &b, Location loc, Value input) {
  return reduceRows(b, loc, input, 0.0,
                    [](OpBuilder &nb, Location nl, Value x, Value acc) {
                      return arith::AddFOp::create(nb, nl, x, acc);
                    });
}

Value lowering::sumOverFirstDim(OpBuilder &b, Location loc, Value input) {
  auto type = cast<RankedTensorType>(input.getType());
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  Value init = filledTensor(b, loc, ArrayRef(sizes).drop_front(),
                            type.getElementType(), 0.0);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.front() = utils::IteratorType::reduction;
  return generic(b, loc, input, b.getMultiDimIdentityMap(rank), init,
                 projection(b.getContext(), rank,
                            llvm::to_vector(llvm::seq<unsigned>(1, rank))),
                 iterators,
                 [](OpBuilder &nb, Location nl, ValueRange args) {
                   return SmallVector<Value>{
                       arith::AddFOp::create(nb, nl, args[0], args[1])};
                 })
      .front();
}

/// `f(matrix[r, c], row[r])` for every element of `matrix` `[R, C]`.
static Value withRowValue(OpBuilder &b, Location loc, Value matrix,
                          Value row, ScalarCombiner f) {
  auto type = cast<RankedTensorType>(matrix.getType());
  Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, matrix),
                           type.getElementType());
  AffineMap identity = b.getMultiDimIdentityMap(2);
  return generic(b, loc, {matrix, row},
                 {identity, projection(b.getContext(), 2, {0})}, init,
                 identity,
                 {utils::IteratorType::parallel, utils::IteratorType::parallel},
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   return SmallVector<Value>{f(nb, nl, args[0], args[1])};
                 })
      .front();
}

Value lowering::expOfDifference(OpBuilder &b, Location loc, Value matrix,
                                Value rowValue) {
  return withRowValue(b, loc, matrix, rowValue,
                      [](OpBuilder &nb, Location nl, Value x, Value m) {
                        return math::ExpOp::create(
                            nb, nl, arith::SubFOp::create(nb, nl, x, m));
                      });
}

Value lowering::divideRows(OpBuilder &b, Location loc, Value matrix,
                           Value rowValues) {
  return withRowValue(b, loc, matrix, rowValues,
                      [](OpBuilder &nb, Location nl, Value x, Value s) {
                        return arith::DivFOp::create(nb, nl, x, s);
                      });
}

Value lowering::softmaxRows(OpBuilder &b, Location loc, Value logits) {
  Value shifted = expOfDifference(b, loc, logits, rowMax(b, loc, logits));
  return divideRows(b, loc, shifted, rowSum(b, loc, shifted));
}

Value lowering::castToType(OpBuilder &b, Location loc, Value value,
                           Type type) {
  if (value.getType() == type)
    return value;
  return tensor::CastOp::create(b, loc, type, value);
}

Value lowering::convertTensor(OpBuilder &b, Location loc, Value input,
                              Type to) {
  if (cast<RankedTensorType>(input.getType()).getElementType() == to)
    return input;
  return mapElements(b, loc, input, to,
                     [&](OpBuilder &nb, Location nl, Value x) {
                       return convertFloat(nb, nl, x, to);
                     });
}

Value lowering::matmul(OpBuilder &b, Location loc, Value lhs, Value rhs,
                       Type accType) {
  unsigned rank = cast<RankedTensorType>(lhs.getType()).getRank();
  SmallVector<OpFoldResult> sizes =
      tensor::getMixedSizes(b, loc, lhs);
  sizes.back() = tensor::getMixedSize(b, loc, rhs, rank - 1);
  Value init = filledTensor(b, loc, sizes, accType, 0.0);
  if (rank == 3)
    return linalg::BatchMatmulOp::create(b, loc, TypeRange{init.getType()},
                                         ValueRange{lhs, rhs},
                                         ValueRange{init})
        .getResult(0);
  return linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                  ValueRange{lhs, rhs}, ValueRange{init})
      .getResult(0);
}

Value lowering::sumAll(OpBuilder &b, Location loc, Value input) {
  Type type = cast<RankedTensorType>(input.getType()).getElementType();
  Value init = filledTensor(b, loc, {}, type, 0.0);
  Value sum = generic(b, loc, input, b.getMultiDimIdentityMap(1), init,
                      projection(b.getContext(), 1, {}),
                      {utils::IteratorType::reduction},
                      [](OpBuilder &nb, Location nl, ValueRange args) {
                        return SmallVector<Value>{
                            arith::AddFOp::create(nb, nl, args[0], args[1])};
                      })
                  .front();
  return tensor::ExtractOp::create(b, loc, sum, ValueRange{});
}

Value lowering::weightedLoss(OpBuilder &b, Location loc, const APFloat &weight,
                             Value value, Type resultType) {
  Value weightValue =
      floatConstant(b, loc, value.getType(), weight.convertToDouble());
  Value loss = arith::MulFOp::create(b, loc, weightValue, value);
  return tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({}, resultType),
      convertFloat(b, loc, loss, resultType));
}

Value lowering::sumPerExpert(OpBuilder &b, Location loc, Value indices,
                            Value weights, int64_t numExperts, Type sumType) {
  MLIRContext *ctx = b.getContext();
  Type indexType = cast<RankedTensorType>(indices.getType()).getElementType();
  bool isFloat = isa<FloatType>(sumType);
  Value init = filledTensor(b, loc, {b.getIndexAttr(numExperts)}, sumType,
                            0.0);
  SmallVector<Value> inputs = {indices};
  if (weights)
    inputs.push_back(weights);
  AffineMap choiceMap = projection(ctx, 3, {0, 1});
  SmallVector<AffineMap> inputMaps(inputs.size(), choiceMap);
  // Iterates (token, choice, expert): a histogram without indirect stores,
  // so it stays a plain parallel-over-experts linalg op.
  return generic(
             b, loc, inputs, inputMaps, init, projection(ctx, 3, {2}),
             {utils::IteratorType::reduction, utils::IteratorType::reduction,
              utils::IteratorType::parallel},
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value expert = castIndex(
                   nb, nl, linalg::IndexOp::create(nb, nl, 2), indexType);
               Value match = arith::CmpIOp::create(
                   nb, nl, arith::CmpIPredicate::eq, args[0], expert);
               Value accumulator = args.back();
               Value zero = isFloat ? floatConstant(nb, nl, sumType, 0.0)
                                    : intConstant(nb, nl, sumType, 0);
               Value increment =
                   weights ? convertFloat(nb, nl, args[1], sumType)
                   : isFloat ? floatConstant(nb, nl, sumType, 1.0)
                             : intConstant(nb, nl, sumType, 1);
               Value term =
                   arith::SelectOp::create(nb, nl, match, increment, zero);
               Value sum = isFloat ? Value(arith::AddFOp::create(
                                         nb, nl, accumulator, term))
                                   : Value(arith::AddIOp::create(
                                         nb, nl, accumulator, term));
               return SmallVector<Value>{sum};
             })
      .front();
}

namespace {
/// The slice of `matrix` `[R, C]` that is its line `position` along `dim`:
/// row `position` for dim 0, column `position` for dim 1.
struct LineSlice {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  RankedTensorType lineType;
};
} // namespace

static LineSlice lineOf(OpBuilder &b, Location loc, Value matrix, unsigned dim,
                        OpFoldResult position) {
  auto type = cast<RankedTensorType>(matrix.getType());
  unsigned across = 1 - dim;
  LineSlice slice;
  slice.offsets.assign(2, b.getIndexAttr(0));
  slice.offsets[dim] = position;
  slice.sizes.assign(2, b.getIndexAttr(1));
  slice.sizes[across] = tensor::getMixedSize(b, loc, matrix, across);
  slice.strides.assign(2, b.getIndexAttr(1));
  slice.lineType = RankedTensorType::get({type.getDimSize(across)},
                                         type.getElementType());
  return slice;
}

static Value extractLine(OpBuilder &b, Location loc, Value matrix,
                         unsigned dim, OpFoldResult position) {
  LineSlice slice = lineOf(b, loc, matrix, dim, position);
  return tensor::ExtractSliceOp::create(b, loc, slice.lineType, matrix,
                                        slice.offsets, slice.sizes,
                                        slice.strides);
}

static Value insertLine(OpBuilder &b, Location loc, Value line, Value matrix,
                        unsigned dim, OpFoldResult position) {
  LineSlice slice = lineOf(b, loc, matrix, dim, position);
  return tensor::InsertSliceOp::create(b, loc, line, matrix, slice.offsets,
                                       slice.sizes, slice.strides);
}

Value lowering::extractColumn(OpBuilder &b, Location loc, Value matrix,
                              int64_t column) {
  return extractLine(b, loc, matrix, 1, b.getIndexAttr(column));
}

Value lowering::insertColumn(OpBuilder &b, Location loc, Value values,
                             Value matrix, int64_t column) {
  return insertLine(b, loc, values, matrix, 1, b.getIndexAttr(column));
}

Value lowering::extractRow(OpBuilder &b, Location loc, Value matrix,
                           Value row) {
  return extractLine(b, loc, matrix, 0, row);
}

Value lowering::insertRow(OpBuilder &b, Location loc, Value values,
                          Value matrix, Value row) {
  return insertLine(b, loc, values, matrix, 0, row);
}

/// The k sorted (key, column) slots `keys`, `columns` after offering them
/// the entry (`key`, `column`), keys then columns. Columns arrive in
/// ascending order, so a key displaces only strictly smaller ones: equal
/// keys keep the lower column first. An empty slot (column -1) takes any
/// key, -inf included.
static SmallVector<Value> insertIntoTopK(OpBuilder &b, Location loc,
                                         Value key, Value column,
                                         ValueRange keys,
                                         ValueRange columns) {
  int64_t k = keys.size();
  Type indexType = column.getType();
  auto ranksAbove = [&](int64_t slot) -> Value {
    Value empty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                        columns[slot],
                                        intConstant(b, loc, indexType, 0));
    Value greater = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                          key, keys[slot]);
    return arith::OrIOp::create(b, loc, empty, greater);
  };
  // Once the slots are full, few entries of a row enter them (about
  // k ln(m / k) of m random ones): one compare with the last slot skips the
  // insertion, a branch where the insertion's selects would form a chain
  // through every entry.
  Value enters = ranksAbove(k - 1);
  SmallVector<Type> slotTypes = llvm::to_vector(keys.getTypes());
  llvm::append_range(slotTypes, columns.getTypes());
  auto insertion = scf::IfOp::create(b, loc, slotTypes, enters,
                                     /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(insertion.elseBlock());
  SmallVector<Value> unchanged = llvm::to_vector(keys);
  llvm::append_range(unchanged, columns);
  scf::YieldOp::create(b, loc, unchanged);
  // The slots stay sorted, so the new entry lands in the first slot it
  // ranks above and every later slot shifts down by one.
  b.setInsertionPointToStart(insertion.thenBlock());
  SmallVector<Value> above;
  for (int64_t slot = 0; slot < k - 1; ++slot)
    above.push_back(ranksAbove(slot));
  above.push_back(enters);
  SmallVector<Value> inserted;
  for (auto [old, incoming] : {std::pair{keys, key}, {columns, column}}) {
    for (int64_t slot = 0; slot < k; ++slot) {
      Value here =
          arith::SelectOp::create(b, loc, above[slot], incoming, old[slot]);
      if (slot > 0)
        here = arith::SelectOp::create(b, loc, above[slot - 1], old[slot - 1],
                                       here);
      inserted.push_back(here);
    }
  }
  scf::YieldOp::create(b, loc, inserted);
  return llvm::to_vector_of<Value>(insertion.getResults());
}

lowering::RowTopK lowering::scanRowTopK(OpBuilder &b, Location loc,
                                        Value input, int64_t k,
                                        Type indexType, ValueRange extraInits,
                                        RowScanUpdate extraUpdate) {
  Type keyType =
      computeType(cast<RankedTensorType>(input.getType()).getElementType());
  OpFoldResult rows = tensor::getMixedSize(b, loc, input, 0);
  SmallVector<Value> inits;
  for (int64_t slot = 0; slot < k; ++slot)
    inits.push_back(filledTensor(b, loc, rows, keyType, -kInfinity));
  for (int64_t slot = 0; slot < k; ++slot)
    inits.push_back(filledTensor(b, loc, rows, indexType, -1.0));
  llvm::append_range(inits, extraInits);
  SmallVector<AffineMap> initMaps(inits.size(),
                                  b.getMultiDimIdentityMap(1));
  // The generic is parallel over rows; each row's state lives in the
  // iter_args of an scf.for over its entries, in registers, where a
  // reduction dimension of the generic would load and store every slot
  // per entry.
  SmallVector<Value> scanned = generic(
      b, loc, /*inputs=*/{}, {}, inits, initMaps,
      {utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location nl, ValueRange rowState) {
        Value row = linalg::IndexOp::create(nb, nl, 0);
        Value width = tensor::DimOp::create(nb, nl, input, 1);
        auto scan = scf::ForOp::create(
            nb, nl, indexConstant(nb, nl, 0), width, indexConstant(nb, nl, 1),
            rowState,
            [&](OpBuilder &lb, Location ll, Value position,
                ValueRange state) {
              Value entry = tensor::ExtractOp::create(
                  lb, ll, input, ValueRange{row, position});
              SmallVector<Value> next =
                  insertIntoTopK(lb, ll, rankingKey(lb, ll, entry, keyType),
                                 castIndex(lb, ll, position, indexType),
                                 state.take_front(k),
                                 state.slice(k, k));
              if (extraUpdate)
                llvm::append_range(
                    next, extraUpdate(lb, ll, entry, state.drop_front(2 * k)));
              scf::YieldOp::create(lb, ll, next);
            });
        return SmallVector<Value>(scan.getResults());
      });

  RowTopK result;
  result.values = emptyTensor(b, loc, {rows, b.getIndexAttr(k)}, keyType);
  result.indices = emptyTensor(b, loc, {rows, b.getIndexAttr(k)}, indexType);
  for (int64_t slot = 0; slot < k; ++slot) {
    result.values = insertColumn(b, loc, scanned[slot], result.values, slot);
    result.indices =
        insertColumn(b, loc, scanned[k + slot], result.indices, slot);
  }
  result.extra.assign(scanned.begin() + 2 * k, scanned.end());
  return result;
}

/// Top-k as k `linalg.generic` row reductions in an `scf.for`, pass j taking
/// the largest entry ranking below pass j-1's pick: O(m) work and two
/// running values per pass, where a scan of many slots would compile slowly.
static std::pair<Value, Value> topKBySelectionPasses(OpBuilder &b,
                                                     Location loc, Value input,
                                                     int64_t k,
                                                     Type indexType) {
  MLIRContext *ctx = b.getContext();
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();
  Type keyType = computeType(elementType);
  Type i64 = b.getI64Type();
  OpFoldResult rows = tensor::getMixedSize(b, loc, input, 0);
  SmallVector<OpFoldResult> resultSizes = {rows, b.getIndexAttr(k)};
  Value values = emptyTensor(b, loc, resultSizes, elementType);
  Value indices = emptyTensor(b, loc, resultSizes, indexType);

  AffineMap identity = b.getMultiDimIdentityMap(2);
  AffineMap row = projection(ctx, 2, {0});
  auto pick = [&](OpBuilder &nb, Location nl, Value position,
                  ValueRange picked) {
    // The previous pick is read back from the results so far; the first pass
    // starts above every entry, at (+inf, column -1).
    Value zero = indexConstant(nb, nl, 0);
    Value first = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                        position, zero);
    Value previousPosition = arith::SelectOp::create(
        nb, nl, first, zero,
        arith::SubIOp::create(nb, nl, position, indexConstant(nb, nl, 1)));
    Value previousValues =
        extractLine(nb, nl, picked[0], 1, previousPosition);
    Value previousIndices =
        extractLine(nb, nl, picked[1], 1, previousPosition);
    Value bestValue = filledTensor(nb, nl, rows, keyType, -kInfinity);
    Value bestIndex = filledTensor(nb, nl, rows, i64, -1);
    // The largest entry ranking below the previous pick, in the order
    // (value descending, column ascending).
    SmallVector<Value> best = generic(
        nb, nl, {input, previousValues, previousIndices}, {identity, row, row},
        {bestValue, bestIndex}, {row, row},
        {utils::IteratorType::parallel, utils::IteratorType::reduction},
        [&](OpBuilder &bb, Location bl, ValueRange args) {
          auto fcmp = [&](arith::CmpFPredicate predicate, Value l, Value r) {
            return arith::CmpFOp::create(bb, bl, predicate, l, r);
          };
          auto icmp = [&](arith::CmpIPredicate predicate, Value l, Value r) {
            return arith::CmpIOp::create(bb, bl, predicate, l, r);
          };
          auto both = [&](Value l, Value r) {
            return arith::AndIOp::create(bb, bl, l, r);
          };
          auto either = [&](Value l, Value r) {
            return arith::OrIOp::create(bb, bl, l, r);
          };
          auto select = [&](Value condition, Value l, Value r) {
            return arith::SelectOp::create(bb, bl, condition, l, r);
          };
          Value key = rankingKey(bb, bl, args[0], keyType);
          Value column =
              castIndex(bb, bl, linalg::IndexOp::create(bb, bl, 1), i64);
          Value previous =
              select(first, floatConstant(bb, bl, keyType, kInfinity),
                     convertFloat(bb, bl, args[1], keyType));
          Value previousColumn = args[2];
          if (indexType != i64)
            previousColumn = arith::ExtSIOp::create(bb, bl, i64, args[2]);
          previousColumn =
              select(first, intConstant(bb, bl, i64, -1), previousColumn);
          Value current = args[3], currentColumn = args[4];
          Value below = either(
              fcmp(arith::CmpFPredicate::OLT, key, previous),
              both(fcmp(arith::CmpFPredicate::OEQ, key, previous),
                   icmp(arith::CmpIPredicate::sgt, column, previousColumn)));
          Value above = either(
              either(icmp(arith::CmpIPredicate::slt, currentColumn,
                          intConstant(bb, bl, i64, 0)),
                     fcmp(arith::CmpFPredicate::OGT, key, current)),
              both(fcmp(arith::CmpFPredicate::OEQ, key, current),
                   icmp(arith::CmpIPredicate::slt, column, currentColumn)));
          Value take = both(below, above);
          return SmallVector<Value>{select(take, key, current),
                                    select(take, column, currentColumn)};
        });

    SmallVector<OpFoldResult> offsets = {nb.getIndexAttr(0), position};
    SmallVector<OpFoldResult> sizes = {rows, nb.getIndexAttr(1)};
    SmallVector<OpFoldResult> strides(2, nb.getIndexAttr(1));
    Value pickedValues = convertTensor(nb, nl, best[0], elementType);
    Value pickedIndices = best[1];
    if (indexType != i64)
      pickedIndices = mapElements(
          nb, nl, pickedIndices, indexType,
          [&](OpBuilder &bb, Location bl, Value x) -> Value {
            return arith::TruncIOp::create(bb, bl, indexType, x);
          });
    Value newValues = tensor::InsertSliceOp::create(
        nb, nl, pickedValues, picked[0], offsets, sizes, strides);
    Value newIndices = tensor::InsertSliceOp::create(
        nb, nl, pickedIndices, picked[1], offsets, sizes, strides);
    scf::YieldOp::create(nb, nl, ValueRange{newValues, newIndices});
  };
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, k),
      indexConstant(b, loc, 1), ValueRange{values, indices}, pick);
  return {loop.getResult(0), loop.getResult(1)};
}

std::pair<Value, Value> lowering::topK(OpBuilder &b, Location loc,
                                       Value input, int64_t k,
                                       Type indexType) {
  if (k > kMaxScannedTopK)
    return topKBySelectionPasses(b, loc, input, k, indexType);
  RowTopK scan = scanRowTopK(b, loc, input, k, indexType);
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();
  return {convertTensor(b, loc, scan.values, elementType), scan.indices};
}
