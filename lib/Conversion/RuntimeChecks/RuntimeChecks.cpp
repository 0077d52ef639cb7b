//===- RuntimeChecks.cpp - cf.assert to calls into the MoE runtime --------===//

#include "moe/Conversion/Passes.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTRUNTIMECHECKSTOCALLS
#include "moe/Conversion/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

constexpr StringLiteral kCheckFailedFunction = "moe_runtime_check_failed";

struct ConvertRuntimeChecksToCallsPass
    : moe::impl::ConvertRuntimeChecksToCallsBase<
          ConvertRuntimeChecksToCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<cf::AssertOp> checks;
    module.walk([&](cf::AssertOp check) {
      if (!check->getParentOfType<gpu::GPUModuleOp>())
        checks.push_back(check);
    });
    if (checks.empty())
      return;

    OpBuilder builder(module.getBodyRegion());
    auto pointerType = LLVM::LLVMPointerType::get(&getContext());
    FailureOr<LLVM::LLVMFuncOp> checkFailed = LLVM::lookupOrCreateFn(
        builder, module, kCheckFailedFunction, {pointerType},
        LLVM::LLVMVoidType::get(&getContext()));
    if (failed(checkFailed))
      return signalPassFailure();

    for (auto [number, check] : llvm::enumerate(checks)) {
      Location loc = check.getLoc();
      Block *before = check->getBlock();
      Block *after = before->splitBlock(check);
      Block *failure = builder.createBlock(after);
      // The runtime does not return: it unwinds to the caller of the entry
      // point, or aborts when there is none.
      std::string message = check.getMsg().str();
      message.push_back('\0');
      Value text = LLVM::createGlobalString(
          loc, builder, ("moe_check_message_" + Twine(number)).str(), message,
          LLVM::Linkage::Internal);
      LLVM::CallOp::create(builder, loc, *checkFailed, ValueRange{text});
      LLVM::UnreachableOp::create(builder, loc);

      builder.setInsertionPointToEnd(before);
      cf::CondBranchOp::create(builder, loc, check.getArg(), after,
                               ValueRange{}, failure, ValueRange{});
      check.erase();
    }
  }
};

} // namespace
