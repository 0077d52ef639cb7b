// RUN: moe-opt %s -convert-moe-to-linalg -split-input-file | FileCheck %s

// Top-k is one scan of each row that keeps the k best (key, column) pairs
// sorted by insertion: NaN ranks lowest, an empty slot (column -1) takes any
// entry, and a later column displaces only strictly smaller keys, so ties keep
// the lower column first. The generic is parallel over rows; the pairs are
// the iter_args of an scf.for over the row, and only an entry that beats the
// last slot goes through the insertion (the scf.if).
// CHECK-LABEL: func @topk
//  CHECK-SAME: (%[[L:.*]]: tensor<?x8xf32>)
//       CHECK:   %[[T:.*]] = tensor.dim %[[L]], %c0
//       CHECK:   %[[S:.*]]:4 = linalg.generic {{.*}}iterator_types = ["parallel"]
//  CHECK-SAME:       outs({{.*}} : tensor<?xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xi32>)
//  CHECK-NEXT:   ^bb0(%{{.*}}: f32, %{{.*}}: f32, %{{.*}}: i32, %{{.*}}: i32):
//       CHECK:     %[[ROW:.*]] = linalg.index 0
//       CHECK:     %[[N:.*]] = tensor.dim %[[L]], %c1
//       CHECK:     %[[SCAN:.*]]:4 = scf.for %[[J:.*]] = %{{.*}} to %[[N]] step %{{.*}} iter_args(%[[K0:.*]] = %{{.*}}, %[[K1:.*]] = %{{.*}}, %[[C0:.*]] = %{{.*}}, %[[C1:.*]] = %{{.*}}) -> (f32, f32, i32, i32)
//       CHECK:       %[[X:.*]] = tensor.extract %[[L]][%[[ROW]], %[[J]]]
//       CHECK:       %[[NAN:.*]] = arith.cmpf uno, %[[X]], %[[X]]
//       CHECK:       %[[KEY:.*]] = arith.select %[[NAN]], %{{.*}}, %[[X]]
//       CHECK:       %[[COL:.*]] = arith.index_cast %[[J]] : index to i32
//       CHECK:       %[[E1:.*]] = arith.cmpi slt, %[[C1]], %{{.*}} : i32
//       CHECK:       %[[G1:.*]] = arith.cmpf ogt, %[[KEY]], %[[K1]]
//       CHECK:       %[[A1:.*]] = arith.ori %[[E1]], %[[G1]]
//       CHECK:       %[[NEW:.*]]:4 = scf.if %[[A1]] -> (f32, f32, i32, i32) {
//       CHECK:         %[[E0:.*]] = arith.cmpi slt, %[[C0]], %{{.*}} : i32
//       CHECK:         %[[G0:.*]] = arith.cmpf ogt, %[[KEY]], %[[K0]]
//       CHECK:         %[[A0:.*]] = arith.ori %[[E0]], %[[G0]]
//       CHECK:         %[[NK0:.*]] = arith.select %[[A0]], %[[KEY]], %[[K0]]
//       CHECK:         %[[K1IN:.*]] = arith.select %[[A1]], %[[KEY]], %[[K1]]
//       CHECK:         %[[NK1:.*]] = arith.select %[[A0]], %[[K0]], %[[K1IN]]
//       CHECK:         %[[NC0:.*]] = arith.select %[[A0]], %[[COL]], %[[C0]]
//       CHECK:         %[[C1IN:.*]] = arith.select %[[A1]], %[[COL]], %[[C1]]
//       CHECK:         %[[NC1:.*]] = arith.select %[[A0]], %[[C0]], %[[C1IN]]
//       CHECK:         scf.yield %[[NK0]], %[[NK1]], %[[NC0]], %[[NC1]]
//       CHECK:       } else {
//       CHECK:         scf.yield %[[K0]], %[[K1]], %[[C0]], %[[C1]]
//       CHECK:       scf.yield %[[NEW]]#0, %[[NEW]]#1, %[[NEW]]#2, %[[NEW]]#3
//       CHECK:     linalg.yield %[[SCAN]]#0, %[[SCAN]]#1, %[[SCAN]]#2, %[[SCAN]]#3
//       CHECK:   %[[V:.*]] = tensor.insert_slice %[[S]]#0 into %{{.*}}[0, 0] [%{{.*}}, 1] [1, 1] : tensor<?xf32> into tensor<?x2xf32>
//       CHECK:   %[[I:.*]] = tensor.insert_slice %[[S]]#2 into %{{.*}}[0, 0] [%{{.*}}, 1] [1, 1] : tensor<?xi32> into tensor<?x2xi32>
//       CHECK:   %[[V1:.*]] = tensor.insert_slice %[[S]]#1 into %[[V]][0, 1] [%{{.*}}, 1] [1, 1]
//       CHECK:   %[[I1:.*]] = tensor.insert_slice %[[S]]#3 into %[[I]][0, 1] [%{{.*}}, 1] [1, 1]
//       CHECK:   return %[[V1]], %[[I1]]
func.func @topk(%l: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %v, %i = moe.topk %l, k = 2 : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return %v, %i : tensor<?x2xf32>, tensor<?x2xi32>
}

// -----

