// Routing of logits with -inf and NaN entries: every normalization, as the
// fine-grained ops (the CPU pipeline fuses each pair into moe.route).
func.func @routing(%logits: tensor<?x8xf32>)
    -> (tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xi64>) {
  %v, %i = moe.topk %logits, k = 3
      : (tensor<?x8xf32>) -> (tensor<?x3xf32>, tensor<?x3xi64>)
  %a = moe.route_weights <softmax_topk> %logits, %v
      : (tensor<?x8xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  %v2, %i2 = moe.topk %logits, k = 3
      : (tensor<?x8xf32>) -> (tensor<?x3xf32>, tensor<?x3xi64>)
  %b = moe.route_weights <topk_softmax> %logits, %v2
      : (tensor<?x8xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  %v3, %i3 = moe.topk %logits, k = 3
      : (tensor<?x8xf32>) -> (tensor<?x3xf32>, tensor<?x3xi64>)
  %c = moe.route_weights <sigmoid_topk> %logits, %v3 {renormalize = true}
      : (tensor<?x8xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  return %a, %b, %c, %i : tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xi64>
}
