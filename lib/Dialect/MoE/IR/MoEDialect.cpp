//===- MoEDialect.cpp - Mixture-of-Experts dialect ------------------------===//

#include "moe/Dialect/MoE/IR/MoEDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::moe;

#include "moe/Dialect/MoE/IR/MoEEnums.cpp.inc"
#include "moe/Dialect/MoE/IR/MoEOpsDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "moe/Dialect/MoE/IR/MoEAttrs.cpp.inc"

void MoEDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "moe/Dialect/MoE/IR/MoEAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "moe/Dialect/MoE/IR/MoEOps.cpp.inc"
      >();
}

Operation *MoEDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}

LogicalResult MoEDialect::verifyRegionArgAttribute(Operation *op,
                                                   unsigned regionIndex,
                                                   unsigned argIndex,
                                                   NamedAttribute attribute) {
  if (attribute.getName() != kExpertShardsAttrName)
    return op->emitError() << "unknown argument attribute '"
                           << attribute.getName().getValue() << "'";
  auto shards = dyn_cast<IntegerAttr>(attribute.getValue());
  if (!shards || !shards.getType().isInteger(64) || shards.getInt() < 2)
    return op->emitError() << "'" << kExpertShardsAttrName
                           << "' must be an i64 above 1, got "
                           << attribute.getValue();
  Region &region = op->getRegion(regionIndex);
  if (region.empty())
    return success();
  // A tensor, or the buffer it became.
  auto stacked = dyn_cast<ShapedType>(region.getArgument(argIndex).getType());
  if (!stacked || !stacked.hasRank() || stacked.getRank() == 0 ||
      stacked.isDynamicDim(0))
    return op->emitError() << "'" << kExpertShardsAttrName
                           << "' marks argument #" << argIndex
                           << ", which does not stack experts "
                              "with a static leading dimension";
  return success();
}
