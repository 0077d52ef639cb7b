//===- MathToPolynomials.cpp - f32 math functions as arithmetic -----------===//

#include "moe/Conversion/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMATHTOPOLYNOMIALS
#include "moe/Conversion/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;

namespace {

/// The functions whose libm calls would keep a loop scalar. The MoE lowering
/// emits exp (softmax, SiLU, softplus), log (softplus, the z-loss), erf
/// (GELU) and erfc (the load estimator); the others may come with a model's
/// own math on tensors.
constexpr StringLiteral kDefaultFunctions[] = {
    "exp", "expm1", "log", "log1p", "log2", "erf", "erfc", "tanh"};

struct ConvertMathToPolynomialsPass
    : moe::impl::ConvertMathToPolynomialsBase<ConvertMathToPolynomialsPass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::StringSet<> selected;
    if (functions.empty())
      for (StringRef name : kDefaultFunctions)
        selected.insert(("math." + name).str());
    for (const std::string &name : functions) {
      std::string opName = "math." + name;
      if (!RegisteredOperationName::lookup(opName, &getContext())) {
        emitError(getOperation()->getLoc())
            << "convert-math-to-polynomials: '" << opName
            << "' is not a math op";
        return signalPassFailure();
      }
      selected.insert(opName);
    }
    auto isSelected = [&](StringRef opName) {
      return selected.contains(opName);
    };
    RewritePatternSet patterns(&getContext());
    // f16/bf16 functions are computed in f32, where the approximations are.
    populateMathF32ExpansionPatterns(patterns, isSelected);
    populateMathPolynomialApproximationPatterns(patterns, isSelected);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
