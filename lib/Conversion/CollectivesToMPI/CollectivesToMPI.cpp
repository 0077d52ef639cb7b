//===- CollectivesToMPI.cpp - moe.all_to_all to MPI runtime calls ---------===//
//
// The exchange happens on tensors, before bufferization, because the output's
// size is only known once the counts have been exchanged: the lowering
// allocates it then and hands it back to One-Shot Bufferize as a restrict
// tensor. The runtime functions take memrefs (not bare pointers), so the
// buffers stay alive across the calls under the deallocation pipeline.
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/Passes.h"

#include "mlir/IR/SymbolTable.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "moe/Runtime/MPIRuntime.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOECOLLECTIVESTOMPI
#include "moe/Conversion/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

constexpr StringLiteral kExchangeCounts = "moe_mpi_exchange_counts";

/// The runtime function exchanging rows of `elementType`, if it has one:
/// the runtime names them after the types' MLIR spelling.
std::optional<std::string> allToAllFunctionName(Type elementType) {
  std::string spelling;
  llvm::raw_string_ostream(spelling) << elementType;
#define MOE_MPI_MATCH_ROW_TYPE(type, bytes)                                    \
  if (spelling == #type)                                                       \
    return "moe_mpi_all_to_all_" #type;
  MOE_MPI_ROW_TYPES(MOE_MPI_MATCH_ROW_TYPE)
#undef MOE_MPI_MATCH_ROW_TYPE
  return std::nullopt;
}

class CollectivesLowering {
public:
  explicit CollectivesLowering(ModuleOp module)
      : module(module), symbols(module), rewriter(module.getContext()) {}

  LogicalResult lower(AllToAllOp op);

private:
  /// The declaration of runtime function `name`, created on first use.
  func::FuncOp declare(StringRef name, TypeRange argumentTypes);

  /// `buffer` as the unranked memref the runtime takes.
  Value unranked(Location loc, Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    return memref::CastOp::create(
        rewriter, loc, UnrankedMemRefType::get(type.getElementType(), 0),
        buffer);
  }

  ModuleOp module;
  SymbolTable symbols;
  IRRewriter rewriter;
};

func::FuncOp CollectivesLowering::declare(StringRef name,
                                          TypeRange argumentTypes) {
  if (auto existing = symbols.lookup<func::FuncOp>(name))
    return existing;
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToStart(module.getBody());
  auto function = func::FuncOp::create(
      rewriter, module.getLoc(), name,
      rewriter.getFunctionType(argumentTypes, {}));
  function.setPrivate();
  symbols.insert(function);
  return function;
}

LogicalResult CollectivesLowering::lower(AllToAllOp op) {
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  std::optional<std::string> exchangeRows =
      allToAllFunctionName(inputType.getElementType());
  if (!exchangeRows)
    return op.emitOpError("cannot be lowered to MPI: no exchange of ")
           << inputType.getElementType() << " rows";

  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  int64_t numRanks = op.getNumRanks();
  Type i64 = rewriter.getI64Type();
  auto countsType = MemRefType::get({numRanks}, i64);
  auto countsTensorType =
      cast<RankedTensorType>(op.getRecvCounts().getType());
  Type countType = countsTensorType.getElementType();
  Value ranks = arith::ConstantIntOp::create(rewriter, loc, i64, numRanks);

  Value sendCounts = memref::AllocOp::create(rewriter, loc, countsType);
  Value receiveCounts = memref::AllocOp::create(rewriter, loc, countsType);
  SmallVector<Value> rankPositions;
  for (int64_t rank = 0; rank < numRanks; ++rank) {
    rankPositions.push_back(arith::ConstantIndexOp::create(rewriter, loc, rank));
    Value count = tensor::ExtractOp::create(rewriter, loc, op.getSendCounts(),
                                            rankPositions.back());
    if (countType != i64)
      count = arith::ExtSIOp::create(rewriter, loc, i64, count);
    memref::StoreOp::create(rewriter, loc, count, sendCounts,
                            rankPositions.back());
  }
  Type unrankedCounts = UnrankedMemRefType::get(i64, 0);
  Value sendCountsArgument = unranked(loc, sendCounts);
  Value receiveCountsArgument = unranked(loc, receiveCounts);
  func::CallOp::create(
      rewriter, loc,
      declare(kExchangeCounts, {i64, unrankedCounts, unrankedCounts}),
      ValueRange{ranks, sendCountsArgument, receiveCountsArgument});

  // The received counts, as the op's result and summed into the row count.
  SmallVector<Value> received;
  Value receivedRows = arith::ConstantIndexOp::create(rewriter, loc, 0);
  for (Value position : rankPositions) {
    Value count =
        memref::LoadOp::create(rewriter, loc, receiveCounts, position);
    receivedRows = arith::AddIOp::create(
        rewriter, loc, receivedRows,
        arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(),
                                   count));
    if (countType != i64)
      count = arith::TruncIOp::create(rewriter, loc, countType, count);
    received.push_back(count);
  }
  Value receivedCounts = tensor::FromElementsOp::create(
      rewriter, loc, countsTensorType, received);

  auto outputType = cast<RankedTensorType>(op.getOutput().getType());
  SmallVector<int64_t> outputShape(outputType.getShape());
  outputShape.front() = ShapedType::kDynamic;
  SmallVector<Value> outputSizes{receivedRows};
  for (int64_t dim = 1; dim < inputType.getRank(); ++dim) {
    outputShape[dim] = inputType.getDimSize(dim);
    if (inputType.isDynamicDim(dim))
      outputSizes.push_back(
          tensor::DimOp::create(rewriter, loc, op.getInput(), dim));
  }
  Value input = bufferization::ToBufferOp::create(
      rewriter, loc,
      MemRefType::get(inputType.getShape(), inputType.getElementType()),
      op.getInput(), /*read_only=*/true);
  auto outputBufferType =
      MemRefType::get(outputShape, inputType.getElementType());
  Value output =
      memref::AllocOp::create(rewriter, loc, outputBufferType, outputSizes);
  Type unrankedRows = UnrankedMemRefType::get(inputType.getElementType(), 0);
  func::CallOp::create(
      rewriter, loc,
      declare(*exchangeRows, {i64, unrankedRows, unrankedCounts, unrankedRows,
                              unrankedCounts}),
      ValueRange{ranks, unranked(loc, input), sendCountsArgument,
                 unranked(loc, output), receiveCountsArgument});
  Value outputTensor = bufferization::ToTensorOp::create(
      rewriter, loc,
      RankedTensorType::get(outputShape, inputType.getElementType()), output,
      /*restrict=*/true, /*writable=*/true);
  if (outputTensor.getType() != outputType)
    outputTensor =
        tensor::CastOp::create(rewriter, loc, outputType, outputTensor);
  rewriter.replaceOp(op, ValueRange{outputTensor, receivedCounts});
  return success();
}

struct ConvertMoECollectivesToMPIPass
    : moe::impl::ConvertMoECollectivesToMPIBase<
          ConvertMoECollectivesToMPIPass> {
  void runOnOperation() override {
    SmallVector<AllToAllOp> exchanges;
    getOperation().walk([&](AllToAllOp op) { exchanges.push_back(op); });
    CollectivesLowering lowering(getOperation());
    for (AllToAllOp op : exchanges)
      if (failed(lowering.lower(op)))
        return signalPassFailure();
  }
};

} // namespace
