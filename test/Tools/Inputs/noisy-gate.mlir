// Noisy gating with a dynamic token count: 'x' and 'noise' must agree on it
// at run time.
func.func @f(%x: tensor<?x4xf32>, %wg: tensor<4x3xf32>, %wn: tensor<4x3xf32>,
             %noise: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %l, %c, %s = moe.noisy_gate %x, %wg, %wn, %noise
      : (tensor<?x4xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>)
  return %l : tensor<?x3xf32>
}
