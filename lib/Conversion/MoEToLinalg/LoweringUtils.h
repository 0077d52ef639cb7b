//===- LoweringUtils.h - Builders shared by the MoE lowerings ---*- C++ -*-===//
//
// Small builders of linalg/tensor/arith IR on tensors with possibly dynamic
// sizes, shared by the conversion patterns of each op family. Private to the
// MoEToLinalg library.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_MOETOLINALG_LOWERINGUTILS_H
#define LIB_CONVERSION_MOETOLINALG_LOWERINGUTILS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"
#include "moe/Conversion/MoEToLinalg/MoEToLinalg.h"

#include <limits>

namespace mlir::moe::lowering {

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

using BodyBuilder =
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;
using ScalarCombiner = function_ref<Value(OpBuilder &, Location, Value, Value)>;

//===----------------------------------------------------------------------===//
// Scalars
//===----------------------------------------------------------------------===//

/// The type math is done in: f16 and bf16 widen to f32 so that GEMM
/// accumulation, softmax and reductions keep f32 accuracy.
FloatType computeType(Type elementType);

/// Extends or truncates the float `value` to `to`.
Value convertFloat(OpBuilder &b, Location loc, Value value, Type to);

Value floatConstant(OpBuilder &b, Location loc, Type type, double value);
Value intConstant(OpBuilder &b, Location loc, Type type, int64_t value);
Value indexConstant(OpBuilder &b, Location loc, int64_t value);

/// Casts between `index` and an integer type (either direction).
Value castIndex(OpBuilder &b, Location loc, Value value, Type to);

/// The size of `value`'s dimension `dim` as a float of `type`.
Value dimAsFloat(OpBuilder &b, Location loc, Value value, unsigned dim,
                 Type type);

/// The value top-k selection ranks `value` by, in `keyType`: the value
/// itself, with NaN ranking below every number (as -inf).
Value rankingKey(OpBuilder &b, Location loc, Value value, Type keyType);

/// The standard normal CDF, `0.5 * erfc(-z / sqrt(2))`, accurate in both
/// tails.
Value normalCdf(OpBuilder &b, Location loc, Value z);

//===----------------------------------------------------------------------===//
// Run-time checks of what the verifier cannot see
//===----------------------------------------------------------------------===//

/// Aborts at run time with `message` unless the i1 `condition` holds.
void requireAtRunTime(OpBuilder &b, Location loc, Value condition,
                      const Twine &message);

/// Requires dimension `dimA` of `a` to equal dimension `dimB` of `c` where
/// either is dynamic (the verifier compared the static ones).
void requireSameSize(OpBuilder &b, Location loc, Value a, unsigned dimA,
                     Value c, unsigned dimB, const Twine &message);

/// Requires every element of the integer tensor `values` to lie in
/// `[low, high)` (`high` an `index` value), with one reduction over the
/// elements rather than a check per access.
void requireAllInRange(OpBuilder &b, Location loc, Value values, int64_t low,
                       Value high, const Twine &message);

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType);

/// A tensor of `sizes` filled with `value` (float or integer element type).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, double value);

/// A `linalg.generic` over the iteration space described by `iterators`;
/// every input and init comes with its own map.
SmallVector<Value> generic(OpBuilder &b, Location loc, ValueRange inputs,
                           ArrayRef<AffineMap> inputMaps, ValueRange inits,
                           ArrayRef<AffineMap> initMaps,
                           ArrayRef<utils::IteratorType> iterators,
                           BodyBuilder body);

/// Elementwise over tensors of one shape, producing `inits`.
SmallVector<Value> elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                               ValueRange inits, BodyBuilder body);

/// `f(x)` for every element of `input`, into a new tensor of `resultType`
/// elements.
Value mapElements(OpBuilder &b, Location loc, Value input, Type resultType,
                  function_ref<Value(OpBuilder &, Location, Value)> f);

/// The map `(d0, .., d[rank-1]) -> (the listed dims)`.
AffineMap projection(MLIRContext *ctx, unsigned rank, ArrayRef<unsigned> dims);

Value rowMax(OpBuilder &b, Location loc, Value input);
Value rowSum(OpBuilder &b, Location loc, Value input);

/// Sums `input` `[R, ...]` over its first dimension into `[...]`: the
/// columns of a matrix, the slices of a stack.
Value sumOverFirstDim(OpBuilder &b, Location loc, Value input);

/// `exp(matrix[r, c] - rowValue[r])`, the shifted exponentials of a softmax.
Value expOfDifference(OpBuilder &b, Location loc, Value matrix, Value rowValue);
Value divideRows(OpBuilder &b, Location loc, Value matrix, Value rowValues);

/// Row-wise softmax of `logits` `[R, C]`.
Value softmaxRows(OpBuilder &b, Location loc, Value logits);

/// `tensor.cast` of `value` to `type` where an op's result type is more
/// static than what its lowering proves; `value` itself where they agree.
Value castToType(OpBuilder &b, Location loc, Value value, Type type);

/// Elementwise `convertFloat` of a whole tensor.
Value convertTensor(OpBuilder &b, Location loc, Value input, Type to);

/// `lhs [M, K] . rhs [K, N]`, or the batched form `[B, M, K] . [B, K, N]`,
/// accumulated in `accType`.
Value matmul(OpBuilder &b, Location loc, Value lhs, Value rhs, Type accType);

