// RUN: moe-opt %s -convert-moe-to-linalg -split-input-file | FileCheck %s

// weight * var(v) / (mean(v)^2 + 1e-10), unbiased variance.
// CHECK-LABEL: func @cv_squared
//  CHECK-SAME: (%[[V:.*]]: tensor<2x4xf32>)
//       CHECK:   %[[FLAT:.*]] = tensor.collapse_shape %[[V]] {{\[}}[0, 1]] : tensor<2x4xf32> into tensor<8xf32>
//       CHECK:   %[[N:.*]] = arith.uitofp %{{.*}} : i64 to f32
//       CHECK:   %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["reduction"]{{.*}} ins(%[[FLAT]] : tensor<8xf32>)
//       CHECK:   %[[S:.*]] = tensor.extract %[[SUM]][]
//       CHECK:   %[[MEAN:.*]] = arith.divf %[[S]], %[[N]]
//       CHECK:   %[[DEV:.*]] = linalg.generic {{.*}} ins(%[[FLAT]] : tensor<8xf32>)
//       CHECK:     arith.subf %{{.*}}, %[[MEAN]]
//       CHECK:     arith.mulf
//       CHECK:   %[[NM1:.*]] = arith.subf %[[N]], %{{.*}} : f32
//       CHECK:   %[[VAR:.*]] = arith.divf %{{.*}}, %[[NM1]]
//       CHECK:   %[[M2:.*]] = arith.mulf %[[MEAN]], %[[MEAN]]
//       CHECK:   %[[DEN:.*]] = arith.addf %[[M2]], %{{.*}} : f32
//       CHECK:   %[[RATIO:.*]] = arith.divf %[[VAR]], %[[DEN]]
//       CHECK:   %[[LOSS:.*]] = arith.mulf %{{.*}}, %[[RATIO]]
//       CHECK:   %[[T:.*]] = tensor.from_elements %[[LOSS]] : tensor<f32>
//       CHECK:   return %[[T]]
func.func @cv_squared(%v: tensor<2x4xf32>) -> tensor<f32> {
  %0 = moe.cv_squared %v {weight = 0.5 : f64} : (tensor<2x4xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// weight * mean over tokens of logsumexp(logits)^2, dynamic token count.
// CHECK-LABEL: func @z_loss
//  CHECK-SAME: (%[[L:.*]]: tensor<?x4xbf16>)
//       CHECK:   %[[WIDE:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x4xf32>)
//       CHECK:   %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[WIDE]] : tensor<?x4xf32>)
//       CHECK:   %[[EXP:.*]] = linalg.generic {{.*}} ins(%[[WIDE]], %[[MAX]]
//       CHECK:   %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[EXP]] : tensor<?x4xf32>)
//       CHECK:   %[[SQ:.*]] = linalg.generic {{.*}} ins(%[[MAX]], %[[SUM]] : tensor<?xf32>, tensor<?xf32>)
//       CHECK:     %[[LOG:.*]] = math.log
//       CHECK:     %[[LSE:.*]] = arith.addf %{{.*}}, %[[LOG]]
//       CHECK:     arith.mulf %[[LSE]], %[[LSE]]
//       CHECK:   tensor.dim %[[WIDE]]
//       CHECK:   %[[LOSS:.*]] = arith.mulf
//       CHECK:   %[[NARROW:.*]] = arith.truncf %[[LOSS]] : f32 to bf16
//       CHECK:   tensor.from_elements %[[NARROW]] : tensor<bf16>
func.func @z_loss(%l: tensor<?x4xbf16>) -> tensor<bf16> {
  %0 = moe.z_loss %l {weight = 1.0e-3 : f64} : (tensor<?x4xbf16>) -> tensor<bf16>
  return %0 : tensor<bf16>
}

// -----

// Importance sums the gates of each expert: a reduction over
// (token, choice) that stays parallel over experts.
// CHECK-LABEL: func @importance
//  CHECK-SAME: (%[[G:.*]]: tensor<?x2xf32>, %[[I:.*]]: tensor<?x2xi64>)
//       CHECK:   %[[R:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel"]{{.*}} ins(%[[I]], %[[G]] : tensor<?x2xi64>, tensor<?x2xf32>) outs(%{{.*}} : tensor<4xf32>)
//  CHECK-NEXT:   ^bb0(%[[IDX:.*]]: i64, %[[GATE:.*]]: f32, %[[ACC:.*]]: f32):
//       CHECK:     %[[E:.*]] = linalg.index 2
//       CHECK:     %[[E64:.*]] = arith.index_cast %[[E]] : index to i64
//       CHECK:     %[[MATCH:.*]] = arith.cmpi eq, %[[IDX]], %[[E64]]
//       CHECK:     %[[TERM:.*]] = arith.select %[[MATCH]], %[[GATE]]
//       CHECK:     arith.addf %[[ACC]], %[[TERM]]
//       CHECK:   return %[[R]]
func.func @importance(%g: tensor<?x2xf32>, %i: tensor<?x2xi64>) -> tensor<4xf32> {
  %0 = moe.importance %g, %i, num_experts = 4 : (tensor<?x2xf32>, tensor<?x2xi64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Without noise, Load is the count of tokens whose top k holds the expert:
// an entry is in the top k when it ranks at or above the k-th pick.
// CHECK-LABEL: func @load_count
//       CHECK:   %[[SCAN:.*]]:4 = linalg.generic {{.*}}iterator_types = ["parallel"]
//       CHECK:   %[[TOPV:.*]] = tensor.insert_slice %[[SCAN]]#1 into %{{.*}}[0, 1]
//       CHECK:   %[[TOPI:.*]] = tensor.insert_slice %[[SCAN]]#3 into %{{.*}}[0, 1]
//       CHECK:   %[[KTH:.*]] = tensor.extract_slice %[[TOPV]][0, 1] [%{{.*}}, 1] [1, 1] : tensor<?x2xf32> to tensor<?xf32>
//       CHECK:   %[[KTHI:.*]] = tensor.extract_slice %[[TOPI]][0, 1] [%{{.*}}, 1] [1, 1] : tensor<?x2xi64> to tensor<?xi64>
//       CHECK:   %[[IN:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[KTH]], %[[KTHI]] :
//       CHECK:     arith.cmpf ogt
//       CHECK:     arith.cmpf oeq
//       CHECK:     arith.cmpi sle
//       CHECK:     arith.select
//       CHECK:   %[[LOAD:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]{{.*}} ins(%[[IN]] : tensor<?x4xf32>)
//       CHECK:   return %[[LOAD]]
func.func @load_count(%l: tensor<?x4xf32>) -> tensor<4xf32> {
  %0 = moe.load %l, k = 2 : (tensor<?x4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// The smooth estimator: top-(k+1) gives both thresholds; an entry in the top
// k is compared with the (k+1)-th value, one outside with the k-th, and
// Phi(z) = 0.5 * erfc(-z / sqrt(2)).
// CHECK-LABEL: func @load_noisy
//  CHECK-SAME: (%[[L:.*]]: tensor<?x4xf32>, %[[C:.*]]: tensor<?x4xf32>, %[[S:.*]]: tensor<?x4xf32>)
//       CHECK:   %{{.*}}:6 = linalg.generic {{.*}}iterator_types = ["parallel"]
//       CHECK:     tensor.extract %[[L]]
//       CHECK:   %[[TOPV:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 2] [%{{.*}}, 1] [1, 1] : tensor<?xf32> into tensor<?x3xf32>
//       CHECK:   %[[TOPI:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 2] [%{{.*}}, 1] [1, 1] : tensor<?xi64> into tensor<?x3xi64>
//       CHECK:   %[[KTH:.*]] = tensor.extract_slice %[[TOPV]][0, 1]
//       CHECK:   %[[KTHI:.*]] = tensor.extract_slice %[[TOPI]][0, 1]
//       CHECK:   %[[NEXT:.*]] = tensor.extract_slice %[[TOPV]][0, 2]
//       CHECK:   %[[P:.*]] = linalg.generic {{.*}} ins(%[[L]], %[[KTH]], %[[KTHI]], %[[NEXT]], %[[C]], %[[S]] :
//  CHECK-NEXT:   ^bb0(%[[H:.*]]: f32, %[[VK:.*]]: f32, %{{.*}}: i64, %[[VK1:.*]]: f32, %[[CLEAN:.*]]: f32, %[[STD:.*]]: f32, %{{.*}}: f32):
//       CHECK:     %[[INTOP:.*]] = arith.ori
//       CHECK:     %[[THR:.*]] = arith.select %[[INTOP]], %[[VK1]], %[[VK]]
//       CHECK:     %[[MARGIN:.*]] = arith.subf %[[CLEAN]], %[[THR]]
//       CHECK:     %[[Z:.*]] = arith.divf %[[MARGIN]], %[[STD]]
//       CHECK:     %[[ARG:.*]] = arith.mulf %[[Z]], %cst
//       CHECK:     %[[ERFC:.*]] = math.erfc %[[ARG]]
//       CHECK:     arith.mulf %{{.*}}, %[[ERFC]]
//       CHECK:   linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]{{.*}} ins(%[[P]] : tensor<?x4xf32>)
func.func @load_noisy(%l: tensor<?x4xf32>, %c: tensor<?x4xf32>, %s: tensor<?x4xf32>) -> tensor<4xf32> {
  %0 = moe.load %l, k = 2 noise(%c, %s) : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Secondary level of a hierarchical layer: rows are (token, group); the
// per-group load counts only tokens routed to the group and is scaled by the
// primary load over the group's token count (0 for an unused group).
// CHECK-LABEL: func @load_within
//  CHECK-SAME: (%[[L:.*]]: tensor<?x3x4xf32>, %{{.*}}: tensor<?x3x4xf32>, %{{.*}}: tensor<?x3x4xf32>, %[[PI:.*]]: tensor<?x2xi64>, %[[PL:.*]]: tensor<3xf32>)
//       CHECK:   tensor.collapse_shape %[[L]] {{\[}}[0, 1], [2]] : tensor<?x3x4xf32> into tensor<?x4xf32>
//       CHECK:   %[[P:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
//       CHECK:     math.erfc
//       CHECK:   %[[PG:.*]] = tensor.expand_shape %[[P]] {{\[}}[0, 1], [2]] output_shape [%{{.*}}, 3, 4]
//       CHECK:   %[[ROUTED:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[PI]] : tensor<?x2xi64>) outs(%{{.*}} : tensor<?x3xf32>)
//       CHECK:     arith.maximumf
//       CHECK:   %[[WITHIN:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "parallel", "parallel"]{{.*}} ins(%[[PG]], %[[ROUTED]] :
//       CHECK:   %[[COUNT:.*]] = linalg.generic {{.*}} ins(%[[ROUTED]] : tensor<?x3xf32>) outs(%{{.*}} : tensor<3xf32>)
//       CHECK:   %[[LOAD:.*]] = linalg.generic {{.*}} ins(%[[WITHIN]], %[[COUNT]], %[[PL]] :
//       CHECK:     arith.mulf
//       CHECK:     arith.divf
//       CHECK:     arith.cmpf oeq
//       CHECK:     arith.select
//       CHECK:   return %[[LOAD]]
func.func @load_within(%l: tensor<?x3x4xf32>, %c: tensor<?x3x4xf32>, %s: tensor<?x3x4xf32>, %pi: tensor<?x2xi64>, %pl: tensor<3xf32>) -> tensor<3x4xf32> {
  %0 = moe.load %l, k = 2 noise(%c, %s) within(%pi, %pl) : (tensor<?x3x4xf32>, tensor<?x3x4xf32>, tensor<?x3x4xf32>, tensor<?x2xi64>, tensor<3xf32>) -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// Switch loss: n * sum_e count_e * probability_sum_e / (T * k * T).
// CHECK-LABEL: func @switch_loss
//  CHECK-SAME: (%[[L:.*]]: tensor<?x4xf32>, %[[I:.*]]: tensor<?x2xi64>)
//       CHECK:   %[[COUNTS:.*]] = linalg.generic {{.*}} ins(%[[I]] : tensor<?x2xi64>) outs(%{{.*}} : tensor<4xf32>)
//       CHECK:     math.exp
//       CHECK:     arith.divf
//       CHECK:   %[[PSUM:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]
//       CHECK:   %[[PROD:.*]] = linalg.generic {{.*}} ins(%[[COUNTS]], %[[PSUM]] :
//       CHECK:   } -> tensor<4xf32>
//       CHECK:   %[[TK:.*]] = arith.mulf
//       CHECK:   %[[NORM:.*]] = arith.mulf %[[TK]]
//       CHECK:   %[[SUM:.*]] = tensor.extract
//       CHECK:   %[[SCALED:.*]] = arith.mulf %{{.*}}, %[[SUM]]
//       CHECK:   %[[LOSS:.*]] = arith.divf %[[SCALED]], %[[NORM]]
//       CHECK:   arith.mulf %{{.*}}, %[[LOSS]]
//       CHECK:   tensor.from_elements
func.func @switch_loss(%l: tensor<?x4xf32>, %i: tensor<?x2xi64>) -> tensor<f32> {
  %0 = moe.switch_loss %l, %i {weight = 0.01 : f64} : (tensor<?x4xf32>, tensor<?x2xi64>) -> tensor<f32>
  return %0 : tensor<f32>
}
