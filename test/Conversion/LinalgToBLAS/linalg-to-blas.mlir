// RUN: moe-opt %s -convert-linalg-to-blas="streaming-max-rows=0 packed-max-rows=0" -split-input-file | FileCheck %s
// RUN: moe-opt %s -convert-linalg-to-blas -split-input-file | FileCheck %s --check-prefix=STREAM
// RUN: moe-opt %s -convert-linalg-to-blas=streaming-max-rows=0 -split-input-file | FileCheck %s --check-prefix=PACKED

// One expert's rows and weights are slices of larger buffers: the call takes
// their addresses (aligned pointer + offset) and row strides as leading
// dimensions, and accumulates (beta = 1) as linalg.matmul does. An empty
// product (an expert without tokens) skips the call.
// CHECK: func.func private @cblas_sgemm(i32, i32, i32, i32, i32, i32, f32, !llvm.ptr, i32, !llvm.ptr, i32, f32, !llvm.ptr, i32)
// CHECK-LABEL: func @expert_slice
//  CHECK-SAME: (%[[X:.*]]: memref<?x8xf32, strided<[8, 1], offset: ?>>, %[[W:.*]]: memref<8x16xf32, strided<[16, 1], offset: ?>>, %[[Y:.*]]: memref<?x16xf32>)
//   CHECK-DAG:   %[[NOTRANS:.*]] = arith.constant 111 : i32
//   CHECK-DAG:   %[[ROWMAJOR:.*]] = arith.constant 101 : i32
//   CHECK-DAG:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
//   CHECK-DAG:   %[[C16:.*]] = arith.constant 16 : i32
//   CHECK-DAG:   %[[C8:.*]] = arith.constant 8 : i32
//       CHECK:   %[[M:.*]] = memref.dim %[[X]], %c0
//       CHECK:   %[[NONEMPTY:.*]] = arith.cmpi sgt, %[[M]], %c0
//       CHECK:   scf.if %[[NONEMPTY]] {
//       CHECK:     %{{.*}}, %[[XOFF:.*]], %{{.*}}:2, %{{.*}}:2 = memref.extract_strided_metadata %[[X]]
//       CHECK:     %[[XBASE:.*]] = memref.extract_aligned_pointer_as_index %[[X]]
//       CHECK:     %[[XBYTES:.*]] = arith.muli %[[XOFF]], %c4
//       CHECK:     %[[XADDR:.*]] = arith.addi %[[XBASE]], %[[XBYTES]]
//       CHECK:     %[[XINT:.*]] = arith.index_cast %[[XADDR]] : index to i64
//       CHECK:     %[[XPTR:.*]] = llvm.inttoptr %[[XINT]] : i64 to !llvm.ptr
//       CHECK:     %[[WPTR:.*]] = llvm.inttoptr
//       CHECK:     %[[YPTR:.*]] = llvm.inttoptr
// Only the dynamic size can exceed CBLAS's 32-bit ints.
//       CHECK:     %[[FITS:.*]] = arith.cmpi ule, %[[M]], %{{.*}}
//       CHECK:     cf.assert %[[FITS]], "linalg.matmul: a size or leading dimension exceeds what CBLAS can take"
//       CHECK:     %[[M32:.*]] = arith.index_cast %[[M]] : index to i32
//       CHECK:     call @cblas_sgemm(%[[ROWMAJOR]], %[[NOTRANS]], %[[NOTRANS]], %[[M32]], %[[C16]], %[[C8]], %[[ONE]], %[[XPTR]], %[[C8]], %[[WPTR]], %[[C16]], %[[ONE]], %[[YPTR]], %[[C16]])
//   CHECK-NOT:   linalg.matmul
func.func @expert_slice(%x: memref<?x8xf32, strided<[8, 1], offset: ?>>, %w: memref<8x16xf32, strided<[16, 1], offset: ?>>, %y: memref<?x16xf32>) {
  linalg.matmul ins(%x, %w : memref<?x8xf32, strided<[8, 1], offset: ?>>, memref<8x16xf32, strided<[16, 1], offset: ?>>) outs(%y : memref<?x16xf32>)
  return
}

// -----

