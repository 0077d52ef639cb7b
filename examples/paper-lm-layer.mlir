// The language-model MoE layer of Shazeer et al. 2017: d = 512, n = 64
// ReLU experts of hidden width h = 1024, noisy top-4 gating (training form,
// with an explicit standard-normal noise sample), dropless dispatch. The
// token count is dynamic. Beside the layer's output and balancing losses the
// function returns the tokens routed to each expert, from the same gating
// (common subexpression elimination merges the two gates).
//
//   moe-opt --moe-expand-layer examples/paper-lm-layer.mlir
func.func @paper_lm_layer(%x: tensor<?x512xf32>,
                          %w_gate: tensor<512x64xf32>,
                          %w_noise: tensor<512x64xf32>,
                          %noise: tensor<?x64xf32>,
                          %w1: tensor<64x512x1024xf32>,
                          %b1: tensor<64x1024xf32>,
                          %w2: tensor<64x1024x512xf32>,
                          %b2: tensor<64x512xf32>)
    -> (tensor<?x512xf32>, tensor<f32>, tensor<f32>, tensor<64xf32>) {
  %y, %importance_loss, %load_loss = moe.layer %x gate(%w_gate)
      noise(%w_noise, %noise) w1(%w1) b1(%b1) w2(%w2) b2(%b2)
      {num_experts = 64, k = 4, noise_epsilon = 1.0e-2 : f64,
       activation = #moe.activation<relu>,
       importance_weight = 0.1 : f64, load_weight = 0.1 : f64}
      : (tensor<?x512xf32>, tensor<512x64xf32>, tensor<512x64xf32>,
         tensor<?x64xf32>, tensor<64x512x1024xf32>, tensor<64x1024xf32>,
         tensor<64x1024x512xf32>, tensor<64x512xf32>)
      -> (tensor<?x512xf32>, tensor<f32>, tensor<f32>)
  %logits, %clean_logits, %noise_stddev = moe.noisy_gate %x, %w_gate,
      %w_noise, %noise {noise_epsilon = 1.0e-2 : f64}
      : (tensor<?x512xf32>, tensor<512x64xf32>, tensor<512x64xf32>,
         tensor<?x64xf32>)
      -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>)
  %tokens_per_expert = moe.load %logits, k = 4
      : (tensor<?x64xf32>) -> tensor<64xf32>
  return %y, %importance_loss, %load_loss, %tokens_per_expert
      : tensor<?x512xf32>, tensor<f32>, tensor<f32>, tensor<64xf32>
}
