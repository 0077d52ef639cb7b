// REQUIRES: cuda-toolkit
// RUN: moe-opt %s --moe-cuda-pipeline="chip=sm_90 format=isa" | FileCheck %s

// The CUDA pipeline takes a whole layer (noisy gating, dynamic token count)
// to host code in the LLVM dialect that launches NVVM kernels, each embedded
// as PTX for the chosen chip. Host buffers come from the runtime's generic
// allocation functions (managed memory), so host loops and kernels share
// them.
// CHECK-LABEL: llvm.func @layer
//       CHECK:   llvm.call @_mlir_memref_to_llvm_alloc
//       CHECK:   gpu.launch_func @[[KERNEL:layer_kernel[_0-9]*]]::@layer_kernel blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}})
//       CHECK:   llvm.call @_mlir_memref_to_llvm_free
//   CHECK-NOT:   llvm.call @malloc
//       CHECK: gpu.binary @layer_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", link = [{{.*}}libdevice.10.bc"]>, {{.*}}assembly = "{{.*}}.target sm_90{{.*}}.entry layer_kernel(
//   CHECK-NOT: moe.
//   CHECK-NOT: linalg.
//   CHECK-NOT: scf.
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
