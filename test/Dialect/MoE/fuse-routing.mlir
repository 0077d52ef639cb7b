// RUN: moe-opt %s -moe-fuse-routing -split-input-file | FileCheck %s

// The top-k and its routing weights become one moe.route carrying the
// normalization; the indices' users now read the fused op's.
// CHECK-LABEL: func @fuse
//  CHECK-SAME: (%[[L:.*]]: tensor<?x8xf32>)
//       CHECK:   %[[G:.*]], %[[I:.*]] = moe.route <softmax_topk> %[[L]], k = 2 {renormalize = true} : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
//   CHECK-NOT:   moe.topk
//   CHECK-NOT:   moe.route_weights
//       CHECK:   moe.importance %[[G]], %[[I]]
//       CHECK:   return %[[G]], %[[I]]
func.func @fuse(%logits: tensor<?x8xf32>)
    -> (tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xf32>) {
  %v, %i = moe.topk %logits, k = 2
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %g = moe.route_weights <softmax_topk> %logits, %v {renormalize = true}
      : (tensor<?x8xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %imp = moe.importance %g, %i, num_experts = 8
      : (tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<8xf32>
  return %g, %i, %imp : tensor<?x2xf32>, tensor<?x2xi32>, tensor<8xf32>
}

// -----

// The kept logits have another user: fusing would compute the top-k twice.
// CHECK-LABEL: func @values_used
//       CHECK:   moe.topk
//       CHECK:   moe.route_weights
//   CHECK-NOT:   moe.route <
func.func @values_used(%logits: tensor<4x8xf32>)
    -> (tensor<4x2xf32>, tensor<4x2xf32>) {
  %v, %i = moe.topk %logits, k = 2
      : (tensor<4x8xf32>) -> (tensor<4x2xf32>, tensor<4x2xi64>)
  %g = moe.route_weights <topk_softmax> %logits, %v
      : (tensor<4x8xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  return %g, %v : tensor<4x2xf32>, tensor<4x2xf32>
}

// -----

// Weights of other logits than the top-k's are left alone.
// CHECK-LABEL: func @other_logits
//       CHECK:   moe.topk
//       CHECK:   moe.route_weights
func.func @other_logits(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>)
    -> tensor<4x2xf32> {
  %v, %i = moe.topk %a, k = 2
      : (tensor<4x8xf32>) -> (tensor<4x2xf32>, tensor<4x2xi64>)
  %g = moe.route_weights <softmax_topk> %b, %v
      : (tensor<4x8xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  return %g : tensor<4x2xf32>
}

// -----

// Any k fuses: above 16 the lowering of moe.route selects the top-k in k
// passes, as moe.topk's does.
// CHECK-LABEL: func @large_k
//       CHECK:   moe.route <topk_softmax> %{{.*}}, k = 20
//   CHECK-NOT:   moe.topk
func.func @large_k(%logits: tensor<4x32xf32>) -> tensor<4x20xf32> {
  %v, %i = moe.topk %logits, k = 20
      : (tensor<4x32xf32>) -> (tensor<4x20xf32>, tensor<4x20xi64>)
  %g = moe.route_weights <topk_softmax> %logits, %v
      : (tensor<4x32xf32>, tensor<4x20xf32>) -> tensor<4x20xf32>
  return %g : tensor<4x20xf32>
}
