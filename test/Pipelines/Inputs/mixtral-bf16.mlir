// The Mixtral-style example in bf16, scaled down (run_model.py mixtral --d 32
// --h 64 --dtype bf16 writes it).
func.func @mixtral_layer(%x: tensor<?x32xbf16>, %w_gate: tensor<32x8xbf16>, %w1: tensor<8x32x64xbf16>, %w3: tensor<8x32x64xbf16>, %w2: tensor<8x64x32xbf16>) -> (tensor<?x32xbf16>, tensor<bf16>, tensor<bf16>) {
  %y, %importance_loss, %load_loss = moe.layer %x gate(%w_gate) w1(%w1) w3(%w3) w2(%w2)
      {num_experts = 8, k = 2, noise_epsilon = 0.01 : f64, activation = #moe.activation<silu>, normalization = #moe.normalization<softmax_topk>, renormalize = true, importance_weight = 0.01 : f64, load_weight = 0.01 : f64}
      : (tensor<?x32xbf16>, tensor<32x8xbf16>, tensor<8x32x64xbf16>, tensor<8x32x64xbf16>, tensor<8x64x32xbf16>) -> (tensor<?x32xbf16>, tensor<bf16>, tensor<bf16>)
  return %y, %importance_loss, %load_loss : tensor<?x32xbf16>, tensor<bf16>, tensor<bf16>
}
