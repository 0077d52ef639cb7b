// Capacity-layout experts with biases and ReLU.
func.func @ffn(%t: tensor<4x3x8xf32>, %w1: tensor<4x8x16xf32>,
               %b1: tensor<4x16xf32>, %w2: tensor<4x16x8xf32>)
    -> tensor<4x3x8xf32> {
  %0 = moe.expert_ffn <relu> %t w1(%w1) b1(%b1) w2(%w2)
      : (tensor<4x3x8xf32>, tensor<4x8x16xf32>, tensor<4x16xf32>,
         tensor<4x16x8xf32>) -> tensor<4x3x8xf32>
  return %0 : tensor<4x3x8xf32>
}
