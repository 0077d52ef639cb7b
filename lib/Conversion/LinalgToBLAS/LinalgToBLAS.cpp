//===- LinalgToBLAS.cpp - GEMMs on buffers to CBLAS calls -----------------===//

#include "moe/Conversion/Passes.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "moe/Dialect/MoE/Transforms/PackedWeightGemm.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTLINALGTOBLAS
#include "moe/Conversion/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

// CBLAS enumerators (cblas.h).
constexpr int32_t kCblasRowMajor = 101;
constexpr int32_t kCblasNoTrans = 111;

bool hasUnitStrideRows(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         !strides.empty() && strides.back() == 1;
}

/// Whether the input `operand` of a GEMM in `gemmType` must first be widened
/// into a `gemmType` copy: bf16/f16 data accumulated in f32 (CBLAS has no
/// mixed-precision GEMM).
bool needsWidening(Value operand, FloatType gemmType) {
  return cast<MemRefType>(operand.getType()).getElementType() != gemmType;
}

/// The type of the GEMM `op` computes, if CBLAS has it: the output is f32 or
/// f64 with unit-stride rows, and each input is either of that type with
/// unit-stride rows or a narrower float to widen.
std::optional<FloatType> blasElementType(linalg::LinalgOp op) {
  auto outputType =
      dyn_cast<MemRefType>(op.getDpsInits().front().getType());
  if (!outputType || !hasUnitStrideRows(outputType))
    return std::nullopt;
  auto gemmType = dyn_cast<FloatType>(outputType.getElementType());
  if (!gemmType || !(gemmType.isF32() || gemmType.isF64()))
    return std::nullopt;
  for (Value input : op.getDpsInputs()) {
    auto type = dyn_cast<MemRefType>(input.getType());
    if (!type)
      return std::nullopt;
    auto element = dyn_cast<FloatType>(type.getElementType());
    if (!element)
      return std::nullopt;
    bool direct = element == gemmType && hasUnitStrideRows(type);
    bool widened = element.getWidth() < gemmType.getWidth();
    if (!direct && !widened)
      return std::nullopt;
  }
  return gemmType;
}

/// A contiguous `gemmType` copy of the narrower `operand`.
Value widen(PatternRewriter &rewriter, Location loc, Value operand,
            FloatType gemmType) {
  auto type = cast<MemRefType>(operand.getType());
  SmallVector<Value> dynamicSizes;
  for (auto [dim, size] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(size))
      dynamicSizes.push_back(
          memref::DimOp::create(rewriter, loc, operand, dim));
  Value wide = memref::AllocOp::create(
      rewriter, loc, MemRefType::get(type.getShape(), gemmType), dynamicSizes);
  AffineMap identity = rewriter.getMultiDimIdentityMap(type.getRank());
  linalg::GenericOp::create(
      rewriter, loc, ValueRange{operand}, ValueRange{wide},
      ArrayRef<AffineMap>{identity, identity},
      SmallVector<utils::IteratorType>(type.getRank(),
                                       utils::IteratorType::parallel),
      [&](OpBuilder &b, Location l, ValueRange args) {
        linalg::YieldOp::create(
            b, l, ValueRange{arith::ExtFOp::create(b, l, gemmType, args[0])});
      });
  return wide;
}

/// Width of the vectors the streaming product works on: one AVX-512
/// register; LLVM splits them on narrower hosts.
constexpr int64_t kStreamingVectorBits = 512;
/// Rows of `rhs` each pass adds in: their vectors stay in L1 while every
/// output row takes them.
constexpr int64_t kStreamingDepthPerPass = 8;
/// Output rows each pass updates per vector of `rhs` loaded, with their
/// partial sums in registers: the loads of `out` then cost a quarter as
/// much per FMA.
constexpr int64_t kStreamingRowsPerPass = 4;
/// How many groups of `rhs` rows ahead the pass over output row 0 prefetches
/// (into L2). An expert's weight row is about a page (1024 f32 is 4 KiB),
/// and the hardware prefetcher stops at page ends, so without it every
/// group's first loads wait on memory; prefetching in every pass instead
/// costs more load slots than it saves once M reaches 64.
constexpr int64_t kStreamingPrefetchGroups = 2;

/// Builds `for iv in [lower, upper) step step` with no results, its body
/// from `body(builder, location, iv)`.
template <typename Body>
void buildLoop(OpBuilder &b, Location loc, Value lower, Value upper,
               int64_t step, Body body) {
  scf::ForOp::create(b, loc, lower, upper,
                     arith::ConstantIndexOp::create(b, loc, step),
                     ValueRange{},
                     [&](OpBuilder &lb, Location ll, Value iv, ValueRange) {
                       body(lb, ll, iv);
                       scf::YieldOp::create(lb, ll);
                     });
}

/// `lanes` elements of `memref` from `indices` on; where `mask` is given,
/// only its lanes, zeros elsewhere.
Value loadVector(OpBuilder &b, Location loc, Value memref, ValueRange indices,
                 int64_t lanes, Value mask) {
  Type element = cast<MemRefType>(memref.getType()).getElementType();
  auto type = VectorType::get({lanes}, element);
  if (!mask)
    return vector::LoadOp::create(b, loc, type, memref, indices);
  Value passThrough = arith::ConstantOp::create(
      b, loc, cast<TypedAttr>(b.getZeroAttr(type)));
  return vector::MaskedLoadOp::create(b, loc, type, memref, indices, mask,
                                      passThrough);
}

/// `value` (a scalar or vector) widened to `type` elements, if narrower.
Value widenTo(OpBuilder &b, Location loc, Value value, FloatType type) {
  Type valueType = value.getType();
  if (getElementTypeOrSelf(valueType) == type)
    return value;
  if (auto vector = dyn_cast<VectorType>(valueType))
    return arith::ExtFOp::create(b, loc, vector.clone(type), value);
  return arith::ExtFOp::create(b, loc, type, value);
}

/// Stores `value` at `indices` of `memref`; where `mask` is given, only its
/// lanes.
void storeVector(OpBuilder &b, Location loc, Value value, Value memref,
                 ValueRange indices, Value mask) {
  if (mask)
    vector::MaskedStoreOp::create(b, loc, memref, indices, mask, value);
  else
    vector::StoreOp::create(b, loc, value, memref, indices);
}

/// Prefetches the line at `indices` of `memref` into L2 for reading.
void prefetchForRead(OpBuilder &b, Location loc, Value memref,
                     ValueRange indices) {
  memref::PrefetchOp::create(b, loc, memref, indices, /*isWrite=*/false,
                             /*localityHint=*/2, /*isDataCache=*/true);
}

