//===- LinalgToTensorCores.cpp - 16-bit GEMMs as mma.sync kernels ---------===//
//
// Each block of 128 threads computes a 64 x 64 tile of the output: it stages
// 32-deep slices of both operands in shared memory as pairs of 16-bit values
// along the depth (the right-hand slice transposed), the 32-bit registers
// mma.sync takes, and each of its four warps accumulates a 32 x 32 part in
// registers with `mma.sync.m16n8k16`. Out-of-range rows, columns and depths
// are staged as zeros, so any size runs through the same tiles.
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTLINALGTOTENSORCORES
#include "moe/Conversion/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

constexpr int64_t kWarpSize = 32;
constexpr int64_t kBlockRows = 64, kBlockCols = 64, kBlockDepth = 32;
constexpr int64_t kWarpRows = 32, kWarpCols = 32;
constexpr int64_t kWarpsPerRow = kBlockCols / kWarpCols;
constexpr int64_t kThreads =
    kWarpSize * (kBlockRows / kWarpRows) * kWarpsPerRow;
constexpr int64_t kMmaRows = 16, kMmaCols = 8, kMmaDepth = 16;
// Pairs of depth values per row of a staged tile: a row of 20 words puts
// the eight rows a warp's fragment reads (four words each) in different
// banks.
constexpr int64_t kStagedPairs = kBlockDepth / 2 + 4;

/// What a GEMM needs to run on tensor cores: a 16-bit right-hand side, a
/// left-hand side of the same type (or f32 with bf16), and an f32
/// accumulator. An f32 left-hand side is split into a rounded part and the
/// rounded rest, two products whose sum keeps 16 bits of its mantissa: the
/// f32 hidden activation of a bf16 expert is not rounded to bf16 by the
/// GEMM. Not with f16, whose range (65504) an f32 activation may exceed.
struct TensorCoreGemm {
  FloatType mmaType;
  bool splitLhs;
};

FailureOr<TensorCoreGemm> matchTensorCoreGemm(linalg::LinalgOp op) {
  MLIRContext *context = op->getContext();
  SmallVector<AffineMap> defaultMaps;
  if (isa<linalg::MatmulOp>(op))
    defaultMaps = linalg::MatmulOp::getDefaultIndexingMaps(context);
  else if (isa<linalg::BatchMatmulOp>(op))
    defaultMaps = linalg::BatchMatmulOp::getDefaultIndexingMaps(context);
  else
    return failure();
  // A GEMM already inside a kernel is one thread's (or one block's) work.
  if (!op.hasPureBufferSemantics() ||
      op.getIndexingMapsArray() != ArrayRef<AffineMap>(defaultMaps) ||
      op->getParentOfType<gpu::LaunchOp>() ||
      op->getParentOfType<gpu::GPUFuncOp>())
    return failure();
  auto elementType = [&](Value buffer) {
    return cast<MemRefType>(buffer.getType()).getElementType();
  };
  Type lhs = elementType(op.getDpsInputs()[0]);
  Type rhs = elementType(op.getDpsInputs()[1]);
  if (!elementType(op.getDpsInits()[0]).isF32() ||
      !(rhs.isBF16() || rhs.isF16()))
    return failure();
  if (lhs != rhs && !(lhs.isF32() && rhs.isBF16()))
    return failure();
  return TensorCoreGemm{cast<FloatType>(rhs), lhs.isF32()};
}

/// Builds the kernel's body inside a `gpu.launch`: indices are relative to
/// the batch element the block's z index selects (none for `linalg.matmul`).
class KernelBuilder {
public:
  KernelBuilder(OpBuilder &builder, Location loc, TensorCoreGemm gemm,
                linalg::LinalgOp op, gpu::LaunchOp launch, Value rows,
                Value cols, Value depth)
      : b(builder), loc(loc), gemm(gemm), lhs(op.getDpsInputs()[0]),
        rhs(op.getDpsInputs()[1]), out(op.getDpsInits()[0]), rows(rows),
        cols(cols), depth(depth) {
    if (isa<linalg::BatchMatmulOp>(op))
      batch = launch.getBlockIds().z;
    ArrayRef<BlockArgument> staged = launch.getWorkgroupAttributions();
    stagedLhs = staged[0];
    stagedRhs = staged[1];
    if (gemm.splitLhs)
      stagedLhsRest = staged[2];
    thread = launch.getThreadIds().x;
    Value lane = arith::RemUIOp::create(b, loc, thread, index(kWarpSize));
    Value warp = arith::DivUIOp::create(b, loc, thread, index(kWarpSize));
    // mma.sync's fragments: lane 4g + t holds rows g and g + 8 of the
    // output (its columns 2t and 2t + 1) and of the left-hand side, column g
    // of the right-hand side, and of the depth the pairs t and t + 4 (depths
    // 2t, 2t + 1 and 2t + 8, 2t + 9).
    group = arith::DivUIOp::create(b, loc, lane, index(4));
    pairInGroup = arith::RemUIOp::create(b, loc, lane, index(4));
    warpRow = mul(arith::DivUIOp::create(b, loc, warp, index(kWarpsPerRow)),
                  kWarpRows);
    warpCol = mul(arith::RemUIOp::create(b, loc, warp, index(kWarpsPerRow)),
                  kWarpCols);
    blockRow = mul(launch.getBlockIds().x, kBlockRows);
    blockCol = mul(launch.getBlockIds().y, kBlockCols);
  }

