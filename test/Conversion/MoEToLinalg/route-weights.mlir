// RUN: moe-opt %s -convert-moe-to-linalg -split-input-file | FileCheck %s

// softmax over the kept logits: row max, exp of the difference, row sum,
// division.
// CHECK-LABEL: func @topk_softmax
//  CHECK-SAME: (%[[L:.*]]: tensor<8x4xf32>, %[[V:.*]]: tensor<8x2xf32>)
//       CHECK:   %[[MAX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[V]] : tensor<8x2xf32>)
//       CHECK:     arith.maximumf
//       CHECK:   %[[EXP:.*]] = linalg.generic {{.*}} ins(%[[V]], %[[MAX]] : tensor<8x2xf32>, tensor<8xf32>)
//       CHECK:     arith.subf
//       CHECK:     math.exp
//       CHECK:   %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[EXP]] : tensor<8x2xf32>)
//       CHECK:     arith.addf
//       CHECK:   %[[G:.*]] = linalg.generic {{.*}} ins(%[[EXP]], %[[SUM]] : tensor<8x2xf32>, tensor<8xf32>)
//       CHECK:     arith.divf
//       CHECK:   return %[[G]]
func.func @topk_softmax(%l: tensor<8x4xf32>, %v: tensor<8x2xf32>) -> tensor<8x2xf32> {
  %g = moe.route_weights <topk_softmax> %l, %v
      : (tensor<8x4xf32>, tensor<8x2xf32>) -> tensor<8x2xf32>
  return %g : tensor<8x2xf32>
}

// -----

// softmax over all logits: the denominator comes from the full row, the
// numerators from the kept values; renormalize divides by the kept sum.
// CHECK-LABEL: func @softmax_topk_renormalized
//  CHECK-SAME: (%[[L:.*]]: tensor<?x4xf32>, %[[V:.*]]: tensor<?x2xf32>)
//       CHECK:   %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[L]] : tensor<?x4xf32>)
//       CHECK:   %[[EXPALL:.*]] = linalg.generic {{.*}} ins(%[[L]], %[[MAX]] : tensor<?x4xf32>, tensor<?xf32>)
//       CHECK:   %[[DEN:.*]] = linalg.generic {{.*}} ins(%[[EXPALL]] : tensor<?x4xf32>)
//       CHECK:   %[[EXPKEPT:.*]] = linalg.generic {{.*}} ins(%[[V]], %[[MAX]] : tensor<?x2xf32>, tensor<?xf32>)
//       CHECK:   %[[G:.*]] = linalg.generic {{.*}} ins(%[[EXPKEPT]], %[[DEN]] : tensor<?x2xf32>, tensor<?xf32>)
//       CHECK:   %[[KEPT:.*]] = linalg.generic {{.*}} ins(%[[G]] : tensor<?x2xf32>)
//       CHECK:   %[[RENORM:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[KEPT]] : tensor<?x2xf32>, tensor<?xf32>)
//       CHECK:   return %[[RENORM]]
func.func @softmax_topk_renormalized(%l: tensor<?x4xf32>, %v: tensor<?x2xf32>)
    -> tensor<?x2xf32> {
  %g = moe.route_weights <softmax_topk> %l, %v {renormalize = true}
      : (tensor<?x4xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  return %g : tensor<?x2xf32>
}

// -----

// CHECK-LABEL: func @sigmoid_topk_f16
//       CHECK:   %[[WIDE:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<8x2xf16>) outs(%{{.*}} : tensor<8x2xf32>)
//       CHECK:     arith.extf
//       CHECK:   %[[SIG:.*]] = linalg.generic {{.*}} ins(%[[WIDE]] : tensor<8x2xf32>)
//       CHECK:     arith.negf
//       CHECK:     math.exp
//       CHECK:     arith.addf
//       CHECK:     arith.divf
//       CHECK:   linalg.generic {{.*}} ins(%[[SIG]] : tensor<8x2xf32>) outs(%{{.*}} : tensor<8x2xf16>)
//       CHECK:     arith.truncf
func.func @sigmoid_topk_f16(%l: tensor<8x4xf16>, %v: tensor<8x2xf16>) -> tensor<8x2xf16> {
  %g = moe.route_weights <sigmoid_topk> %l, %v
      : (tensor<8x4xf16>, tensor<8x2xf16>) -> tensor<8x2xf16>
  return %g : tensor<8x2xf16>
}
