// RUN: moe-opt %s -convert-moe-to-linalg -split-input-file | FileCheck %s

// Dropless dispatch: a histogram over (token, choice, expert), an exclusive
// prefix sum into offsets, one scan over the choices in token order giving
// each the next free row of its expert and recording the choice each row
// holds, then a parallel gather of the rows from the choices' tokens.
// The token counts the verifier could not compare, and the expert indices
// that address memory, are checked at run time first.
// CHECK-LABEL: func @dispatch
//  CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[IDX:.*]]: tensor<?x2xi64>)
//       CHECK:   cf.assert %{{.*}}, "moe.dispatch: 'indices' and 'input' differ in the number of tokens"
//       CHECK:   %[[BAD:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]{{.*}} ins(%[[IDX]] : tensor<?x2xi64>) outs(%{{.*}} : tensor<i64>)
//       CHECK:     arith.cmpi slt
//       CHECK:     arith.cmpi sge
//       CHECK:   %[[NBAD:.*]] = tensor.extract %[[BAD]][]
//       CHECK:   %[[OK:.*]] = arith.cmpi eq, %[[NBAD]]
//       CHECK:   cf.assert %[[OK]], "moe.dispatch: an expert index is outside [0, num_experts)"
//       CHECK:   %[[COUNTS:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel"]{{.*}} ins(%[[IDX]] : tensor<?x2xi64>)
//       CHECK:     arith.cmpi eq
//       CHECK:   %[[START:.*]] = tensor.insert %{{.*}} into %{{.*}}[%c0{{[_0-9]*}}] : tensor<5xi64>
//       CHECK:   %[[OFFSETS:.*]]:2 = scf.for %[[E:.*]] = %c0{{[_0-9]*}} to %c4{{[_0-9]*}} {{.*}} iter_args(%[[O:.*]] = %[[START]], %[[TOTAL:.*]] = %{{.*}})
//       CHECK:     %[[C:.*]] = tensor.extract %[[COUNTS]][%[[E]]]
//       CHECK:     %[[END:.*]] = arith.addi %[[TOTAL]], %[[C]]
//       CHECK:     tensor.insert %[[END]] into %[[O]]
//       CHECK:   %[[T:.*]] = tensor.dim %[[IDX]], %c0
//       CHECK:   %[[R:.*]] = arith.muli %[[T]], %c2
//       CHECK:   %[[NEXT:.*]] = tensor.extract_slice %[[OFFSETS]]#0[0] [4] [1]
//       CHECK:   %[[ASSIGN:.*]]:3 = scf.for %{{.*}} = %c0{{[_0-9]*}} to %[[R]] {{.*}} iter_args(%[[FREE:.*]] = %[[NEXT]], %[[ROWS:.*]] = %{{.*}}, %[[SRC:.*]] = %{{.*}})
//       CHECK:     %[[EXPERT:.*]] = tensor.extract %[[IDX]]
//       CHECK:     %[[EI:.*]] = arith.index_cast %[[EXPERT]]
//       CHECK:     %[[ROW:.*]] = tensor.extract %[[FREE]][%[[EI]]]
//       CHECK:     tensor.insert %{{.*}} into %[[FREE]][%[[EI]]]
//       CHECK:     tensor.insert %[[ROW]] into %[[ROWS]]
//       CHECK:     tensor.insert %{{.*}} into %[[SRC]]
//       CHECK:   %[[TOKENS:.*]] = linalg.generic {{.*}} ins(%[[ASSIGN]]#2 : tensor<?xi64>) outs(%{{.*}} : tensor<?x16xf32>)
//       CHECK:     arith.divui
//       CHECK:     tensor.extract %[[X]]
//       CHECK:   return %[[TOKENS]], %[[OFFSETS]]#0, %[[ASSIGN]]#1
func.func @dispatch(%x: tensor<?x16xf32>, %idx: tensor<?x2xi64>) -> (tensor<?x16xf32>, tensor<5xi64>, tensor<?x2xi64>) {
  %t, %o, %r = moe.dispatch %x, %idx, num_experts = 4 : (tensor<?x16xf32>, tensor<?x2xi64>) -> (tensor<?x16xf32>, tensor<5xi64>, tensor<?x2xi64>)
  return %t, %o, %r : tensor<?x16xf32>, tensor<5xi64>, tensor<?x2xi64>
}

