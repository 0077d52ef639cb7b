// RUN: moe-opt %s -moe-parallel-iterators-first -split-input-file -mlir-print-local-scope | FileCheck %s

// The importance of each expert, a sum over the tokens: the token loop (a
// reduction) comes first. Interchanged, the expert loop is outermost and its
// maps and linalg.index follow the new order.
// CHECK-LABEL: func @importance
//       CHECK:   linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
//       CHECK:     %[[EXPERT:.*]] = linalg.index 0 : index
//       CHECK:     %[[TOKEN:.*]] = linalg.index 1 : index
//       CHECK:     %[[OLD_FIRST:.*]] = affine.apply affine_map<(d0, d1) -> (d1)>(%[[EXPERT]], %[[TOKEN]])
//       CHECK:     arith.index_cast %[[OLD_FIRST]]
func.func @importance(%gates: memref<?x8xf32>, %sums: memref<8xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(t, e) -> (t, e)>, affine_map<(t, e) -> (e)>],
      iterator_types = ["reduction", "parallel"]}
      ins(%gates : memref<?x8xf32>) outs(%sums : memref<8xf32>) {
  ^bb0(%gate: f32, %sum: f32):
    %token = linalg.index 0 : index
    %t = arith.index_cast %token : index to i64
    %weight = arith.uitofp %t : i64 to f32
    %scaled = arith.mulf %gate, %weight : f32
    %next = arith.addf %sum, %scaled : f32
    linalg.yield %next : f32
  }
  return
}

// -----

// Two reductions before the parallel loop (tokens per expert over [T, k]):
// the parallel loop first, then the reductions in their order.
// CHECK-LABEL: func @counts
//       CHECK:   linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0)>], iterator_types = ["parallel", "reduction", "reduction"]}
//       CHECK:     affine.apply affine_map<(d0, d1, d2) -> (d0)>
func.func @counts(%indices: memref<?x2xi64>, %counts: memref<8xi64>) {
  linalg.generic {
      indexing_maps = [affine_map<(t, s, e) -> (t, s)>,
                       affine_map<(t, s, e) -> (e)>],
      iterator_types = ["reduction", "reduction", "parallel"]}
      ins(%indices : memref<?x2xi64>) outs(%counts : memref<8xi64>) {
  ^bb0(%index: i64, %count: i64):
    %expert = linalg.index 2 : index
    %e = arith.index_cast %expert : index to i64
    %hit = arith.cmpi eq, %index, %e : i64
    %one = arith.extui %hit : i1 to i64
    %next = arith.addi %count, %one : i64
    linalg.yield %next : i64
  }
  return
}

// -----

// Already parallel first, or no parallel loop at all (a sum of everything):
// left as they are.
// CHECK-LABEL: func @unchanged
//       CHECK:   iterator_types = ["parallel", "reduction"]
//       CHECK:   iterator_types = ["reduction", "reduction"]
func.func @unchanged(%x: memref<?x8xf32>, %rows: memref<?xf32>,
                     %total: memref<f32>) {
  linalg.generic {
      indexing_maps = [affine_map<(t, e) -> (t, e)>, affine_map<(t, e) -> (t)>],
      iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x8xf32>) outs(%rows : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %next = arith.addf %acc, %in : f32
    linalg.yield %next : f32
  }
  linalg.generic {
      indexing_maps = [affine_map<(t, e) -> (t, e)>, affine_map<(t, e) -> ()>],
      iterator_types = ["reduction", "reduction"]}
      ins(%x : memref<?x8xf32>) outs(%total : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %next = arith.addf %acc, %in : f32
    linalg.yield %next : f32
  }
  return
}
