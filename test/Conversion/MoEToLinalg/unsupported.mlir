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
  // expected-error @+1 {{'moe.all_to_all' op cannot be lowered to linalg: collectives become runtime calls, and no collective lowering exists yet}}
  %y, %r = moe.all_to_all %x, %c, num_ranks = 2
      : (tensor<8x4xf32>, tensor<2xi64>) -> (tensor<?x4xf32>, tensor<2xi64>)
  return %y : tensor<?x4xf32>
}
