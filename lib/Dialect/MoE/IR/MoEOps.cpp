//===- MoEOps.cpp - Shape contracts of the MoE operations -----------------===//
//
// Each op's shape rules are written once, here, in its `verify`. Ops whose
// result types follow from their operands also compute them in
// `inferReturnTypes`, which builders use and the generated verifier compares
// against the declared types; it only derives types (dynamic where operands
// disagree) and leaves every diagnostic to `verify`.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/IR/MoEOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;

namespace {

std::string dimToString(int64_t size) {
  return ShapedType::isDynamic(size) ? "?" : std::to_string(size);
}

std::string typeToString(Type type) {
  std::string text;
  llvm::raw_string_ostream(text) << type;
  return text;
}

/// The size known for one quantity seen in two places: the static one wins.
int64_t mergeDims(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) ? b : a;
}

/// Checks one op's shape contract and reports the first broken rule on the
/// op, naming the operands involved and the quantity they share.
class Contract {
public:
  explicit Contract(Operation *op) : op(op) {}

  LogicalResult fail(const Twine &message) const {
    return op->emitOpError(message);
  }

  /// Dimension `dimA` of `a` and `dimB` of `b` measure one `quantity`.
  LogicalResult sameDim(StringRef a, ShapedType typeA, unsigned dimA,
                        StringRef b, ShapedType typeB, unsigned dimB,
                        const Twine &quantity) const {
    int64_t sizeA = typeA.getDimSize(dimA), sizeB = typeB.getDimSize(dimB);
    if (ShapedType::isDynamic(sizeA) || ShapedType::isDynamic(sizeB) ||
        sizeA == sizeB)
      return success();
    return fail("'" + a + "' dimension " + Twine(dimA) + " (" +
                dimToString(sizeA) + ") must equal '" + b + "' dimension " +
                Twine(dimB) + " (" + dimToString(sizeB) + "): " + quantity);
  }

  /// Dimension `dim` of `name` must be `expected` where both are known.
  LogicalResult dimIs(StringRef name, ShapedType type, unsigned dim,
                      int64_t expected, StringRef quantity) const {
    int64_t size = type.getDimSize(dim);
    if (ShapedType::isDynamic(size) || ShapedType::isDynamic(expected) ||
        size == expected)
      return success();
    return fail("'" + name + "' dimension " + Twine(dim) + " (" +
                dimToString(size) + ") must be " + quantity + " (" +
                dimToString(expected) + ")");
  }

  /// `a` and `b` must have one shape.
  LogicalResult sameShape(StringRef a, ShapedType typeA, StringRef b,
                          ShapedType typeB) const {
    if (typeA.getRank() != typeB.getRank())
      return fail("'" + a + "' and '" + b + "' must have the same shape, got " +
                  Twine(typeA.getRank()) + "-d and " + Twine(typeB.getRank()) +
                  "-d tensors");
    for (unsigned dim = 0, e = typeA.getRank(); dim < e; ++dim)
      if (failed(sameDim(a, typeA, dim, b, typeB, dim,
                         "'" + a + "' and '" + b + "' share one shape")))
        return failure();
    return success();
  }

  LogicalResult sameElementType(StringRef a, ShapedType typeA, StringRef b,
                                ShapedType typeB) const {
    if (typeA.getElementType() == typeB.getElementType())
      return success();
    std::string message;
    llvm::raw_string_ostream os(message);
    os << "'" << a << "' element type " << typeA.getElementType()
       << " must match '" << b << "' element type " << typeB.getElementType();
    return fail(message);
  }

  /// `k` choices out of `available` candidates, where `available` is known.
  LogicalResult atMost(StringRef what, int64_t k, StringRef of,
                       int64_t available) const {
    if (ShapedType::isDynamic(available) || ShapedType::isDynamic(k) ||
        k <= available)
      return success();
    return fail(what + " (" + Twine(k) + ") must not exceed " + of + " (" +
                Twine(available) + ")");
  }

  LogicalResult finite(StringRef name, double value) const {
    if (std::isfinite(value))
      return success();
    return fail("'" + name + "' must be finite");
  }

  LogicalResult positive(StringRef name, double value) const {
    if (std::isfinite(value) && value > 0.0)
      return success();
    return fail("'" + name + "' must be a finite positive number, got " +
                llvm::formatv("{0}", value));
  }

  LogicalResult nonNegative(StringRef name, double value) const {
    if (std::isfinite(value) && value >= 0.0)
      return success();
    return fail("'" + name + "' must be finite and non-negative, got " +
                llvm::formatv("{0}", value));
  }

  /// Optional operands that only mean something together.
  LogicalResult together(StringRef a, Value valueA, StringRef b,
                         Value valueB) const {
    if (static_cast<bool>(valueA) == static_cast<bool>(valueB))
      return success();
    return fail("'" + a + "' and '" + b + "' must be given together");
  }

private:
  Operation *op;
};

RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

RankedTensorType scalarType(Type elementType) {
  return RankedTensorType::get({}, elementType);
}

