// RUN: moe-opt %s -convert-strided-copies-to-linalg | FileCheck %s
// RUN: moe-opt %s -convert-strided-copies-to-linalg -convert-linalg-to-loops \
// RUN:   -expand-strided-metadata -lower-affine -finalize-memref-to-llvm \
// RUN:   -convert-scf-to-cf -convert-func-to-llvm -convert-arith-to-llvm \
// RUN:   -convert-cf-to-llvm -reconcile-unrealized-casts \
// RUN:   | FileCheck %s --check-prefix=LLVM

// Only the unranked copy still calls MLIR's runner-utility copy.
// LLVM-LABEL: llvm.func @into_column
//   LLVM-NOT:   memrefCopy
// LLVM-LABEL: llvm.func @from_rows
//   LLVM-NOT:   memrefCopy
// LLVM-LABEL: llvm.func @contiguous
//   LLVM-NOT:   memrefCopy
// LLVM-LABEL: llvm.func @unranked
//       LLVM:   llvm.call @memrefCopy

// A column of a matrix (what bufferization makes of a tensor.insert_slice
// into one): a strided target.
// CHECK-LABEL: func @into_column
//  CHECK-SAME: (%[[COLUMN:.*]]: memref<?xf32>, %[[MATRIX:.*]]: memref<?x4xf32>)
//       CHECK:   %[[SLICE:.*]] = memref.subview %[[MATRIX]]
//       CHECK:   linalg.copy ins(%[[COLUMN]] : memref<?xf32>) outs(%[[SLICE]] : memref<?xf32, strided<[4], offset: 1>>)
//   CHECK-NOT:   memref.copy
func.func @into_column(%column: memref<?xf32>, %matrix: memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %rows = memref.dim %matrix, %c0 : memref<?x4xf32>
  %slice = memref.subview %matrix[0, 1] [%rows, 1] [1, 1]
      : memref<?x4xf32> to memref<?xf32, strided<[4], offset: 1>>
  memref.copy %column, %slice
      : memref<?xf32> to memref<?xf32, strided<[4], offset: 1>>
  return
}

// A strided source: rows 0 to 3 of a matrix with a dynamic row stride.
// CHECK-LABEL: func @from_rows
//       CHECK:   linalg.copy ins(%{{.*}} : memref<4x8xf32, strided<[?, 1]>>) outs(%{{.*}} : memref<4x8xf32>)
func.func @from_rows(%rows: memref<4x8xf32, strided<[?, 1]>>,
                     %out: memref<4x8xf32>) {
  memref.copy %rows, %out : memref<4x8xf32, strided<[?, 1]>> to memref<4x8xf32>
  return
}

// What `finalize-memref-to-llvm` copies with one memcpy stays a memref.copy:
// identity layouts, and a static contiguous slice at an offset.
// CHECK-LABEL: func @contiguous
//       CHECK:   memref.copy %{{.*}}, %{{.*}} : memref<?x4xf32> to memref<?x4xf32>
//       CHECK:   memref.copy %{{.*}}, %{{.*}} : memref<2x4xf32, strided<[4, 1], offset: 8>> to memref<2x4xf32>
//   CHECK-NOT:   linalg.copy
func.func @contiguous(%a: memref<?x4xf32>, %b: memref<?x4xf32>,
                      %c: memref<4x4xf32>, %d: memref<2x4xf32>) {
  memref.copy %a, %b : memref<?x4xf32> to memref<?x4xf32>
  %rows = memref.subview %c[2, 0] [2, 4] [1, 1]
      : memref<4x4xf32> to memref<2x4xf32, strided<[4, 1], offset: 8>>
  memref.copy %rows, %d
      : memref<2x4xf32, strided<[4, 1], offset: 8>> to memref<2x4xf32>
  return
}

// Unranked buffers are left to the runtime copy.
// CHECK-LABEL: func @unranked
//       CHECK:   memref.copy %{{.*}}, %{{.*}} : memref<*xf32> to memref<*xf32>
func.func @unranked(%a: memref<*xf32>, %b: memref<*xf32>) {
  memref.copy %a, %b : memref<*xf32> to memref<*xf32>
  return
}
