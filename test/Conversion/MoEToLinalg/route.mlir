// RUN: moe-opt %s -convert-moe-to-linalg -canonicalize -cse -split-input-file | FileCheck %s

// moe.route reads the logits once: one linalg.generic, parallel over rows,
// scans each row in an scf.for whose iter_args are the k best keys and
// columns (k outputs of each) and, for softmax_topk, the running maximum and
// sum of exponentials with one exp per logit. An entry is inserted only if
// it beats the last slot (the scf.if). The gates are computed on [T, k]
// afterwards; no [T, n] tensor is produced besides the logits.
// CHECK-LABEL: func @softmax_topk
//  CHECK-SAME: (%[[L:.*]]: tensor<?x8xf32>)
//       CHECK:   %[[S:.*]]:6 = linalg.generic {{.*}}iterator_types = ["parallel"]} outs({{.*}} : tensor<?xf32>, tensor<?xf32>, tensor<?xi64>, tensor<?xi64>, tensor<?xf32>, tensor<?xf32>)
//       CHECK:     %[[ROW:.*]] = linalg.index 0
//       CHECK:     scf.for %[[J:.*]] = {{.*}} iter_args({{.*}}) -> (f32, f32, i64, i64, f32, f32)
//       CHECK:       %[[X:.*]] = tensor.extract %[[L]][%[[ROW]], %[[J]]]
//       CHECK:       arith.cmpf uno, %[[X]], %[[X]]
//   CHECK-DAG:       arith.cmpi slt
//   CHECK-DAG:       arith.cmpf ogt
//       CHECK:       scf.if %{{.*}} -> (f32, f32, i64, i64)
//       CHECK:       } else {
//       CHECK:     math.exp
//   CHECK-NOT:     math.exp
//       CHECK:     arith.maximumf
//       CHECK:     linalg.yield
//       CHECK:   %[[V0:.*]] = tensor.insert_slice %[[S]]#0 into %{{.*}}[0, 0] [%{{.*}}, 1] [1, 1]
//       CHECK:   %[[I0:.*]] = tensor.insert_slice %[[S]]#2 into %{{.*}}[0, 0] [%{{.*}}, 1] [1, 1]
//       CHECK:   %[[V:.*]] = tensor.insert_slice %[[S]]#1 into %[[V0]][0, 1]
//       CHECK:   %[[I:.*]] = tensor.insert_slice %[[S]]#3 into %[[I0]][0, 1]
//       CHECK:   %[[E:.*]] = linalg.generic {{.*}} ins(%[[V]], %[[S]]#4 : tensor<?x2xf32>, tensor<?xf32>)
//       CHECK:     arith.subf
//       CHECK:     math.exp
//       CHECK:   %[[G:.*]] = linalg.generic {{.*}} ins(%[[E]], %[[S]]#5 : tensor<?x2xf32>, tensor<?xf32>)
//       CHECK:     arith.divf
//       CHECK:   return %[[G]], %[[I]]
func.func @softmax_topk(%logits: tensor<?x8xf32>)
    -> (tensor<?x2xf32>, tensor<?x2xi64>) {
  %g, %i = moe.route <softmax_topk> %logits, k = 2
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  return %g, %i : tensor<?x2xf32>, tensor<?x2xi64>
}

// -----

// topk_softmax needs no running sum: the scan keeps only the k keys and
// columns (here bf16 keys in f32, i32 columns), and the softmax runs over
// the kept [T, k] values. A dynamic expert count is checked against k.
// CHECK-LABEL: func @topk_softmax
//       CHECK:   cf.assert %{{.*}}, "moe.route: fewer candidates per row than k"
//       CHECK:   %[[S:.*]]:6 = linalg.generic {{.*}}iterator_types = ["parallel"]} outs({{.*}} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<4xi32>, tensor<4xi32>)
//       CHECK:     tensor.extract %{{.*}} : tensor<4x?xbf16>
//   CHECK-NOT:     math.exp
//       CHECK:     linalg.yield
//       CHECK:   linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<4x3xf32>)
//       CHECK:     arith.maximumf
//       CHECK:   math.exp
//       CHECK:   arith.truncf {{.*}} to bf16
func.func @topk_softmax(%logits: tensor<4x?xbf16>)
    -> (tensor<4x3xbf16>, tensor<4x3xi32>) {
  %g, %i = moe.route <topk_softmax> %logits, k = 3
      : (tensor<4x?xbf16>) -> (tensor<4x3xbf16>, tensor<4x3xi32>)
  return %g, %i : tensor<4x3xbf16>, tensor<4x3xi32>
}

// -----

// sigmoid_topk with renormalization: a sigmoid per kept value, then each
// row divided by its sum.
// CHECK-LABEL: func @sigmoid_renormalized
//       CHECK:   %[[S:.*]]:4 = linalg.generic
//       CHECK:   linalg.generic
//       CHECK:     arith.negf
//       CHECK:     math.exp
//       CHECK:   linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]}
//       CHECK:     arith.addf
//       CHECK:   linalg.generic
//       CHECK:     arith.divf
func.func @sigmoid_renormalized(%logits: tensor<4x8xf32>)
    -> (tensor<4x2xf32>, tensor<4x2xi64>) {
  %g, %i = moe.route <sigmoid_topk> %logits, k = 2 {renormalize = true}
      : (tensor<4x8xf32>) -> (tensor<4x2xf32>, tensor<4x2xi64>)
  return %g, %i : tensor<4x2xf32>, tensor<4x2xi64>
}

// -----

// Above k = 16 the top-k takes one selection pass per kept entry (an scf.for
// over the k picks) where a scan would carry 2k slots per row, and
// softmax_topk's row maxima and sums of exponentials their own passes.
// CHECK-LABEL: func @softmax_topk_large_k
//       CHECK:   scf.for %{{.*}} = %c0 to %c17 step %c1 iter_args(
//       CHECK:     linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
//       CHECK:   %[[MAX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
//       CHECK:     arith.maximumf
//       CHECK:   math.exp
//       CHECK:   %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
//       CHECK:     arith.addf
//       CHECK:   linalg.generic {{.*}} ins(%{{.*}}, %[[MAX]] : tensor<?x17xf32>, tensor<?xf32>)
//       CHECK:     math.exp
//       CHECK:   linalg.generic {{.*}} ins(%{{.*}}, %[[SUM]] : tensor<?x17xf32>, tensor<?xf32>)
//       CHECK:     arith.divf
func.func @softmax_topk_large_k(%logits: tensor<?x32xf32>)
    -> (tensor<?x17xf32>, tensor<?x17xi64>) {
  %g, %i = moe.route <softmax_topk> %logits, k = 17
      : (tensor<?x32xf32>) -> (tensor<?x17xf32>, tensor<?x17xi64>)
  return %g, %i : tensor<?x17xf32>, tensor<?x17xi64>
}
