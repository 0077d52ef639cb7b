// RUN: moe-opt %s -moe-scope-launch-stack | FileCheck %s

// Each synchronous launch gets an alloca scope, the one in the expert loop
// included: the stack its lowering takes for the kernel's arguments is given
// back after each launch. A launch already in a scope, and an asynchronous
// one (its token is used after it), are left alone.
// CHECK-LABEL: func @experts
//       CHECK:   scf.for
//  CHECK-NEXT:     memref.alloca_scope {
//  CHECK-NEXT:       gpu.launch_func @kernels::@expert
//  CHECK-NEXT:     }
//       CHECK:   memref.alloca_scope {
//  CHECK-NEXT:     gpu.launch_func @kernels::@expert
//  CHECK-NEXT:   }
//   CHECK-NOT:   memref.alloca_scope
//       CHECK:   %[[TOKEN:.*]] = gpu.launch_func async @kernels::@expert
//       CHECK:   gpu.wait [%[[TOKEN]]]
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @expert(%x: memref<?xf32>) kernel {
      gpu.return
    }
  }
  func.func @experts(%x: memref<?xf32>, %n: index) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    scf.for %e = %c0 to %n step %c1 {
      gpu.launch_func @kernels::@expert blocks in (%c1, %c1, %c1)
          threads in (%c1, %c1, %c1) args(%x : memref<?xf32>)
    }
    memref.alloca_scope {
      gpu.launch_func @kernels::@expert blocks in (%c1, %c1, %c1)
          threads in (%c1, %c1, %c1) args(%x : memref<?xf32>)
    }
    %token = gpu.launch_func async @kernels::@expert blocks in (%c1, %c1, %c1)
        threads in (%c1, %c1, %c1) args(%x : memref<?xf32>)
    gpu.wait [%token]
    return
  }
}