// -----

// Capacity dispatch scans the choices in priority order (all first choices,
// then all second ones) and keeps a choice while its expert has a free slot;
// unused slots gather zeros.
// CHECK-LABEL: func @capacity_dispatch
//  CHECK-SAME: (%[[X:.*]]: tensor<6x16xf32>, %[[IDX:.*]]: tensor<6x2xi32>)
//   CHECK-NOT:   differ in the number of tokens
//       CHECK:   cf.assert %{{.*}}, "moe.capacity_dispatch: an expert index is outside [0, num_experts)"
//       CHECK:   %[[CAP:.*]] = arith.index_cast %c3 : index to i32
//       CHECK:   %[[SRC0:.*]] = linalg.fill ins(%c-1_i32 : i32) outs(%{{.*}} : tensor<12xi32>)
//       CHECK:   %[[ASSIGN:.*]]:3 = scf.for %[[CH:.*]] = %c0 to %{{.*}} {{.*}} iter_args(%[[USED:.*]] = %{{.*}}, %[[ROWS:.*]] = %{{.*}}, %[[SRC:.*]] = %[[SRC0]])
//       CHECK:     %[[J:.*]] = arith.divui %[[CH]], %c6
//       CHECK:     %[[T:.*]] = arith.remui %[[CH]], %c6
//       CHECK:     %[[E:.*]] = tensor.extract %[[IDX]][%[[T]], %[[J]]]
//       CHECK:     %[[U:.*]] = tensor.extract %[[USED]]
//       CHECK:     %[[KEPT:.*]] = arith.cmpi slt, %[[U]], %[[CAP]]
//       CHECK:     %[[BASE:.*]] = arith.muli %[[E]], %[[CAP]]
//       CHECK:     %[[SLOT:.*]] = arith.addi %[[BASE]], %[[U]]
//       CHECK:     %[[ROW:.*]] = arith.select %[[KEPT]], %[[SLOT]], %c-1_i32
//       CHECK:     tensor.insert %[[ROW]] into %[[ROWS]][%[[T]], %[[J]]]
//       CHECK:     scf.if %[[KEPT]] -> (tensor<12xi32>)
//       CHECK:   %[[SLOTS:.*]] = tensor.expand_shape %[[ASSIGN]]#2 {{\[}}[0, 1]] output_shape [4, 3]
//       CHECK:   %[[TOKENS:.*]] = linalg.generic {{.*}} ins(%[[SLOTS]] : tensor<4x3xi32>) outs(%{{.*}} : tensor<4x3x16xf32>)
//       CHECK:     arith.cmpi sge
//       CHECK:     arith.maxsi
//       CHECK:     tensor.extract %[[X]]
//       CHECK:     arith.select
//       CHECK:   return %[[TOKENS]], %[[ASSIGN]]#1
func.func @capacity_dispatch(%x: tensor<6x16xf32>, %idx: tensor<6x2xi32>) -> (tensor<4x3x16xf32>, tensor<6x2xi32>) {
  %t, %r = moe.capacity_dispatch %x, %idx, num_experts = 4, capacity_factor = 1.0 : (tensor<6x16xf32>, tensor<6x2xi32>) -> (tensor<4x3x16xf32>, tensor<6x2xi32>)
  return %t, %r : tensor<4x3x16xf32>, tensor<6x2xi32>
}

// -----

