//===- PackExpertWeights.cpp - Expert weights in the GEMMs' panel order ---===//
//
// Weights that stay the same from call to call are packed once, by the
// caller, into the panels the CPU's expert GEMMs read; a variant of the
// entry function takes them packed. The variant states the
// layout in the IR, as a `linalg.unpack` of each packed argument, so it is
// correct as it stands; `moe-materialize-packed-weights` then folds the
// unpack into the GEMMs, which read the packed panels in place.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "moe/Dialect/MoE/IR/MoEDialect.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "moe/Dialect/MoE/Transforms/PackedWeightGemm.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEPACKEXPERTWEIGHTS
#define GEN_PASS_DEF_MOEMATERIALIZEPACKEDWEIGHTS
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// The dims of a stacked weight `[n, K, N]` that are packed: K and N.
constexpr int64_t kPackedDims[] = {1, 2};

bool isRoutedWeightUse(OpOperand &use) {
  auto ffn = dyn_cast<RoutedFFNOp>(use.getOwner());
  if (!ffn)
    return false;
  if (&use == &ffn.getW1Mutable() || &use == &ffn.getW2Mutable())
    return true;
  return llvm::any_of(ffn.getW3Mutable(),
                      [&](OpOperand &w3) { return &w3 == &use; });
}

/// Positions of `func`'s arguments that can be packed in panels of `tile`.
SmallVector<int64_t> packableWeights(func::FuncOp func,
                                     ArrayRef<int64_t> tile) {
  SmallVector<int64_t> positions;
  for (BlockArgument argument : func.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(argument.getType());
    if (!type || type.getRank() != 3 || !type.getElementType().isF32() ||
        argument.use_empty() ||
        func.getArgAttr(argument.getArgNumber(),
                        MoEDialect::kExpertShardsAttrName))
      continue;
    bool divisible = llvm::all_of(llvm::zip(kPackedDims, tile), [&](auto dim) {
      auto [position, size] = dim;
      return !type.isDynamicDim(position) &&
             type.getDimSize(position) % size == 0;
    });
    if (divisible && llvm::all_of(argument.getUses(), isRoutedWeightUse))
      positions.push_back(argument.getArgNumber());
  }
  return positions;
}

struct PackExpertWeightsPass
    : moe::impl::MoEPackExpertWeightsBase<PackExpertWeightsPass> {
  using MoEPackExpertWeightsBase::MoEPackExpertWeightsBase;

  void runOnOperation() override {
    if (panelDepth < 1 || panelWidth < 1) {
      getOperation().emitError("moe-pack-expert-weights: panel sizes must be "
                               "positive");
      return signalPassFailure();
    }
    SymbolTable symbols(getOperation());
    for (auto func : llvm::to_vector(getOperation().getOps<func::FuncOp>())) {
      if (func.isPrivate() || func.isExternal())
        continue;
      SmallVector<int64_t> positions =
          packableWeights(func, {panelDepth, panelWidth});
      if (!positions.empty() &&
          failed(addPackedVariant(func, positions, symbols)))
        return signalPassFailure();
    }
  }

  LogicalResult addPackedVariant(func::FuncOp func, ArrayRef<int64_t> positions,
                                 SymbolTable &symbols) {
    MLIRContext *ctx = func.getContext();
    std::string entryName = (func.getName() + "_packed").str();
    if (symbols.lookup(entryName))
      return func.emitError() << "moe-pack-expert-weights: cannot add '@"
                              << entryName << "', the name is taken";
    Location loc = func.getLoc();
    OpBuilder b(ctx);
    SmallVector<OpFoldResult> tiles = {b.getIndexAttr(panelDepth),
                                       b.getIndexAttr(panelWidth)};

    auto entry = cast<func::FuncOp>(func->clone());
    entry.setName(entryName);
    entry->removeAttr(MoEDialect::kPackedWeightsAttrName);
    symbols.insert(entry, std::next(func->getIterator()));
    b.setInsertionPointToStart(&entry.getBody().front());
    for (int64_t position : positions) {
      BlockArgument argument = entry.getArgument(position);
      auto weight = cast<RankedTensorType>(argument.getType());
      argument.setType(linalg::PackOp::inferPackedType(
          weight, {panelDepth, panelWidth}, kPackedDims));
      Value unpacked = linalg::UnPackOp::create(
          b, loc, argument,
          tensor::EmptyOp::create(b, loc, weight.getShape(),
                                  weight.getElementType()),
          kPackedDims, tiles);
      argument.replaceAllUsesExcept(unpacked, unpacked.getDefiningOp());
    }
    entry.setFunctionType(FunctionType::get(
        ctx, entry.getBody().getArgumentTypes(), entry.getResultTypes()));

    func->setAttr(
        MoEDialect::kPackedWeightsAttrName,
        b.getDictionaryAttr(
            {b.getNamedAttr("entry", FlatSymbolRefAttr::get(entry)),
             b.getNamedAttr("arguments", b.getDenseI64ArrayAttr(positions)),
             b.getNamedAttr("inner_tiles", b.getDenseI64ArrayAttr(
                                               {panelDepth, panelWidth}))}));
    return success();
  }
};