/// `size` rounded down to a multiple of `multiple`.
Value roundDown(OpBuilder &b, Location loc, Value size, int64_t multiple) {
  return arith::SubIOp::create(
      b, loc, size,
      arith::RemUIOp::create(b, loc, size,
                             arith::ConstantIndexOp::create(b, loc,
                                                            multiple)));
}

/// `first`, `first + 1`, ..., `first + count - 1`.
SmallVector<Value> consecutiveIndices(OpBuilder &b, Location loc, Value first,
                                      int64_t count) {
  SmallVector<Value> indices = {first};
  for (int64_t i = 1; i < count; ++i)
    indices.push_back(arith::AddIOp::create(
        b, loc, first, arith::ConstantIndexOp::create(b, loc, i)));
  return indices;
}

/// The partial sums (of `vectorType`) a pass over `rhs` rows from
/// `firstDepth` on starts from: `loadSums` (the vectors of `out` it
/// updates), or zeros in the first pass of a product that overwrites `out`,
/// which then need neither a fill of `out` nor a read of it.
SmallVector<Value>
startingSums(OpBuilder &b, Location loc, bool overwritesOut, Value firstDepth,
             VectorType vectorType, int64_t count,
             function_ref<SmallVector<Value>(OpBuilder &, Location)> loadSums) {
  if (!overwritesOut)
    return loadSums(b, loc);
  Value isFirst =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, firstDepth,
                            arith::ConstantIndexOp::create(b, loc, 0));
  auto start =
      scf::IfOp::create(b, loc, SmallVector<Type>(count, vectorType), isFirst,
                        /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(start.thenBlock());
  Value zeros = arith::ConstantOp::create(
      b, loc, cast<TypedAttr>(b.getZeroAttr(vectorType)));
  scf::YieldOp::create(b, loc, SmallVector<Value>(count, zeros));
  b.setInsertionPointToStart(start.elseBlock());
  scf::YieldOp::create(b, loc, loadSums(b, loc));
  return llvm::to_vector_of<Value>(start.getResults());
}

/// `out [M, N] += lhs [M, K] . rhs [K, N]` for a few rows M, as vector code
/// that reads `rhs` once, row after row: for each group of eight rows of
/// `rhs`, every group of four output rows takes their contributions in one
/// pass over N (masked at its end). Copying `rhs` into panels first (what
/// a BLAS GEMM and `emitPackedProduct` do) reads it twice and writes it
/// once, which costs more than the arithmetic when M is an expert's share
/// of a small batch. Narrower inputs are widened as they are loaded. `rhs`
/// and `out` have unit-stride rows. With `overwritesOut`, `out = lhs . rhs`
/// (K > 0).
void emitStreamingProduct(OpBuilder &b, Location loc, Value lhs, Value rhs,
                          Value out, Value rows, Value depth, Value columns,
                          FloatType type, bool overwritesOut) {
  int64_t lanes = kStreamingVectorBits / type.getWidth();
  auto vectorType = VectorType::get({lanes}, type);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  Value zero = index(0);
  Value mainDepth = roundDown(b, loc, depth, kStreamingDepthPerPass);
  Value mainRows = roundDown(b, loc, rows, kStreamingRowsPerPass);
  Value mainColumns = roundDown(b, loc, columns, lanes);
  constexpr int64_t kPrefetchDistance =
      kStreamingPrefetchGroups * kStreamingDepthPerPass;
  std::optional<int64_t> knownDepth = getConstantIntValue(depth);
  bool prefetchesAhead = !knownDepth || *knownDepth > kPrefetchDistance;
  Value lastDepth =
      prefetchesAhead ? arith::SubIOp::create(b, loc, depth, index(1))
                      : Value();
  auto widened = [&](OpBuilder &nb, Location nl, Value value) {
    return widenTo(nb, nl, value, type);
  };

  // Adds rows [firstDepth, firstDepth + depthCount) of `rhs`, each scaled by
  // the matching column of `lhs`, into rows [firstRow, firstRow + rowCount)
  // of `out`. A full group's pass over row 0 also prefetches the group
  // kStreamingPrefetchGroups ahead (clamped to the last row of `rhs`).
  auto pass = [&](OpBuilder &nb, Location nl, Value firstDepth,
                  int64_t depthCount, Value firstRow, int64_t rowCount) {
    SmallVector<Value> depthIndices =
        consecutiveIndices(nb, nl, firstDepth, depthCount);
    SmallVector<Value> rowIndices =
        consecutiveIndices(nb, nl, firstRow, rowCount);
    Value prefetching;
    SmallVector<Value> prefetchIndices;
    if (depthCount == kStreamingDepthPerPass && prefetchesAhead) {
      prefetching = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                          firstRow, zero);
      for (Value depthIndex : depthIndices)
        prefetchIndices.push_back(arith::MinUIOp::create(
            nb, nl,
            arith::AddIOp::create(nb, nl, depthIndex,
                                  index(kPrefetchDistance)),
            lastDepth));
    }
    // coefficients[r][d] multiplies row d of `rhs` into row r of `out`.
    SmallVector<SmallVector<Value>> coefficients;
    for (Value row : rowIndices) {
      SmallVector<Value> &rowCoefficients = coefficients.emplace_back();
      for (Value depthIndex : depthIndices) {
        Value coefficient = memref::LoadOp::create(
            nb, nl, lhs, ValueRange{row, depthIndex});
        rowCoefficients.push_back(vector::BroadcastOp::create(
            nb, nl, vectorType, widened(nb, nl, coefficient)));
      }
    }
    // One vector of each row at `column`; `mask` covers the columns left
    // after the last full vector.
    auto update = [&](OpBuilder &cb, Location cl, Value column, Value mask) {
      auto load = [&](OpBuilder &lb, Location ll, Value memref,
                      Value rowIndex) {
        return loadVector(lb, ll, memref, ValueRange{rowIndex, column}, lanes,
                          mask);
      };
      SmallVector<Value> sums =
          startingSums(cb, cl, overwritesOut, firstDepth, vectorType,
                       rowIndices.size(), [&](OpBuilder &lb, Location ll) {
                         return llvm::map_to_vector(rowIndices, [&](Value row) {
                           return load(lb, ll, out, row);
                         });
                       });
      for (auto [depthPosition, depthIndex] : llvm::enumerate(depthIndices)) {
        Value weights = widened(cb, cl, load(cb, cl, rhs, depthIndex));
        for (auto [sum, rowCoefficients] : llvm::zip(sums, coefficients))
          sum = vector::FMAOp::create(cb, cl, rowCoefficients[depthPosition],
                                      weights, sum);
      }
      for (auto [sum, row] : llvm::zip(sums, rowIndices))
        storeVector(cb, cl, sum, out, ValueRange{row, column}, mask);
    };
    buildLoop(nb, nl, zero, mainColumns, lanes,
              [&](OpBuilder &cb, Location cl, Value column) {
                if (prefetching)
                  scf::IfOp::create(
                      cb, cl, prefetching, [&](OpBuilder &pb, Location pl) {
                        for (Value row : prefetchIndices)
                          prefetchForRead(pb, pl, rhs, ValueRange{row, column});
                        scf::YieldOp::create(pb, pl);
                      });
                update(cb, cl, column, Value());
              });
    Value hasTail = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult,
                                          mainColumns, columns);
    scf::IfOp::create(nb, nl, hasTail, [&](OpBuilder &cb, Location cl) {
      Value tail = arith::SubIOp::create(cb, cl, columns, mainColumns);
      Value mask = vector::CreateMaskOp::create(
          cb, cl, VectorType::get({lanes}, cb.getI1Type()), ValueRange{tail});
      update(cb, cl, mainColumns, mask);
      scf::YieldOp::create(cb, cl);
    });
  };
  buildLoop(b, loc, zero, mainDepth, kStreamingDepthPerPass,
            [&](OpBuilder &nb, Location nl, Value firstDepth) {
              buildLoop(nb, nl, zero, mainRows, kStreamingRowsPerPass,
                        [&](OpBuilder &rb, Location rl, Value firstRow) {
                          pass(rb, rl, firstDepth, kStreamingDepthPerPass,
                               firstRow, kStreamingRowsPerPass);
                        });
              buildLoop(nb, nl, mainRows, rows, 1,
                        [&](OpBuilder &rb, Location rl, Value row) {
                          pass(rb, rl, firstDepth, kStreamingDepthPerPass,
                               row, 1);
                        });
            });
  buildLoop(b, loc, mainDepth, depth, 1,
            [&](OpBuilder &nb, Location nl, Value depthIndex) {
              buildLoop(nb, nl, zero, rows, 1,
                        [&](OpBuilder &rb, Location rl, Value row) {
                          pass(rb, rl, depthIndex, 1, row, 1);
                        });
            });
}

