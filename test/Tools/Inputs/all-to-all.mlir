// A collective, which the CPU pipeline cannot lower yet.
func.func @f(%x: tensor<8x4xf32>, %c: tensor<2xi64>) -> tensor<?x4xf32> {
  %y, %r = moe.all_to_all %x, %c, num_ranks = 2
      : (tensor<8x4xf32>, tensor<2xi64>) -> (tensor<?x4xf32>, tensor<2xi64>)
  return %y : tensor<?x4xf32>
}
