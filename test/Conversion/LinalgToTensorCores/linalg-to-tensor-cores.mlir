// RUN: moe-opt %s -convert-linalg-to-tensor-cores -cse -split-input-file | FileCheck %s
// RUN: moe-opt %s -convert-linalg-to-tensor-cores -cse -split-input-file | FileCheck %s --check-prefix=LAYOUT

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
//       CHECK:     %[[IN_OUT:.*]] = arith.andi
//       CHECK:     scf.if %[[IN_OUT]] {
//       CHECK:       %[[OLD:.*]] = memref.load %[[H]][%[[OR:.*]], %[[OC:.*]]] : memref<?x96xf32>
//       CHECK:       %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUMS]]#0 : f32
//       CHECK:       memref.store %[[NEW]], %[[H]][%[[OR]], %[[OC]]]
//       CHECK:     gpu.terminator
//   CHECK-NOT:   linalg.matmul
// The lanes' shares of mma.sync.m16n8k16 (PTX's fragment layouts): lane
// 4g + t of warp w holds, of the warp's 32 x 32 part at rows 32 (w / 2) and
// columns 32 (w mod 2) of the block's 64 x 64 output, for each 16 x 8
// product:
// - of the right-hand side (staged transposed, [column][pair of depths]):
//   column g, pairs t and t + 4 (depths 2t, 2t + 1 and 2t + 8, 2t + 9);
// - of the left-hand side ([row][pair]): rows g and g + 8, the same pairs,
//   in the order (g, t), (g + 8, t), (g, t + 4), (g + 8, t + 4);
// - of the output: rows g and g + 8, columns 2t and 2t + 1, in the order
//   (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1).
// The next 16 of depth (pairs t + 8 and t + 12) accumulates into the same
// registers.
// LAYOUT-LABEL: func @expert_slice
//       LAYOUT:   gpu.launch blocks(%[[BX:[^,]*]], %[[BY:[^,]*]], %{{[^)]*}}) in {{.*}} threads(%[[TID:[^,]*]], {{.*}} workgroup(%[[LHS_TILE:[^ ]*]] : {{.*}}, %[[RHS_TILE:[^ ]*]] :
//       LAYOUT:     %[[LANE:.*]] = arith.remui %[[TID]], %c32
//       LAYOUT:     %[[WARP:.*]] = arith.divui %[[TID]], %c32
//       LAYOUT:     %[[GROUP:.*]] = arith.divui %[[LANE]], %c4
//       LAYOUT:     %[[PAIR:.*]] = arith.remui %[[LANE]], %c4
//       LAYOUT:     %[[WARP_Y:.*]] = arith.divui %[[WARP]], %c2
//       LAYOUT:     %[[WARP_ROW:.*]] = arith.muli %[[WARP_Y]], %c32
//       LAYOUT:     %[[WARP_X:.*]] = arith.remui %[[WARP]], %c2
//       LAYOUT:     %[[WARP_COL:.*]] = arith.muli %[[WARP_X]], %c32
//       LAYOUT:     %[[BLOCK_ROW:.*]] = arith.muli %[[BX]], %c64
//       LAYOUT:     %[[BLOCK_COL:.*]] = arith.muli %[[BY]], %c64
//       LAYOUT:       gpu.barrier
//       LAYOUT:       %[[B_COL:.*]] = arith.addi %[[WARP_COL]], %[[GROUP]]
//       LAYOUT:       %[[B0:.*]] = memref.load %[[RHS_TILE]][%[[B_COL]], %[[PAIR]]]
//       LAYOUT:       %[[B0_BITS:.*]] = llvm.bitcast %[[B0]] : vector<2xbf16> to i32
//       LAYOUT:       %[[PAIR_4:.*]] = arith.addi %[[PAIR]], %c4
//       LAYOUT:       %[[B1:.*]] = memref.load %[[RHS_TILE]][%[[B_COL]], %[[PAIR_4]]]
//       LAYOUT:       %[[B1_BITS:.*]] = llvm.bitcast %[[B1]]
//       LAYOUT:       %[[A_ROW:.*]] = arith.addi %[[WARP_ROW]], %[[GROUP]]
//       LAYOUT:       %[[A0:.*]] = memref.load %[[LHS_TILE]][%[[A_ROW]], %[[PAIR]]]
//       LAYOUT:       %[[A0_BITS:.*]] = llvm.bitcast %[[A0]]
//       LAYOUT:       %[[A_ROW_8:.*]] = arith.addi %[[A_ROW]], %c8
//       LAYOUT:       %[[A1:.*]] = memref.load %[[LHS_TILE]][%[[A_ROW_8]], %[[PAIR]]]
//       LAYOUT:       %[[A1_BITS:.*]] = llvm.bitcast %[[A1]]
//       LAYOUT:       %[[A2:.*]] = memref.load %[[LHS_TILE]][%[[A_ROW]], %[[PAIR_4]]]
//       LAYOUT:       %[[A2_BITS:.*]] = llvm.bitcast %[[A2]]
//       LAYOUT:       %[[A3:.*]] = memref.load %[[LHS_TILE]][%[[A_ROW_8]], %[[PAIR_4]]]
//       LAYOUT:       %[[A3_BITS:.*]] = llvm.bitcast %[[A3]]
//       LAYOUT:       %[[D:.*]] = nvvm.mma.sync A[%[[A0_BITS]], %[[A1_BITS]], %[[A2_BITS]], %[[A3_BITS]]]  B[%[[B0_BITS]], %[[B1_BITS]]]
//       LAYOUT:       %[[D0:.*]] = llvm.extractvalue %[[D]][0]
//       LAYOUT:       %[[D1:.*]] = llvm.extractvalue %[[D]][1]
//       LAYOUT:       %[[D2:.*]] = llvm.extractvalue %[[D]][2]
//       LAYOUT:       %[[D3:.*]] = llvm.extractvalue %[[D]][3]
//       LAYOUT:       %[[PAIR_8:.*]] = arith.addi %[[PAIR]], %c8
//       LAYOUT:       memref.load %[[RHS_TILE]][%[[B_COL]], %[[PAIR_8]]]
//       LAYOUT:       nvvm.mma.sync A[{{.*}}]  B[{{.*}}]  C[%[[D0]], %[[D1]], %[[D2]], %[[D3]]]
//       LAYOUT:       gpu.barrier
//       LAYOUT:       scf.yield
//       LAYOUT:     %[[ROW_BASE:.*]] = arith.addi %[[BLOCK_ROW]], %[[WARP_ROW]]
//       LAYOUT:     %[[ROW:.*]] = arith.addi %[[ROW_BASE]], %[[GROUP]]
//       LAYOUT:     %[[COL_BASE:.*]] = arith.addi %[[BLOCK_COL]], %[[WARP_COL]]
//       LAYOUT:     %[[TWICE_PAIR:.*]] = arith.muli %[[PAIR]], %c2
//       LAYOUT:     %[[COL:.*]] = arith.addi %[[COL_BASE]], %[[TWICE_PAIR]]
//       LAYOUT:       memref.store %{{.*}}, %{{.*}}[%[[ROW]], %[[COL]]]
//       LAYOUT:     %[[COL_1:.*]] = arith.addi %[[COL]], %c1
//       LAYOUT:       memref.store %{{.*}}, %{{.*}}[%[[ROW]], %[[COL_1]]]
//       LAYOUT:     %[[ROW_8:.*]] = arith.addi %[[ROW]], %c8
//       LAYOUT:       memref.store %{{.*}}, %{{.*}}[%[[ROW_8]], %[[COL]]]
//       LAYOUT:       memref.store %{{.*}}, %{{.*}}[%[[ROW_8]], %[[COL_1]]]
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
// f32 by f16 (f16 cannot hold every f32 activation), a 16-bit output,
// transposed operands, GEMMs on tensors, and a GEMM already in a kernel.
// CHECK-LABEL: func @not_converted
//   CHECK-NOT:   gpu.launch
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : memref<?x32xf32>, memref<32x64xf32>)
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : memref<?x32xf16>, memref<32x64xbf16>)
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : memref<?x32xf32>, memref<32x64xf16>)
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : memref<?x32xbf16>, memref<32x64xbf16>) outs(%{{.*}} : memref<?x64xbf16>)
//       CHECK:   linalg.matmul indexing_maps
//       CHECK:   linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x32xbf16>, tensor<32x64xbf16>)
//       CHECK:   gpu.launch
//       CHECK:     linalg.matmul ins(%{{.*}}, %{{.*}} : memref<16x32xbf16>, memref<32x64xbf16>)
//   CHECK-NOT:   gpu.launch
#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs_transposed = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>
func.func @not_converted(%xf32: memref<?x32xf32>, %wf32: memref<32x64xf32>,
                         %xf16: memref<?x32xf16>, %xbf16: memref<?x32xbf16>,
                         %wbf16: memref<32x64xbf16>,
                         %wf16: memref<32x64xf16>,
                         %wt: memref<64x32xbf16>, %y: memref<?x64xf32>,
                         %ybf16: memref<?x64xbf16>,
                         %tx: tensor<?x32xbf16>, %tw: tensor<32x64xbf16>,
                         %ty: tensor<?x64xf32>) -> tensor<?x64xf32> {
  linalg.matmul ins(%xf32, %wf32 : memref<?x32xf32>, memref<32x64xf32>)
                outs(%y : memref<?x64xf32>)
  linalg.matmul ins(%xf16, %wbf16 : memref<?x32xf16>, memref<32x64xbf16>)
                outs(%y : memref<?x64xf32>)
  linalg.matmul ins(%xf32, %wf16 : memref<?x32xf32>, memref<32x64xf16>)
                outs(%y : memref<?x64xf32>)
  linalg.matmul ins(%xbf16, %wbf16 : memref<?x32xbf16>, memref<32x64xbf16>)
                outs(%ybf16 : memref<?x64xbf16>)
  linalg.matmul indexing_maps = [#lhs, #rhs_transposed, #out]
                ins(%xbf16, %wt : memref<?x32xbf16>, memref<64x32xbf16>)
                outs(%y : memref<?x64xf32>)
  %r = linalg.matmul ins(%tx, %tw : tensor<?x32xbf16>, tensor<32x64xbf16>)
                     outs(%ty : tensor<?x64xf32>) -> tensor<?x64xf32>
  %c1 = arith.constant 1 : index
  %tile = memref.alloc() : memref<16x32xbf16>
  %tile_out = memref.alloc() : memref<16x64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx_, %ty_, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    linalg.matmul ins(%tile, %wbf16 : memref<16x32xbf16>, memref<32x64xbf16>)
                  outs(%tile_out : memref<16x64xf32>)
    gpu.terminator
  }
  return %r : tensor<?x64xf32>
}