/// Checks the routing pair `gates`/`indices` `[T, k]` shared by several ops.
LogicalResult checkRouting(const Contract &contract, StringRef gatesName,
                           RankedTensorType gates, StringRef indicesName,
                           RankedTensorType indices) {
  return contract.sameShape(gatesName, gates, indicesName, indices);
}

/// The token layout of the expert ops: `[R, d]` with offsets `[n+1]`
/// (dropless) or `[n, C, d]` without (capacity). Returns `n`, possibly
/// dynamic, or failure.
FailureOr<int64_t> checkExpertLayout(const Contract &contract,
                                     RankedTensorType tokens, Value offsets) {
  if (tokens.getRank() == 2) {
    if (!offsets)
      return contract.fail("the dropless layout ('tokens' of rank 2) needs "
                           "'offsets' [n+1]");
    int64_t size = tensorType(offsets).getDimSize(0);
    if (ShapedType::isDynamic(size))
      return contract.fail("'offsets' must have a static size n+1");
    if (size < 2)
      return contract.fail("'offsets' must have n+1 >= 2 elements, got " +
                           Twine(size));
    return size - 1;
  }
  if (offsets)
    return contract.fail("the capacity layout ('tokens' of rank 3) takes no "
                         "'offsets'");
  return tokens.getDimSize(0);
}

/// The result type of an expert computation producing `dOut` features in the
/// layout of `tokens`.
RankedTensorType expertResultType(RankedTensorType tokens, int64_t dOut,
                                  Type elementType) {
  SmallVector<int64_t> shape(tokens.getShape());
  shape.back() = dOut;
  return RankedTensorType::get(shape, elementType);
}

/// The feed-forward expert contract, shared by `moe.expert_ffn` (on grouped
/// tokens) and by `moe.routed_ffn` and `moe.layer` (on the layer input,
/// named `tokensName`).
LogicalResult checkFeedForward(const Contract &contract,
                               RankedTensorType tokens, int64_t numExperts,
                               Value w1, Value b1, Value w3, Value w2,
                               Value b2, StringRef tokensName = "tokens") {
  RankedTensorType w1Type = tensorType(w1), w2Type = tensorType(w2);
  unsigned featureDim = tokens.getRank() - 1;
  if (failed(contract.dimIs("w1", w1Type, 0, numExperts, "the expert count n")) ||
      failed(contract.sameDim("w1", w1Type, 1, tokensName, tokens, featureDim,
                              "both are the model width d")) ||
      failed(contract.sameElementType("w1", w1Type, tokensName, tokens)) ||
      failed(contract.sameDim("w2", w2Type, 0, "w1", w1Type, 0,
                              "both are the expert count n")) ||
      failed(contract.sameDim("w2", w2Type, 1, "w1", w1Type, 2,
                              "both are the hidden width h")) ||
      failed(contract.sameElementType("w2", w2Type, tokensName, tokens)))
    return failure();
  if (failed(contract.dimIs("w2", w2Type, 0, numExperts, "the expert count n")))
    return failure();
  if (b1) {
    RankedTensorType b1Type = tensorType(b1);
    if (failed(contract.dimIs("b1", b1Type, 0, numExperts,
                              "the expert count n")) ||
        failed(contract.sameDim("b1", b1Type, 1, "w1", w1Type, 2,
                                "both are the hidden width h")) ||
        failed(contract.sameElementType("b1", b1Type, tokensName, tokens)))
      return failure();
  }
  if (w3) {
    RankedTensorType w3Type = tensorType(w3);
    if (failed(contract.dimIs("w3", w3Type, 0, numExperts,
                              "the expert count n")) ||
        failed(contract.sameShape("w3", w3Type, "w1", w1Type)) ||
        failed(contract.sameElementType("w3", w3Type, tokensName, tokens)))
      return failure();
  }
  if (b2) {
    RankedTensorType b2Type = tensorType(b2);
    if (failed(contract.dimIs("b2", b2Type, 0, numExperts,
                              "the expert count n")) ||
        failed(contract.sameDim("b2", b2Type, 1, "w2", w2Type, 2,
                                "both are the output width d_out")) ||
        failed(contract.sameElementType("b2", b2Type, tokensName, tokens)))
      return failure();
  }
  return success();
}

/// `x [T, d] . w [d, cols]` where `cols` is `quantity`.
LogicalResult checkGateWeights(const Contract &contract, StringRef name,
                               RankedTensorType input, RankedTensorType weights,
                               int64_t cols, StringRef quantity) {
  if (failed(contract.sameDim(name, weights, 0, "input", input, 1,
                              "both are the model width d")) ||
      failed(contract.dimIs(name, weights, 1, cols, quantity)))
    return failure();
  return contract.sameElementType(name, weights, "input", input);
}

