// A Mixtral-style layer scaled to CPU size: d = 1024, n = 8 SwiGLU experts
// of hidden width 3584, softmax over all experts then top-2, renormalized.
//
//   moe-opt --moe-expand-layer examples/mixtral-layer.mlir
func.func @mixtral_layer(%x: tensor<?x1024xf32>,
                         %w_gate: tensor<1024x8xf32>,
                         %w1: tensor<8x1024x3584xf32>,
                         %w3: tensor<8x1024x3584xf32>,
                         %w2: tensor<8x3584x1024xf32>)
    -> (tensor<?x1024xf32>, tensor<f32>, tensor<f32>) {
  %y, %importance_loss, %load_loss = moe.layer %x gate(%w_gate)
      w1(%w1) w3(%w3) w2(%w2)
      {num_experts = 8, k = 2, activation = #moe.activation<silu>,
       normalization = #moe.normalization<softmax_topk>, renormalize = true}
      : (tensor<?x1024xf32>, tensor<1024x8xf32>, tensor<8x1024x3584xf32>,
         tensor<8x1024x3584xf32>, tensor<8x3584x1024xf32>)
      -> (tensor<?x1024xf32>, tensor<f32>, tensor<f32>)
  return %y, %importance_loss, %load_loss
      : tensor<?x1024xf32>, tensor<f32>, tensor<f32>
}
