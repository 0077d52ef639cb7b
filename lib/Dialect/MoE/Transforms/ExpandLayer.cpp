//===- ExpandLayer.cpp - moe.layer to fine-grained MoE ops ----------------===//

#include "moe/Dialect/MoE/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEEXPANDLAYER
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Logits of one gate; `clean` and `stddev` are set when it is noisy.
struct Gating {
  Value logits, clean, stddev;
};

/// The routing of each token over all n experts, and its Load vector.
struct Routing {
  Value gates, indices, load;
};

Gating emitGate(OpBuilder &b, Location loc, Value input, Value wGate,
                Value wNoise, Value noise, FloatAttr noiseEpsilon) {
  if (!wNoise)
    return {GateOp::create(b, loc, input, wGate).getLogits(), {}, {}};
  auto noisy = NoisyGateOp::create(b, loc, input, wGate, wNoise, noise,
                                   noiseEpsilon);
  return {noisy.getLogits(), noisy.getCleanLogits(), noisy.getNoiseStddev()};
}

/// Top-k of `logits` `[R, m]` and the routing weights of the kept entries.
std::pair<Value, Value> emitTopKWeights(OpBuilder &b, Location loc,
                                        LayerOp layer, Value logits,
                                        int64_t k) {
  auto logitsType = cast<RankedTensorType>(logits.getType());
  SmallVector<int64_t> shape = {logitsType.getDimSize(0), k};
  auto topk = TopKOp::create(
      b, loc, RankedTensorType::get(shape, logitsType.getElementType()),
      RankedTensorType::get(shape, b.getI64Type()), logits, k);
  Value gates = RouteWeightsOp::create(b, loc, logits, topk.getValues(),
                                       layer.getNormalizationAttr(),
                                       layer.getRenormalizeAttr());
  return {gates, topk.getIndices()};
}

Routing emitFlatRouting(OpBuilder &b, Location loc, LayerOp layer) {
  Gating gating = emitGate(b, loc, layer.getInput(), layer.getWGate(),
                           layer.getWNoise(), layer.getNoise(),
                           layer.getNoiseEpsilonAttr());
  int64_t k = layer.getK();
  auto [gates, indices] = emitTopKWeights(b, loc, layer, gating.logits, k);
  Value load = LoadOp::create(b, loc, gating.logits, gating.clean,
                              gating.stddev, /*primary_indices=*/Value(),
                              /*primary_load=*/Value(), k);
  return {gates, indices, load};
}

/// Reshapes `value` `[T, a*b]` into `[T, a, b]`.
Value splitGroups(OpBuilder &b, Location loc, Value value, int64_t groups,
                  int64_t groupSize) {
  if (!value)
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  // The verifier knows a*b = n even where the gate weights leave it dynamic.
  auto flat = RankedTensorType::get({type.getDimSize(0), groups * groupSize},
                                    type.getElementType());
  if (type != flat)
    value = tensor::CastOp::create(b, loc, flat, value);
  auto grouped = RankedTensorType::get(
      {type.getDimSize(0), groups, groupSize}, type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, grouped, value,
                                       {{0}, {1, 2}});
}

/// Reshapes `value` `[T, a, m]` into `[T*a, m]`, one row per token and group.
Value mergeTokensAndGroups(OpBuilder &b, Location loc, Value value) {
  return tensor::CollapseShapeOp::create(b, loc, value, {{0, 1}, {2}});
}

/// Reshapes `value` `[T*a, m]` back into `[T, a, m]`.
Value splitTokensAndGroups(OpBuilder &b, Location loc, Value value,
                           int64_t groups) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t rows = type.getDimSize(0);
  int64_t tokens =
      ShapedType::isDynamic(rows) ? ShapedType::kDynamic : rows / groups;
  auto grouped = RankedTensorType::get({tokens, groups, type.getDimSize(1)},
                                       type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, grouped, value,
                                       {{0, 1}, {2}});
}

