// A GShard/Switch-style top-2 layer with a capacity: each of the n = 16
// experts takes at most C = ceil(2 * T * 1.25 / 16) tokens, filled first
// choices first; overflowing choices are dropped (SPEC §1.4). With T = 256,
// C = 40.
//
//   moe-opt --moe-expand-layer examples/capacity-layer.mlir
func.func @capacity_layer(%x: tensor<256x512xf32>,
                          %w_gate: tensor<512x16xf32>,
                          %w1: tensor<16x512x1024xf32>,
                          %w2: tensor<16x1024x512xf32>)
    -> (tensor<256x512xf32>, tensor<f32>, tensor<f32>) {
  %y, %importance_loss, %load_loss = moe.layer %x gate(%w_gate)
      w1(%w1) w2(%w2)
      {num_experts = 16, k = 2, capacity_factor = 1.25 : f64,
       activation = #moe.activation<gelu>,
       normalization = #moe.normalization<softmax_topk>}
      : (tensor<256x512xf32>, tensor<512x16xf32>, tensor<16x512x1024xf32>,
         tensor<16x1024x512xf32>) -> (tensor<256x512xf32>, tensor<f32>, tensor<f32>)
  return %y, %importance_loss, %load_loss
      : tensor<256x512xf32>, tensor<f32>, tensor<f32>
}
