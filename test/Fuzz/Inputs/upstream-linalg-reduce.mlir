// An integer list that does not parse: MLIR 22 crashes (see test/Fuzz/upstream-crashes.test).
func.func @f(%y: tensor<4xf32>, %acc: tensor<f32>) -> tensor<f32> {
  %s = linalg.reduce ins(%y : tensor<4xf32>) outs(%acc : tensor<f32>) dimensions = [x 0]
    (%v: f32, %a: f32) {
      %t = arith.addf %v, %a : f32
      linalg.yield %t : f32
    }
  return %s : tensor<f32>
}
