// RUN: moe-opt %s -convert-moe-to-linalg=routed-tile-rows=64 -canonicalize -cse | FileCheck %s
// RUN: moe-opt %s -convert-moe-to-linalg="routed-tile-rows=64 routed-workers=3" -canonicalize -cse | FileCheck %s --check-prefix=WORKERS
// RUN: not moe-opt %s -convert-moe-to-linalg=routed-tile-rows=0 2>&1 | FileCheck %s --check-prefix=BAD-TILE
// RUN: not moe-opt %s -convert-moe-to-linalg=routed-workers=0 2>&1 | FileCheck %s --check-prefix=BAD-WORKERS

// moe.routed_ffn groups the choices by expert (the scan moe.dispatch makes,
// recording the choice each row holds), then for each expert walks its rows
// in tiles of 64: the tile is gathered, a row at a time, from the input rows
// of its choices' tokens straight into the first GEMM's operand (the
// identity row copies fold to slices), runs through the expert,
// and each output row is scaled by its gate and added into its token's row
// of the result. Nothing of [T*k, d] is built.
// CHECK-LABEL: func @routed
//  CHECK-SAME: (%[[X:[^:]*]]: tensor<?x16xf32>, %[[G:[^:]*]]: tensor<?x2xf32>, %[[I:[^:]*]]: tensor<?x2xi64>
//       CHECK:   cf.assert %{{.*}}, "moe.routed_ffn: 'indices' and 'gates' differ in shape"
//       CHECK:   cf.assert %{{.*}}, "moe.routed_ffn: 'indices' and 'input' differ in the number of tokens"
//       CHECK:   cf.assert %{{.*}}, "moe.routed_ffn: an expert index is outside [0, num_experts)"
//       CHECK:   %[[OFFSETS:.*]]:2 = scf.for
//       CHECK:   %[[ASSIGN:.*]]:3 = scf.for
//       CHECK:   %[[FLATG:.*]] = tensor.collapse_shape %[[G]] {{\[\[}}0, 1]]
//       CHECK:   %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<?x8xf32>
//       CHECK:   %[[Y:.*]] = scf.for %[[E:.*]] = %c0 to %c4 step %c1 iter_args(%[[ACC:.*]] = %[[ZERO]])
//       CHECK:     %[[W1:.*]] = tensor.extract_slice %{{.*}}[%[[E]], 0, 0] [1, 16, 32]
//       CHECK:     %[[BEGIN:.*]] = arith.index_cast
//       CHECK:     %[[END:.*]] = arith.index_cast
//       CHECK:     scf.for %[[TILE:.*]] = %[[BEGIN]] to %[[END]] step %c64 iter_args(%[[PART:.*]] = %[[ACC]])
//       CHECK:       %[[SIZE:.*]] = affine.min #{{.*}}(%[[TILE]])[%[[END]]]
//       CHECK:       %[[CHOICES:.*]] = tensor.extract_slice %[[ASSIGN]]#2[%[[TILE]]] [%[[SIZE]]] [1]
//       CHECK:       %[[A:.*]] = scf.for %[[GR:.*]] = %c0 to %[[SIZE]] step %c1 iter_args(%[[GATHERED:.*]] = %{{.*}}) -> (tensor<?x16xf32>)
//       CHECK:         %[[GCHOICE:.*]] = tensor.extract %[[CHOICES]][%[[GR]]]
//       CHECK:         %[[GC:.*]] = arith.index_cast %[[GCHOICE]]
//       CHECK:         %[[GT:.*]] = arith.divui %[[GC]], %c2
//       CHECK:         %[[XROW:.*]] = tensor.extract_slice %[[X]][%[[GT]], 0] [1, 16]
//       CHECK:         tensor.insert_slice %[[XROW]] into %[[GATHERED]][%[[GR]], 0] [1, 16]
//       CHECK:       %[[H:.*]] = linalg.matmul ins(%[[A]], %[[W1]] : tensor<?x16xf32>, tensor<16x32xf32>)
//       CHECK:       linalg.matmul
//       CHECK:       %[[OUT:.*]] = linalg.generic
//       CHECK:         arith.addf
//       CHECK:       scf.for %[[R:.*]] = %c0 to %[[SIZE]] step %c1 iter_args(%[[ROWS:.*]] = %[[PART]])
//       CHECK:         %[[CHOICE:.*]] = tensor.extract %[[CHOICES]][%[[R]]]
//       CHECK:         %[[C:.*]] = arith.index_cast %[[CHOICE]]
//       CHECK:         %[[T:.*]] = arith.divui %[[C]], %c2
//       CHECK:         %[[GATE:.*]] = tensor.extract %[[FLATG]][%[[C]]]
//       CHECK:         %[[SRC:.*]] = tensor.extract_slice %[[OUT]][%[[R]], 0] [1, 8]
//       CHECK:         %[[DST:.*]] = tensor.extract_slice %[[ROWS]][%[[T]], 0] [1, 8]
//       CHECK:         %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[SRC]] : tensor<8xf32>) outs(%[[DST]] : tensor<8xf32>)
//       CHECK:           arith.mulf %[[GATE]]
//       CHECK:           arith.addf
//       CHECK:         tensor.insert_slice %[[SUM]] into %[[ROWS]][%[[T]], 0] [1, 8]
//       CHECK:   return %[[Y]]
// BAD-TILE: error: convert-moe-to-linalg: 'routed-tile-rows' must be positive, got 0
// BAD-WORKERS: error: convert-moe-to-linalg: 'routed-workers' must be positive, got 0