// A batch (the capacity layout's experts) is a loop of GEMMs on slices; f64
// goes to dgemm.
// CHECK: func.func private @cblas_dgemm(
// CHECK-LABEL: func @batched
//       CHECK:   scf.for %[[E:.*]] = %c0 to %c4
//       CHECK:     %[[X:.*]] = memref.subview %{{.*}}[%[[E]], 0, 0] [1, 3, 8] [1, 1, 1] : memref<4x3x8xf64> to memref<3x8xf64, strided<[8, 1], offset: ?>>
//       CHECK:     memref.subview %{{.*}}[%[[E]], 0, 0] [1, 8, 16]
//       CHECK:     memref.subview %{{.*}}[%[[E]], 0, 0] [1, 3, 16]
//   CHECK-NOT:     cf.assert
//       CHECK:     func.call @cblas_dgemm(
//   CHECK-NOT:   linalg.batch_matmul
func.func @batched(%x: memref<4x3x8xf64>, %w: memref<4x8x16xf64>, %y: memref<4x3x16xf64>) {
  linalg.batch_matmul ins(%x, %w : memref<4x3x8xf64>, memref<4x8x16xf64>) outs(%y : memref<4x3x16xf64>)
  return
}

// -----

// bf16 inputs accumulated in f32: CBLAS has no mixed-precision GEMM, so the
// inputs are widened into f32 copies, freed after the call. Static sizes
// need no emptiness test.
// CHECK-LABEL: func @mixed_precision
//  CHECK-SAME: (%[[X:.*]]: memref<3x8xbf16>, %[[W:.*]]: memref<8x16xbf16>, %[[Y:.*]]: memref<3x16xf32>)
//   CHECK-NOT:   scf.if
//       CHECK:   %[[XW:.*]] = memref.alloc() : memref<3x8xf32>
//       CHECK:   linalg.generic {{.*}} ins(%[[X]] : memref<3x8xbf16>) outs(%[[XW]] : memref<3x8xf32>)
//       CHECK:     arith.extf %{{.*}} : bf16 to f32
//       CHECK:   %[[WW:.*]] = memref.alloc() : memref<8x16xf32>
//       CHECK:   linalg.generic {{.*}} ins(%[[W]] : memref<8x16xbf16>) outs(%[[WW]] : memref<8x16xf32>)
//       CHECK:   memref.extract_aligned_pointer_as_index %[[XW]]
//       CHECK:   memref.extract_aligned_pointer_as_index %[[WW]]
//       CHECK:   call @cblas_sgemm(
//       CHECK:   memref.dealloc %[[XW]]
//       CHECK:   memref.dealloc %[[WW]]
//   CHECK-NOT:   linalg.matmul
func.func @mixed_precision(%x: memref<3x8xbf16>, %w: memref<8x16xbf16>, %y: memref<3x16xf32>) {
  linalg.matmul ins(%x, %w : memref<3x8xbf16>, memref<8x16xbf16>) outs(%y : memref<3x16xf32>)
  return
}

// -----

// Rows without unit stride cannot be described to CBLAS row-major.
// CHECK-LABEL: func @column_strided
//       CHECK:   linalg.matmul
func.func @column_strided(%x: memref<3x8xf32, strided<[1, 3]>>, %w: memref<8x16xf32>, %y: memref<3x16xf32>) {
  linalg.matmul ins(%x, %w : memref<3x8xf32, strided<[1, 3]>>, memref<8x16xf32>) outs(%y : memref<3x16xf32>)
  return
}

// -----

// A tile's row count is bounded (here by affine.min, as moe.routed_ffn
// writes it): no run-time check, which could not report from a worker thread.
// CHECK-LABEL: func @bounded_tile
//       CHECK:   %[[ROWS:.*]] = affine.min
//   CHECK-NOT:   cf.assert
//       CHECK:   %[[M32:.*]] = arith.index_cast %[[ROWS]] : index to i32
//       CHECK:   call @cblas_sgemm(%{{.*}}, %{{.*}}, %{{.*}}, %[[M32]],
func.func @bounded_tile(%begin: index, %end: index, %w: memref<8x16xf32>) {
  %rows = affine.min affine_map<(d0)[s0] -> (-d0 + s0, 512)>(%begin)[%end]
  %x = memref.alloc(%rows) : memref<?x8xf32>
  %y = memref.alloc(%rows) : memref<?x16xf32>
  linalg.matmul ins(%x, %w : memref<?x8xf32>, memref<8x16xf32>) outs(%y : memref<?x16xf32>)
  memref.dealloc %x : memref<?x8xf32>
  memref.dealloc %y : memref<?x16xf32>
  return
}

