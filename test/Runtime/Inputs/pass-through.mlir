// Host code only under the CUDA pipeline: the result is a copy of the
// argument (the caller owns what it gets back), made without a kernel.
func.func @pass_through(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  return %x : tensor<3x4xf32>
}
