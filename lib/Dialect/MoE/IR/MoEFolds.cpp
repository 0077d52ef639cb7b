//===- MoEFolds.cpp - Folders of the MoE operations -----------------------===//

#include "moe/Dialect/MoE/IR/MoEOps.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace mlir::moe;

LogicalResult TopKOp::fold(FoldAdaptor, SmallVectorImpl<OpFoldResult> &results) {
  // With a single expert the only choice is expert 0 with its own logit.
  RankedTensorType inputType = getInput().getType();
  RankedTensorType indicesType = getIndices().getType();
  if (inputType.getDimSize(1) != 1 || getValues().getType() != inputType ||
      !indicesType.hasStaticShape())
    return failure();
  results.push_back(getInput());
  results.push_back(DenseElementsAttr::get(
      indicesType, IntegerAttr::get(indicesType.getElementType(), 0)));
  return success();
}

/// Whether the `k` gates of `normalization` over `numExperts` logits already
/// sum to one: a softmax over exactly the kept logits does.
static bool keptGatesSumToOne(Normalization normalization, int64_t k,
                              int64_t numExperts) {
  return normalization == Normalization::topk_softmax ||
         (normalization == Normalization::softmax_topk &&
          !ShapedType::isDynamic(k) && k == numExperts);
}

OpFoldResult RouteWeightsOp::fold(FoldAdaptor) {
  if (!getRenormalize() ||
      !keptGatesSumToOne(getNormalization(),
                         getValues().getType().getDimSize(1),
                         getLogits().getType().getDimSize(1)))
    return {};
  setRenormalize(false);
  return getGates();
}

LogicalResult RouteOp::fold(FoldAdaptor, SmallVectorImpl<OpFoldResult> &) {
  if (!getRenormalize() ||
      !keptGatesSumToOne(getNormalization(), getK(),
                         getLogits().getType().getDimSize(1)))
    return failure();
  // Folded in place: the results stay.
  setRenormalize(false);
  return success();
}

OpFoldResult LoadOp::fold(FoldAdaptor) {
  // Routing k of n experts with k == n sends every token to every expert, so
  // each load is the token count whatever the noise.
  RankedTensorType logitsType = getLogits().getType();
  RankedTensorType loadType = getLoad().getType();
  if (logitsType.getRank() != 2 || static_cast<int64_t>(getK()) != logitsType.getDimSize(1) ||
      logitsType.isDynamicDim(0) || !loadType.hasStaticShape())
    return {};
  auto tokenCount = FloatAttr::get(loadType.getElementType(),
                                   static_cast<double>(logitsType.getDimSize(0)));
  return DenseElementsAttr::get(loadType, Attribute(tokenCount));
}