/// A noise pair `w_noise [d, cols]`, `noise [T, cols]` beside `w_gate`;
/// `cols` is `quantity`, or dynamic when only `w_gate` fixes it.
LogicalResult checkNoise(const Contract &contract, StringRef weightsName,
                         Value weights, StringRef sampleName, Value sample,
                         StringRef gateName, RankedTensorType gate,
                         RankedTensorType input, int64_t cols,
                         StringRef quantity) {
  if (failed(contract.together(weightsName, weights, sampleName, sample)))
    return failure();
  if (!weights)
    return success();
  RankedTensorType weightsType = tensorType(weights);
  RankedTensorType sampleType = tensorType(sample);
  if (failed(contract.sameShape(weightsName, weightsType, gateName, gate)) ||
      failed(contract.sameElementType(weightsName, weightsType, "input",
                                      input)) ||
      failed(contract.sameDim(sampleName, sampleType, 0, "input", input, 0,
                              "both are the token count T")) ||
      failed(contract.sameDim(sampleName, sampleType, 1, gateName, gate, 1,
                              "both are the number of gate outputs")) ||
      failed(contract.dimIs(weightsName, weightsType, 1, cols, quantity)) ||
      failed(contract.dimIs(sampleName, sampleType, 1, cols, quantity)) ||
      failed(contract.sameDim(sampleName, sampleType, 1, weightsName,
                              weightsType, 1,
                              "both are the number of gate outputs")))
    return failure();
  return contract.sameElementType(sampleName, sampleType, "input", input);
}

/// Generic-form IR can give a required operand group no value or several:
/// ODS bounds only the optional groups. Checked before any getter reads
/// past the operand list.
template <typename OpTy>
LogicalResult
checkRequiredOperands(OpTy op,
                      ArrayRef<std::pair<unsigned, StringRef>> required) {
  for (auto [index, name] : required)
    if (op.getODSOperandIndexAndLength(index).second != 1)
      return op.emitOpError("needs exactly one '") << name << "' operand";
  return success();
}

/// Output features of the feed-forward expert, from `w2` `[n, h, d_out]` and
/// `b2` `[n, d_out]`.
int64_t feedForwardOutputWidth(Value w2, Value b2) {
  int64_t dOut = tensorType(w2).getDimSize(2);
  return b2 ? mergeDims(dOut, tensorType(b2).getDimSize(1)) : dOut;
}

int64_t product(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b)
             ? ShapedType::kDynamic
             : a * b;
}

} // namespace

//===----------------------------------------------------------------------===//
// Gating
//===----------------------------------------------------------------------===//

LogicalResult GateOp::verify() {
  return checkGateWeights(Contract(*this), "w_gate", getInput().getType(),
                          getWGate().getType(), ShapedType::kDynamic, "");
}

LogicalResult GateOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = tensorType(adaptor.getInput());
  inferred.push_back(RankedTensorType::get(
      {input.getDimSize(0), tensorType(adaptor.getWGate()).getDimSize(1)},
      input.getElementType()));
  return success();
}

LogicalResult NoisyGateOp::verify() {
  Contract contract(*this);
  RankedTensorType input = getInput().getType();
  RankedTensorType gate = getWGate().getType();
  if (failed(checkGateWeights(contract, "w_gate", input, gate,
                              ShapedType::kDynamic, "")) ||
      failed(checkNoise(contract, "w_noise", getWNoise(), "noise", getNoise(),
                        "w_gate", gate, input, ShapedType::kDynamic, "")))
    return failure();
  return contract.nonNegative("noise_epsilon",
                              getNoiseEpsilon().convertToDouble());
}

LogicalResult
NoisyGateOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                              Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = tensorType(adaptor.getInput());
  RankedTensorType noise = tensorType(adaptor.getNoise());
  auto logits = RankedTensorType::get(
      {mergeDims(input.getDimSize(0), noise.getDimSize(0)),
       mergeDims(mergeDims(tensorType(adaptor.getWGate()).getDimSize(1),
                           tensorType(adaptor.getWNoise()).getDimSize(1)),
                 noise.getDimSize(1))},
      input.getElementType());
  inferred.append(3, logits);
  return success();
}

//===----------------------------------------------------------------------===//
// Routing
//===----------------------------------------------------------------------===//

LogicalResult TopKOp::verify() {
  Contract contract(*this);
  RankedTensorType input = getInput().getType();
  RankedTensorType values = getValues().getType();
  RankedTensorType indices = getIndices().getType();
  int64_t k = getK();
  if (failed(contract.atMost("'k'", k, "the number of candidates",
                             input.getDimSize(1))) ||
      failed(contract.sameElementType("values", values, "input", input)) ||
      failed(contract.sameDim("values", values, 0, "input", input, 0,
                              "both are the token count T")) ||
      failed(contract.sameShape("indices", indices, "values", values)) ||
      failed(contract.sameDim("indices", indices, 0, "input", input, 0,
                              "both are the token count T")))
    return failure();
  if (values.getDimSize(1) != k)
    return contract.fail("'values' dimension 1 (" +
                         dimToString(values.getDimSize(1)) +
                         ") must be the static 'k' (" + Twine(k) + ")");
  return success();
}