// -----

// A zero fill of the output right before the product becomes beta = 0 and
// goes away: with K known positive, a skipped call means an empty output.
// CHECK-LABEL: func @zero_filled
//   CHECK-DAG:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
//   CHECK-DAG:   %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
//   CHECK-NOT:   linalg.fill
//       CHECK:   scf.if
//       CHECK:     call @cblas_sgemm(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[ONE]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[ZERO]], %{{.*}}, %{{.*}})
//   CHECK-NOT:   else
//   CHECK-NOT:   linalg.fill
//       CHECK:   return
func.func @zero_filled(%x: memref<?x8xf32>, %w: memref<8x16xf32>, %y: memref<?x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x16xf32>)
  linalg.matmul ins(%x, %w : memref<?x8xf32>, memref<8x16xf32>) outs(%y : memref<?x16xf32>)
  return
}

// -----

// With K possibly 0, the call is skipped on a non-empty output, which the
// fill then still zeroes.
// CHECK-LABEL: func @zero_filled_dynamic_k
//  CHECK-SAME: %[[Y:[^:]*]]: memref<4x16xf32>)
//   CHECK-DAG:   %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
//       CHECK:   scf.if
//       CHECK:     call @cblas_sgemm({{.*}}, %[[ZERO]], %{{.*}}, %{{.*}})
//       CHECK:   } else {
//       CHECK:     linalg.fill ins(%[[ZERO]] : f32) outs(%[[Y]] : memref<4x16xf32>)
func.func @zero_filled_dynamic_k(%x: memref<4x?xf32>, %w: memref<?x16xf32>, %y: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<4x16xf32>)
  linalg.matmul ins(%x, %w : memref<4x?xf32>, memref<?x16xf32>) outs(%y : memref<4x16xf32>)
  return
}

// -----

// A fill with a store in between, or of another value, stays: beta = 1.
// CHECK-LABEL: func @filled_otherwise
//   CHECK-DAG:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
//       CHECK:   linalg.fill
//       CHECK:   memref.store
//       CHECK:   call @cblas_sgemm({{.*}}, %[[ONE]], %{{.*}}, %{{.*}})
//       CHECK:   linalg.fill ins(%[[ONE]]
//       CHECK:   call @cblas_sgemm({{.*}}, %[[ONE]], %{{.*}}, %{{.*}})
func.func @filled_otherwise(%x: memref<4x8xf32>, %w: memref<8x16xf32>, %y: memref<4x16xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<4x16xf32>)
  memref.store %v, %y[%c0, %c0] : memref<4x16xf32>
  linalg.matmul ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%y : memref<4x16xf32>)
  linalg.fill ins(%one : f32) outs(%y : memref<4x16xf32>)
  linalg.matmul ins(%x, %w : memref<4x8xf32>, memref<8x16xf32>) outs(%y : memref<4x16xf32>)
  return
}

// -----

