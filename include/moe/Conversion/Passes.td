//===- Passes.td - Conversions out of the MoE dialect ------*- tablegen -*-===//

#ifndef MOE_CONVERSION_PASSES_TD
#define MOE_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertMoEToLinalg : Pass<"convert-moe-to-linalg"> {
  let summary = "Lower MoE ops to linalg, tensor, arith and math";
  let description = [{
    Lowers the computing `moe` ops to destination-style linalg ops on tensors
    (GEMMs as `linalg.matmul`, elementwise math and row reductions as
    `linalg.generic`), so that upstream tiling, fusion, vectorization and
    bufferization apply to them.

    f16 and bf16 data are computed in f32 (GEMM accumulation, softmax,
    reductions) and rounded once at the end.

    Lowered so far: `moe.gate`, `moe.noisy_gate`, `moe.route_weights`,
    `moe.cv_squared`, `moe.z_loss`. The other ops are left in place.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // MOE_CONVERSION_PASSES_TD
