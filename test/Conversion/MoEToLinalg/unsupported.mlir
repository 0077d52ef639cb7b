// RUN: moe-opt %s -convert-moe-to-linalg -split-input-file -verify-diagnostics

// moe.layer is an aggregate; the conversion asks for the expansion rather
// than failing to legalize it.
func.func @layer(%x: tensor<?x8xf32>, %wg: tensor<8x4xf32>,
                 %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> (tensor<?x8xf32>, tensor<f32>, tensor<f32>) {
  // expected-error @+1 {{'moe.layer' op must be expanded before it is lowered (run --moe-expand-layer first)}}
  %y, %i, %l = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2}
      : (tensor<?x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>,
         tensor<4x16x8xf32>) -> (tensor<?x8xf32>, tensor<f32>, tensor<f32>)
  return %y, %i, %l : tensor<?x8xf32>, tensor<f32>, tensor<f32>
}

// -----

func.func @all_to_all(%x: tensor<8x4xf32>, %c: tensor<2xi64>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'moe.all_to_all' op cannot be lowered to linalg: collectives become runtime calls (run --convert-moe-collectives-to-mpi first; the CUDA pipeline has no NCCL lowering yet)}}
  %y, %r = moe.all_to_all %x, %c, num_ranks = 2
      : (tensor<8x4xf32>, tensor<2xi64>) -> (tensor<?x4xf32>, tensor<2xi64>)
  return %y : tensor<?x4xf32>
}

// -----

func.func @switch_loss_dynamic_experts(%l: tensor<8x?xf32>, %i: tensor<8x2xi64>) -> tensor<f32> {
  // expected-error @+1 {{'moe.switch_loss' op cannot be lowered with a dynamic number of experts (the dimension 1 of 'logits')}}
  %0 = moe.switch_loss %l, %i : (tensor<8x?xf32>, tensor<8x2xi64>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @experts_dynamic_width(%t: tensor<?x4xf32>, %o: tensor<3xi64>, %w1: tensor<2x4x?xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'moe.experts' op cannot be lowered with a dynamic output width}}
  %y = moe.experts %t offsets(%o) weights(%w1) : (tensor<?x4xf32>, tensor<3xi64>, tensor<2x4x?xf32>) -> tensor<?x?xf32> {
  ^bb0(%x: tensor<?x4xf32>, %a: tensor<4x?xf32>):
    %c0 = arith.constant 0.0 : f32
    %c = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %r = tensor.dim %x, %c : tensor<?x4xf32>
    %w = tensor.dim %a, %c1 : tensor<4x?xf32>
    %e = tensor.empty(%r, %w) : tensor<?x?xf32>
    %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<?x?xf32>) -> tensor<?x?xf32>
    %m = linalg.matmul ins(%x, %a : tensor<?x4xf32>, tensor<4x?xf32>) outs(%z : tensor<?x?xf32>) -> tensor<?x?xf32>
    moe.yield %m : tensor<?x?xf32>
  }
  return %y : tensor<?x?xf32>
}