// At most 32 rows (tested at run time): vector code streams the weights
// once. Each pass adds eight rows of them into four output rows, whose
// partial sums stay in registers over the eight; the last columns go under a
// mask, bf16 is widened as it is loaded, and leftover rows and depth take
// passes of one; ten weight rows are too few to prefetch ahead. Up to 384
// rows go through packed panels (@packed below), more to CBLAS.
// STREAM-LABEL: func @few_rows
//  STREAM-SAME: (%[[X:.*]]: memref<?x10xf32>, %[[W:.*]]: memref<10x20xbf16>, %[[Y:.*]]: memref<?x20xf32>)
//       STREAM:   %[[M:.*]] = memref.dim %[[X]], %c0
//       STREAM:   scf.if
//       STREAM:     %[[FEW:.*]] = arith.cmpi sle, %[[M]], %c32
//       STREAM:     scf.if %[[FEW]] {
//       STREAM:       %[[LEFT:.*]] = arith.remui %[[M]], %c4
//       STREAM:       %[[GROUPED:.*]] = arith.subi %[[M]], %[[LEFT]]
//       STREAM:       scf.for %[[R0:.*]] = %c0 to %[[GROUPED]] step %c4 {
//       STREAM:         %[[R3:.*]] = arith.addi %[[R0]], %c3
//       STREAM:         %[[A00:.*]] = memref.load %[[X]][%[[R0]], %c0]
//       STREAM:         %[[B00:.*]] = vector.broadcast %[[A00]] : f32 to vector<16xf32>
//       STREAM:         %[[A30:.*]] = memref.load %[[X]][%[[R3]], %c0]
//       STREAM:         %[[B30:.*]] = vector.broadcast %[[A30]] : f32 to vector<16xf32>
//       STREAM:         memref.load %[[X]][%[[R3]], %c7]
//       STREAM:         %[[ACC0:.*]] = vector.load %[[Y]][%[[R0]], %c0] : memref<?x20xf32>, vector<16xf32>
//       STREAM:         %[[ACC3:.*]] = vector.load %[[Y]][%[[R3]], %c0]
//       STREAM:         %[[W0:.*]] = vector.load %[[W]][%c0, %c0] : memref<10x20xbf16>, vector<16xbf16>
//  STREAM-NEXT:         %[[W0F:.*]] = arith.extf %[[W0]] : vector<16xbf16> to vector<16xf32>
//  STREAM-NEXT:         vector.fma %[[B00]], %[[W0F]], %[[ACC0]]
//  STREAM-NEXT:         vector.fma
//  STREAM-NEXT:         vector.fma
//  STREAM-NEXT:         vector.fma %[[B30]], %[[W0F]], %[[ACC3]]
//       STREAM:         vector.load %[[W]][%c7, %c0]
//       STREAM:         vector.store %{{.*}}, %[[Y]][%[[R0]], %c0]
//       STREAM:         vector.store %{{.*}}, %[[Y]][%[[R3]], %c0]
//       STREAM:         %[[MASK:.*]] = vector.create_mask %c4 : vector<16xi1>
//       STREAM:         vector.maskedload %[[Y]][%[[R0]], %c16], %[[MASK]]
//       STREAM:         vector.maskedstore %[[Y]][%[[R3]], %c16], %[[MASK]]
//       STREAM:       scf.for %[[ROW:.*]] = %[[GROUPED]] to %[[M]] step %c1 {
//       STREAM:         vector.load %[[Y]][%[[ROW]], %c0]
//       STREAM:         vector.load %[[W]][%c7, %c0]
//       STREAM:       scf.for %[[K:.*]] = %c8 to %c10 step %c1 {
//       STREAM:         scf.for
//       STREAM:           vector.load %[[W]][%[[K]], %c0]
//       STREAM:     } else {
//       STREAM:       arith.cmpi sle, %[[M]], %c384
//       STREAM:       memref.alloc() : memref<128x64xf32>
//       STREAM:       } else {
//       STREAM:         memref.alloc() : memref<10x20xf32>
//       STREAM:         call @cblas_sgemm
func.func @few_rows(%x: memref<?x10xf32>, %w: memref<10x20xbf16>, %y: memref<?x20xf32>) {
  linalg.matmul ins(%x, %w : memref<?x10xf32>, memref<10x20xbf16>) outs(%y : memref<?x20xf32>)
  return
}

// -----

