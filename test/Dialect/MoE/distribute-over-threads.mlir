// RUN: moe-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(moe-distribute-over-threads{threads=2}),canonicalize,cse)' | FileCheck %s
// RUN: not moe-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(moe-distribute-over-threads{threads=0}))' 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: error: moe-distribute-over-threads: 'threads' and 'min-rows' must be positive, got 0 and 64

// A GEMM over the tokens (dynamic rows) becomes an scf.forall of two
// iterations, each computing one block of ceil(T / 2) rows (the last one
// what is left, possibly none).
// CHECK-DAG: #[[BLOCK:.*]] = affine_map<(d0)[s0] -> (-(d0 * (s0 ceildiv 2)) + s0, s0 ceildiv 2)>
// CHECK-DAG: #[[START:.*]] = affine_map<(d0)[s0] -> (d0 * (s0 ceildiv 2))>
// CHECK-LABEL: func @gating_gemm
//  CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<8x4xf32>, %[[INIT:.*]]: tensor<?x4xf32>)
//       CHECK:   %[[T:.*]] = tensor.dim %[[X]], %c0
//       CHECK:   %[[Y:.*]] = scf.forall (%[[I:.*]]) in (2) shared_outs(%[[OUT:.*]] = %[[INIT]])
//       CHECK:     %[[LAST_BLOCK:.*]] = affine.min #[[BLOCK]](%[[I]])[%[[T]]]
//       CHECK:     %[[ROWS:.*]] = affine.max #{{.*}}(%[[LAST_BLOCK]])
//       CHECK:     %[[FIRST:.*]] = affine.apply #[[START]](%[[I]])[%[[T]]]
//       CHECK:     %[[XS:.*]] = tensor.extract_slice %[[X]][%[[FIRST]], 0] [%[[ROWS]], 8] [1, 1]
//       CHECK:     %[[OS:.*]] = tensor.extract_slice %[[OUT]][%[[FIRST]], 0] [%[[ROWS]], 4] [1, 1]
//       CHECK:     %[[PART:.*]] = linalg.matmul ins(%[[XS]], %[[W]] : tensor<?x8xf32>, tensor<8x4xf32>) outs(%[[OS]] : tensor<?x4xf32>)
//       CHECK:     scf.forall.in_parallel
//       CHECK:       tensor.parallel_insert_slice %[[PART]] into %[[OUT]][%[[FIRST]], 0] [%[[ROWS]], 4] [1, 1]
//       CHECK:   return %[[Y]]
func.func @gating_gemm(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>,
                       %init: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<?x8xf32>, tensor<8x4xf32>)
      outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// The sum of the experts' per-worker outputs: the first loop is the
// reduction over workers, the first parallel one the tokens; that one is
// split.
// CHECK-LABEL: func @sum_of_workers
//       CHECK:   scf.forall (%{{.*}}) in (2)
//       CHECK:     tensor.extract_slice %{{.*}}[0, %{{.*}}, 0] [3, %{{.*}}, 8] [1, 1, 1] : tensor<3x?x8xf32> to tensor<3x?x8xf32>
//       CHECK:     linalg.reduce ins(%{{.*}} : tensor<3x?x8xf32>) outs(%{{.*}} : tensor<?x8xf32>) dimensions = [0]
func.func @sum_of_workers(%parts: tensor<3x?x8xf32>, %init: tensor<?x8xf32>)
    -> tensor<?x8xf32> {
  %sum = linalg.reduce ins(%parts : tensor<3x?x8xf32>)
      outs(%init : tensor<?x8xf32>) dimensions = [0]
      (%in: f32, %acc: f32) {
        %add = arith.addf %in, %acc : f32
        linalg.yield %add : f32
      }
  return %sum : tensor<?x8xf32>
}

// -----

// Left as they are: a small static loop (8 experts), a loop whose first
// parallel dimension is small though a reduction before it is large, and an
// op inside a loop (one fork per iteration would cost more than it saves).
// CHECK-LABEL: func @left_alone
//   CHECK-NOT:   scf.forall
func.func @left_alone(%small: tensor<8x4xf32>, %init: tensor<8x4xf32>,
                      %columns: tensor<?x4xf32>, %sums: tensor<4xf32>,
                      %x: tensor<?x8xf32>, %w: tensor<8x4xf32>,
                      %out: tensor<?x4xf32>, %n: index)
    -> (tensor<8x4xf32>, tensor<4xf32>, tensor<?x4xf32>) {
  %a = linalg.copy ins(%small : tensor<8x4xf32>) outs(%init : tensor<8x4xf32>) -> tensor<8x4xf32>
  %b = linalg.reduce ins(%columns : tensor<?x4xf32>) outs(%sums : tensor<4xf32>) dimensions = [0]
      (%in: f32, %acc: f32) {
        %add = arith.addf %in, %acc : f32
        linalg.yield %add : f32
      }
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %out) -> tensor<?x4xf32> {
    %y = linalg.matmul ins(%x, %w : tensor<?x8xf32>, tensor<8x4xf32>)
        outs(%acc : tensor<?x4xf32>) -> tensor<?x4xf32>
    scf.yield %y : tensor<?x4xf32>
  }
  return %a, %b, %c : tensor<8x4xf32>, tensor<4xf32>, tensor<?x4xf32>
}