LogicalResult RouteWeightsOp::verify() {
  Contract contract(*this);
  RankedTensorType logits = getLogits().getType();
  RankedTensorType values = getValues().getType();
  if (failed(contract.sameDim("values", values, 0, "logits", logits, 0,
                              "both are the token count T")) ||
      failed(contract.atMost("the number of kept values", values.getDimSize(1),
                             "the number of experts", logits.getDimSize(1))))
    return failure();
  return contract.sameElementType("values", values, "logits", logits);
}

LogicalResult
RouteWeightsOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                 Adaptor adaptor,
                                 SmallVectorImpl<Type> &inferred) {
  RankedTensorType logits = tensorType(adaptor.getLogits());
  RankedTensorType values = tensorType(adaptor.getValues());
  inferred.push_back(RankedTensorType::get(
      {mergeDims(logits.getDimSize(0), values.getDimSize(0)),
       values.getDimSize(1)},
      logits.getElementType()));
  return success();
}

LogicalResult RouteOp::verify() {
  Contract contract(*this);
  RankedTensorType logits = getLogits().getType();
  RankedTensorType gates = getGates().getType();
  RankedTensorType indices = getIndices().getType();
  int64_t k = getK();
  if (failed(contract.atMost("'k'", k, "the number of experts",
                             logits.getDimSize(1))) ||
      failed(contract.sameElementType("gates", gates, "logits", logits)) ||
      failed(contract.sameDim("gates", gates, 0, "logits", logits, 0,
                              "both are the token count T")) ||
      failed(contract.sameShape("indices", indices, "gates", gates)) ||
      failed(contract.sameDim("indices", indices, 0, "logits", logits, 0,
                              "both are the token count T")))
    return failure();
  if (gates.getDimSize(1) != k)
    return contract.fail("'gates' dimension 1 (" +
                         dimToString(gates.getDimSize(1)) +
                         ") must be the static 'k' (" + Twine(k) + ")");
  return success();
}

LogicalResult ComposeRoutingOp::verify() {
  Contract contract(*this);
  RankedTensorType primaryGates = getPrimaryGates().getType();
  RankedTensorType primaryIndices = getPrimaryIndices().getType();
  RankedTensorType secondaryGates = getSecondaryGates().getType();
  RankedTensorType secondaryIndices = getSecondaryIndices().getType();
  if (failed(checkRouting(contract, "primary_gates", primaryGates,
                          "primary_indices", primaryIndices)) ||
      failed(contract.sameShape("secondary_indices", secondaryIndices,
                                "secondary_gates", secondaryGates)) ||
      failed(contract.sameDim("secondary_gates", secondaryGates, 0,
                              "primary_gates", primaryGates, 0,
                              "both are the token count T")) ||
      failed(contract.sameDim("secondary_indices", secondaryIndices, 0,
                              "primary_indices", primaryIndices, 0,
                              "both are the token count T")) ||
      failed(contract.atMost("the primary choices per token",
                             primaryGates.getDimSize(1), "the number of groups",
                             secondaryGates.getDimSize(1))) ||
      failed(contract.atMost("the secondary choices per group",
                             secondaryGates.getDimSize(2), "'group_size'",
                             getGroupSize())) ||
      failed(contract.sameElementType("secondary_gates", secondaryGates,
                                      "primary_gates", primaryGates)))
    return failure();
  return contract.sameElementType("secondary_indices", secondaryIndices,
                                  "primary_indices", primaryIndices);
}

