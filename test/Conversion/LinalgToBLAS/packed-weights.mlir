// RUN: moe-opt %s -convert-linalg-to-blas -split-input-file | FileCheck %s

// A GEMM over weights packed in the product's panels (128 rows by 64 f32
// columns), as moe-materialize-packed-weights leaves it: the packed product
// reads each panel where it lies, with no copy and no CBLAS call, whatever
// the row count. Panel (i, j) of the 2 x 3 starts at row (3 i + j) * 128 of
// the panels seen as [768, 64]. The zero fill becomes zero starting sums.
// The product runs in chunks of up to 128 rows (and 512 columns: here one)
// of the output, each through all the panels.
// Every four steps through a panel, a block of rows prefetches lines of the
// next one used, in order of block and step: the blocks
// share its 512 lines, 32 iterations each, so that with B < 16 blocks each
// iteration prefetches ceil(16 / B) lines (a loop), with 16 or more one
// line (no loop, in a version of its own). The rows left over after the
// blocks of four make one block of 1, 2 or 3 rows.
// CHECK-LABEL: func @prepacked
//  CHECK-SAME: (%[[X:[^:]*]]: memref<?x256xf32>, %[[W:[^:]*]]: memref<2x3x128x64xf32, {{.*}}>, %[[Y:[^:]*]]: memref<?x192xf32>)
//   CHECK-NOT:   linalg.fill
//   CHECK-NOT:   memref.alloc
//       CHECK:   %[[PANELS:.*]] = memref.collapse_shape %[[W]] {{\[}}[0, 1, 2], [3]] : {{.*}} into memref<768x64xf32, strided<[64, 1], offset: ?>>
//       CHECK:   %[[M:.*]] = memref.dim %[[X]], %c0
//       CHECK:   scf.for %[[FIRST_ROW:.*]] = %c0 to %[[M]] step %c128 {
//       CHECK:   %[[ROWS:.*]] = arith.minui %{{.*}}, %c128
//       CHECK:   memref.subview %[[X]][%[[FIRST_ROW]], 0] [%[[ROWS]], %c256] [1, 1]
//       CHECK:   memref.subview %[[Y]][%[[FIRST_ROW]], 0] [%[[ROWS]], %c192] [1, 1]
//       CHECK:   %[[BLOCKS:.*]] = arith.ceildivui %[[ROWS]], %c4
//       CHECK:   %[[FEW:.*]] = arith.cmpi ult, %[[BLOCKS]], %c16
//       CHECK:   %[[SOME:.*]] = arith.maxui %[[BLOCKS]], %c1
//       CHECK:   %[[LINES:.*]] = arith.ceildivui %c16, %[[SOME]]
//       CHECK:   scf.for %[[D:.*]] = %c0 to %c256 step %c128 {
//       CHECK:     scf.for %[[C:.*]] = %c0 to %c192 step %c64 {
//       CHECK:       %[[I:.*]] = arith.divui %[[D]], %c128
//       CHECK:       %[[BEFORE_I:.*]] = arith.muli %[[I]], %c3
//       CHECK:       %[[J:.*]] = arith.divui %[[C]], %c64
//       CHECK:       %[[PANEL:.*]] = arith.addi %[[BEFORE_I]], %[[J]]
//       CHECK:       %[[START:.*]] = arith.muli %[[PANEL]], %c128
// The next panel used: to the right, else the first of the next depth slab,
// or after the last slab the first of the first (where the next chunk of
// rows starts).
//       CHECK:       %[[RIGHT:.*]] = arith.addi %[[C]], %c64
//       CHECK:       %[[NEXT_D:.*]] = arith.addi %[[D]], %c128
//       CHECK:       %[[MORE:.*]] = arith.cmpi ult, %[[NEXT_D]], %c256
//       CHECK:       %[[NEXT_I_ANY:.*]] = arith.divui %[[NEXT_D]], %c128
//       CHECK:       %[[NEXT_I:.*]] = arith.select %[[MORE]], %[[NEXT_I_ANY]], %c0
//       CHECK:       %[[BEFORE_NEXT_I:.*]] = arith.muli %[[NEXT_I]], %c3
//       CHECK:       %[[NEXT_SLAB:.*]] = arith.muli %[[BEFORE_NEXT_I]], %c128
//       CHECK:       %[[IN_RANGE:.*]] = arith.cmpi ult, %[[RIGHT]], %c192
//       CHECK:       %[[AFTER:.*]] = arith.addi %[[START]], %c128
//       CHECK:       %[[NEXT:.*]] = arith.select %[[IN_RANGE]], %[[AFTER]], %[[NEXT_SLAB]]
//       CHECK:       scf.if %[[FEW]] {
//       CHECK:         scf.for %[[R:.*]] = %c0 to %{{.*}} step %c4 {
//       CHECK:           scf.for %[[S:.*]] = %c0 to %{{.*}} step %c4 iter_args(
//       CHECK:             %[[BLOCK:.*]] = arith.divui %[[R]], %c4
//       CHECK:             %[[BLOCK_IT:.*]] = arith.muli %[[BLOCK]], %c32
//       CHECK:             %[[STEP_IT:.*]] = arith.divui %[[S]], %c4
//       CHECK:             %[[IT:.*]] = arith.addi %[[BLOCK_IT]], %[[STEP_IT]]
//       CHECK:             %[[FIRST_LINE:.*]] = arith.muli %[[IT]], %[[LINES]]
//       CHECK:             scf.for %[[L:.*]] = %c0 to %[[LINES]] step %c1 {
//       CHECK:               %[[LINE_ANY:.*]] = arith.addi %[[FIRST_LINE]], %[[L]]
//       CHECK:               %[[LINE:.*]] = arith.minui %[[LINE_ANY]], %c511
//       CHECK:               %[[LINE_ROW:.*]] = arith.divui %[[LINE]], %c4
//       CHECK:               %[[ROW:.*]] = arith.addi %[[NEXT]], %[[LINE_ROW]]
//       CHECK:               memref.prefetch %[[PANELS]][%[[ROW]], %{{.*}}], read, locality<2>, data
//       CHECK:             }
//       CHECK:             %[[PANEL_ROW:.*]] = arith.addi %[[START]], %[[S]]
//       CHECK:             vector.load %[[PANELS]][%[[PANEL_ROW]], %c0]
// CHECK-COUNT-15:          vector.load %[[PANELS]]
//   CHECK-NOT:             memref.prefetch
//       CHECK:             scf.yield
//       CHECK:         scf.index_switch
//       CHECK:         case 1 {
//       CHECK:           scf.for {{.*}} -> ({{(vector<16xf32>, ){3}vector<16xf32>}}) {
//       CHECK:             memref.prefetch %[[PANELS]]
//       CHECK:         case 2 {
//       CHECK:           scf.for {{.*}} -> ({{(vector<16xf32>, ){7}vector<16xf32>}}) {
//       CHECK:         case 3 {
//       CHECK:           scf.for {{.*}} -> ({{(vector<16xf32>, ){11}vector<16xf32>}}) {
//       CHECK:         default {
//       CHECK:       } else {
//       CHECK:         scf.for %[[R2:.*]] = %c0 to %{{.*}} step %c4 {
//       CHECK:           scf.for %[[S2:.*]] = %c0 to %{{.*}} step %c4 iter_args(
//       CHECK:             %[[BLOCK2:.*]] = arith.divui %[[R2]], %c4
//       CHECK:             %[[BLOCK_IT2:.*]] = arith.muli %[[BLOCK2]], %c32
//       CHECK:             %[[STEP_IT2:.*]] = arith.divui %[[S2]], %c4
//       CHECK:             %[[IT2:.*]] = arith.addi %[[BLOCK_IT2]], %[[STEP_IT2]]
//  CHECK-NEXT:             %[[LINE2:.*]] = arith.minui %[[IT2]], %c511
//  CHECK-NEXT:             %[[LINE_ROW2:.*]] = arith.divui %[[LINE2]], %c4
//  CHECK-NEXT:             %[[ROW2:.*]] = arith.addi %[[NEXT]], %[[LINE_ROW2]]
//       CHECK:             memref.prefetch %[[PANELS]][%[[ROW2]], %{{.*}}], read, locality<2>, data
//  CHECK-NEXT:             %[[PANEL_ROW2:.*]] = arith.addi %[[START]], %[[S2]]
//  CHECK-NEXT:             vector.load %[[PANELS]][%[[PANEL_ROW2]], %c0]
// CHECK-COUNT-15:          vector.load %[[PANELS]]
//   CHECK-NOT:             memref.prefetch
//       CHECK:             scf.yield
//       CHECK:         scf.index_switch
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

