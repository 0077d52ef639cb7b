// An integer list that does not parse: MLIR 22 crashes (see test/Fuzz/upstream-crashes.test).
func.func @f(%x: tensor<4x2xf32>, %o: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %t = linalg.transpose ins(%x : tensor<4x2xf32>) outs(%o : tensor<2x4xf32>) permutation = [x 1]
  return %t : tensor<2x4xf32>
}