  void build() {
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    SmallVector<Value> sums(kFragmentsPerWarp * 4, zero);
    auto depthLoop = scf::ForOp::create(
        b, loc, index(0), depth, index(kBlockDepth), sums,
        [&](OpBuilder &, Location, Value depthStart, ValueRange partial) {
          stageLhs(depthStart);
          stageRhs(depthStart);
          gpu::BarrierOp::create(b, loc);
          SmallVector<Value> next = multiplyStaged(partial);
          // Nobody stages the next slice while a warp still reads this one.
          gpu::BarrierOp::create(b, loc);
          scf::YieldOp::create(b, loc, next);
        });
    accumulateIntoOutput(depthLoop.getResults());
  }

private:
  static constexpr int64_t kRowFragments = kWarpRows / kMmaRows;
  static constexpr int64_t kColFragments = kWarpCols / kMmaCols;
  static constexpr int64_t kFragmentsPerWarp = kRowFragments * kColFragments;

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value add(Value lhs, Value rhs) {
    return arith::AddIOp::create(b, loc, lhs, rhs);
  }
  Value add(Value lhs, int64_t rhs) { return rhs ? add(lhs, index(rhs)) : lhs; }
  Value mul(Value lhs, int64_t rhs) {
    return arith::MulIOp::create(b, loc, lhs, index(rhs));
  }
  Value below(Value value, Value bound) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, value,
                                 bound);
  }
  Value both(Value lhs, Value rhs) {
    return arith::AndIOp::create(b, loc, lhs, rhs);
  }
  SmallVector<Value> indicesOf(Value row, Value col) {
    if (batch)
      return {batch, row, col};
    return {row, col};
  }

  /// `buffer[row, col]`, or zero where `inBounds` is false.
  Value loadOrZero(Value buffer, Value row, Value col, Value inBounds) {
    Type type = cast<MemRefType>(buffer.getType()).getElementType();
    auto load = scf::IfOp::create(
        b, loc, inBounds,
        [&](OpBuilder &, Location) {
          scf::YieldOp::create(
              b, loc,
              memref::LoadOp::create(b, loc, buffer, indicesOf(row, col))
                  .getResult());
        },
        [&](OpBuilder &, Location) {
          scf::YieldOp::create(
              b, loc,
              arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 0))
                  .getResult());
        });
    return load.getResult(0);
  }

  /// Each thread stages every kThreads-th element of a tile of `tileRows`
  /// by `tileCols`, consecutive threads along a row.
  void forEachTileElement(int64_t tileRows, int64_t tileCols,
                          function_ref<void(Value, Value)> body) {
    scf::ForOp::create(
        b, loc, index(0), index(tileRows * tileCols / kThreads), index(1),
        ValueRange{}, [&](OpBuilder &, Location, Value turn, ValueRange) {
          Value element = add(thread, mul(turn, kThreads));
          body(arith::DivUIOp::create(b, loc, element, index(tileCols)),
               arith::RemUIOp::create(b, loc, element, index(tileCols)));
          scf::YieldOp::create(b, loc);
        });
  }

  Value makePair(Value first, Value second) {
    return vector::FromElementsOp::create(b, loc,
                                          VectorType::get({2}, first.getType()),
                                          ValueRange{first, second});
  }

  /// Threads read consecutive pairs of a row of the left-hand side.
  void stageLhs(Value depthStart) {
    forEachTileElement(kBlockRows, kBlockDepth / 2, [&](Value row, Value pos) {
      Value globalRow = add(blockRow, row);
      Value rowInBounds = below(globalRow, rows);
      SmallVector<Value> rounded, rest;
      for (int64_t half = 0; half < 2; ++half) {
        Value globalCol = add(add(depthStart, mul(pos, 2)), half);
        Value value = loadOrZero(lhs, globalRow, globalCol,
                                 both(rowInBounds, below(globalCol, depth)));
        if (!gemm.splitLhs) {
          rounded.push_back(value);
          continue;
        }
        rounded.push_back(arith::TruncFOp::create(b, loc, gemm.mmaType, value));
        Value widened =
            arith::ExtFOp::create(b, loc, value.getType(), rounded.back());
        // Past a rounding of infinity (or to it, just below f32's largest
        // value), the rest would be NaN (inf - inf) where the product should
        // be infinite.
        auto wideType = cast<FloatType>(value.getType());
        Value infinity = arith::ConstantOp::create(
            b, loc,
            b.getFloatAttr(wideType,
                           APFloat::getInf(wideType.getFloatSemantics())));
        Value finite = arith::CmpFOp::create(
            b, loc, arith::CmpFPredicate::OLT,
            math::AbsFOp::create(b, loc, widened), infinity);
        Value restOrZero = arith::SelectOp::create(
            b, loc, finite, arith::SubFOp::create(b, loc, value, widened),
            arith::ConstantOp::create(b, loc, b.getFloatAttr(wideType, 0)));
        rest.push_back(
            arith::TruncFOp::create(b, loc, gemm.mmaType, restOrZero));
      }
      memref::StoreOp::create(b, loc, makePair(rounded[0], rounded[1]),
                              stagedLhs, {row, pos});
      if (gemm.splitLhs)
        memref::StoreOp::create(b, loc, makePair(rest[0], rest[1]),
                                stagedLhsRest, {row, pos});
    });
  }

  /// Threads read consecutive columns of two rows of the right-hand side,
  /// and store them as pairs along the depth, transposed.
  void stageRhs(Value depthStart) {
    forEachTileElement(kBlockDepth / 2, kBlockCols, [&](Value pos, Value col) {
      Value globalCol = add(blockCol, col);
      Value colInBounds = below(globalCol, cols);
      SmallVector<Value> values;
      for (int64_t half = 0; half < 2; ++half) {
        Value globalRow = add(add(depthStart, mul(pos, 2)), half);
        values.push_back(
            loadOrZero(rhs, globalRow, globalCol,
                       both(below(globalRow, depth), colInBounds)));
      }
      memref::StoreOp::create(b, loc, makePair(values[0], values[1]), stagedRhs,
                              {col, pos});
    });
  }

  /// A staged pair as the 32-bit register mma.sync takes: i32 for bf16 (the
  /// first value in its low half), a vector of two for f16.
  Value loadPair(Value staged, Value row, Value pos) {
    Value pair = memref::LoadOp::create(b, loc, staged, ValueRange{row, pos});
    if (gemm.mmaType.isF16())
      return pair;
    return LLVM::BitcastOp::create(b, loc, b.getI32Type(), pair);
  }

  SmallVector<Value> lhsFragment(Value staged, int64_t rowFragment,
                                 int64_t depthStep) {
    Value row = add(add(warpRow, group), rowFragment * kMmaRows);
    Value pos = add(pairInGroup, depthStep / 2);
    return {loadPair(staged, row, pos), loadPair(staged, add(row, 8), pos),
            loadPair(staged, row, add(pos, 4)),
            loadPair(staged, add(row, 8), add(pos, 4))};
  }

  SmallVector<Value> rhsFragment(int64_t colFragment, int64_t depthStep) {
    Value col = add(add(warpCol, group), colFragment * kMmaCols);
    Value pos = add(pairInGroup, depthStep / 2);
    return {loadPair(stagedRhs, col, pos),
            loadPair(stagedRhs, col, add(pos, 4))};
  }

  SmallVector<Value> mma(ValueRange lhsRegisters, ValueRange rhsRegisters,
                         ValueRange sums) {
    Type f32 = b.getF32Type();
    auto resultType = LLVM::LLVMStructType::getLiteral(
        b.getContext(), SmallVector<Type>(4, f32));
    NVVM::MMATypes ptxType =
        gemm.mmaType.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
    Value result = NVVM::MmaOp::create(
        b, loc, resultType, lhsRegisters, rhsRegisters, sums,
        {kMmaRows, kMmaCols, kMmaDepth}, /*b1Op=*/std::nullopt,
        /*intOverflow=*/std::nullopt,
        std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    SmallVector<Value> next;
    for (int64_t i = 0; i < 4; ++i)
      next.push_back(LLVM::ExtractValueOp::create(b, loc, result, i));
    return next;
  }

  /// `sums` holds four values per fragment, the fragments of a warp's rows
  /// first (row fragment major).
  SmallVector<Value> multiplyStaged(ValueRange sums) {
    SmallVector<Value> next(sums);
    for (int64_t depthStep = 0; depthStep < kBlockDepth;
         depthStep += kMmaDepth) {
      SmallVector<SmallVector<Value>> rhsFragments;
      for (int64_t colFragment = 0; colFragment < kColFragments; ++colFragment)
        rhsFragments.push_back(rhsFragment(colFragment, depthStep));
      for (int64_t rowFragment = 0; rowFragment < kRowFragments;
           ++rowFragment) {
        SmallVector<SmallVector<Value>> lhsParts = {
            lhsFragment(stagedLhs, rowFragment, depthStep)};
        if (gemm.splitLhs)
          lhsParts.push_back(
              lhsFragment(stagedLhsRest, rowFragment, depthStep));
        for (int64_t colFragment = 0; colFragment < kColFragments;
             ++colFragment) {
          MutableArrayRef<Value> fragment = MutableArrayRef<Value>(next).slice(
              4 * (rowFragment * kColFragments + colFragment), 4);
          for (ArrayRef<Value> lhsPart : lhsParts) {
            SmallVector<Value> updated =
                mma(lhsPart, rhsFragments[colFragment], fragment);
            llvm::copy(updated, fragment.begin());
          }
        }
      }
    }
    return next;
  }

  /// `linalg.matmul` accumulates into its output: each lane adds its sums
  /// to the elements in range.
  void accumulateIntoOutput(ValueRange sums) {
    for (int64_t rowFragment = 0; rowFragment < kRowFragments; ++rowFragment)
      for (int64_t colFragment = 0; colFragment < kColFragments; ++colFragment)
        for (int64_t value = 0; value < 4; ++value) {
          Value row = add(add(add(blockRow, warpRow), group),
                          rowFragment * kMmaRows + (value / 2) * 8);
          Value col = add(add(add(blockCol, warpCol), mul(pairInGroup, 2)),
                          colFragment * kMmaCols + value % 2);
          Value sum =
              sums[4 * (rowFragment * kColFragments + colFragment) + value];
          auto inBounds = scf::IfOp::create(
              b, loc, both(below(row, rows), below(col, cols)),
              /*withElseRegion=*/false);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(inBounds.thenBlock());
          Value old = memref::LoadOp::create(b, loc, out, indicesOf(row, col));
          memref::StoreOp::create(b, loc,
                                  arith::AddFOp::create(b, loc, old, sum), out,
                                  indicesOf(row, col));
        }
  }

  OpBuilder &b;
  Location loc;
  TensorCoreGemm gemm;
  Value lhs, rhs, out;
  Value rows, cols, depth;
  Value batch;
  Value stagedLhs, stagedLhsRest, stagedRhs;
  Value thread, group, pairInGroup, warpRow, warpCol, blockRow, blockCol;
};

