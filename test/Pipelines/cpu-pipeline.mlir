// RUN: moe-opt %s --moe-cpu-pipeline | FileCheck %s --implicit-check-not=erfcf
// RUN: moe-opt %s --moe-cpu-pipeline=threads=2 | FileCheck %s --check-prefix=THREADS
// RUN: moe-opt %s --moe-cpu-pipeline=approximate-math=false \
// RUN:   | FileCheck %s --check-prefix=LIBM

// The CPU pipeline takes a whole layer (noisy gating, dynamic token count) to
// the LLVM dialect: nothing of moe, linalg, tensor, memref or scf is left.
// Buffers come from the execution library's allocation functions, and the
// GEMMs are OpenBLAS calls. The load estimator's erfc is a polynomial, not
// a libm call, so that its loop vectorizes.
// CHECK-LABEL: llvm.func @layer
//  CHECK-SAME:   -> !llvm.struct<(struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, struct<(ptr, ptr, i64)>, struct<(ptr, ptr, i64)>)>
//       CHECK:   llvm.call @_mlir_memref_to_llvm_alloc
//       CHECK:   llvm.call @cblas_sgemm
//       CHECK:   llvm.call @_mlir_memref_to_llvm_free
//   CHECK-NOT: moe.
//   CHECK-NOT: linalg.
//   CHECK-NOT: tensor.
//   CHECK-NOT: memref.
//   CHECK-NOT: scf.
//   CHECK-NOT: omp.

// LIBM-LABEL: llvm.func @layer
//       LIBM:   llvm.call @erfcf

// With threads, the token loops and the fused experts run in OpenMP
// parallel loops on that many threads (test/Pipelines/cpu-threads.mlir shows
// their structure).
// THREADS-LABEL: llvm.func @layer
//       THREADS:   %[[THREADS:.*]] = llvm.mlir.constant(2 : i32) : i32
//       THREADS:   omp.parallel num_threads(%[[THREADS]] : i32) {
//       THREADS:     omp.wsloop {
//       THREADS:         llvm.call @cblas_sgemm
//       THREADS:     omp.terminator
func.func @layer(%x: tensor<?x8xf32>, %wg: tensor<8x4xf32>,
                 %wn: tensor<8x4xf32>, %noise: tensor<?x4xf32>,
                 %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> (tensor<?x8xf32>, tensor<f32>, tensor<f32>) {
  %y, %i, %l = moe.layer %x gate(%wg) noise(%wn, %noise) w1(%w1) w2(%w2)
      {num_experts = 4, k = 2}
      : (tensor<?x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<?x4xf32>,
         tensor<4x8x16xf32>, tensor<4x16x8xf32>)
      -> (tensor<?x8xf32>, tensor<f32>, tensor<f32>)
  return %y, %i, %l : tensor<?x8xf32>, tensor<f32>, tensor<f32>
}