/// Columns of `rhs` the packed product copies into one panel, in vectors:
/// with four rows, sixteen accumulators in registers, and each panel vector
/// loaded serves four FMAs.
constexpr int64_t kPackedPanelVectors = 4;
/// Output rows that share each panel vector loaded.
constexpr int64_t kPackedRowsPerBlock = 4;
/// Rows of `rhs` in a panel: 128 x 64 f32 is 32 KiB, which stays in L1
/// while every block of output rows runs through it.
constexpr int64_t kPackedPanelDepth = 128;
/// Steps through a packed panel per line of the next one prefetched.
constexpr int64_t kPackedStepsPerPrefetch = 4;

/// Where the packed product finds its panels of `rhs`.
enum class PanelSource {
  /// Copied out of `rhs` [K, N], one panel at a time.
  CopiedFromRhs,
  /// In place: `rhs` holds the weights packed beforehand,
  /// `[(K / 128) * (N / width) * 128, width]`, panel (i, j) in the 128 rows
  /// from `(i * N / width + j) * 128` on. K and N are multiples of the panel.
  PackedRhs,
};

/// `out [M, N] += lhs [M, K] . rhs [K, N]` for a moderate number of rows M,
/// as vector code that keeps a 4 x 64 block of `out` (f32; 4 x 32 for f64)
/// in registers while it runs through a panel of 128 rows and 64 columns of
/// `rhs`. Unless `rhs` is packed already (`source`), the panel is first
/// copied into a contiguous buffer: read in place,
/// its rows would be 4 KiB apart (an expert's weight rows), all in the same
/// few L1 sets, and evicted before the next block of output rows could
/// reuse them. While one panel is copied, the same rows of the next are
/// prefetched, so its copy finds them in L2: the copy is a separate loop,
/// with no FMAs to hide a wait on memory. It costs two memory operations
/// per vector against the M FMAs that use it. Narrower `rhs` is widened as
/// it is copied, narrower `lhs` as it is loaded; columns past N in the last
/// panel are zeros, and its part of `out` is loaded and stored under masks.
/// `rhs` and `out` have unit-stride rows. With `overwritesOut`,
/// `out = lhs . rhs` (K > 0). The M mod 4 rows left over run as one block
/// of their own. Packed panels are read where they lie, those of the columns
/// [firstPanelColumn, panelColumnsEnd) (copied ones: all columns, and both
/// values are null), and while each block of output rows runs through one,
/// it prefetches lines of the next used every four steps, the blocks all of
/// it between them.
void emitPanelProductRows(OpBuilder &b, Location loc, Value lhs, Value rhs,
                          Value out, Value rows, Value depth, Value columns,
                          FloatType type, bool overwritesOut,
                          PanelSource source, Value firstPanelColumn,
                          Value panelColumnsEnd) {
  bool packed = source == PanelSource::PackedRhs;
  int64_t lanes = kStreamingVectorBits / type.getWidth();
  int64_t panelWidth = lanes * kPackedPanelVectors;
  auto vectorType = VectorType::get({lanes}, type);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  Value zero = index(0);
  Value panelWidthValue = index(panelWidth);
  Value mainRows = roundDown(b, loc, rows, kPackedRowsPerBlock);
  // Copied panels cover all columns, the last one partial where N is not a
  // multiple of the panel: its columns left of N are under `tailMasks`.
  Value mainColumns, hasTail, lastColumn;
  SmallVector<Value> tailMasks;
  if (!packed) {
    firstPanelColumn = zero;
    mainColumns = panelColumnsEnd = roundDown(b, loc, columns, panelWidth);
    hasTail = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                    mainColumns, columns);
    Value tailWidth = arith::SubIOp::create(b, loc, columns, mainColumns);
    for (int64_t v = 0; v < kPackedPanelVectors; ++v)
      tailMasks.push_back(vector::CreateMaskOp::create(
          b, loc, VectorType::get({lanes}, b.getI1Type()),
          ValueRange{
              arith::SubIOp::create(b, loc, tailWidth, index(v * lanes))}));
    lastColumn = arith::SubIOp::create(b, loc, columns, index(1));
  }
  Value panel =
      packed ? rhs
             : Value(memref::AllocOp::create(
                   b, loc,
                   MemRefType::get({kPackedPanelDepth, panelWidth}, type)));
  Value panelDepthValue = index(kPackedPanelDepth);
  // Lines of the next packed panel each iteration of a block's accumulate
  // loop prefetches: the blocks of output rows (the last partial) share the
  // panel's 512 lines, up to sixteen blocks of 32 iterations, one line each.
  // Fewer blocks prefetch more lines per iteration, so that even one block
  // (M <= 4, the weights streamed at one row of FMAs per load) has the
  // whole next panel on its way.
  constexpr int64_t kPanelLines = kPackedPanelDepth * kPackedPanelVectors;
  constexpr int64_t kIterationsPerBlock =
      kPackedPanelDepth / kPackedStepsPerPrefetch;
  Value linesPerIteration, hasFewBlocks;
  if (packed) {
    constexpr int64_t kManyBlocks = kPanelLines / kIterationsPerBlock;
    Value blocks =
        arith::CeilDivUIOp::create(b, loc, rows, index(kPackedRowsPerBlock));
    hasFewBlocks = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         blocks, index(kManyBlocks));
    linesPerIteration = arith::CeilDivUIOp::create(
        b, loc, index(kManyBlocks),
        arith::MaxUIOp::create(b, loc, blocks, index(1)));
  }
  SmallVector<Value> panelColumns;
  for (int64_t v = 0; v < kPackedPanelVectors; ++v)
    panelColumns.push_back(index(v * lanes));
  // The mask of vector `v` of a panel: none for a full panel (no masks).
  auto maskOf = [](ArrayRef<Value> masks, int64_t v) {
    return masks.empty() ? Value() : masks[v];
  };
  // Calls `body(builder, location, firstColumn, masks)` for each full panel
  // (no masks) of [firstPanelColumn, panelColumnsEnd) and, behind a test, the
  // partial one, which packed panels never have.
  auto forEachPanel = [&](OpBuilder &pb, Location pl, auto body) {
    buildLoop(pb, pl, firstPanelColumn, panelColumnsEnd, panelWidth,
              [&](OpBuilder &cb, Location cl, Value firstColumn) {
                body(cb, cl, firstColumn, ArrayRef<Value>());
              });
    if (packed)
      return;
    scf::IfOp::create(pb, pl, hasTail, [&](OpBuilder &cb, Location cl) {
      body(cb, cl, mainColumns, ArrayRef<Value>(tailMasks));
      scf::YieldOp::create(cb, cl);
    });
  };

  // Output rows [firstRow, firstRow + rowCount), at the panel's columns of
  // `out` (`vectorColumns`, one per vector), through rows [firstDepth,
  // firstDepth + panelDepth) of `rhs`, which are the panel's rows from
  // `panelStart` on; `nextPanelStart`, where given, is the first row of the
  // panel to prefetch.
  auto rowBlock = [&](OpBuilder &rb, Location rl, Value firstDepth,
                      Value panelDepth, Value panelStart, Value nextPanelStart,
                      ArrayRef<Value> vectorColumns, ArrayRef<Value> masks,
                      Value firstRow, int64_t rowCount, bool fewBlocks) {
    SmallVector<Value> outRows =
        consecutiveIndices(rb, rl, firstRow, rowCount);
    // sums[r * kPackedPanelVectors + v]: row r, vector v of the block.
    SmallVector<Value> sums = startingSums(
        rb, rl, overwritesOut, firstDepth, vectorType,
        outRows.size() * kPackedPanelVectors, [&](OpBuilder &lb, Location ll) {
          SmallVector<Value> loaded;
          for (Value row : outRows)
            for (int64_t v = 0; v < kPackedPanelVectors; ++v)
              loaded.push_back(loadVector(lb, ll, out,
                                          ValueRange{row, vectorColumns[v]},
                                          lanes, maskOf(masks, v)));
          return loaded;
        });
    // A block of rows through a packed panel prefetches `linesPerIteration`
    // lines of the next panel every four steps: at the pace the panel is
    // consumed, which for M = 64 (an expert's share at n = 256) is one line.
    // All at once, the misses would fill the line buffers the products' own
    // loads need.
    bool prefetches = static_cast<bool>(nextPanelStart);
    int64_t stepsPerIteration = prefetches ? kPackedStepsPerPrefetch : 1;
    auto accumulate = scf::ForOp::create(
        rb, rl, zero, panelDepth, index(stepsPerIteration), sums,
        [&](OpBuilder &fb, Location fl, Value firstStep, ValueRange partial) {
          if (prefetches) {
            // Lines from (block * 32 + firstStep / 4) * linesPerIteration
            // on, or the last line once the blocks before have fetched all.
            Value block = arith::DivUIOp::create(fb, fl, firstRow,
                                                 index(kPackedRowsPerBlock));
            Value iteration = arith::AddIOp::create(
                fb, fl,
                arith::MulIOp::create(fb, fl, block,
                                      index(kIterationsPerBlock)),
                arith::DivUIOp::create(fb, fl, firstStep,
                                       index(kPackedStepsPerPrefetch)));
            auto prefetchLine = [&](OpBuilder &pb, Location pl, Value line) {
              line =
                  arith::MinUIOp::create(pb, pl, line, index(kPanelLines - 1));
              Value vectorsPerRow = index(kPackedPanelVectors);
              Value lineRow = arith::AddIOp::create(
                  pb, pl, nextPanelStart,
                  arith::DivUIOp::create(pb, pl, line, vectorsPerRow));
              Value lineColumn = arith::MulIOp::create(
                  pb, pl, arith::RemUIOp::create(pb, pl, line, vectorsPerRow),
                  index(lanes));
              prefetchForRead(pb, pl, panel, ValueRange{lineRow, lineColumn});
            };
            if (!fewBlocks) {
              prefetchLine(fb, fl, iteration);
            } else {
              Value firstLine =
                  arith::MulIOp::create(fb, fl, iteration, linesPerIteration);
              buildLoop(fb, fl, zero, linesPerIteration, 1,
                        [&](OpBuilder &lb, Location ll, Value offset) {
                          prefetchLine(
                              lb, ll,
                              arith::AddIOp::create(lb, ll, firstLine, offset));
                        });
            }
          }
          SmallVector<Value> updated(partial);
          for (int64_t step = 0; step < stepsPerIteration; ++step) {
            Value panelRow =
                arith::AddIOp::create(fb, fl, firstStep, index(step));
            Value rhsRow = arith::AddIOp::create(fb, fl, panelStart, panelRow);
            SmallVector<Value> weights;
            for (Value panelColumn : panelColumns)
              weights.push_back(vector::LoadOp::create(
                  fb, fl, vectorType, panel, ValueRange{rhsRow, panelColumn}));
            Value depthIndex =
                arith::AddIOp::create(fb, fl, firstDepth, panelRow);
            for (auto [r, row] : llvm::enumerate(outRows)) {
              Value coefficient = vector::BroadcastOp::create(
                  fb, fl, vectorType,
                  widenTo(fb, fl,
                          memref::LoadOp::create(fb, fl, lhs,
                                                 ValueRange{row, depthIndex}),
                          type));
              for (auto [v, weight] : llvm::enumerate(weights)) {
                Value &sum = updated[r * kPackedPanelVectors + v];
                sum = vector::FMAOp::create(fb, fl, coefficient, weight, sum);
              }
            }
          }
          scf::YieldOp::create(fb, fl, updated);
        });
    for (auto [r, row] : llvm::enumerate(outRows))
      for (int64_t v = 0; v < kPackedPanelVectors; ++v)
        storeVector(rb, rl, accumulate.getResult(r * kPackedPanelVectors + v),
                    out, ValueRange{row, vectorColumns[v]}, maskOf(masks, v));
  };

  buildLoop(
      b, loc, zero, depth, kPackedPanelDepth,
      [&](OpBuilder &db, Location dl, Value firstDepth) {
        Value panelDepth = arith::MinSIOp::create(
            db, dl, arith::SubIOp::create(db, dl, depth, firstDepth),
            index(kPackedPanelDepth));
        forEachPanel(db, dl, [&](OpBuilder &cb, Location cl,
                                 Value firstColumn, ArrayRef<Value> masks) {
          SmallVector<Value> vectorColumns;
          for (Value panelColumn : panelColumns)
            vectorColumns.push_back(
                arith::AddIOp::create(cb, cl, firstColumn, panelColumn));
          Value panelStart = zero, nextPanelStart;
          if (packed) {
            Value panelsBefore = arith::AddIOp::create(
                cb, cl,
                arith::MulIOp::create(
                    cb, cl,
                    arith::DivUIOp::create(cb, cl, firstDepth, panelDepthValue),
                    arith::DivUIOp::create(cb, cl, columns, panelWidthValue)),
                arith::DivUIOp::create(cb, cl, firstColumn, panelWidthValue));
            panelStart =
                arith::MulIOp::create(cb, cl, panelsBefore, panelDepthValue);
            // The next panel used: to the right, else the first of the
            // range in the next depth slab, or after the last slab in the
            // first (the next chunk of rows starts there).
            Value nextColumn =
                arith::AddIOp::create(cb, cl, firstColumn, panelWidthValue);
            Value nextDepth =
                arith::AddIOp::create(cb, cl, firstDepth, panelDepthValue);
            Value nextSlab = arith::SelectOp::create(
                cb, cl,
                arith::CmpIOp::create(cb, cl, arith::CmpIPredicate::ult,
                                      nextDepth, depth),
                arith::DivUIOp::create(cb, cl, nextDepth, panelDepthValue),
                zero);
            Value nextSlabStart = arith::MulIOp::create(
                cb, cl,
                arith::AddIOp::create(
                    cb, cl,
                    arith::MulIOp::create(
                        cb, cl, nextSlab,
                        arith::DivUIOp::create(cb, cl, columns,
                                               panelWidthValue)),
                    arith::DivUIOp::create(cb, cl, firstPanelColumn,
                                           panelWidthValue)),
                panelDepthValue);
            nextPanelStart = arith::SelectOp::create(
                cb, cl,
                arith::CmpIOp::create(cb, cl, arith::CmpIPredicate::ult,
                                      nextColumn, panelColumnsEnd),
                arith::AddIOp::create(cb, cl, panelStart, panelDepthValue),
                nextSlabStart);
          }
          auto runRowBlocks = [&](OpBuilder &ob, Location ol, bool fewBlocks) {
            buildLoop(ob, ol, zero, mainRows, kPackedRowsPerBlock,
                      [&](OpBuilder &rb, Location rl, Value firstRow) {
                        rowBlock(rb, rl, firstDepth, panelDepth, panelStart,
                                 nextPanelStart, vectorColumns, masks, firstRow,
                                 kPackedRowsPerBlock, fewBlocks);
                      });
            // The rows left over make one block of their own, so that the
            // panel is read once however many there are.
            SmallVector<int64_t> tailCounts =
                llvm::to_vector(llvm::seq<int64_t>(1, kPackedRowsPerBlock));
            auto tail = scf::IndexSwitchOp::create(
                ob, ol, TypeRange(),
                arith::SubIOp::create(ob, ol, rows, mainRows), tailCounts,
                tailCounts.size());
            OpBuilder::InsertionGuard guard(ob);
            for (auto [region, count] :
                 llvm::zip(tail.getCaseRegions(), tailCounts)) {
              ob.setInsertionPointToStart(&region.emplaceBlock());
              rowBlock(ob, ol, firstDepth, panelDepth, panelStart,
                       nextPanelStart, vectorColumns, masks, mainRows, count,
                       fewBlocks);
              scf::YieldOp::create(ob, ol);
            }
            ob.setInsertionPointToStart(
                &tail.getDefaultRegion().emplaceBlock());
            scf::YieldOp::create(ob, ol);
          };
          if (packed) {
            // Two versions: the loop over lines that few blocks need would
            // cost many blocks their accumulators' registers.
            scf::IfOp::create(
                cb, cl, hasFewBlocks,
                [&](OpBuilder &ib, Location il) {
                  runRowBlocks(ib, il, /*fewBlocks=*/true);
                  scf::YieldOp::create(ib, il);
                },
                [&](OpBuilder &ib, Location il) {
                  runRowBlocks(ib, il, /*fewBlocks=*/false);
                  scf::YieldOp::create(ib, il);
                });
            return;
          }
          // While a full panel is copied, the same rows' part of the next
          // panel is prefetched (into L2; clamped to the last column), to
          // arrive while this panel's products run.
          SmallVector<Value> nextColumns;
          if (masks.empty())
            for (Value column : vectorColumns)
              nextColumns.push_back(arith::MinUIOp::create(
                  cb, cl,
                  arith::AddIOp::create(cb, cl, column, panelWidthValue),
                  lastColumn));
          buildLoop(
              cb, cl, zero, panelDepth, 1,
              [&](OpBuilder &kb, Location kl, Value panelRow) {
                Value row =
                    arith::AddIOp::create(kb, kl, firstDepth, panelRow);
                for (Value column : nextColumns)
                  prefetchForRead(kb, kl, rhs, ValueRange{row, column});
                for (int64_t v = 0; v < kPackedPanelVectors; ++v) {
                  Value loaded =
                      loadVector(kb, kl, rhs, ValueRange{row, vectorColumns[v]},
                                 lanes, maskOf(masks, v));
                  vector::StoreOp::create(
                      kb, kl, widenTo(kb, kl, loaded, type), panel,
                      ValueRange{panelRow, panelColumns[v]});
                }
              });
          runRowBlocks(cb, cl, /*fewBlocks=*/false);
        });
      });
  if (!packed)
    memref::DeallocOp::create(b, loc, panel);
}

