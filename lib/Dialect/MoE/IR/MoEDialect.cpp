//===- MoEDialect.cpp - Mixture-of-Experts dialect ------------------------===//

#include "moe/Dialect/MoE/IR/MoEDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
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

LogicalResult MoEDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attribute) {
  if (attribute.getName() != kPackedWeightsAttrName)
    return op->emitError() << "unknown attribute '"
                           << attribute.getName().getValue() << "'";
  auto function = dyn_cast<FunctionOpInterface>(op);
  if (!function)
    return op->emitError() << "'" << kPackedWeightsAttrName
                           << "' is only for functions";
  auto fields = dyn_cast<DictionaryAttr>(attribute.getValue());
  auto entry = fields ? fields.getAs<FlatSymbolRefAttr>("entry") : nullptr;
  auto pack = fields ? fields.getAs<FlatSymbolRefAttr>("pack") : nullptr;
  auto arguments =
      fields ? fields.getAs<DenseI64ArrayAttr>("arguments") : nullptr;
  if (!entry || !pack || !arguments || fields.size() != 3)
    return op->emitError()
           << "'" << kPackedWeightsAttrName
           << "' must be {entry = @symbol, pack = @symbol, arguments = "
              "array<i64: ...>}, got "
           << attribute.getValue();
  int64_t previous = -1;
  for (int64_t position : arguments.asArrayRef()) {
    if (position <= previous ||
        position >= static_cast<int64_t>(function.getNumArguments()))
      return op->emitError()
             << "'" << kPackedWeightsAttrName << "' arguments must be "
             << "increasing positions below " << function.getNumArguments()
             << ", got " << arguments;
    previous = position;
  }
  for (FlatSymbolRefAttr name : {entry, pack}) {
    auto callee = dyn_cast_or_null<FunctionOpInterface>(
        SymbolTable::lookupNearestSymbolFrom(op, name));
    if (!callee)
      return op->emitError() << "'" << kPackedWeightsAttrName << "' names "
                             << name << ", which is not a function";
  }
  return success();
}
