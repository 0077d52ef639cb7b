// An integer list that does not parse: MLIR 22 crashes (see test/Fuzz/upstream-crashes.test).
func.func @f(%x: tensor<4xf32>, %o: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %t = linalg.broadcast ins(%x : tensor<4xf32>) outs(%o : tensor<2x4xf32>) dimensions = [x 0]
  return %t : tensor<2x4xf32>
}
