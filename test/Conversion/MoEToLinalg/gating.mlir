// RUN: moe-opt %s -convert-moe-to-linalg -split-input-file | FileCheck %s

// CHECK-LABEL: func @gate_f32
//  CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[W:.*]]: tensor<16x4xf32>)
//       CHECK:   %[[DIM:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x16xf32>
//       CHECK:   %[[EMPTY:.*]] = tensor.empty(%[[DIM]]) : tensor<?x4xf32>
//       CHECK:   %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[EMPTY]] : tensor<?x4xf32>)
//       CHECK:   %[[MM:.*]] = linalg.matmul ins(%[[X]], %[[W]] : tensor<?x16xf32>, tensor<16x4xf32>) outs(%[[ZERO]] : tensor<?x4xf32>)
//   CHECK-NOT:   moe.gate
//       CHECK:   return %[[MM]]
func.func @gate_f32(%x: tensor<?x16xf32>, %w: tensor<16x4xf32>) -> tensor<?x4xf32> {
  %0 = moe.gate %x, %w : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// bf16 logits accumulate in f32 and are rounded once.
// CHECK-LABEL: func @gate_bf16
//       CHECK:   %[[MM:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x16xbf16>, tensor<16x4xbf16>) outs(%{{.*}} : tensor<8x4xf32>)
//       CHECK:   %[[OUT:.*]] = linalg.generic {{.*}} ins(%[[MM]] : tensor<8x4xf32>) outs(%{{.*}} : tensor<8x4xbf16>)
//       CHECK:     arith.truncf %{{.*}} : f32 to bf16
//       CHECK:   return %[[OUT]]
func.func @gate_bf16(%x: tensor<8x16xbf16>, %w: tensor<16x4xbf16>) -> tensor<8x4xbf16> {
  %0 = moe.gate %x, %w : (tensor<8x16xbf16>, tensor<16x4xbf16>) -> tensor<8x4xbf16>
  return %0 : tensor<8x4xbf16>
}

// -----

// Two GEMMs, then one elementwise pass computing the noisy logits, the clean
// logits and softplus(x . W_noise) + noise_epsilon.
// CHECK-LABEL: func @noisy_gate
//  CHECK-SAME: (%[[X:.*]]: tensor<8x16xf32>, %[[WG:.*]]: tensor<16x4xf32>, %[[WN:.*]]: tensor<16x4xf32>, %[[EPS:.*]]: tensor<8x4xf32>)
//       CHECK:   %[[CLEAN:.*]] = linalg.matmul ins(%[[X]], %[[WG]]
//       CHECK:   %[[RAW:.*]] = linalg.matmul ins(%[[X]], %[[WN]]
//       CHECK:   %[[R:.*]]:3 = linalg.generic {{.*}} ins(%[[CLEAN]], %[[RAW]], %[[EPS]] : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
//       CHECK:   ^bb0(%[[C:[^:]*]]: f32, %[[A:[^:]*]]: f32, %[[E:[^:]*]]: f32,
//       CHECK:     %[[POS:.*]] = arith.maximumf %[[A]], %{{.*}} : f32
//       CHECK:     %[[ABS:.*]] = math.absf %[[A]]
//       CHECK:     %[[NEG:.*]] = arith.negf %[[ABS]]
//       CHECK:     %[[EXP:.*]] = math.exp %[[NEG]]
// log1p(y) as log(u) * y / (u - 1) with u = 1 + y, or y where u rounds to 1.
//       CHECK:     %[[U:.*]] = arith.addf %{{.*}}, %[[EXP]]
//       CHECK:     %[[EXACT:.*]] = arith.cmpf oeq, %[[U]]
//       CHECK:     %[[LN:.*]] = math.log %[[U]]
//       CHECK:     %[[NUM:.*]] = arith.mulf %[[LN]], %[[EXP]]
//       CHECK:     %[[DEN:.*]] = arith.subf %[[U]]
//       CHECK:     %[[Q:.*]] = arith.divf %[[NUM]], %[[DEN]]
//       CHECK:     %[[LOG:.*]] = arith.select %[[EXACT]], %[[EXP]], %[[Q]]
//       CHECK:     %[[SP:.*]] = arith.addf %[[POS]], %[[LOG]]
//       CHECK:     %[[STD:.*]] = arith.addf %[[SP]], %{{.*}} : f32
//       CHECK:     %[[SCALED:.*]] = arith.mulf %[[E]], %[[STD]]
//       CHECK:     %[[H:.*]] = arith.addf %[[C]], %[[SCALED]]
//       CHECK:     linalg.yield %[[H]], %[[C]], %[[STD]]
//       CHECK:   return %[[R]]#0, %[[R]]#1, %[[R]]#2
func.func @noisy_gate(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>,
                      %wn: tensor<16x4xf32>, %eps: tensor<8x4xf32>)
    -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  %h, %c, %s = moe.noisy_gate %x, %wg, %wn, %eps {noise_epsilon = 0.01 : f64}
      : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<8x4xf32>)
      -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
  return %h, %c, %s : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}
