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

    Routing steps are real loops, not runtime calls: top-k is one selection
    pass over each row per kept entry; dispatch assigns rows (or capacity
    slots) in one `scf.for` scan over the choices, then gathers the token
    data in a parallel `linalg.generic`; histograms are reductions over
    `(token, choice, expert)`. Dropless experts run in an `scf.for` over
    experts on slices of the grouped rows; capacity-layout experts are
    `linalg.batch_matmul`s.

    `moe.layer` must be expanded first (`--moe-expand-layer`) and
    `moe.all_to_all` lowered to runtime calls first (no such lowering exists
    yet); both are reported as errors.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // MOE_CONVERSION_PASSES_TD