// bf16 logits are compared in f32; the picked values are rounded back
// exactly.
// Above 16 kept entries, top-k is k selection passes over each row instead:
// pass j takes the largest entry ranking below pass j-1's pick.
// CHECK-LABEL: func @topk_many
//  CHECK-SAME: (%[[L:.*]]: tensor<?x32xf32>)
//       CHECK:   %[[R:.*]]:2 = scf.for %[[J:.*]] = %{{.*}} to %c17 step %{{.*}} iter_args(%[[V:.*]] = %{{.*}}, %[[I:.*]] = %{{.*}})
//       CHECK:     %[[FIRST:.*]] = arith.cmpi eq, %[[J]], %c0
//       CHECK:     %[[PV:.*]] = tensor.extract_slice %[[V]][0, %{{.*}}] [%{{.*}}, 1] [1, 1] : tensor<?x17xf32> to tensor<?xf32>
//       CHECK:     %[[PI:.*]] = tensor.extract_slice %[[I]][0, %{{.*}}] [%{{.*}}, 1] [1, 1] : tensor<?x17xi64> to tensor<?xi64>
//       CHECK:     %[[BEST:.*]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
//  CHECK-SAME:         ins(%[[L]], %[[PV]], %[[PI]] : tensor<?x32xf32>, tensor<?xf32>, tensor<?xi64>)
//       CHECK:       arith.cmpf uno
//       CHECK:       arith.select %[[FIRST]], %cst{{.*}} : f32
//       CHECK:       arith.cmpf olt
//       CHECK:       arith.cmpi sgt
//       CHECK:       arith.cmpf ogt
//       CHECK:       arith.cmpi slt
//       CHECK:       linalg.yield
//       CHECK:     %[[NV:.*]] = tensor.insert_slice %[[BEST]]#0 into %[[V]][0, %[[J]]]
//       CHECK:     %[[NI:.*]] = tensor.insert_slice %[[BEST]]#1 into %[[I]][0, %[[J]]]
//       CHECK:     scf.yield %[[NV]], %[[NI]]
//       CHECK:   return %[[R]]#0, %[[R]]#1
func.func @topk_many(%l: tensor<?x32xf32>) -> (tensor<?x17xf32>, tensor<?x17xi64>) {
  %v, %i = moe.topk %l, k = 17 : (tensor<?x32xf32>) -> (tensor<?x17xf32>, tensor<?x17xi64>)
  return %v, %i : tensor<?x17xf32>, tensor<?x17xi64>
}

// -----

// CHECK-LABEL: func @topk_bf16
//       CHECK:   linalg.generic
//       CHECK:     arith.extf %{{.*}} : bf16 to f32
//       CHECK:   linalg.generic
//       CHECK:     arith.truncf %{{.*}} : f32 to bf16
func.func @topk_bf16(%l: tensor<4x8xbf16>) -> (tensor<4x2xbf16>, tensor<4x2xi64>) {
  %v, %i = moe.topk %l, k = 2 : (tensor<4x8xbf16>) -> (tensor<4x2xbf16>, tensor<4x2xi64>)
  return %v, %i : tensor<4x2xbf16>, tensor<4x2xi64>
}

// -----

// One parallel generic over (token, primary choice, secondary choice) reads
// the secondary routing of the group each primary choice picked.
// CHECK-LABEL: func @compose_routing
//  CHECK-SAME: (%[[PG:.*]]: tensor<?x2xf32>, %[[PI:.*]]: tensor<?x2xi64>, %[[SG:.*]]: tensor<?x4x3xf32>, %[[SI:.*]]: tensor<?x4x3xi64>)
//       CHECK:   %[[B:.*]] = arith.constant 5 : i64
//       CHECK:   %[[R:.*]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
//  CHECK-SAME:       ins(%[[PG]], %[[PI]] : tensor<?x2xf32>, tensor<?x2xi64>)
//  CHECK-NEXT:   ^bb0(%[[G:.*]]: f32, %[[GROUP:.*]]: i64,
//       CHECK:     %[[GI:.*]] = arith.index_cast %[[GROUP]] : i64 to index
//       CHECK:     %[[T:.*]] = linalg.index 0
//       CHECK:     %[[J:.*]] = linalg.index 2
//       CHECK:     %[[SGV:.*]] = tensor.extract %[[SG]][%[[T]], %[[GI]], %[[J]]]
//       CHECK:     %[[SIV:.*]] = tensor.extract %[[SI]][%[[T]], %[[GI]], %[[J]]]
//       CHECK:     %[[GATE:.*]] = arith.mulf %[[G]], %[[SGV]]
//       CHECK:     %[[BASE:.*]] = arith.muli %[[GROUP]], %[[B]]
//       CHECK:     %[[IDX:.*]] = arith.addi %[[BASE]], %[[SIV]]
//       CHECK:     linalg.yield %[[GATE]], %[[IDX]]
//       CHECK:   tensor.collapse_shape %[[R]]#0 {{\[}}[0], [1, 2]] : tensor<?x2x3xf32> into tensor<?x6xf32>
//       CHECK:   tensor.collapse_shape %[[R]]#1 {{\[}}[0], [1, 2]] : tensor<?x2x3xi64> into tensor<?x6xi64>
func.func @compose_routing(%pg: tensor<?x2xf32>, %pi: tensor<?x2xi64>, %sg: tensor<?x4x3xf32>, %si: tensor<?x4x3xi64>) -> (tensor<?x6xf32>, tensor<?x6xi64>) {
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 5 : (tensor<?x2xf32>, tensor<?x2xi64>, tensor<?x4x3xf32>, tensor<?x4x3xi64>) -> (tensor<?x6xf32>, tensor<?x6xi64>)
  return %g, %i : tensor<?x6xf32>, tensor<?x6xi64>
}
