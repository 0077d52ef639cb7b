// RUN: moe-opt %s -moe-materialize-packed-weights -split-input-file | FileCheck %s

// A GEMM over one expert's slice of an unpacked weight reads the slice of
// the packed weight in its place, through maps that name the panel; the
// unpack, with no user left, is gone.
//   CHECK-DAG: #[[LHS:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d3 * 8 + d4)>
//   CHECK-DAG: #[[PANELS:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d3, d1, d4, d2)>
//   CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 * 4 + d2)>
// CHECK-LABEL: func.func @read_in_place(
//  CHECK-SAME: %[[LHS_ARG:[^:]*]]: tensor<?x16xf32>, %[[PACKED:[^:]*]]: tensor<3x2x2x8x4xf32>, %[[E:[^:]*]]: index, %[[OUT_ARG:[^:]*]]: tensor<?x8xf32>)
//   CHECK-NOT:   linalg.unpack
//       CHECK:   %[[SLICE:.*]] = tensor.extract_slice %[[PACKED]][%[[E]], 0, 0, 0, 0] [1, 2, 2, 8, 4] [1, 1, 1, 1, 1] : tensor<3x2x2x8x4xf32> to tensor<2x2x8x4xf32>
//       CHECK:   %[[R:.*]] = linalg.generic {indexing_maps = [#[[LHS]], #[[PANELS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
//  CHECK-SAME:       ins(%[[LHS_ARG]], %[[SLICE]] : tensor<?x16xf32>, tensor<2x2x8x4xf32>) outs(%[[OUT_ARG]] : tensor<?x8xf32>)
//       CHECK:     arith.mulf
//       CHECK:     arith.addf
//       CHECK:   return %[[R]]
func.func @read_in_place(%lhs: tensor<?x16xf32>, %packed: tensor<3x2x2x8x4xf32>,
                         %e: index, %out: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %empty = tensor.empty() : tensor<3x16x8xf32>
  %weights = linalg.unpack %packed inner_dims_pos = [1, 2] inner_tiles = [8, 4]
      into %empty : tensor<3x2x2x8x4xf32> -> tensor<3x16x8xf32>
  %slice = tensor.extract_slice %weights[%e, 0, 0] [1, 16, 8] [1, 1, 1]
      : tensor<3x16x8xf32> to tensor<16x8xf32>
  %r = linalg.matmul ins(%lhs, %slice : tensor<?x16xf32>, tensor<16x8xf32>)
      outs(%out : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// What cannot read in place keeps the unpacked weight, which the unpack
// lowered to a transpose, a reshape and a copy now makes: here, a GEMM over
// part of an expert's weight.
// CHECK-LABEL: func.func @unpacked_for_others(
//   CHECK-NOT:   linalg.unpack
//       CHECK:   %[[T:.*]] = linalg.transpose ins(%{{.*}} : tensor<3x2x2x8x4xf32>) outs(%{{.*}} : tensor<3x2x8x2x4xf32>) permutation = [0, 1, 3, 2, 4]
//       CHECK:   %[[C:.*]] = tensor.collapse_shape %[[T]] {{\[}}[0], [1, 2], [3, 4]] : tensor<3x2x8x2x4xf32> into tensor<3x16x8xf32>
//       CHECK:   %[[W:.*]] = linalg.copy ins(%{{.*}} : tensor<3x16x8xf32>)
//       CHECK:   tensor.extract_slice %[[W]][%{{.*}}, 0, 0] [1, 8, 8]
//       CHECK:   linalg.matmul
func.func @unpacked_for_others(%lhs: tensor<?x8xf32>,
                               %packed: tensor<3x2x2x8x4xf32>, %e: index,
                               %out: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %empty = tensor.empty() : tensor<3x16x8xf32>
  %weights = linalg.unpack %packed inner_dims_pos = [1, 2] inner_tiles = [8, 4]
      into %empty : tensor<3x2x2x8x4xf32> -> tensor<3x16x8xf32>
  %slice = tensor.extract_slice %weights[%e, 0, 0] [1, 8, 8] [1, 1, 1]
      : tensor<3x16x8xf32> to tensor<8x8xf32>
  %r = linalg.matmul ins(%lhs, %slice : tensor<?x8xf32>, tensor<8x8xf32>)
      outs(%out : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}