struct GemmOnTensorCores : OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<TensorCoreGemm> gemm = matchTensorCoreGemm(op);
    if (failed(gemm))
      return rewriter.notifyMatchFailure(
          op, "not a GEMM of 16-bit (or f32 by 16-bit) operands into f32");
    Location loc = op.getLoc();
    Value lhs = op.getDpsInputs()[0], rhs = op.getDpsInputs()[1];
    bool batched = isa<linalg::BatchMatmulOp>(op);
    int64_t rowDim = batched ? 1 : 0;
    Value rows = memref::DimOp::create(rewriter, loc, lhs, rowDim);
    Value depth = memref::DimOp::create(rewriter, loc, lhs, rowDim + 1);
    Value cols = memref::DimOp::create(rewriter, loc, rhs, rowDim + 1);
    auto tiles = [&](Value size, int64_t tile) -> Value {
      return arith::CeilDivUIOp::create(
          rewriter, loc, size,
          arith::ConstantIndexOp::create(rewriter, loc, tile));
    };
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value batches =
        batched ? memref::DimOp::create(rewriter, loc, lhs, 0).getResult()
                : one;

    auto workgroup = gpu::AddressSpaceAttr::get(rewriter.getContext(),
                                                gpu::AddressSpace::Workgroup);
    auto stagedType = [&](int64_t tileRows) {
      return MemRefType::get({tileRows, kStagedPairs},
                             VectorType::get({2}, gemm->mmaType),
                             MemRefLayoutAttrInterface(), workgroup);
    };
    SmallVector<Type> staged = {stagedType(kBlockRows), stagedType(kBlockCols)};
    if (gemm->splitLhs)
      staged.push_back(stagedType(kBlockRows));
    // Rows on x: a grid's y and z have at most 65535 blocks.
    auto launch = gpu::LaunchOp::create(
        rewriter, loc, tiles(rows, kBlockRows), tiles(cols, kBlockCols),
        batches, arith::ConstantIndexOp::create(rewriter, loc, kThreads), one,
        one, /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
        /*asyncDependencies=*/{}, staged);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      KernelBuilder(rewriter, loc, *gemm, op, launch, rows, cols, depth)
          .build();
      gpu::TerminatorOp::create(rewriter, loc);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

struct ConvertLinalgToTensorCoresPass
    : moe::impl::ConvertLinalgToTensorCoresBase<
          ConvertLinalgToTensorCoresPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<GemmOnTensorCores>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
