// RUN: moe-opt %s --moe-cpu-pipeline=threads=3 | FileCheck %s

// The fused experts on three threads: one OpenMP loop of three iterations
// (the workers), each running the experts' GEMMs on its own tiles; then the
// sum of the workers' outputs, split into row blocks over the threads.
// CHECK-LABEL: llvm.func @experts
//   CHECK-DAG:   %[[THREADS:.*]] = llvm.mlir.constant(3 : i32) : i32
//   CHECK-DAG:   %[[WORKERS:.*]] = llvm.mlir.constant(3 : index) : i64
//       CHECK:   omp.parallel num_threads(%[[THREADS]] : i32) {
//       CHECK:     omp.wsloop {
//       CHECK:       omp.loop_nest (%{{.*}}) : i64 = (%{{.*}}) to (%[[WORKERS]]) step (%{{.*}}) {
//   CHECK-NOT:     omp.terminator
//       CHECK:         llvm.call @cblas_sgemm
//   CHECK-NOT:     omp.terminator
//       CHECK:         llvm.call @cblas_sgemm
//       CHECK:         omp.yield
//       CHECK:     omp.terminator
//       CHECK:   omp.parallel num_threads(%[[THREADS]] : i32) {
//       CHECK:     omp.wsloop {
//   CHECK-NOT:     llvm.call @cblas_sgemm
//       CHECK:         llvm.fadd
//       CHECK:     omp.terminator
func.func @experts(%x: tensor<?x16xf32>, %gates: tensor<?x2xf32>,
                   %idx: tensor<?x2xi64>, %w1: tensor<4x16x32xf32>,
                   %w2: tensor<4x32x8xf32>) -> tensor<?x8xf32> {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) w2(%w2)
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x16x32xf32>,
         tensor<4x32x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
