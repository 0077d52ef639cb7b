// REQUIRES: cuda-toolkit
// RUN: moe-opt %s --moe-cuda-pipeline="chip=sm_90 format=isa" | FileCheck %s

// A per-expert sum over the tokens (the importance loss's), whose reduction
// comes first, is one kernel over the experts whose threads loop over the
// tokens: the host function (a fill, then the sums) has no loop around its
// launches, which a launch per token would need. Each launch's argument
// stack is given back after it.
// CHECK-LABEL: llvm.func @importance
//   CHECK-NOT:   llvm.cond_br
//       CHECK:   llvm.intr.stacksave
//  CHECK-NEXT:   llvm.br
//       CHECK:   gpu.launch_func
//  CHECK-NEXT:   llvm.intr.stackrestore
//   CHECK-NOT:   llvm.cond_br
//       CHECK:   gpu.launch_func
//  CHECK-NEXT:   llvm.intr.stackrestore
//   CHECK-NOT:   llvm.cond_br
//       CHECK:   llvm.return
func.func @importance(%gates: tensor<?x8xf32>) -> tensor<8xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<8xf32>)
      -> tensor<8xf32>
  %sums = linalg.generic {
      indexing_maps = [affine_map<(t, e) -> (t, e)>, affine_map<(t, e) -> (e)>],
      iterator_types = ["reduction", "parallel"]}
      ins(%gates : tensor<?x8xf32>) outs(%init : tensor<8xf32>) {
  ^bb0(%gate: f32, %sum: f32):
    %next = arith.addf %sum, %gate : f32
    linalg.yield %next : f32
  } -> tensor<8xf32>
  return %sums : tensor<8xf32>
}

// The same written as a named linalg.reduce over the tokens: generalized,
// then reordered likewise.
// CHECK-LABEL: llvm.func @column_sums
//   CHECK-NOT:   llvm.cond_br
//       CHECK:   gpu.launch_func
//   CHECK-NOT:   llvm.cond_br
//       CHECK:   gpu.launch_func
//   CHECK-NOT:   llvm.cond_br
//       CHECK:   llvm.return
func.func @column_sums(%gates: tensor<?x8xf32>) -> tensor<8xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<8xf32>)
      -> tensor<8xf32>
  %sums = linalg.reduce ins(%gates : tensor<?x8xf32>)
      outs(%init : tensor<8xf32>) dimensions = [0]
    (%gate: f32, %sum: f32) {
      %next = arith.addf %sum, %gate : f32
      linalg.yield %next : f32
    }
  return %sums : tensor<8xf32>
}