/// Sums all elements of the 1-D `input` into a scalar.
Value sumAll(OpBuilder &b, Location loc, Value input);

/// `weight * value` as the 0-d tensor of `resultType` a loss op returns.
Value weightedLoss(OpBuilder &b, Location loc, const APFloat &weight,
                   Value value, Type resultType);

/// For each expert, the sum of `weights` `[T, k]` over the choices of the
/// routing `indices` `[T, k]` that name it; without `weights`, the number of
/// such choices. Returns `[numExperts]` of `sumType` (integer or float).
Value sumPerExpert(OpBuilder &b, Location loc, Value indices, Value weights,
                   int64_t numExperts, Type sumType);

/// Updates per-row state that a top-k scan carries beside its selection: given
/// one entry of the row and the state so far, returns the new state.
using RowScanUpdate = llvm::function_ref<SmallVector<Value>(
    OpBuilder &, Location, Value entry, ValueRange state)>;

/// The result of `scanRowTopK`.
struct RowTopK {
  /// `[R, k]`, in `computeType` of the input's element type.
  Value values;
  /// `[R, k]`.
  Value indices;
  /// The final per-row state `[R]` of each of `extraInits`.
  SmallVector<Value> extra;
};

/// The `k` largest entries of each row of `input` `[R, m]`, descending, equal
/// values ordered by the lower column first; NaN ranks below every number. A
/// row with fewer than k entries leaves its last slots at (-inf, -1).
///
/// One `linalg.generic` reads each row once, keeping the k best (key, column)
/// pairs sorted by insertion; an `scf.if` on one compare with the k-th slot
/// skips the insertion of an entry that does not enter (O(m) compares and
/// O(k log m) insertions for random rows, no pass per kept entry). Its
/// rows are parallel, so the threads stage can split them. `extraUpdate`
/// folds each entry into per-row state initialized by `extraInits` (`[R]`
/// tensors) in the same scan.
RowTopK scanRowTopK(OpBuilder &b, Location loc, Value input, int64_t k,
                    Type indexType, ValueRange extraInits = {},
                    RowScanUpdate extraUpdate = nullptr);

/// The largest k that `topK` selects with `scanRowTopK`: the scan's body
/// grows with k (O(k) selects per entry, 2k running values per row), and at
/// k = 256 LLVM takes minutes to compile it.
constexpr int64_t kMaxScannedTopK = 16;

/// `scanRowTopK` without extra state, its values in the input's element type;
/// for k above `kMaxScannedTopK`, k selection passes over each row instead.
std::pair<Value, Value> topK(OpBuilder &b, Location loc, Value input,
                             int64_t k, Type indexType);

/// Column `column` of `matrix` `[R, C]` as `[R]`.
Value extractColumn(OpBuilder &b, Location loc, Value matrix, int64_t column);

/// `matrix` `[R, C]` with column `column` replaced by `values` `[R]`.
Value insertColumn(OpBuilder &b, Location loc, Value values, Value matrix,
                   int64_t column);

/// Row `row` of `matrix` `[R, C]` as `[C]`.
Value extractRow(OpBuilder &b, Location loc, Value matrix, Value row);

/// `matrix` `[R, C]` with row `row` replaced by `values` `[C]`.
Value insertRow(OpBuilder &b, Location loc, Value values, Value matrix,
                Value row);

//===----------------------------------------------------------------------===//
// Routing layouts
//===----------------------------------------------------------------------===//

/// The run-time checks of a routing that addresses token rows and experts:
/// one row of `indices` per token of `input`, every index in
/// `[0, numExperts)`. Messages name `op`.
void requireValidRouting(OpBuilder &b, Operation *op, Value input,
                         Value indices, int64_t numExperts);

/// The dropless layout of the routing `indices` `[T, k]` (checked by
/// `requireValidRouting`): the choices grouped by expert, in token order
/// inside a group, all of index type of `indices`.
struct ExpertGroups {
  /// `[n+1]`: the group of expert `e` is rows `offsets[e] .. offsets[e+1]`.
  Value offsets;
  /// `[T, k]`: the row of choice `(t, j)`.
  Value rows;
  /// `[T*k]`: the choice `t * k + j` each row holds.
  Value sourceChoices;
};

/// One `scf.for` scan over the choices; the counts and offsets before it
/// are a reduction and an `n`-step prefix sum.
ExpertGroups groupByExpert(OpBuilder &b, Location loc, Value indices,
                           int64_t numExperts);

/// `[rows, d]` of `elementType`: row `r` is the input row of the token of
/// choice `choices[r]` (`t * k + j`, `k` an `index` value), read from
/// `input` `[T, d]` in one parallel gather.
Value gatherChoiceRows(OpBuilder &b, Location loc, Value input, Value choices,
                       Value k, Type elementType);

//===----------------------------------------------------------------------===//
// Pattern populators of each op family
//===----------------------------------------------------------------------===//

void populateGatingLoweringPatterns(RewritePatternSet &patterns);
void populateDispatchLoweringPatterns(RewritePatternSet &patterns);
void populateExpertLoweringPatterns(RewritePatternSet &patterns,
                                    const RoutedFFNLoweringOptions &routed);
void populateLossLoweringPatterns(RewritePatternSet &patterns);

} // namespace mlir::moe::lowering

#endif // LIB_CONVERSION_MOETOLINALG_LOWERINGUTILS_H
