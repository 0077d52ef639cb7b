// RUN: moe-opt %s -canonicalize -split-input-file | FileCheck %s

// A single expert is every token's only choice.
// CHECK-LABEL: func @topk_single_expert
//  CHECK-SAME:   (%[[LOGITS:.*]]: tensor<6x1xf32>)
//   CHECK-DAG:   %[[ZERO:.*]] = arith.constant dense<0> : tensor<6x1xi32>
//   CHECK-NOT:   moe.topk
//       CHECK:   return %[[LOGITS]], %[[ZERO]]
func.func @topk_single_expert(%logits: tensor<6x1xf32>)
    -> (tensor<6x1xf32>, tensor<6x1xi32>) {
  %v, %i = moe.topk %logits, k = 1
      : (tensor<6x1xf32>) -> (tensor<6x1xf32>, tensor<6x1xi32>)
  return %v, %i : tensor<6x1xf32>, tensor<6x1xi32>
}

// -----

// The fold needs a static token count to build the index constant.
// CHECK-LABEL: func @topk_single_expert_dynamic
//       CHECK:   moe.topk
func.func @topk_single_expert_dynamic(%logits: tensor<?x1xf32>)
    -> (tensor<?x1xf32>, tensor<?x1xi32>) {
  %v, %i = moe.topk %logits, k = 1
      : (tensor<?x1xf32>) -> (tensor<?x1xf32>, tensor<?x1xi32>)
  return %v, %i : tensor<?x1xf32>, tensor<?x1xi32>
}

// -----

// A softmax over the kept logits already sums to one; so does a softmax over
// all logits when all are kept. Sigmoid scores and a partial softmax do not.
// CHECK-LABEL: func @redundant_renormalize
//       CHECK:   moe.route_weights <topk_softmax> %{{.*}}, %{{.*}} :
//       CHECK:   moe.route_weights <softmax_topk> %{{.*}}, %{{.*}} :
//       CHECK:   moe.route_weights <softmax_topk> %{{.*}}, %{{.*}} {renormalize = true}
//       CHECK:   moe.route_weights <sigmoid_topk> %{{.*}}, %{{.*}} {renormalize = true}
func.func @redundant_renormalize(%logits: tensor<8x4xf32>, %all: tensor<8x4xf32>,
                                 %two: tensor<8x2xf32>)
    -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x2xf32>, tensor<8x2xf32>) {
  %0 = moe.route_weights <topk_softmax> %logits, %all {renormalize = true}
      : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %1 = moe.route_weights <softmax_topk> %logits, %all {renormalize = true}
      : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %2 = moe.route_weights <softmax_topk> %logits, %two {renormalize = true}
      : (tensor<8x4xf32>, tensor<8x2xf32>) -> tensor<8x2xf32>
  %3 = moe.route_weights <sigmoid_topk> %logits, %two {renormalize = true}
      : (tensor<8x4xf32>, tensor<8x2xf32>) -> tensor<8x2xf32>
  return %0, %1, %2, %3
      : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x2xf32>, tensor<8x2xf32>
}

// -----

// k == n: every token goes to every expert, so each load is T.
// CHECK-LABEL: func @load_all_experts
//       CHECK:   %[[T:.*]] = arith.constant dense<1.000000e+01> : tensor<4xf32>
//   CHECK-NOT:   moe.load
//       CHECK:   return %[[T]], %[[T]]
func.func @load_all_experts(%logits: tensor<10x4xf32>, %clean: tensor<10x4xf32>,
                            %std: tensor<10x4xf32>)
    -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = moe.load %logits, k = 4 : (tensor<10x4xf32>) -> tensor<4xf32>
  %1 = moe.load %logits, k = 4 noise(%clean, %std)
      : (tensor<10x4xf32>, tensor<10x4xf32>, tensor<10x4xf32>) -> tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// CHECK-LABEL: func @load_some_experts
//       CHECK:   moe.load
func.func @load_some_experts(%logits: tensor<10x4xf32>) -> tensor<4xf32> {
  %0 = moe.load %logits, k = 3 : (tensor<10x4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// The same rule for the fused routing.
// CHECK-LABEL: func @redundant_renormalize_fused
//       CHECK:   moe.route <topk_softmax> %{{.*}}, k = 2 :
//       CHECK:   moe.route <softmax_topk> %{{.*}}, k = 4 :
//       CHECK:   moe.route <softmax_topk> %{{.*}}, k = 2 {renormalize = true}
func.func @redundant_renormalize_fused(%logits: tensor<8x4xf32>)
    -> (tensor<8x2xf32>, tensor<8x4xf32>, tensor<8x2xf32>) {
  %0, %i0 = moe.route <topk_softmax> %logits, k = 2 {renormalize = true}
      : (tensor<8x4xf32>) -> (tensor<8x2xf32>, tensor<8x2xi64>)
  %1, %i1 = moe.route <softmax_topk> %logits, k = 4 {renormalize = true}
      : (tensor<8x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
  %2, %i2 = moe.route <softmax_topk> %logits, k = 2 {renormalize = true}
      : (tensor<8x4xf32>) -> (tensor<8x2xf32>, tensor<8x2xi64>)
  return %0, %1, %2 : tensor<8x2xf32>, tensor<8x4xf32>, tensor<8x2xf32>
}
