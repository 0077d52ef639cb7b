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