// Rows known to be few: only the streaming product; f64 takes vectors of 8.
// The zero fill goes: the first pass over the rows of `rhs` (here the only
// one) starts from zeros, so the output is stored without being read.
// STREAM-LABEL: func @six_rows
//   STREAM-NOT:   linalg.fill
//       STREAM:   %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<8xf64>
//   STREAM-NOT:   linalg.fill
//       STREAM:   scf.for %{{.*}} = %c0 to %c32 step %c8 {
//   STREAM-NOT:     vector.load %{{.*}} : memref<6x32xf64>
//       STREAM:     vector.fma %{{.*}}, %{{.*}}, %[[ZEROS]] : vector<8xf64>
//   STREAM-NOT:     vector.load %{{.*}} : memref<6x32xf64>
// STREAM-COUNT-4:   vector.store %{{.*}} : memref<6x32xf64>, vector<8xf64>
//       STREAM:   scf.for %{{.*}} = %c4 to %c6 step %c1 {
//       STREAM:     scf.for %{{.*}} = %c0 to %c32 step %c8 {
//       STREAM:       vector.fma {{.*}} : vector<8xf64>
//   STREAM-NOT:   cblas_dgemm
//       STREAM:   return
func.func @six_rows(%x: memref<6x8xf64>, %w: memref<8x32xf64>, %y: memref<6x32xf64>) {
  %zero = arith.constant 0.0 : f64
  linalg.fill ins(%zero : f64) outs(%y : memref<6x32xf64>)
  linalg.matmul ins(%x, %w : memref<6x8xf64>, memref<8x32xf64>) outs(%y : memref<6x32xf64>)
  return
}

// -----

// Depth not known to be small: the pass over output row 0 prefetches the
// weight rows two groups ahead, clamped to the last row; the single rows
// left after the last group of eight prefetch nothing.
// STREAM-LABEL: func @prefetching
//  STREAM-SAME: (%{{.*}}: memref<3x?xf32>, %[[W:.*]]: memref<?x16xf32>, %{{.*}}: memref<3x16xf32>)
//       STREAM:   %[[K:.*]] = memref.dim
//       STREAM:   %[[LAST:.*]] = arith.subi %[[K]], %c1
//       STREAM:   scf.for %[[D:.*]] = %c0 to %{{.*}} step %c8 {
//       STREAM:     scf.for %[[ROW:.*]] = %c0 to %c3 step %c1 {
//       STREAM:       %[[D7:.*]] = arith.addi %[[D]], %c7
//       STREAM:       %[[FIRST:.*]] = arith.cmpi eq, %[[ROW]], %c0
//       STREAM:       %[[AHEAD0:.*]] = arith.addi %[[D]], %c16
//       STREAM:       %[[P0:.*]] = arith.minui %[[AHEAD0]], %[[LAST]]
//       STREAM:       %[[AHEAD7:.*]] = arith.addi %[[D7]], %c16
//       STREAM:       %[[P7:.*]] = arith.minui %[[AHEAD7]], %[[LAST]]
//       STREAM:       scf.if %[[FIRST]] {
//       STREAM:         memref.prefetch %[[W]][%[[P0]], %c0], read, locality<2>, data
//       STREAM:         memref.prefetch %[[W]][%[[P7]], %c0], read, locality<2>, data
//       STREAM:       }
//       STREAM:       vector.load %[[W]][%[[D]], %c0]
//       STREAM:   scf.for
//   STREAM-NOT:     memref.prefetch
//       STREAM:   return
func.func @prefetching(%x: memref<3x?xf32>, %w: memref<?x16xf32>, %y: memref<3x16xf32>) {
  linalg.matmul ins(%x, %w : memref<3x?xf32>, memref<?x16xf32>) outs(%y : memref<3x16xf32>)
  return
}

// -----

