// A hand-written collective: 2 ranks exchange blocks of rows.
func.func @f(%x: tensor<8x4xf32>, %c: tensor<2xi64>) -> (tensor<?x4xf32>, tensor<2xi64>) {
  %y, %r = moe.all_to_all %x, %c, num_ranks = 2
      : (tensor<8x4xf32>, tensor<2xi64>) -> (tensor<?x4xf32>, tensor<2xi64>)
  return %y, %r : tensor<?x4xf32>, tensor<2xi64>
}