/// Two-level routing (SPEC §1.3): the primary gate picks `group_k` of `a`
/// groups; every group's secondary gate picks `k` of its `b` experts. The
/// secondary gates of all groups are computed together as `[T, a*b]`.
Routing emitHierarchicalRouting(OpBuilder &b, Location loc, LayerOp layer) {
  Value input = layer.getInput();
  int64_t groups = *layer.getNumGroups();
  int64_t groupSize = layer.getNumExperts() / groups;
  int64_t groupK = *layer.getGroupK();
  int64_t k = layer.getK();

  Gating primary =
      emitGate(b, loc, input, layer.getWGate(), layer.getWNoise(),
               layer.getNoise(), layer.getNoiseEpsilonAttr());
  auto [primaryGates, primaryIndices] =
      emitTopKWeights(b, loc, layer, primary.logits, groupK);

  Gating secondary = emitGate(b, loc, input, layer.getSecondaryWGate(),
                              layer.getSecondaryWNoise(),
                              layer.getSecondaryNoise(),
                              layer.getNoiseEpsilonAttr());
  Gating grouped = {splitGroups(b, loc, secondary.logits, groups, groupSize),
                    splitGroups(b, loc, secondary.clean, groups, groupSize),
                    splitGroups(b, loc, secondary.stddev, groups, groupSize)};
  auto [secondaryGates, secondaryIndices] = emitTopKWeights(
      b, loc, layer, mergeTokensAndGroups(b, loc, grouped.logits), k);

  auto flat = ComposeRoutingOp::create(
      b, loc, primaryGates, primaryIndices,
      splitTokensAndGroups(b, loc, secondaryGates, groups),
      splitTokensAndGroups(b, loc, secondaryIndices, groups),
      groupSize);

  Value primaryLoad = LoadOp::create(b, loc, primary.logits, primary.clean,
                                     primary.stddev, Value(), Value(), groupK);
  Value load = LoadOp::create(b, loc, grouped.logits, grouped.clean,
                              grouped.stddev, primaryIndices, primaryLoad, k);
  return {flat.getGates(), flat.getIndices(), load};
}

struct ExpandLayer : OpRewritePattern<LayerOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LayerOp layer,
                                PatternRewriter &rewriter) const override {
    Location loc = layer.getLoc();
    Value input = layer.getInput();
    int64_t numExperts = layer.getNumExperts();
    Routing routing = layer.isHierarchical()
                          ? emitHierarchicalRouting(rewriter, loc, layer)
                          : emitFlatRouting(rewriter, loc, layer);

    Value tokens, offsets, rows;
    if (layer.getCapacityFactor()) {
      auto dispatch = CapacityDispatchOp::create(
          rewriter, loc, input, routing.indices, layer.getNumExpertsAttr(),
          layer.getCapacityFactorAttr());
      tokens = dispatch.getTokens();
      rows = dispatch.getRows();
    } else {
      auto dispatch =
          DispatchOp::create(rewriter, loc, input, routing.indices, numExperts);
      tokens = dispatch.getTokens();
      offsets = dispatch.getOffsets();
      rows = dispatch.getRows();
    }
    Value expertOutput = ExpertFFNOp::create(
        rewriter, loc, tokens, offsets, layer.getW1(), layer.getB1(),
        layer.getW3(), layer.getW2(), layer.getB2(), layer.getActivationAttr());
    Value output =
        CombineOp::create(rewriter, loc, expertOutput, routing.gates, rows);

    Value importance = ImportanceOp::create(rewriter, loc, routing.gates,
                                            routing.indices, numExperts);
    Value importanceLoss = CVSquaredOp::create(
        rewriter, loc, importance, layer.getImportanceWeightAttr());
    Value loadLoss = CVSquaredOp::create(rewriter, loc, routing.load,
                                         layer.getLoadWeightAttr());
    // The noise sample may know a token count that the input leaves dynamic;
    // the layer's uses keep the type they were written against.
    SmallVector<Value> results = {output, importanceLoss, loadLoss};
    for (auto [result, replacement] : llvm::zip(layer.getResults(), results))
      if (replacement.getType() != result.getType())
        replacement = tensor::CastOp::create(rewriter, loc, result.getType(),
                                             replacement);
    rewriter.replaceOp(layer, results);
    return success();
  }
};

struct MoEExpandLayerPass
    : moe::impl::MoEExpandLayerBase<MoEExpandLayerPass> {
  void runOnOperation() override {
    // A one-shot rewrite: no folding, so the expanded IR is exactly what the
    // pattern builds.
    RewritePatternSet patterns(&getContext());
    populateExpandLayerPatterns(patterns);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace

void mlir::moe::populateExpandLayerPatterns(RewritePatternSet &patterns) {
  patterns.add<ExpandLayer>(patterns.getContext());
}
