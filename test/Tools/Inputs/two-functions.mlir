// A public function whose arguments the runner cannot pass.
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func @g(%x: memref<4xf32>) {
  return
}