LogicalResult
ComposeRoutingOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                   Adaptor adaptor,
                                   SmallVectorImpl<Type> &inferred) {
  RankedTensorType primaryGates = tensorType(adaptor.getPrimaryGates());
  RankedTensorType secondaryGates = tensorType(adaptor.getSecondaryGates());
  int64_t tokens =
      mergeDims(primaryGates.getDimSize(0), secondaryGates.getDimSize(0));
  int64_t k =
      product(primaryGates.getDimSize(1), secondaryGates.getDimSize(2));
  inferred.push_back(
      RankedTensorType::get({tokens, k}, primaryGates.getElementType()));
  inferred.push_back(RankedTensorType::get(
      {tokens, k},
      tensorType(adaptor.getPrimaryIndices()).getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Dispatch and combine
//===----------------------------------------------------------------------===//

/// The operand contract shared by both dispatch layouts.
static LogicalResult checkDispatch(const Contract &contract,
                                   RankedTensorType input,
                                   RankedTensorType indices,
                                   int64_t numExperts) {
  if (failed(contract.sameDim("indices", indices, 0, "input", input, 0,
                              "both are the token count T")))
    return failure();
  return contract.atMost("the choices per token", indices.getDimSize(1),
                         "'num_experts'", numExperts);
}

LogicalResult DispatchOp::verify() {
  return checkDispatch(Contract(*this), getInput().getType(),
                       getIndices().getType(), getNumExperts());
}

LogicalResult DispatchOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location>,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = tensorType(adaptor.getInput());
  RankedTensorType indices = tensorType(adaptor.getIndices());
  int64_t tokens = mergeDims(input.getDimSize(0), indices.getDimSize(0));
  int64_t k = indices.getDimSize(1);
  Type indexType = indices.getElementType();
  inferred.push_back(RankedTensorType::get(
      {product(tokens, k), input.getDimSize(1)}, input.getElementType()));
  inferred.push_back(RankedTensorType::get(
      {static_cast<int64_t>(adaptor.getNumExperts()) + 1}, indexType));
  inferred.push_back(RankedTensorType::get({tokens, k}, indexType));
  return success();
}

int64_t CapacityDispatchOp::computeCapacity(int64_t numTokens, int64_t k,
                                            int64_t numExperts,
                                            double capacityFactor) {
  if (ShapedType::isDynamic(numTokens) || ShapedType::isDynamic(k))
    return ShapedType::kDynamic;
  double capacity =
      std::ceil(static_cast<double>(k) * static_cast<double>(numTokens) *
                capacityFactor / static_cast<double>(numExperts));
  // Out of range only for factors the verifier rejects; no size is inferred
  // for them rather than an overflowed one.
  if (!(capacity >= 0.0 && capacity < 0x1p62))
    return ShapedType::kDynamic;
  return static_cast<int64_t>(capacity);
}

/// A capacity factor above n would give each expert more slots than there
/// are choices (C > k * T) and lets C overflow.
static LogicalResult checkCapacityFactor(const Contract &contract,
                                         double capacityFactor,
                                         int64_t numExperts) {
  if (failed(contract.positive("capacity_factor", capacityFactor)))
    return failure();
  if (capacityFactor <= static_cast<double>(numExperts))
    return success();
  std::string factor;
  llvm::raw_string_ostream(factor) << llvm::format("%g", capacityFactor);
  return contract.fail("'capacity_factor' (" + factor +
                       ") must not exceed 'num_experts' (" +
                       Twine(numExperts) +
                       "): experts would have more slots than there are "
                       "choices");
}

LogicalResult CapacityDispatchOp::verify() {
  Contract contract(*this);
  if (failed(checkDispatch(contract, getInput().getType(),
                           getIndices().getType(), getNumExperts())))
    return failure();
  return checkCapacityFactor(contract, getCapacityFactor().convertToDouble(),
                             getNumExperts());
}

LogicalResult
CapacityDispatchOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                     Adaptor adaptor,
                                     SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = tensorType(adaptor.getInput());
  RankedTensorType indices = tensorType(adaptor.getIndices());
  int64_t numExperts = adaptor.getNumExperts();
  int64_t tokens = mergeDims(input.getDimSize(0), indices.getDimSize(0));
  int64_t capacity =
      computeCapacity(tokens, indices.getDimSize(1), numExperts,
                      adaptor.getCapacityFactor().convertToDouble());
  inferred.push_back(RankedTensorType::get(
      {numExperts, capacity, input.getDimSize(1)}, input.getElementType()));
  inferred.push_back(RankedTensorType::get({tokens, indices.getDimSize(1)},
                                           indices.getElementType()));
  return success();
}

LogicalResult CombineOp::verify() {
  Contract contract(*this);
  if (failed(checkRouting(contract, "gates", getGates().getType(), "rows",
                          getRows().getType())))
    return failure();
  return contract.sameElementType("gates", getGates().getType(),
                                  "expert_output", getExpertOutput().getType());
}

LogicalResult CombineOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location>,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  RankedTensorType expertOutput = tensorType(adaptor.getExpertOutput());
  RankedTensorType gates = tensorType(adaptor.getGates());
  inferred.push_back(RankedTensorType::get(
      {mergeDims(gates.getDimSize(0),
                 tensorType(adaptor.getRows()).getDimSize(0)),
       expertOutput.getShape().back()},
      expertOutput.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Experts
//===----------------------------------------------------------------------===//

LogicalResult ExpertsOp::verify() {
  if (failed(checkRequiredOperands(*this, {{0, "tokens"}})))
    return failure();
  Contract contract(*this);
  RankedTensorType tokens = getTokens().getType();
  RankedTensorType output = getOutput().getType();
  FailureOr<int64_t> numExperts =
      checkExpertLayout(contract, tokens, getOffsets());
  if (failed(numExperts))
    return failure();
  for (auto [position, weight] : llvm::enumerate(getWeights())) {
    std::string name = "weights #" + std::to_string(position);
    auto weightType = cast<RankedTensorType>(weight.getType());
    if (weightType.getRank() < 1)
      return contract.fail("'" + name +
                           "' must be stacked over the experts (rank >= 1)");
    if (failed(contract.dimIs(name, weightType, 0, *numExperts,
                              "the expert count n")))
      return failure();
  }
  if (output.getRank() != tokens.getRank())
    return contract.fail("'output' must have the rank of 'tokens' (" +
                         Twine(tokens.getRank()) + "), got " +
                         Twine(output.getRank()));
  for (unsigned dim = 0, e = tokens.getRank() - 1; dim < e; ++dim)
    if (failed(contract.sameDim("output", output, dim, "tokens", tokens, dim,
                                "both are the same token layout")))
      return failure();
  return success();
}

LogicalResult ExpertsOp::verifyRegions() {
  Contract contract(*this);
  Block &body = getBody().front();
  RankedTensorType tokens = getTokens().getType();
  RankedTensorType output = getOutput().getType();
  bool dropless = tokens.getRank() == 2;
  if (body.getNumArguments() != 1 + getWeights().size())
    return contract.fail("the body must take the token group and one slice "
                         "per weight (" +
                         Twine(1 + getWeights().size()) + " arguments), got " +
                         Twine(body.getNumArguments()));

  // The group of one expert: `?` rows (dropless) or its C slots (capacity).
  auto groupType = [&](RankedTensorType stacked) {
    ArrayRef<int64_t> shape = stacked.getShape();
    SmallVector<int64_t> group = {dropless ? ShapedType::kDynamic
                                           : shape[shape.size() - 2],
                                  shape.back()};
    return RankedTensorType::get(group, stacked.getElementType());
  };
  RankedTensorType expectedGroup = groupType(tokens);
  Type groupArgType = body.getArgument(0).getType();
  if (groupArgType != expectedGroup)
    return contract.fail("body argument #0 must be the token group " +
                         typeToString(expectedGroup) + ", got " +
                         typeToString(groupArgType));
  for (auto [position, weight] : llvm::enumerate(getWeights())) {
    auto weightType = cast<RankedTensorType>(weight.getType());
    auto slice = RankedTensorType::get(weightType.getShape().drop_front(),
                                       weightType.getElementType());
    Type argType = body.getArgument(position + 1).getType();
    if (argType != slice)
      return contract.fail("body argument #" + Twine(position + 1) +
                           " must be one expert's slice of 'weights #" +
                           Twine(position) + "', " + typeToString(slice) +
                           ", got " + typeToString(argType));
  }
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return contract.fail("the body must end in 'moe.yield'");
  RankedTensorType expectedYield = groupType(output);
  if (yield.getResult().getType() != expectedYield)
    return contract.fail("the body must yield the group's output " +
                         typeToString(expectedYield) + ", got " +
                         typeToString(yield.getResult().getType()));
  return success();
}

LogicalResult ExpertFFNOp::verify() {
  if (failed(checkRequiredOperands(
          *this, {{0, "tokens"}, {2, "w1"}, {5, "w2"}})))
    return failure();
  Contract contract(*this);
  RankedTensorType tokens = getTokens().getType();
  FailureOr<int64_t> numExperts =
      checkExpertLayout(contract, tokens, getOffsets());
  if (failed(numExperts))
    return failure();
  return checkFeedForward(contract, tokens, *numExperts, getW1(), getB1(),
                          getW3(), getW2(), getB2());
}

LogicalResult
ExpertFFNOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                              Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  RankedTensorType tokens = tensorType(adaptor.getTokens());
  inferred.push_back(expertResultType(
      tokens, feedForwardOutputWidth(adaptor.getW2(), adaptor.getB2()),
      tokens.getElementType()));
  return success();
}

LogicalResult RoutedFFNOp::verify() {
  if (failed(checkRequiredOperands(*this, {{0, "input"},
                                           {1, "gates"},
                                           {2, "indices"},
                                           {3, "w1"},
                                           {6, "w2"}})))
    return failure();
  Contract contract(*this);
  RankedTensorType input = getInput().getType();
  RankedTensorType gates = getGates().getType();
  int64_t numExperts = getW1().getType().getDimSize(0);
  if (ShapedType::isDynamic(numExperts))
    return contract.fail("'w1' dimension 0 (the expert count n) must be "
                         "static");
  if (failed(checkRouting(contract, "gates", gates, "indices",
                          getIndices().getType())) ||
      failed(contract.sameDim("gates", gates, 0, "input", input, 0,
                              "both are the token count T")) ||
      failed(contract.sameDim("indices", getIndices().getType(), 0, "input",
                              input, 0, "both are the token count T")) ||
      failed(contract.sameElementType("gates", gates, "input", input)) ||
      failed(contract.atMost("the choices per token", gates.getDimSize(1),
                             "the expert count n", numExperts)))
    return failure();
  return checkFeedForward(contract, input, numExperts, getW1(), getB1(),
                          getW3(), getW2(), getB2(), "input");
}

LogicalResult
RoutedFFNOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                              Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = tensorType(adaptor.getInput());
  inferred.push_back(RankedTensorType::get(
      {mergeDims(input.getDimSize(0),
                 tensorType(adaptor.getGates()).getDimSize(0)),
       feedForwardOutputWidth(adaptor.getW2(), adaptor.getB2())},
      input.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Balancing losses
//===----------------------------------------------------------------------===//

LogicalResult ImportanceOp::verify() {
  return checkRouting(Contract(*this), "gates", getGates().getType(),
                      "indices", getIndices().getType());
}

LogicalResult
ImportanceOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                               Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  inferred.push_back(RankedTensorType::get(
      {static_cast<int64_t>(adaptor.getNumExperts())},
      tensorType(adaptor.getGates()).getElementType()));
  return success();
}

LogicalResult LoadOp::verify() {
  if (failed(checkRequiredOperands(*this, {{0, "logits"}})))
    return failure();
  Contract contract(*this);
  RankedTensorType logits = getLogits().getType();
  bool grouped = logits.getRank() == 3;
  if (failed(contract.together("clean_logits", getCleanLogits(),
                               "noise_stddev", getNoiseStddev())) ||
      failed(contract.together("primary_indices", getPrimaryIndices(),
                               "primary_load", getPrimaryLoad())) ||
      failed(contract.atMost("'k'", getK(), "the experts per row",
                             logits.getShape().back())))
    return failure();
  for (auto [name, value] : {std::pair<StringRef, Value>{"clean_logits",
                                                         getCleanLogits()},
                             {"noise_stddev", getNoiseStddev()}}) {
    if (!value)
      continue;
    if (failed(contract.sameShape(name, tensorType(value), "logits",
                                  logits)) ||
        failed(contract.sameElementType(name, tensorType(value), "logits",
                                        logits)))
      return failure();
  }
  if (grouped != static_cast<bool>(getPrimaryIndices()))
    return contract.fail("'within(primary_indices, primary_load)' is required "
                         "for, and only valid with, grouped [T, a, b] logits");
  if (!grouped)
    return success();
  RankedTensorType primaryIndices = getPrimaryIndices().getType();
  RankedTensorType primaryLoad = getPrimaryLoad().getType();
  if (failed(contract.sameDim("primary_indices", primaryIndices, 0, "logits",
                              logits, 0, "both are the token count T")) ||
      failed(contract.atMost("the primary choices per token",
                             primaryIndices.getDimSize(1),
                             "the number of groups", logits.getDimSize(1))) ||
      failed(contract.sameDim("primary_load", primaryLoad, 0, "logits", logits,
                              1, "both are the number of groups a")))
    return failure();
  return contract.sameElementType("primary_load", primaryLoad, "logits",
                                  logits);
}

LogicalResult LoadOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &inferred) {
  RankedTensorType logits = tensorType(adaptor.getLogits());
  inferred.push_back(RankedTensorType::get(logits.getShape().drop_front(),
                                           logits.getElementType()));
  return success();
}

LogicalResult CVSquaredOp::verify() {
  Contract contract(*this);
  RankedTensorType input = getInput().getType();
  if (input.hasStaticShape() && input.getNumElements() < 2)
    return contract.fail("'input' must have at least 2 elements for an "
                         "unbiased variance, got " +
                         Twine(input.getNumElements()));
  return contract.finite("weight", getWeight().convertToDouble());
}

LogicalResult
CVSquaredOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                              Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  inferred.push_back(
      scalarType(tensorType(adaptor.getInput()).getElementType()));
  return success();
}

LogicalResult SwitchLossOp::verify() {
  Contract contract(*this);
  RankedTensorType logits = getLogits().getType();
  RankedTensorType indices = getIndices().getType();
  if (failed(contract.sameDim("indices", indices, 0, "logits", logits, 0,
                              "both are the token count T")) ||
      failed(contract.atMost("the choices per token", indices.getDimSize(1),
                             "the number of experts", logits.getDimSize(1))))
    return failure();
  return contract.finite("weight", getWeight().convertToDouble());
}

LogicalResult
SwitchLossOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                               Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  inferred.push_back(
      scalarType(tensorType(adaptor.getLogits()).getElementType()));
  return success();
}

