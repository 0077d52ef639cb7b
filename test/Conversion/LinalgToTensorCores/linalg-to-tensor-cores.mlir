// RUN: moe-opt %s -convert-linalg-to-tensor-cores -cse -split-input-file | FileCheck %s

// One expert's rows (a strided slice) times its bf16 weights: a grid of
// 64 x 64 output tiles, rows on x, of 128 threads with the two operands'
// 32-deep slices in shared memory, as pairs along the depth (rows padded to
// 20 pairs). Each thread stages 8 pairs of each slice, zero past the sizes;
// the right-hand slice is stored transposed. After a barrier, each warp
// multiplies its 32 x 32 part: per 16 of depth, 2 x 4 m16n8k16 products on
// pairs of bf16 (i32 registers), into 32 f32 sums carried through the depth
// loop. A second barrier keeps the next slice from overwriting this one.
// The sums are added to the output in range.
// CHECK-LABEL: func @expert_slice
//  CHECK-SAME: (%[[X:.*]]: memref<?x?xbf16, strided<[?, 1], offset: ?>>, %[[W:.*]]: memref<?x96xbf16>, %[[H:.*]]: memref<?x96xf32>)
//       CHECK:   %[[M:.*]] = memref.dim %[[X]], %c0
//       CHECK:   %[[K:.*]] = memref.dim %[[X]], %c1
//       CHECK:   %[[N:.*]] = memref.dim %[[W]], %c1
//       CHECK:   %[[ROW_TILES:.*]] = arith.ceildivui %[[M]], %c64
//       CHECK:   %[[COL_TILES:.*]] = arith.ceildivui %[[N]], %c64
//       CHECK:   gpu.launch blocks({{[^)]*}}) in (%{{[^ ]*}} = %[[ROW_TILES]], %{{[^ ]*}} = %[[COL_TILES]], %{{[^ ]*}} = %c1)
//  CHECK-SAME:     threads({{[^)]*}}) in (%{{[^ ]*}} = %c128, %{{[^ ]*}} = %c1, %{{[^ ]*}} = %c1)
//  CHECK-SAME:     workgroup(%[[LHS_TILE:[^ ]*]] : memref<64x20xvector<2xbf16>, #gpu.address_space<workgroup>>, %[[RHS_TILE:[^ ]*]] : memref<64x20xvector<2xbf16>, #gpu.address_space<workgroup>>)
//       CHECK:     %[[SUMS:.*]]:32 = scf.for %[[K0:.*]] = %c0 to %[[K]] step %c32 iter_args(
//       CHECK:       scf.for %{{.*}} = %c0 to %c8{{.*}} step %c1 {
//       CHECK:         %[[ROW_IN:.*]] = arith.cmpi ult, %{{.*}}, %[[M]]
//       CHECK:         %[[DEPTH_IN:.*]] = arith.cmpi ult, %{{.*}}, %[[K]]
//       CHECK:         %[[IN:.*]] = arith.andi %[[ROW_IN]], %[[DEPTH_IN]]
//       CHECK:         %[[A0:.*]] = scf.if %[[IN]] -> (bf16) {
//       CHECK:           memref.load %[[X]]
//       CHECK:         } else {
//       CHECK:           arith.constant 0.000000e+00 : bf16
//       CHECK:         %[[A1:.*]] = scf.if %{{.*}} -> (bf16) {
//       CHECK:         %[[A:.*]] = vector.from_elements %[[A0]], %[[A1]] : vector<2xbf16>
//       CHECK:         memref.store %[[A]], %[[LHS_TILE]][%{{.*}}, %{{.*}}] :
//       CHECK:       scf.for %{{.*}} = %c0 to %c8{{.*}} step %c1 {
//       CHECK:         %[[BPOS:.*]] = arith.divui %{{.*}}, %c64
//       CHECK:         %[[BCOL:.*]] = arith.remui %{{.*}}, %c64
//       CHECK:         memref.load %[[W]]
//       CHECK:         memref.load %[[W]]
//       CHECK:         memref.store %{{.*}}, %[[RHS_TILE]][%[[BCOL]], %[[BPOS]]] :
//       CHECK:       gpu.barrier
//       CHECK:       %[[PAIR:.*]] = memref.load %[[RHS_TILE]][%{{.*}}, %{{.*}}] : memref<64x20xvector<2xbf16>, #gpu.address_space<workgroup>>
//       CHECK:       llvm.bitcast %[[PAIR]] : vector<2xbf16> to i32
// CHECK-COUNT-8:     nvvm.mma.sync A[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}]  B[%{{.*}}, %{{.*}}]  C[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}]  {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK-COUNT-8:     nvvm.mma.sync
//   CHECK-NOT:       nvvm.mma.sync
//       CHECK:       gpu.barrier
//       CHECK:       scf.yield
//       CHECK:     %[[ROW_BASE:.*]] = arith.addi %{{.*}}, %{{.*}} : index
//       CHECK:     %[[IN_OUT:.*]] = arith.andi
//       CHECK:     scf.if %[[IN_OUT]] {
//       CHECK:       %[[OLD:.*]] = memref.load %[[H]][%[[OR:.*]], %[[OC:.*]]] : memref<?x96xf32>
//       CHECK:       %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUMS]]#0 : f32
//       CHECK:       memref.store %[[NEW]], %[[H]][%[[OR]], %[[OC]]]
//       CHECK:     gpu.terminator
//   CHECK-NOT:   linalg.matmul
func.func @expert_slice(%x: memref<?x?xbf16, strided<[?, 1], offset: ?>>,
                        %w: memref<?x96xbf16>, %h: memref<?x96xf32>) {
  linalg.matmul ins(%x, %w : memref<?x?xbf16, strided<[?, 1], offset: ?>>,
                             memref<?x96xbf16>)
                outs(%h : memref<?x96xf32>)
  return
}

