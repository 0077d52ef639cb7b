// RUN: moe-opt %s -convert-moe-runtime-checks | FileCheck %s

// A host check becomes a branch to a call of the runtime with its message;
// checks inside kernels are left to the GPU lowering.
// CHECK: llvm.mlir.global internal constant @moe_check_message_0("sizes differ\00")
// CHECK: llvm.func @moe_runtime_check_failed(!llvm.ptr)
// CHECK-LABEL: func @host
//  CHECK-SAME: (%[[OK:.*]]: i1)
//       CHECK:   cf.cond_br %[[OK]], ^[[CONTINUE:.*]], ^[[FAIL:.*]]
//       CHECK: ^[[FAIL]]:
//       CHECK:   %[[MESSAGE:.*]] = llvm.mlir.addressof @moe_check_message_0
//       CHECK:   %[[TEXT:.*]] = llvm.getelementptr %[[MESSAGE]][0, 0]
//       CHECK:   llvm.call @moe_runtime_check_failed(%[[TEXT]])
//       CHECK:   llvm.unreachable
//       CHECK: ^[[CONTINUE]]:
//       CHECK:   return
func.func @host(%ok: i1) {
  cf.assert %ok, "sizes differ"
  return
}

// CHECK: gpu.module @kernels
// CHECK:   cf.assert
gpu.module @kernels {
  gpu.func @kernel(%ok: i1) kernel {
    cf.assert %ok, "in a kernel"
    gpu.return
  }
}