// With a dynamic token count the capacity is computed at run time with the
// same double arithmetic as the static rule.
// CHECK-LABEL: func @capacity_dispatch_dynamic
//       CHECK:   %[[T:.*]] = tensor.dim
//       CHECK:   %[[KT:.*]] = arith.muli %c2, %[[T]]
//       CHECK:   %[[KT64:.*]] = arith.index_cast %[[KT]] : index to i64
//       CHECK:   %[[F:.*]] = arith.sitofp %[[KT64]] : i64 to f64
//       CHECK:   %[[S:.*]] = arith.mulf %[[F]], %{{.*}} : f64
//       CHECK:   %[[D:.*]] = arith.divf %[[S]], %{{.*}} : f64
//       CHECK:   %[[CEIL:.*]] = math.ceil %[[D]] : f64
//       CHECK:   %[[C:.*]] = arith.fptosi %[[CEIL]] : f64 to i64
//       CHECK:   %[[CI:.*]] = arith.index_cast %[[C]] : i64 to index
//       CHECK:   tensor.expand_shape %{{.*}} {{\[}}[0, 1]] output_shape [4, %[[CI]]]
//       CHECK:   tensor.empty(%[[CI]]) : tensor<4x?x16xf32>
func.func @capacity_dispatch_dynamic(%x: tensor<?x16xf32>, %idx: tensor<?x2xi64>) -> (tensor<4x?x16xf32>, tensor<?x2xi64>) {
  %t, %r = moe.capacity_dispatch %x, %idx, num_experts = 4, capacity_factor = 1.25 : (tensor<?x16xf32>, tensor<?x2xi64>) -> (tensor<4x?x16xf32>, tensor<?x2xi64>)
  return %t, %r : tensor<4x?x16xf32>, tensor<?x2xi64>
}

// -----

// Combine is one generic over (token, column, choice) reducing the choices:
// each token gathers its rows, skipping dropped ones; bf16 accumulates in f32.
// CHECK-LABEL: func @combine
//  CHECK-SAME: (%[[Y:.*]]: tensor<?x8xbf16>, %[[G:.*]]: tensor<?x2xbf16>, %[[R:.*]]: tensor<?x2xi64>)
//       CHECK:   cf.assert %{{.*}}, "moe.combine: 'rows' and 'gates' differ in shape"
//       CHECK:   cf.assert %{{.*}}, "moe.combine: a row is outside the expert output"
//       CHECK:   %[[ACC:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x8xf32>)
//       CHECK:   %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
//  CHECK-SAME:       ins(%[[G]], %[[R]] : tensor<?x2xbf16>, tensor<?x2xi64>) outs(%[[ACC]] : tensor<?x8xf32>)
//  CHECK-NEXT:   ^bb0(%[[GATE:.*]]: bf16, %[[ROW:.*]]: i64, %[[OUT:.*]]: f32):
//       CHECK:     %[[KEPT:.*]] = arith.cmpi sge, %[[ROW]]
//       CHECK:     %[[V:.*]] = tensor.extract %[[Y]]
//       CHECK:     %[[P:.*]] = arith.mulf
//       CHECK:     %[[C:.*]] = arith.select %[[KEPT]], %[[P]]
//       CHECK:     arith.addf %[[OUT]], %[[C]]
//       CHECK:   linalg.generic
//       CHECK:     arith.truncf %{{.*}} : f32 to bf16
func.func @combine(%y: tensor<?x8xbf16>, %g: tensor<?x2xbf16>, %r: tensor<?x2xi64>) -> tensor<?x8xbf16> {
  %0 = moe.combine %y, %g, %r : (tensor<?x8xbf16>, tensor<?x2xbf16>, tensor<?x2xi64>) -> tensor<?x8xbf16>
  return %0 : tensor<?x8xbf16>
}

// -----

// The capacity layout [n, C, d] is read as rows [n * C, d].
// CHECK-LABEL: func @combine_capacity
//       CHECK:   %[[FLAT:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<4x3x8xf32> into tensor<12x8xf32>
//       CHECK:   linalg.generic
//       CHECK:     tensor.extract %[[FLAT]]
func.func @combine_capacity(%y: tensor<4x3x8xf32>, %g: tensor<6x2xf32>, %r: tensor<6x2xi32>) -> tensor<6x8xf32> {
  %0 = moe.combine %y, %g, %r : (tensor<4x3x8xf32>, tensor<6x2xf32>, tensor<6x2xi32>) -> tensor<6x8xf32>
  return %0 : tensor<6x8xf32>
}