/// The packed product over packed panels runs through all of `rhs` for
/// chunks of `out` of up to 128 rows by 512 columns (eight panels) at a
/// time. The chunk, and its rows of `lhs`, stay in L2 while the depth slabs
/// of its panels stream in; each 512 columns of panels are then read from
/// memory once, and from the L3 for the next chunks of rows. Through all of
/// `out` at once, every depth slab would stream all of it (M x N) from the
/// L3 and back (a third of the time at M = 2048).
constexpr int64_t kPackedChunkRows = 128;
constexpr int64_t kPackedChunkPanels = 8;

/// `emitPanelProductRows`; over packed panels, by chunks of `out`.
void emitPanelProduct(OpBuilder &b, Location loc, Value lhs, Value rhs,
                      Value out, Value rows, Value depth, Value columns,
                      FloatType type, bool overwritesOut, PanelSource source) {
  if (source != PanelSource::PackedRhs)
    return emitPanelProductRows(b, loc, lhs, rhs, out, rows, depth, columns,
                                type, overwritesOut, source, Value(), Value());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  int64_t chunkColumns = kStreamingVectorBits / type.getWidth() *
                         kPackedPanelVectors * kPackedChunkPanels;
  buildLoop(
      b, loc, zero, columns, chunkColumns,
      [&](OpBuilder &nb, Location nl, Value firstColumn) {
        Value columnsEnd = arith::MinUIOp::create(
            nb, nl,
            arith::AddIOp::create(
                nb, nl, firstColumn,
                arith::ConstantIndexOp::create(nb, nl, chunkColumns)),
            columns);
        buildLoop(
            nb, nl, zero, rows, kPackedChunkRows,
            [&](OpBuilder &cb, Location cl, Value firstRow) {
              Value chunkRows = arith::MinUIOp::create(
                  cb, cl, arith::SubIOp::create(cb, cl, rows, firstRow),
                  arith::ConstantIndexOp::create(cb, cl, kPackedChunkRows));
              auto rowsOf = [&](Value matrix, Value width) {
                return memref::SubViewOp::create(
                    cb, cl, matrix,
                    ArrayRef<OpFoldResult>{firstRow, cb.getIndexAttr(0)},
                    ArrayRef<OpFoldResult>{chunkRows, width},
                    ArrayRef<OpFoldResult>{cb.getIndexAttr(1),
                                           cb.getIndexAttr(1)});
              };
              emitPanelProductRows(cb, cl, rowsOf(lhs, depth), rhs,
                                   rowsOf(out, columns), chunkRows, depth,
                                   columns, type, overwritesOut, source,
                                   firstColumn, columnsEnd);
            });
      });
}

