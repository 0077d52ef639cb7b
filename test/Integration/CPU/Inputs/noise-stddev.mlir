// The noise standard deviation softplus(x . W_noise) + noise_epsilon with
// epsilon 0, where its value is tiny: the precision the smooth load
// estimator divides by.
func.func @stddev(%x: tensor<?x1xf32>, %wg: tensor<1x1xf32>,
                  %wn: tensor<1x1xf32>, %noise: tensor<?x1xf32>)
    -> tensor<?x1xf32> {
  %l, %c, %s = moe.noisy_gate %x, %wg, %wn, %noise {noise_epsilon = 0.0 : f64}
      : (tensor<?x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<?x1xf32>)
      -> (tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x1xf32>)
  return %s : tensor<?x1xf32>
}
