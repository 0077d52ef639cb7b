// Fails verification: top-5 of 4 candidates.
func.func @f(%x: tensor<2x4xf32>) -> (tensor<2x5xf32>, tensor<2x5xi64>) {
  %v, %i = moe.topk %x, k = 5 : (tensor<2x4xf32>) -> (tensor<2x5xf32>, tensor<2x5xi64>)
  return %v, %i : tensor<2x5xf32>, tensor<2x5xi64>
}