// -----

// An f32 left-hand side (the hidden activation of bf16 experts) is staged as
// its rounding and the rounded rest (zero where the rounding is infinite,
// which inf - inf would make NaN), each multiplied by the same weights:
// twice the products.
// CHECK-LABEL: func @f32_activation
//       CHECK:   gpu.launch
//  CHECK-SAME:     workgroup(%[[HI:[^ ]*]] : memref<64x20xvector<2xbf16>, #gpu.address_space<workgroup>>, %{{[^ ]*}} : memref<64x20xvector<2xbf16>, #gpu.address_space<workgroup>>, %[[LO:[^ ]*]] : memref<64x20xvector<2xbf16>, #gpu.address_space<workgroup>>)
//       CHECK:         %[[A:.*]] = scf.if %{{.*}} -> (f32) {
//       CHECK:         %[[ROUNDED:.*]] = arith.truncf %[[A]] : f32 to bf16
//       CHECK:         %[[WIDE:.*]] = arith.extf %[[ROUNDED]] : bf16 to f32
//       CHECK:         %[[ABS:.*]] = math.absf %[[WIDE]] : f32
//       CHECK:         %[[FINITE:.*]] = arith.cmpf olt, %[[ABS]], %[[INF:.*]] : f32
//       CHECK:         %[[REST:.*]] = arith.subf %[[A]], %[[WIDE]] : f32
//       CHECK:         %[[REST_OR_ZERO:.*]] = arith.select %[[FINITE]], %[[REST]], %{{.*}} : f32
//       CHECK:         %[[REST16:.*]] = arith.truncf %[[REST_OR_ZERO]] : f32 to bf16
//       CHECK:         %[[B:.*]] = scf.if %{{.*}} -> (f32) {
//       CHECK:         %[[ROUNDED_B:.*]] = arith.truncf %[[B]] : f32 to bf16
//       CHECK:         %[[REST16_B:.*]] = arith.truncf %{{.*}} : f32 to bf16
//       CHECK:         %[[HI_PAIR:.*]] = vector.from_elements %[[ROUNDED]], %[[ROUNDED_B]]
//       CHECK:         memref.store %[[HI_PAIR]], %[[HI]]
//       CHECK:         %[[LO_PAIR:.*]] = vector.from_elements %[[REST16]], %[[REST16_B]]
//       CHECK:         memref.store %[[LO_PAIR]], %[[LO]]
// CHECK-COUNT-32:    nvvm.mma.sync
//   CHECK-NOT:       nvvm.mma.sync
//       CHECK:     gpu.terminator
func.func @f32_activation(%hidden: memref<?x64xf32>, %w2: memref<64x32xbf16>,
                          %y: memref<?x32xf32>) {
  linalg.matmul ins(%hidden, %w2 : memref<?x64xf32>, memref<64x32xbf16>)
                outs(%y : memref<?x32xf32>)
  return
}

