//===- ScopeLaunchStack.cpp - Launch arguments' stack released per launch -===//
//
// Wraps each gpu.launch_func in a memref.alloca_scope.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOESCOPELAUNCHSTACK
#include "moe/Dialect/MoE/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

struct MoEScopeLaunchStackPass
    : moe::impl::MoEScopeLaunchStackBase<MoEScopeLaunchStackPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    getOperation()->walk([&](gpu::LaunchFuncOp launch) {
      if (launch->getNumResults() != 0 ||
          isa<memref::AllocaScopeOp>(launch->getParentOp()))
        return;
      rewriter.setInsertionPoint(launch);
      auto scope =
          memref::AllocaScopeOp::create(rewriter, launch.getLoc(), TypeRange());
      Block *body = rewriter.createBlock(&scope.getBodyRegion());
      memref::AllocaScopeReturnOp::create(rewriter, launch.getLoc());
      rewriter.moveOpBefore(launch, body->getTerminator());
    });
  }
};

} // namespace
