// RUN: moe-opt %s -convert-moe-collectives-to-mpi -split-input-file | FileCheck %s

// The counts go out first, widened to i64, so that each rank can size its
// output; then the rows, from the input's buffer into the new output. Buffers
// pass as unranked memrefs; the rows' function is the one of their type.

// CHECK-DAG: func.func private @moe_mpi_exchange_counts(i64, memref<*xi64>, memref<*xi64>)
// CHECK-DAG: func.func private @moe_mpi_all_to_all_bf16(i64, memref<*xbf16>, memref<*xi64>, memref<*xbf16>, memref<*xi64>)
// CHECK-LABEL: func.func @rows
// CHECK-SAME: (%[[X:.*]]: tensor<8x4xbf16>, %[[COUNTS:.*]]: tensor<2xi32>)
// CHECK: %[[RANKS:.*]] = arith.constant 2 : i64
// CHECK: %[[SEND:.*]] = memref.alloc() : memref<2xi64>
// CHECK: %[[RECV:.*]] = memref.alloc() : memref<2xi64>
// CHECK: %[[C0:.*]] = tensor.extract %[[COUNTS]][%{{.*}}] : tensor<2xi32>
// CHECK: %[[C0_64:.*]] = arith.extsi %[[C0]] : i32 to i64
// CHECK: memref.store %[[C0_64]], %[[SEND]]
// CHECK: %[[SEND_U:.*]] = memref.cast %[[SEND]] : memref<2xi64> to memref<*xi64>
// CHECK: %[[RECV_U:.*]] = memref.cast %[[RECV]] : memref<2xi64> to memref<*xi64>
// CHECK: call @moe_mpi_exchange_counts(%[[RANKS]], %[[SEND_U]], %[[RECV_U]])
// CHECK: %[[R0:.*]] = memref.load %[[RECV]]
// CHECK: %[[R1:.*]] = memref.load %[[RECV]]
// CHECK: %[[TOTAL:.*]] = arith.addi
// CHECK: %[[RECV_COUNTS:.*]] = tensor.from_elements %{{.*}}, %{{.*}} : tensor<2xi32>
// CHECK: %[[INPUT:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<8x4xbf16> to memref<8x4xbf16>
// CHECK: %[[OUTPUT:.*]] = memref.alloc(%[[TOTAL]]) : memref<?x4xbf16>
// CHECK: %[[INPUT_U:.*]] = memref.cast %[[INPUT]] : memref<8x4xbf16> to memref<*xbf16>
// CHECK: %[[OUTPUT_U:.*]] = memref.cast %[[OUTPUT]] : memref<?x4xbf16> to memref<*xbf16>
// CHECK: call @moe_mpi_all_to_all_bf16(%[[RANKS]], %[[INPUT_U]], %[[SEND_U]], %[[OUTPUT_U]], %[[RECV_U]])
// CHECK: %[[RESULT:.*]] = bufferization.to_tensor %[[OUTPUT]] restrict writable : memref<?x4xbf16> to tensor<?x4xbf16>
// CHECK: return %[[RESULT]], %[[RECV_COUNTS]]
func.func @rows(%x: tensor<8x4xbf16>, %c: tensor<2xi32>) -> (tensor<?x4xbf16>, tensor<2xi32>) {
  %y, %r = moe.all_to_all %x, %c, num_ranks = 2
      : (tensor<8x4xbf16>, tensor<2xi32>) -> (tensor<?x4xbf16>, tensor<2xi32>)
  return %y, %r : tensor<?x4xbf16>, tensor<2xi32>
}

// -----

// Dynamic trailing sizes come from the input; one declaration serves every
// exchange of a type.

// CHECK-COUNT-1: func.func private @moe_mpi_all_to_all_i64
// CHECK-LABEL: func.func @ids
// CHECK: %[[D1:.*]] = tensor.dim %{{.*}}, %{{.*}} : tensor<?x?xi64>
// CHECK: memref.alloc(%{{.*}}, %[[D1]]) : memref<?x?xi64>
// CHECK: call @moe_mpi_all_to_all_i64
// CHECK: call @moe_mpi_all_to_all_i64
func.func @ids(%x: tensor<?x?xi64>, %c: tensor<4xi64>) -> tensor<?x?xi64> {
  %y, %r = moe.all_to_all %x, %c, num_ranks = 4
      : (tensor<?x?xi64>, tensor<4xi64>) -> (tensor<?x?xi64>, tensor<4xi64>)
  %z, %s = moe.all_to_all %y, %r, num_ranks = 4
      : (tensor<?x?xi64>, tensor<4xi64>) -> (tensor<?x?xi64>, tensor<4xi64>)
  return %z : tensor<?x?xi64>
}