// 1024 columns: two chunks of 512 (eight panels), each through all the
// depth slabs before the next; a chunk's last panel of a slab prefetches the
// chunk's first of the next slab.
// CHECK-LABEL: func @prepacked_column_chunks
//       CHECK:   scf.for %[[N0:.*]] = %c0 to %c1024 step %c512 {
//       CHECK:     %[[N_AFTER:.*]] = arith.addi %[[N0]], %c512
//       CHECK:     %[[N_END:.*]] = arith.minui %[[N_AFTER]], %c1024
//       CHECK:     scf.for %[[M0:.*]] = %c0 to %{{.*}} step %c128 {
//       CHECK:       scf.for %[[D:.*]] = %c0 to %c256 step %c128 {
//       CHECK:         scf.for %[[C:.*]] = %[[N0]] to %[[N_END]] step %c64 {
//       CHECK:           %[[FIRST_PANEL:.*]] = arith.divui %[[N0]], %c64
//       CHECK:           %[[NEXT_SLAB_ANY:.*]] = arith.addi %{{.*}}, %[[FIRST_PANEL]]
//       CHECK:           %[[NEXT_SLAB:.*]] = arith.muli %[[NEXT_SLAB_ANY]], %c128
//       CHECK:           arith.cmpi ult, %{{.*}}, %[[N_END]]
#lhs = affine_map<(m, n1, n0, k1, k0) -> (m, k1 * 128 + k0)>
#panels = affine_map<(m, n1, n0, k1, k0) -> (k1, n1, k0, n0)>
#out = affine_map<(m, n1, n0, k1, k0) -> (m, n1 * 64 + n0)>
func.func @prepacked_column_chunks(%x: memref<?x256xf32>,
                                   %w: memref<2x16x128x64xf32>,
                                   %y: memref<?x1024xf32>) {
  linalg.generic {indexing_maps = [#lhs, #panels, #out],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %w : memref<?x256xf32>, memref<2x16x128x64xf32>)
      outs(%y : memref<?x1024xf32>) {
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