/// The unpack of a whole packed weight `[n, K1, N1, d, w]` into `[n, K, N]`,
/// panels of `d x w` on K and N: one `ReadPackedWeightInMatmul` reads in
/// place.
bool unpacksWholePanels(linalg::UnPackOp unpack) {
  ArrayRef<int64_t> tiles = unpack.getStaticInnerTiles();
  RankedTensorType packed = unpack.getSourceType();
  RankedTensorType unpacked = unpack.getDestType();
  if (packed.getRank() != 5 || !packed.hasStaticShape() ||
      unpack.getInnerDimsPos() != ArrayRef<int64_t>(kPackedDims) ||
      !unpack.getOuterDimsPerm().empty() || ShapedType::isDynamicShape(tiles))
    return false;
  return unpacked.getDimSize(1) == packed.getDimSize(1) * tiles[0] &&
         unpacked.getDimSize(2) == packed.getDimSize(2) * tiles[1];
}

/// `linalg.matmul(lhs, slice(unpack(packed))[e])` to a `linalg.generic`
/// reading `packed[e]` in place (the pass description has the maps).
struct ReadPackedWeightInMatmul : OpRewritePattern<linalg::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::MatmulOp matmul,
                                PatternRewriter &rewriter) const override {
    if (matmul.hasUserDefinedMaps() || !matmul.hasPureTensorSemantics())
      return rewriter.notifyMatchFailure(matmul, "not a plain tensor matmul");
    Value lhs = matmul.getDpsInputs()[0], out = matmul.getDpsInits()[0];
    auto slice =
        matmul.getDpsInputs()[1].getDefiningOp<tensor::ExtractSliceOp>();
    auto unpack =
        slice ? slice.getSource().getDefiningOp<linalg::UnPackOp>() : nullptr;
    if (!unpack || !unpacksWholePanels(unpack))
      return rewriter.notifyMatchFailure(matmul, "not an unpacked weight");
    RankedTensorType unpacked = unpack.getDestType();
    SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
    bool oneExpert =
        slice.getType().getRank() == 2 && isConstantIntValue(offsets[1], 0) &&
        isConstantIntValue(offsets[2], 0) && isConstantIntValue(sizes[0], 1) &&
        isConstantIntValue(sizes[1], unpacked.getDimSize(1)) &&
        isConstantIntValue(sizes[2], unpacked.getDimSize(2)) &&
        slice.hasUnitStride();
    Type element = unpacked.getElementType();
    if (!oneExpert || getElementTypeOrSelf(lhs) != element ||
        getElementTypeOrSelf(out) != element)
      return rewriter.notifyMatchFailure(matmul,
                                         "not one expert's whole weight, or "
                                         "mixed element types");

    // The packed slice goes where the unpacked one was: after bufferization
    // its view then stays ahead of the output's fill, as the matmul's did.
    RankedTensorType packed = unpack.getSourceType();
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(slice);
    SmallVector<OpFoldResult> packedOffsets(5, rewriter.getIndexAttr(0));
    packedOffsets.front() = offsets.front();
    SmallVector<OpFoldResult> packedSizes = {rewriter.getIndexAttr(1)};
    for (int64_t size : packed.getShape().drop_front())
      packedSizes.push_back(rewriter.getIndexAttr(size));
    SmallVector<OpFoldResult> unitStrides(5, rewriter.getIndexAttr(1));
    auto panels = tensor::ExtractSliceOp::create(
        rewriter, slice.getLoc(),
        RankedTensorType::get(packed.getShape().drop_front(), element),
        unpack.getSource(), packedOffsets, packedSizes, unitStrides);

    rewriter.setInsertionPoint(matmul);
    ArrayRef<int64_t> tiles = unpack.getStaticInnerTiles();
    SmallVector<AffineMap> maps =
        getPackedWeightGemmMaps(rewriter.getContext(), tiles[0], tiles[1]);
    rewriter.replaceOpWithNewOp<linalg::GenericOp>(
        matmul, out.getType(), ValueRange{lhs, panels}, ValueRange{out}, maps,
        getPackedWeightGemmIterators(),
        [](OpBuilder &b, Location loc, ValueRange args) {
          Value product = arith::MulFOp::create(b, loc, args[0], args[1]);
          linalg::YieldOp::create(
              b, loc,
              ValueRange{arith::AddFOp::create(b, loc, args[2], product)});
        });
    return success();
  }
};

struct MaterializePackedWeightsPass
    : moe::impl::MoEMaterializePackedWeightsBase<MaterializePackedWeightsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ReadPackedWeightInMatmul>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();

    IRRewriter rewriter(&getContext());
    // Each lowering erases the op it is given: nothing reads it after.
    WalkResult lowered = getOperation()->walk([&](linalg::UnPackOp unpack) {
      rewriter.setInsertionPoint(unpack);
      return failed(linalg::lowerUnPack(rewriter, unpack))
                 ? WalkResult::interrupt()
                 : WalkResult::advance();
    });
    if (lowered.wasInterrupted()) {
      getOperation()->emitError("moe-materialize-packed-weights: a "
                                "linalg.unpack could not be lowered");
      signalPassFailure();
    }
  }
};

} // namespace
