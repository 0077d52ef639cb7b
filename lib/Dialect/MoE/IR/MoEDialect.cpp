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
  auto arguments =
      fields ? fields.getAs<DenseI64ArrayAttr>("arguments") : nullptr;
  auto tiles =
      fields ? fields.getAs<DenseI64ArrayAttr>("inner_tiles") : nullptr;
  if (!entry || !arguments || !tiles || fields.size() != 3)
    return op->emitError()
           << "'" << kPackedWeightsAttrName
           << "' must be {entry = @symbol, arguments = array<i64: ...>, "
              "inner_tiles = array<i64: depth, width>}, got "
           << attribute.getValue();
  if (tiles.size() != 2 ||
      llvm::any_of(tiles.asArrayRef(), [](int64_t size) { return size < 1; }))
    return op->emitError() << "'" << kPackedWeightsAttrName
                           << "' inner_tiles must be two positive sizes, got "
                           << tiles;
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
  auto variant = dyn_cast_or_null<FunctionOpInterface>(
      SymbolTable::lookupNearestSymbolFrom(op, entry));
  if (!variant)
    return op->emitError() << "'" << kPackedWeightsAttrName << "' names "
                           << entry << ", which is not a function";
  // Once lowered to LLVM, the weights are no longer arrays to compare.
  if (!llvm::all_of(arguments.asArrayRef(), [&](int64_t position) {
        return isa<ShapedType>(function.getArgumentTypes()[position]);
      }))
    return success();
  if (variant.getNumArguments() != function.getNumArguments())
    return op->emitError() << "'" << kPackedWeightsAttrName << "' names "
                           << entry << ", which takes "
                           << variant.getNumArguments()
                           << " arguments instead of "
                           << function.getNumArguments();
  // Each packed argument `[n, K, N]` is `[n, K / d, N / w, d, w]` in the
  // variant, as tensors or as the buffers they became.
  for (int64_t position : arguments.asArrayRef()) {
    auto weight = cast<ShapedType>(function.getArgumentTypes()[position]);
    auto packed = dyn_cast<ShapedType>(variant.getArgumentTypes()[position]);
    if (!packed)
      return op->emitError()
             << "'" << kPackedWeightsAttrName << "' names " << entry
             << ", whose argument #" << position << " is not an array";
    auto mismatch = [&](StringRef why) -> InFlightDiagnostic {
      return std::move(op->emitError()
                       << "'" << kPackedWeightsAttrName << "' argument #"
                       << position << " (" << weight << ") " << why);
    };
    if (!weight.hasStaticShape() || weight.getRank() != 3 ||
        weight.getDimSize(1) % tiles[0] != 0 ||
        weight.getDimSize(2) % tiles[1] != 0)
      return mismatch("is not a static [n, K, N] weight of whole tiles");
    SmallVector<int64_t> packedShape = {
        weight.getDimSize(0), weight.getDimSize(1) / tiles[0],
        weight.getDimSize(2) / tiles[1], tiles[0], tiles[1]};
    if (packed.getShape() != ArrayRef<int64_t>(packedShape) ||
        packed.getElementType() != weight.getElementType())
      return mismatch("does not match the variant's packed ") << packed;
  }
  return success();
}