/// The packed product with its panels copied out of `rhs` as it goes.
void emitPackedProduct(OpBuilder &b, Location loc, Value lhs, Value rhs,
                       Value out, Value rows, Value depth, Value columns,
                       FloatType type, bool overwritesOut) {
  emitPanelProduct(b, loc, lhs, rhs, out, rows, depth, columns, type,
                   overwritesOut, PanelSource::CopiedFromRhs);
}

/// The `linalg.fill` of 0 into the output of the GEMM `op` right before it,
/// if any: with nothing in between, nothing reads the zeros but the product.
linalg::FillOp zeroFillOf(linalg::LinalgOp op) {
  auto fill = dyn_cast_or_null<linalg::FillOp>(op->getPrevNode());
  if (!fill || !fill.hasPureBufferSemantics() ||
      fill.getDpsInits()[0] != op.getDpsInits()[0])
    return nullptr;
  Value value = fill.getDpsInputs()[0];
  if (!matchPattern(value, m_AnyZeroFloat()))
    return nullptr;
  return fill;
}

struct BatchMatmulToLoop : OpRewritePattern<linalg::BatchMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::BatchMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (op.hasUserDefinedMaps() || !blasElementType(op))
      return rewriter.notifyMatchFailure(op, "not a plain f32/f64 batch");
    Location loc = op.getLoc();
    Value lhs = op.getDpsInputs()[0], rhs = op.getDpsInputs()[1];
    Value out = op.getDpsInits()[0];
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value batch = memref::DimOp::create(rewriter, loc, lhs, 0);
    auto matrixOf = [&](OpBuilder &b, Value operand, Value index) -> Value {
      auto type = cast<MemRefType>(operand.getType());
      SmallVector<OpFoldResult> offsets = {index, b.getIndexAttr(0),
                                           b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {
          b.getIndexAttr(1), memref::getMixedSize(b, loc, operand, 1),
          memref::getMixedSize(b, loc, operand, 2)};
      SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
      auto sliceType = memref::SubViewOp::inferRankReducedResultType(
          {type.getDimSize(1), type.getDimSize(2)}, type, offsets, sizes,
          strides);
      return memref::SubViewOp::create(b, loc, cast<MemRefType>(sliceType),
                                       operand, offsets, sizes, strides);
    };
    scf::ForOp::create(
        rewriter, loc, zero, batch, one, ValueRange{},
        [&](OpBuilder &b, Location l, Value index, ValueRange) {
          linalg::MatmulOp::create(
              b, l,
              ValueRange{matrixOf(b, lhs, index), matrixOf(b, rhs, index)},
              ValueRange{matrixOf(b, out, index)});
          scf::YieldOp::create(b, l);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

struct MatmulToGemmCall : OpRewritePattern<linalg::MatmulOp> {
  MatmulToGemmCall(MLIRContext *ctx, int64_t streamingMaxRows,
                   int64_t packedMaxRows)
      : OpRewritePattern(ctx), streamingMaxRows(streamingMaxRows),
        packedMaxRows(packedMaxRows) {}

  LogicalResult matchAndRewrite(linalg::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<FloatType> elementType = blasElementType(op);
    if (op.hasUserDefinedMaps() || !elementType)
      return rewriter.notifyMatchFailure(op, "not a plain f32/f64 GEMM");
    // A zero fill of the output just before the product becomes beta = 0
    // (or vector products that start from zeros): the product then writes
    // its output without reading it, and the fill's pass over the output
    // goes away.
    linalg::FillOp zeroFill = zeroFillOf(op);
    bool overwritesOut = static_cast<bool>(zeroFill);
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type i32 = rewriter.getI32Type();
    auto pointerType = LLVM::LLVMPointerType::get(ctx);

    // CBLAS takes sizes and leading dimensions as 32-bit ints. A size with a
    // known bound (a tile) needs no check, which matters inside a parallel
    // loop: a failing check cannot return from a worker thread.
    constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
    Value int32Max = arith::ConstantIndexOp::create(rewriter, loc, kInt32Max);
    auto int32 = [&](Value index) -> Value {
      std::optional<int64_t> known = getConstantIntValue(index);
      if (known && *known <= kInt32Max)
        return arith::ConstantOp::create(
            rewriter, loc, i32,
            rewriter.getI32IntegerAttr(static_cast<int32_t>(*known)));
      FailureOr<int64_t> bound = ValueBoundsConstraintSet::computeConstantBound(
          presburger::BoundType::UB, index, /*stopCondition=*/nullptr,
          /*closedUB=*/true);
      if (succeeded(bound) && *bound <= kInt32Max)
        return arith::IndexCastOp::create(rewriter, loc, i32, index);
      Value fits = arith::CmpIOp::create(rewriter, loc,
                                         arith::CmpIPredicate::ule, index,
                                         int32Max);
      cf::AssertOp::create(
          rewriter, loc, fits,
          rewriter.getStringAttr("linalg.matmul: a size or leading "
                                 "dimension exceeds what CBLAS can take"));
      return arith::IndexCastOp::create(rewriter, loc, i32, index);
    };
    struct Matrix {
      Value pointer, leadingDimension;
    };
    // The address of element (0, 0) and the distance between rows.
    auto matrix = [&](Value operand) -> Matrix {
      auto metadata =
          memref::ExtractStridedMetadataOp::create(rewriter, loc, operand);
      Value aligned = memref::ExtractAlignedPointerAsIndexOp::create(
          rewriter, loc, operand);
      Value elementBytes = arith::ConstantIndexOp::create(
          rewriter, loc, elementType->getWidth() / 8);
      Value address = arith::AddIOp::create(
          rewriter, loc, aligned,
          arith::MulIOp::create(rewriter, loc, metadata.getOffset(),
                                elementBytes));
      Value asInteger = arith::IndexCastOp::create(
          rewriter, loc, rewriter.getI64Type(), address);
      Value pointer =
          LLVM::IntToPtrOp::create(rewriter, loc, pointerType, asInteger);
      // Static row strides make static leading dimensions. Every operand
      // here is strided: blasElementType checked, or it is a fresh copy.
      auto [strides, offset] =
          cast<MemRefType>(operand.getType()).getStridesAndOffset();
      Value rowStride =
          ShapedType::isDynamic(strides.front())
              ? metadata.getStrides()[0]
              : Value(arith::ConstantIndexOp::create(rewriter, loc,
                                                     strides.front()));
      return {pointer, int32(rowStride)};
    };
    Value lhs = op.getDpsInputs()[0], rhs = op.getDpsInputs()[1];
    Value out = op.getDpsInits()[0];
    // An empty product leaves the output as it is; CBLAS would also reject
    // the zero leading dimensions of empty buffers.
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    auto size = [&](Value operand, unsigned dim) {
      return getValueOrCreateConstantIndexOp(
          rewriter, loc, memref::getMixedSize(rewriter, loc, operand, dim));
    };
    Value mIndex = size(lhs, 0), kIndex = size(lhs, 1), nIndex = size(rhs, 1);
    Value nonEmpty;
    for (Value size : {mIndex, kIndex, nIndex}) {
      std::optional<int64_t> known = getConstantIntValue(size);
      if (known && *known > 0)
        continue;
      Value positive = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::sgt, size, zero);
      nonEmpty = nonEmpty ? arith::AndIOp::create(rewriter, loc, nonEmpty,
                                                  positive)
                          : positive;
    }
    // Where the GEMM is skipped, the output is empty unless K = 0: only then
    // does it still need the fill.
    std::optional<int64_t> knownK = getConstantIntValue(kIndex);
    bool fillWhenSkipped = zeroFill && !(knownK && *knownK > 0);
    if (nonEmpty) {
      auto nonEmptyProduct = scf::IfOp::create(
          rewriter, loc, nonEmpty, /*withElseRegion=*/fillWhenSkipped);
      if (fillWhenSkipped)
        rewriter.moveOpBefore(zeroFill,
                              nonEmptyProduct.elseBlock()->getTerminator());
      rewriter.setInsertionPointToStart(nonEmptyProduct.thenBlock());
    }
    if (zeroFill && !fillWhenSkipped)
      rewriter.eraseOp(zeroFill);
    // Few rows: vector code instead of CBLAS, by M (behind run-time tests
    // of it where M is dynamic, CBLAS in the last else branch): the
    // streaming product up to streamingMaxRows, then the packed product up
    // to packedMaxRows.
    std::optional<int64_t> knownM = getConstantIntValue(mIndex);
    SmallVector<std::pair<decltype(&emitStreamingProduct), int64_t>> products;
    if (hasUnitStrideRows(cast<MemRefType>(rhs.getType()))) {
      if (streamingMaxRows > 0)
        products.push_back({&emitStreamingProduct, streamingMaxRows});
      if (packedMaxRows > streamingMaxRows)
        products.push_back({&emitPackedProduct, packedMaxRows});
    }
    for (auto [emitProduct, maxRows] : products) {
      if (knownM && *knownM > maxRows)
        continue;
      scf::IfOp fewRows;
      if (!knownM) {
        Value few = arith::CmpIOp::create(
            rewriter, loc, arith::CmpIPredicate::sle, mIndex,
            arith::ConstantIndexOp::create(rewriter, loc, maxRows));
        fewRows = scf::IfOp::create(rewriter, loc, few,
                                    /*withElseRegion=*/true);
        rewriter.setInsertionPointToStart(fewRows.thenBlock());
      }
      emitProduct(rewriter, loc, lhs, rhs, out, mIndex, kIndex, nIndex,
                  *elementType, overwritesOut);
      if (knownM) {
        rewriter.eraseOp(op);
        return success();
      }
      rewriter.setInsertionPointToStart(fewRows.elseBlock());
    }
    SmallVector<Value> copies;
    for (Value *input : {&lhs, &rhs})
      if (needsWidening(*input, *elementType)) {
        *input = widen(rewriter, loc, *input, *elementType);
        copies.push_back(*input);
      }
    Matrix a = matrix(lhs), b = matrix(rhs), c = matrix(out);
    Value m = int32(mIndex);
    Value k = int32(kIndex);
    Value n = int32(nIndex);
    auto constant32 = [&](int32_t value) -> Value {
      return arith::ConstantOp::create(rewriter, loc, i32,
                                       rewriter.getI32IntegerAttr(value));
    };
    Value one = arith::ConstantOp::create(
        rewriter, loc, *elementType, rewriter.getFloatAttr(*elementType, 1.0));
    // beta = 1: linalg.matmul accumulates into its output.
    Value beta = overwritesOut ? Value(arith::ConstantOp::create(
                                     rewriter, loc, *elementType,
                                     rewriter.getFloatAttr(*elementType, 0.0)))
                               : one;
    StringRef name = elementType->isF32() ? "cblas_sgemm" : "cblas_dgemm";
    func::FuncOp gemm = declareGemm(rewriter, op, name, *elementType);
    func::CallOp::create(
        rewriter, loc, gemm,
        ValueRange{constant32(kCblasRowMajor), constant32(kCblasNoTrans),
                   constant32(kCblasNoTrans), m, n, k, one, a.pointer,
                   a.leadingDimension, b.pointer, b.leadingDimension, beta,
                   c.pointer, c.leadingDimension});
    for (Value copy : copies)
      memref::DeallocOp::create(rewriter, loc, copy);
    rewriter.eraseOp(op);
    return success();
  }

  /// `void cblas_?gemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb,
  /// beta, C, ldc)`, declared once per module.
  static func::FuncOp declareGemm(PatternRewriter &rewriter, Operation *op,
                                  StringRef name, Type elementType) {
    auto module = op->getParentOfType<ModuleOp>();
    if (auto existing = module.lookupSymbol<func::FuncOp>(name))
      return existing;
    MLIRContext *ctx = rewriter.getContext();
    Type i32 = rewriter.getI32Type();
    Type pointer = LLVM::LLVMPointerType::get(ctx);
    auto type = FunctionType::get(ctx,
                                  {i32, i32, i32, i32, i32, i32, elementType,
                                   pointer, i32, pointer, i32, elementType,
                                   pointer, i32},
                                  {});
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(module.getBody());
    auto declaration = func::FuncOp::create(rewriter, op->getLoc(), name, type);
    declaration.setPrivate();
    return declaration;
  }

  int64_t streamingMaxRows;
  int64_t packedMaxRows;
};

/// Whether `op`'s body is `out + lhs * rhs`, nothing else.
bool isMultiplyAdd(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return false;
  auto product = dyn_cast<arith::MulFOp>(body.front());
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto sum = yield.getValues().front().getDefiningOp<arith::AddFOp>();
  if (!product || !sum)
    return false;
  auto args = body.getArguments();
  auto isPair = [](Value a, Value b, Value x, Value y) {
    return (a == x && b == y) || (a == y && b == x);
  };
  return isPair(product.getLhs(), product.getRhs(), args[0], args[1]) &&
         isPair(sum.getLhs(), sum.getRhs(), args[2], product.getResult());
}

/// The GEMM over packed weights that `moe-materialize-packed-weights`
/// leaves, `out[m, n1 * w + n0] += lhs[m, k1 * d + k0] * packed[k1, n1, k0,
/// n0]`, on buffers: the packed product with its panels read in place,
/// whatever M. Its panels must be those of the product, 128 x 64 (f32) or
/// 128 x 32 (f64), contiguous.
struct PackedWeightGemmToProduct : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
        op.getNumDpsInits() != 1 || op.getNumLoops() != 5)
      return rewriter.notifyMatchFailure(op, "not a GEMM on buffers");
    Value lhs = op.getDpsInputs()[0], packed = op.getDpsInputs()[1];
    Value out = op.getDpsInits()[0];
    auto packedType = cast<MemRefType>(packed.getType());
    auto type = dyn_cast<FloatType>(packedType.getElementType());
    if (!type || !(type.isF32() || type.isF64()) ||
        getElementTypeOrSelf(lhs) != type || getElementTypeOrSelf(out) != type)
      return rewriter.notifyMatchFailure(op, "not f32 or f64 throughout");
    int64_t width =
        kStreamingVectorBits / type.getWidth() * kPackedPanelVectors;
    if (packedType.getRank() != 4 ||
        !memref::isStaticShapeAndContiguousRowMajor(packedType) ||
        packedType.getDimSize(2) != kPackedPanelDepth ||
        packedType.getDimSize(3) != width ||
        !hasUnitStrideRows(cast<MemRefType>(out.getType())))
      return rewriter.notifyMatchFailure(op, "not the product's panels");
    if (op.getIndexingMapsArray() !=
            moe::getPackedWeightGemmMaps(rewriter.getContext(),
                                         kPackedPanelDepth, width) ||
        op.getIteratorTypesArray() != moe::getPackedWeightGemmIterators() ||
        !isMultiplyAdd(op))
      return rewriter.notifyMatchFailure(op, "not a GEMM over packed panels");

    Location loc = op.getLoc();
    linalg::FillOp zeroFill = zeroFillOf(op);
    if (zeroFill)
      rewriter.eraseOp(zeroFill);
    Value panels = memref::CollapseShapeOp::create(
        rewriter, loc, packed, ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}});
    auto index = [&](int64_t value) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, value);
    };
    emitPanelProduct(rewriter, loc, lhs, panels, out,
                     memref::DimOp::create(rewriter, loc, lhs, 0),
                     index(packedType.getDimSize(0) * kPackedPanelDepth),
                     index(packedType.getDimSize(1) * width), type,
                     /*overwritesOut=*/static_cast<bool>(zeroFill),
                     PanelSource::PackedRhs);
    rewriter.eraseOp(op);
    return success();
  }
};

struct ConvertLinalgToBLASPass
    : moe::impl::ConvertLinalgToBLASBase<ConvertLinalgToBLASPass> {
  using ConvertLinalgToBLASBase::ConvertLinalgToBLASBase;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<BatchMatmulToLoop, PackedWeightGemmToProduct>(&getContext());
    patterns.add<MatmulToGemmCall>(&getContext(), streamingMaxRows,
                                   packedMaxRows);
    // The streaming product's loops and tail branch fold where sizes are
    // static.
    scf::ForOp::getCanonicalizationPatterns(patterns, &getContext());
    scf::IfOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
