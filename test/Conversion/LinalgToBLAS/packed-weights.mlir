// RUN: moe-opt %s -convert-linalg-to-blas -split-input-file | FileCheck %s

// A GEMM over weights packed in the product's panels (128 rows by 64 f32
// columns), as moe-materialize-packed-weights leaves it: the packed product
// reads each panel where it lies, with no copy and no CBLAS call, whatever
// the row count. Panel (i, j) of the 2 x 3 starts at row (3 i + j) * 128 of
// the panels seen as [768, 64]; every four steps through it, a block of
// rows prefetches one line of the next (clamped to the last panel), in
// order of block and step. The zero fill becomes zero starting sums.
// CHECK-LABEL: func @prepacked
//  CHECK-SAME: (%[[X:[^:]*]]: memref<?x256xf32>, %[[W:[^:]*]]: memref<2x3x128x64xf32, {{.*}}>, %[[Y:[^:]*]]: memref<?x192xf32>)
//   CHECK-NOT:   linalg.fill
//   CHECK-NOT:   memref.alloc
//       CHECK:   %[[PANELS:.*]] = memref.collapse_shape %[[W]] {{\[}}[0, 1, 2], [3]] : {{.*}} into memref<768x64xf32, strided<[64, 1], offset: ?>>
//       CHECK:   scf.for %[[D:.*]] = %c0 to %c256 step %c128 {
//       CHECK:     scf.for %[[C:.*]] = %c0 to %c192 step %c64 {
//       CHECK:       %[[I:.*]] = arith.divui %[[D]], %c128
//       CHECK:       %[[BEFORE_I:.*]] = arith.muli %[[I]], %c3
//       CHECK:       %[[J:.*]] = arith.divui %[[C]], %c64
//       CHECK:       %[[PANEL:.*]] = arith.addi %[[BEFORE_I]], %[[J]]
//       CHECK:       %[[START:.*]] = arith.muli %[[PANEL]], %c128
//       CHECK:       %[[AFTER:.*]] = arith.addi %[[START]], %c128
//       CHECK:       %[[NEXT:.*]] = arith.minui %[[AFTER]], %c640
//       CHECK:       scf.for %[[R:.*]] = %c0 to %{{.*}} step %c4 {
//       CHECK:         scf.if
//       CHECK:         scf.for %[[S:.*]] = %c0 to %{{.*}} step %c4 iter_args(
//       CHECK:           %[[BLOCK:.*]] = arith.divui %[[R]], %c4
//       CHECK:           %[[BLOCK_LINES:.*]] = arith.muli %[[BLOCK]], %c32
//       CHECK:           %[[STEP_LINE:.*]] = arith.divui %[[S]], %c4
//       CHECK:           %[[LINE_ANY:.*]] = arith.addi %[[BLOCK_LINES]], %[[STEP_LINE]]
//       CHECK:           %[[LINE:.*]] = arith.minui %[[LINE_ANY]], %c511
//       CHECK:           %[[LINE_ROW:.*]] = arith.divui %[[LINE]], %c4
//       CHECK:           %[[ROW:.*]] = arith.addi %[[NEXT]], %[[LINE_ROW]]
//       CHECK:           memref.prefetch %[[PANELS]][%[[ROW]], %{{.*}}], read, locality<2>, data
//       CHECK:           %[[FIRST_ROW:.*]] = arith.addi %[[START]], %[[S]]
//       CHECK:           vector.load %[[PANELS]][%[[FIRST_ROW]], %c0]
// CHECK-COUNT-15:        vector.load %[[PANELS]]
//   CHECK-NOT:           memref.prefetch
//       CHECK:           scf.yield
//       CHECK:       scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c1 {
//   CHECK-NOT:         memref.prefetch
//       CHECK:         scf.for %{{.*}} = %c0 to %{{.*}} step %c1 iter_args(
//   CHECK-NOT:   linalg.generic
//   CHECK-NOT:   call @cblas_sgemm
#lhs = affine_map<(m, n1, n0, k1, k0) -> (m, k1 * 128 + k0)>
#panels = affine_map<(m, n1, n0, k1, k0) -> (k1, n1, k0, n0)>
#out = affine_map<(m, n1, n0, k1, k0) -> (m, n1 * 64 + n0)>
func.func @prepacked(%x: memref<?x256xf32>,
                     %w: memref<2x3x128x64xf32, strided<[24576, 8192, 64, 1], offset: ?>>,
                     %y: memref<?x192xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x192xf32>)
  linalg.generic {indexing_maps = [#lhs, #panels, #out],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %w : memref<?x256xf32>, memref<2x3x128x64xf32, strided<[24576, 8192, 64, 1], offset: ?>>)
      outs(%y : memref<?x192xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Panels of another shape than the product's, and another body, stay
// generic (for linalg-to-loops).
// CHECK-LABEL: func @not_the_products_panels
//       CHECK:   linalg.generic
//       CHECK:   linalg.generic
//   CHECK-NOT:   vector.fma
#lhs = affine_map<(m, n1, n0, k1, k0) -> (m, k1 * 8 + k0)>
#panels = affine_map<(m, n1, n0, k1, k0) -> (k1, n1, k0, n0)>
#out = affine_map<(m, n1, n0, k1, k0) -> (m, n1 * 4 + n0)>
#lhs_full = affine_map<(m, n1, n0, k1, k0) -> (m, k1 * 128 + k0)>
#out_full = affine_map<(m, n1, n0, k1, k0) -> (m, n1 * 64 + n0)>
func.func @not_the_products_panels(%x: memref<?x16xf32>, %w: memref<2x2x8x4xf32>,
                                   %y: memref<?x8xf32>, %x2: memref<?x128xf32>,
                                   %w2: memref<1x1x128x64xf32>,
                                   %y2: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#lhs, #panels, #out],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %w : memref<?x16xf32>, memref<2x2x8x4xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#lhs_full, #panels, #out_full],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%x2, %w2 : memref<?x128xf32>, memref<1x1x128x64xf32>) outs(%y2 : memref<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.subf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}