// With three workers the tiles are dealt round-robin: each worker walks all
// tiles, counting them, and computes those whose number is its own modulo 3
// into its own zeroed [T, d_out] slice; a reduction sums the three slices.
// WORKERS-LABEL: func @routed
//       WORKERS:   %[[T:.*]] = tensor.dim %{{.*}}, %c0 : tensor<?x16xf32>
//       WORKERS:   %[[SLICES:.*]] = tensor.empty(%[[T]]) : tensor<3x?x8xf32>
//       WORKERS:   %[[PARTS:.*]] = scf.forall (%[[W:.*]]) in (3) shared_outs(%[[ALL:.*]] = %[[SLICES]])
//       WORKERS:     %[[MINE:.*]] = tensor.extract_slice %[[ALL]][%[[W]], 0, 0] [1, %[[T]], 8] [1, 1, 1] : tensor<3x?x8xf32> to tensor<?x8xf32>
//       WORKERS:     %[[ZEROED:.*]] = linalg.fill {{.*}} outs(%[[MINE]] : tensor<?x8xf32>)
//       WORKERS:     %[[SHARE:.*]]:2 = scf.for %{{.*}} = %c0 to %c4 step %c1 iter_args(%{{.*}} = %[[ZEROED]], %{{.*}} = %c0)
//       WORKERS:       scf.for %{{.*}} step %c64 iter_args(%[[PART:.*]] = %{{.*}}, %[[NUMBER:.*]] = %{{.*}})
//       WORKERS:         %[[TURN:.*]] = arith.remui %[[NUMBER]], %c3
//       WORKERS:         %[[IS_MINE:.*]] = arith.cmpi eq, %[[TURN]], %[[W]]
//       WORKERS:         %[[DONE:.*]] = scf.if %[[IS_MINE]]
//       WORKERS:           linalg.matmul
//       WORKERS:           linalg.matmul
//       WORKERS:         } else {
//       WORKERS:           scf.yield %[[PART]]
//       WORKERS:         %[[NEXT:.*]] = arith.addi %[[NUMBER]], %c1
//       WORKERS:         scf.yield %[[DONE]], %[[NEXT]]
//       WORKERS:     scf.forall.in_parallel
//       WORKERS:       tensor.parallel_insert_slice %[[SHARE]]#0 into %[[ALL]][%[[W]], 0, 0] [1, %[[T]], 8] [1, 1, 1]
//       WORKERS:   %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "parallel"]} ins(%[[PARTS]] : tensor<3x?x8xf32>) outs(%{{.*}} : tensor<?x8xf32>)
//       WORKERS:     arith.addf
//       WORKERS:   return %[[SUM]]
func.func @routed(%x: tensor<?x16xf32>, %gates: tensor<?x2xf32>,
                  %idx: tensor<?x2xi64>, %w1: tensor<4x16x32xf32>,
                  %b1: tensor<4x32xf32>, %w2: tensor<4x32x8xf32>,
                  %b2: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) b1(%b1) w2(%w2) b2(%b2)
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x16x32xf32>,
         tensor<4x32xf32>, tensor<4x32x8xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// bf16 tokens are widened to f32 as each row is gathered.
// CHECK-LABEL: func @routed_bf16
//       CHECK:   scf.for %[[R:.*]] = %c0 to %{{.*}} step %c1 iter_args(%[[TILE:.*]] = %{{.*}}) -> (tensor<?x16xf32>)
//       CHECK:     %[[CHOICE:.*]] = tensor.extract %{{.*}}[%[[R]]]
//       CHECK:     %[[C:.*]] = arith.index_cast %[[CHOICE]]
//       CHECK:     %[[T:.*]] = arith.divui %[[C]], %c2
//       CHECK:     %[[ROW:.*]] = tensor.extract_slice %{{.*}}[%[[T]], 0] [1, 16] [1, 1] : tensor<?x16xbf16> to tensor<16xbf16>
//       CHECK:     %[[DST:.*]] = tensor.extract_slice %[[TILE]][%[[R]], 0] [1, 16] [1, 1] : tensor<?x16xf32> to tensor<16xf32>
//       CHECK:     %[[WIDE:.*]] = linalg.generic {{.*}} ins(%[[ROW]] : tensor<16xbf16>) outs(%[[DST]] : tensor<16xf32>)
//       CHECK:       arith.extf
//       CHECK:     tensor.insert_slice %[[WIDE]] into %[[TILE]][%[[R]], 0] [1, 16]
//       CHECK:   linalg.matmul
func.func @routed_bf16(%x: tensor<?x16xbf16>, %gates: tensor<?x2xbf16>,
                       %idx: tensor<?x2xi64>, %w1: tensor<4x16x32xbf16>,
                       %b1: tensor<4x32xbf16>, %w2: tensor<4x32x8xbf16>,
                       %b2: tensor<4x8xbf16>) -> tensor<?x8xbf16> {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) b1(%b1) w2(%w2) b2(%b2)
      : (tensor<?x16xbf16>, tensor<?x2xbf16>, tensor<?x2xi64>,
         tensor<4x16x32xbf16>, tensor<4x32xbf16>, tensor<4x32x8xbf16>,
         tensor<4x8xbf16>) -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}