// Up to 384 rows: the packed product. Each 64 columns of up to 128 weight
// rows are copied (bf16 widened) into a contiguous panel, prefetching the
// next panel's part of each row; four output rows by four vectors then stay
// in registers through the panel's rows. The last 16 columns make a partial
// panel: zeros past N in the copy, masked loads and stores of the output.
// PACKED-LABEL: func @packed
//  PACKED-SAME: (%[[X:.*]]: memref<?x10xf32>, %[[W:.*]]: memref<10x80xbf16>, %[[Y:.*]]: memref<?x80xf32>)
//       PACKED:   %[[M:.*]] = memref.dim %[[X]], %c0
//       PACKED:   arith.cmpi sle, %[[M]], %c384
//       PACKED:   %[[TAIL0:.*]] = vector.create_mask %c16 : vector<16xi1>
//       PACKED:   %[[PANEL:.*]] = memref.alloc() : memref<128x64xf32>
//       PACKED:   scf.for %[[D:.*]] = %c0 to %c10 step %c1 {
//       PACKED:     memref.prefetch %[[W]][%[[D]], %c64], read, locality<2>, data
//       PACKED:     %[[V:.*]] = vector.load %[[W]][%[[D]], %c0] : memref<10x80xbf16>, vector<16xbf16>
//  PACKED-NEXT:     %[[VF:.*]] = arith.extf %[[V]] : vector<16xbf16> to vector<16xf32>
//  PACKED-NEXT:     vector.store %[[VF]], %[[PANEL]][%[[D]], %c0]
//       PACKED:   scf.for %[[R:.*]] = %c0 to %{{.*}} step %c4 {
// PACKED-COUNT-16:  vector.load %[[Y]]
//       PACKED:     scf.for %[[DD:.*]] = %c0 to %c10 step %c1 iter_args(
// PACKED-COUNT-4:     vector.load %[[PANEL]][%[[DD]], %c{{[0-9]+}}]
//       PACKED:       %[[A:.*]] = memref.load %[[X]][%[[R]], %[[DD]]]
//  PACKED-NEXT:       %[[AB:.*]] = vector.broadcast %[[A]] : f32 to vector<16xf32>
//  PACKED-NEXT:       vector.fma %[[AB]]
//       PACKED:       scf.yield
// PACKED-COUNT-16:  vector.store %{{.*}}, %[[Y]]
// The rows left over (M mod 4) go through the panel as one block, of 1, 2
// or 3 rows of sums.
//       PACKED:   scf.index_switch
//       PACKED:   case 1 {
//       PACKED:     scf.for {{.*}} -> ({{(vector<16xf32>, ){3}vector<16xf32>}}) {
//       PACKED:   case 2 {
//       PACKED:     scf.for {{.*}} -> ({{(vector<16xf32>, ){7}vector<16xf32>}}) {
//       PACKED:   case 3 {
//       PACKED:     scf.for {{.*}} -> ({{(vector<16xf32>, ){11}vector<16xf32>}}) {
//       PACKED:   default {
//       PACKED:   vector.maskedload %[[W]][%{{.*}}, %c64], %[[TAIL0]]
//       PACKED:   vector.maskedload %[[Y]][%{{.*}}, %c64], %[[TAIL0]]
//       PACKED:   vector.maskedstore %[[Y]][%{{.*}}, %c64], %[[TAIL0]]
//       PACKED:   memref.dealloc %[[PANEL]]
//       PACKED: } else {
//       PACKED:   call @cblas_sgemm
func.func @packed(%x: memref<?x10xf32>, %w: memref<10x80xbf16>, %y: memref<?x80xf32>) {
  linalg.matmul ins(%x, %w : memref<?x10xf32>, memref<10x80xbf16>) outs(%y : memref<?x80xf32>)
  return
}

// -----

// A zero-filled output of the packed product: the fill goes, and each block
// of output rows starts from zeros in the first panel of `rhs` rows and from
// its stored sums in the later ones.
// PACKED-LABEL: func @packed_zero_filled
//  PACKED-SAME: %[[Y:[^:]*]]: memref<?x64xf32>)
//   PACKED-NOT:   linalg.fill
//       PACKED:   %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
//   PACKED-NOT:   linalg.fill
//       PACKED:   scf.for %[[D:.*]] = %c0 to %c300 step %c128 {
//       PACKED:     scf.for %[[R:.*]] = %c0 to %{{.*}} step %c4 {
//       PACKED:       %[[FIRST:.*]] = arith.cmpi eq, %[[D]], %c0
//       PACKED:       %[[START:.*]]:16 = scf.if %[[FIRST]]
//  PACKED-NEXT:         scf.yield %[[ZEROS]], %[[ZEROS]],
//  PACKED-NEXT:       } else {
// PACKED-COUNT-16:        vector.load %[[Y]]
//       PACKED:       scf.for {{.*}} iter_args(%{{.*}} = %[[START]]#0,
func.func @packed_zero_filled(%x: memref<?x300xf32>, %w: memref<300x64xf32>, %y: memref<?x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x64xf32>)
  linalg.matmul ins(%x, %w : memref<?x300xf32>, memref<300x64xf32>) outs(%y : memref<?x64xf32>)
  return
}