LogicalResult ZLossOp::verify() {
  return Contract(*this).finite("weight", getWeight().convertToDouble());
}

LogicalResult ZLossOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  inferred.push_back(
      scalarType(tensorType(adaptor.getLogits()).getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Expert parallelism
//===----------------------------------------------------------------------===//

LogicalResult AllToAllOp::verify() {
  Contract contract(*this);
  RankedTensorType input = getInput().getType();
  RankedTensorType output = getOutput().getType();
  int64_t numRanks = getNumRanks();
  if (input.getRank() < 1)
    return contract.fail("'input' must have a leading row dimension");
  if (output.getRank() != input.getRank())
    return contract.fail("'output' must have the rank of 'input' (" +
                         Twine(input.getRank()) + "), got " +
                         Twine(output.getRank()));
  for (unsigned dim = 1, e = input.getRank(); dim < e; ++dim)
    if (failed(contract.sameDim("output", output, dim, "input", input, dim,
                                "both are a row's shape")))
      return failure();
  if (failed(contract.sameElementType("output", output, "input", input)) ||
      failed(contract.dimIs("send_counts", getSendCounts().getType(), 0,
                            numRanks, "'num_ranks'")) ||
      failed(contract.dimIs("recv_counts", getRecvCounts().getType(), 0,
                            numRanks, "'num_ranks'")))
    return failure();
  return contract.sameElementType("recv_counts", getRecvCounts().getType(),
                                  "send_counts", getSendCounts().getType());
}

//===----------------------------------------------------------------------===//
// The whole layer
//===----------------------------------------------------------------------===//

/// The flat gate `[d, n]` and its noise.
static LogicalResult checkFlatGating(const Contract &contract, LayerOp layer) {
  RankedTensorType input = layer.getInput().getType();
  RankedTensorType gate = layer.getWGate().getType();
  int64_t numExperts = layer.getNumExperts();
  if (layer.getSecondaryWGate() || layer.getSecondaryWNoise() ||
      layer.getSecondaryNoise())
    return contract.fail("'secondary_gate' and 'secondary_noise' need a "
                         "hierarchical layer ('num_groups')");
  if (failed(contract.atMost("'k'", layer.getK(), "'num_experts'",
                             numExperts)) ||
      failed(checkGateWeights(contract, "w_gate", input, gate, numExperts,
                              "'num_experts'")))
    return failure();
  return checkNoise(contract, "w_noise", layer.getWNoise(), "noise",
                    layer.getNoise(), "w_gate", gate, input, numExperts,
                    "'num_experts'");
}

/// The primary gate `[d, a]`, the secondary gates `[d, a*b]`, their noise.
static LogicalResult checkHierarchicalGating(const Contract &contract,
                                             LayerOp layer) {
  RankedTensorType input = layer.getInput().getType();
  RankedTensorType gate = layer.getWGate().getType();
  int64_t numExperts = layer.getNumExperts();
  int64_t groups = *layer.getNumGroups();
  if (numExperts % groups != 0)
    return contract.fail("'num_experts' (" + Twine(numExperts) +
                         ") must be a multiple of 'num_groups' (" +
                         Twine(groups) + ")");
  if (!layer.getSecondaryWGate())
    return contract.fail("a hierarchical layer needs 'secondary_gate'");
  RankedTensorType secondary = layer.getSecondaryWGate().getType();
  if (failed(contract.atMost("'group_k'",
                             static_cast<int64_t>(*layer.getGroupK()),
                             "'num_groups'", groups)) ||
      failed(contract.atMost("'k'", layer.getK(), "the experts per group",
                             numExperts / groups)) ||
      failed(checkGateWeights(contract, "w_gate", input, gate, groups,
                              "'num_groups'")) ||
      failed(checkGateWeights(contract, "secondary_w_gate", input, secondary,
                              numExperts, "'num_experts'")) ||
      failed(checkNoise(contract, "w_noise", layer.getWNoise(), "noise",
                        layer.getNoise(), "w_gate", gate, input, groups,
                        "'num_groups'")) ||
      failed(checkNoise(contract, "secondary_w_noise",
                        layer.getSecondaryWNoise(), "secondary_noise",
                        layer.getSecondaryNoise(), "secondary_w_gate",
                        secondary, input, numExperts, "'num_experts'")))
    return failure();
  if (layer.getNoise() && layer.getSecondaryNoise())
    return contract.sameDim("secondary_noise",
                            layer.getSecondaryNoise().getType(), 0, "noise",
                            layer.getNoise().getType(), 0,
                            "both are the token count T");
  return success();
}

LogicalResult LayerOp::verify() {
  if (failed(checkRequiredOperands(
          *this, {{0, "input"}, {1, "w_gate"}, {7, "w1"}, {10, "w2"}})))
    return failure();
  Contract contract(*this);
  if (getNumExperts() < 2)
    return contract.fail("'num_experts' must be at least 2: the balancing "
                         "losses are variances over the experts");
  if (failed(contract.nonNegative("noise_epsilon",
                                  getNoiseEpsilon().convertToDouble())) ||
      failed(contract.finite("importance_weight",
                             getImportanceWeight().convertToDouble())) ||
      failed(contract.finite("load_weight", getLoadWeight().convertToDouble())))
    return failure();
  if (std::optional<APFloat> capacityFactor = getCapacityFactor())
    if (failed(checkCapacityFactor(contract, capacityFactor->convertToDouble(),
                                   getNumExperts())))
      return failure();
  if (getNumGroups().has_value() != getGroupK().has_value())
    return contract.fail("a hierarchical layer needs both 'num_groups' and "
                         "'group_k'");
  if (failed(isHierarchical() ? checkHierarchicalGating(contract, *this)
                              : checkFlatGating(contract, *this)))
    return failure();
  return checkFeedForward(contract, getInput().getType(), getNumExperts(),
                          getW1(), getB1(), getW3(), getW2(), getB2(), "input");
}

LogicalResult LayerOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = tensorType(adaptor.getInput());
  Type elementType = input.getElementType();
  inferred.push_back(expertResultType(
      input, feedForwardOutputWidth(adaptor.getW2(), adaptor.getB2()),
      elementType));
  inferred.append(2, scalarType(elementType));
  return success();
}

#define GET_OP_CLASSES
#include "moe/Dialect/MoE/IR/MoEOps.cpp.inc"
