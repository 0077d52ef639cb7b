// A tiny entry point for the runner's tests: y = x * w (broadcast over rows)
// and the sum of y.
func.func @scale(%x: tensor<?x4xf32>, %w: tensor<4xf32>)
    -> (tensor<?x4xf32>, tensor<f32>) {
  %c0 = arith.constant 0 : index
  %rows = tensor.dim %x, %c0 : tensor<?x4xf32>
  %init = tensor.empty(%rows) : tensor<?x4xf32>
  %y = linalg.generic {
      indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>,
                       affine_map<(i, j) -> (i, j)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%x, %w : tensor<?x4xf32>, tensor<4xf32>) outs(%init : tensor<?x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x4xf32>
  %zero = arith.constant 0.0 : f32
  %acc = tensor.from_elements %zero : tensor<f32>
  %sum = linalg.reduce ins(%y : tensor<?x4xf32>) outs(%acc : tensor<f32>)
      dimensions = [0, 1]
    (%v: f32, %s: f32) {
      %t = arith.addf %v, %s : f32
      linalg.yield %t : f32
    }
  return %y, %sum : tensor<?x4xf32>, tensor<f32>
}
