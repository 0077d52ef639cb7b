// RUN: moe-opt %s -convert-moe-to-linalg -split-input-file | FileCheck %s

// Dropless experts: a loop over experts slices each group out of the grouped
// rows (offsets[e] .. offsets[e+1]) and each expert's weights out of the
// stacks, runs the FFN on the group and writes it back at the same rows.
// CHECK-LABEL: func @expert_ffn
//  CHECK-SAME: (%[[T:.*]]: tensor<?x8xf32>, %[[O:.*]]: tensor<5xi64>, %[[W1:.*]]: tensor<4x8x16xf32>, %[[B1:.*]]: tensor<4x16xf32>, %[[W2:.*]]: tensor<4x16x8xf32>, %[[B2:.*]]: tensor<4x8xf32>)
//       CHECK:   %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x8xf32>)
//       CHECK:   %[[Y:.*]] = scf.for %[[E:.*]] = %{{.*}} to %c4 {{.*}} iter_args(%[[ACC:.*]] = %[[ZERO]])
//       CHECK:     %[[BEGIN64:.*]] = tensor.extract %[[O]][%[[E]]]
//       CHECK:     %[[BEGIN:.*]] = arith.index_cast %[[BEGIN64]]
//       CHECK:     %[[END64:.*]] = tensor.extract %[[O]]
//       CHECK:     %[[END:.*]] = arith.index_cast %[[END64]]
//       CHECK:     %[[ROWS:.*]] = arith.subi %[[END]], %[[BEGIN]]
//       CHECK:     %[[W1E:.*]] = tensor.extract_slice %[[W1]][%[[E]], 0, 0] [1, 8, 16] [1, 1, 1] : tensor<4x8x16xf32> to tensor<8x16xf32>
//       CHECK:     %[[B1E:.*]] = tensor.extract_slice %[[B1]][%[[E]], 0] [1, 16] [1, 1] : tensor<4x16xf32> to tensor<16xf32>
//       CHECK:     %[[W2E:.*]] = tensor.extract_slice %[[W2]][%[[E]], 0, 0] [1, 16, 8] [1, 1, 1] : tensor<4x16x8xf32> to tensor<16x8xf32>
//       CHECK:     %[[B2E:.*]] = tensor.extract_slice %[[B2]][%[[E]], 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<8xf32>
//       CHECK:     %[[X:.*]] = tensor.extract_slice %[[T]][%[[BEGIN]], 0] [%[[ROWS]], 8] [1, 1] : tensor<?x8xf32> to tensor<?x8xf32>
//       CHECK:     %[[H:.*]] = linalg.matmul ins(%[[X]], %[[W1E]] :
//       CHECK:     %[[HB:.*]] = linalg.generic {{.*}} ins(%[[H]], %[[B1E]] :
//       CHECK:     %[[A:.*]] = linalg.generic {{.*}} ins(%[[HB]] :
//       CHECK:       arith.maximumf
//       CHECK:     %[[O2:.*]] = linalg.matmul ins(%[[A]], %[[W2E]] :
//       CHECK:     %[[OB:.*]] = linalg.generic {{.*}} ins(%[[O2]], %[[B2E]] :
//       CHECK:     %[[NEW:.*]] = tensor.insert_slice %[[OB]] into %[[ACC]][%[[BEGIN]], 0]
//       CHECK:     scf.yield %[[NEW]]
//       CHECK:   return %[[Y]]
func.func @expert_ffn(%t: tensor<?x8xf32>, %o: tensor<5xi64>, %w1: tensor<4x8x16xf32>, %b1: tensor<4x16xf32>, %w2: tensor<4x16x8xf32>, %b2: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %0 = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) b1(%b1) w2(%w2) b2(%b2) : (tensor<?x8xf32>, tensor<5xi64>, tensor<4x8x16xf32>, tensor<4x16xf32>, tensor<4x16x8xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// The capacity layout is one batch over experts: batched GEMMs, no loop.
// SwiGLU multiplies silu(x . W1) by x . W3; bf16 is computed in f32.
// CHECK-LABEL: func @expert_ffn_capacity_swiglu
//  CHECK-SAME: (%[[T:.*]]: tensor<4x3x8xbf16>, %[[W1:.*]]: tensor<4x8x16xbf16>, %[[W3:.*]]: tensor<4x8x16xbf16>, %[[W2:.*]]: tensor<4x16x8xbf16>)
//   CHECK-NOT:   scf.for
//       CHECK:   %[[H1:.*]] = linalg.batch_matmul ins(%[[T]], %[[W1]] : {{.*}}) outs(%{{.*}} : tensor<4x3x16xf32>)
//       CHECK:   %[[H3:.*]] = linalg.batch_matmul ins(%[[T]], %[[W3]] : {{.*}}) outs(%{{.*}} : tensor<4x3x16xf32>)
//       CHECK:   %[[A:.*]] = linalg.generic {{.*}} ins(%[[H1]], %[[H3]] :
//  CHECK-NEXT:   ^bb0(%[[X1:.*]]: f32, %[[X3:.*]]: f32, %{{.*}}: f32):
//       CHECK:     %[[NEG:.*]] = arith.negf %[[X1]]
//       CHECK:     %[[EXP:.*]] = math.exp %[[NEG]]
//       CHECK:     %[[DEN:.*]] = arith.addf %{{.*}}, %[[EXP]]
//       CHECK:     %[[SILU:.*]] = arith.divf %[[X1]], %[[DEN]]
//       CHECK:     arith.mulf %[[SILU]], %[[X3]]
//       CHECK:   %[[Y:.*]] = linalg.batch_matmul ins(%[[A]], %[[W2]] : {{.*}}) outs(%{{.*}} : tensor<4x3x8xf32>)
//       CHECK:   linalg.generic {{.*}} ins(%[[Y]] :
//       CHECK:     arith.truncf %{{.*}} : f32 to bf16
func.func @expert_ffn_capacity_swiglu(%t: tensor<4x3x8xbf16>, %w1: tensor<4x8x16xbf16>, %w3: tensor<4x8x16xbf16>, %w2: tensor<4x16x8xbf16>) -> tensor<4x3x8xbf16> {
  %0 = moe.expert_ffn <silu> %t w1(%w1) w3(%w3) w2(%w2) : (tensor<4x3x8xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x16x8xbf16>) -> tensor<4x3x8xbf16>
  return %0 : tensor<4x3x8xbf16>
}

// -----

// A custom expert body is inlined once per expert on its group's rows and
// its weight slices.
// CHECK-LABEL: func @experts
//  CHECK-SAME: (%[[T:.*]]: tensor<?x8xf32>, %[[O:.*]]: tensor<5xi64>, %[[W:.*]]: tensor<4x8x6xf32>)
//       CHECK:   %[[Y:.*]] = scf.for %[[E:.*]] = %{{.*}} to %c4 {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<?x6xf32>)
//       CHECK:     %[[BEGIN:.*]] = arith.index_cast
//       CHECK:     %[[X:.*]] = tensor.extract_slice %[[T]][%[[BEGIN]], 0] [%{{.*}}, 8] [1, 1] : tensor<?x8xf32> to tensor<?x8xf32>
//       CHECK:     %[[WE:.*]] = tensor.extract_slice %[[W]][%[[E]], 0, 0] [1, 8, 6] [1, 1, 1] : tensor<4x8x6xf32> to tensor<8x6xf32>
//       CHECK:     %[[M:.*]] = linalg.matmul ins(%[[X]], %[[WE]] :
//       CHECK:     %[[A:.*]] = math.tanh %[[M]]
//       CHECK:     %[[NEW:.*]] = tensor.insert_slice %[[A]] into %[[ACC]][%[[BEGIN]], 0]
//       CHECK:     scf.yield %[[NEW]]
//   CHECK-NOT:   moe.
//       CHECK:   return %[[Y]]
func.func @experts(%t: tensor<?x8xf32>, %o: tensor<5xi64>, %w: tensor<4x8x6xf32>) -> tensor<?x6xf32> {
  %0 = moe.experts %t offsets(%o) weights(%w) : (tensor<?x8xf32>, tensor<5xi64>, tensor<4x8x6xf32>) -> tensor<?x6xf32> {
  ^bb0(%x: tensor<?x8xf32>, %we: tensor<8x6xf32>):
    %c0 = arith.constant 0 : index
    %rows = tensor.dim %x, %c0 : tensor<?x8xf32>
    %init = tensor.empty(%rows) : tensor<?x6xf32>
    %y = linalg.matmul ins(%x, %we : tensor<?x8xf32>, tensor<8x6xf32>) outs(%init : tensor<?x6xf32>) -> tensor<?x6xf32>
    %a = math.tanh %y : tensor<?x6xf32>
    moe.yield %a : tensor<?x6xf32>
  }
  return %0 : tensor<?x6xf32>
}

// -----

// In the capacity layout each expert's group is its [C, d] slice.
// CHECK-LABEL: func @experts_capacity
//       CHECK:   scf.for %[[E:.*]] = %{{.*}} to %c4
//       CHECK:     %[[X:.*]] = tensor.extract_slice %{{.*}}[%[[E]], 0, 0] [1, 3, 8] [1, 1, 1] : tensor<4x3x8xf32> to tensor<3x8xf32>
//       CHECK:     %[[S:.*]] = tensor.extract_slice %{{.*}}[%[[E]], 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<8xf32>
//       CHECK:     %[[Y:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[S]] :
//       CHECK:     tensor.insert_slice %[[Y]] into %{{.*}}[%[[E]], 0, 0] [1, 3, 8] [1, 1, 1] : tensor<3x8xf32> into tensor<4x3x8xf32>
func.func @experts_capacity(%t: tensor<4x3x8xf32>, %w: tensor<4x8xf32>) -> tensor<4x3x8xf32> {
  %0 = moe.experts %t weights(%w) : (tensor<4x3x8xf32>, tensor<4x8xf32>) -> tensor<4x3x8xf32> {
  ^bb0(%x: tensor<3x8xf32>, %scale: tensor<8xf32>):
    %init = tensor.empty() : tensor<3x8xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x, %scale : tensor<3x8xf32>, tensor<8xf32>) outs(%init : tensor<3x8xf32>) {
    ^bb1(%a: f32, %s: f32, %out: f32):
      %m = arith.mulf %a, %s : f32
      linalg.yield %m : f32
    } -> tensor<3x8xf32>
    moe.yield %y : tensor<3x8xf32>
  }
  return %0 : tensor<4x3x8xf32>
}
