// A hierarchical MoE layer (SPEC §1.3): a = 8 groups of b = 8 experts
// (n = 64); the primary gate picks 2 groups, each chosen group's secondary
// gate picks 2 of its experts, so every token reaches 4 experts. Both gating
// levels are noisy.
//
//   moe-opt --moe-expand-layer examples/hierarchical-layer.mlir
func.func @hierarchical_layer(%x: tensor<?x512xf32>,
                              %w_gate: tensor<512x8xf32>,
                              %w_noise: tensor<512x8xf32>,
                              %noise: tensor<?x8xf32>,
                              %w_gate2: tensor<512x64xf32>,
                              %w_noise2: tensor<512x64xf32>,
                              %noise2: tensor<?x64xf32>,
                              %w1: tensor<64x512x1024xf32>,
                              %w2: tensor<64x1024x512xf32>)
    -> (tensor<?x512xf32>, tensor<f32>, tensor<f32>) {
  %y, %importance_loss, %load_loss = moe.layer %x gate(%w_gate)
      noise(%w_noise, %noise) secondary_gate(%w_gate2)
      secondary_noise(%w_noise2, %noise2) w1(%w1) w2(%w2)
      {num_experts = 64, k = 2, num_groups = 8, group_k = 2}
      : (tensor<?x512xf32>, tensor<512x8xf32>, tensor<512x8xf32>,
         tensor<?x8xf32>, tensor<512x64xf32>, tensor<512x64xf32>,
         tensor<?x64xf32>, tensor<64x512x1024xf32>, tensor<64x1024x512xf32>)
      -> (tensor<?x512xf32>, tensor<f32>, tensor<f32>)
  return %y, %importance_loss, %load_loss
      : tensor<?x512xf32>, tensor<f32>, tensor<f32>
}