// -----

// A batch of experts (capacity dispatch): one grid z index per expert, which
// indexes every operand. f16 pairs go to mma.sync as vectors of two.
// CHECK-LABEL: func @batched_f16
//  CHECK-SAME: (%[[X:.*]]: memref<8x?x32xf16>, %[[W:.*]]: memref<8x32x64xf16>, %[[H:.*]]: memref<8x?x64xf32>)
//       CHECK:   %[[M:.*]] = memref.dim %[[X]], %c1
//       CHECK:   %[[BATCH:.*]] = memref.dim %[[X]], %c0
//       CHECK:   gpu.launch blocks(%{{[^,]*}}, %{{[^,]*}}, %[[BZ:[^)]*]]) in (%{{[^,]*}}, %{{[^,]*}}, %{{[^ ]*}} = %[[BATCH]])
//       CHECK:           memref.load %[[X]][%[[BZ]], %{{.*}}, %{{.*}}] : memref<8x?x32xf16>
//       CHECK:           memref.load %[[W]][%[[BZ]], %{{.*}}, %{{.*}}] : memref<8x32x64xf16>
//       CHECK:       nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
//       CHECK:       memref.load %[[H]][%[[BZ]], %{{.*}}, %{{.*}}] : memref<8x?x64xf32>
func.func @batched_f16(%x: memref<8x?x32xf16>, %w: memref<8x32x64xf16>,
                       %h: memref<8x?x64xf32>) {
  linalg.batch_matmul ins(%x, %w : memref<8x?x32xf16>, memref<8x32x64xf16>)
                      outs(%h : memref<8x?x64xf32>)
  return
}

// -----

// Left alone: f32 GEMMs (tensor cores would round them), mixed 16-bit types,
// a 16-bit output, transposed operands, and GEMMs on tensors.
// CHECK-LABEL: func @not_converted
//   CHECK-NOT:   gpu.launch
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : memref<?x32xf32>, memref<32x64xf32>)
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : memref<?x32xf16>, memref<32x64xbf16>)
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : memref<?x32xbf16>, memref<32x64xbf16>) outs(%{{.*}} : memref<?x64xbf16>)
//       CHECK:   linalg.matmul indexing_maps
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x32xbf16>, tensor<32x64xbf16>)
#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs_transposed = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>
func.func @not_converted(%xf32: memref<?x32xf32>, %wf32: memref<32x64xf32>,
                         %xf16: memref<?x32xf16>, %xbf16: memref<?x32xbf16>,
                         %wbf16: memref<32x64xbf16>,
                         %wt: memref<64x32xbf16>, %y: memref<?x64xf32>,
                         %ybf16: memref<?x64xbf16>,
                         %tx: tensor<?x32xbf16>, %tw: tensor<32x64xbf16>,
                         %ty: tensor<?x64xf32>) -> tensor<?x64xf32> {
  linalg.matmul ins(%xf32, %wf32 : memref<?x32xf32>, memref<32x64xf32>)
                outs(%y : memref<?x64xf32>)
  linalg.matmul ins(%xf16, %wbf16 : memref<?x32xf16>, memref<32x64xbf16>)
                outs(%y : memref<?x64xf32>)
  linalg.matmul ins(%xbf16, %wbf16 : memref<?x32xbf16>, memref<32x64xbf16>)
                outs(%ybf16 : memref<?x64xbf16>)
  linalg.matmul indexing_maps = [#lhs, #rhs_transposed, #out]
                ins(%xbf16, %wt : memref<?x32xbf16>, memref<64x32xbf16>)
                outs(%y : memref<?x64xf32>)
  %r = linalg.matmul ins(%tx, %tw : tensor<?x32xbf16>, tensor<32x64xbf16>)
                     outs(%ty : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}
