// The capacity example in f16, scaled down (run_model.py capacity --tokens 32
// --d 32 --h 64 --n 8 --dtype f16 writes it): its experts are batch GEMMs.
func.func @capacity_layer(%x: tensor<32x32xf16>, %w_gate: tensor<32x8xf16>, %w1: tensor<8x32x64xf16>, %w2: tensor<8x64x32xf16>) -> (tensor<32x32xf16>, tensor<f16>, tensor<f16>) {
  %y, %importance_loss, %load_loss = moe.layer %x gate(%w_gate) w1(%w1) w2(%w2)
      {num_experts = 8, k = 2, noise_epsilon = 0.01 : f64, activation = #moe.activation<gelu>, normalization = #moe.normalization<softmax_topk>, renormalize = false, importance_weight = 0.01 : f64, load_weight = 0.01 : f64, capacity_factor = 1.25 : f64}
      : (tensor<32x32xf16>, tensor<32x8xf16>, tensor<8x32x64xf16>, tensor<8x64x32xf16>) -> (tensor<32x32xf16>, tensor<f16>, tensor<f16>)
  return %y, %importance_loss, %load_loss : tensor<32x32xf16>, tensor<f16>, tensor<f16>
}
