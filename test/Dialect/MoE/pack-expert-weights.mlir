// RUN: moe-opt %s -moe-pack-expert-weights="panel-depth=8 panel-width=4" -split-input-file -verify-diagnostics | FileCheck %s
// RUN: not moe-opt %s -moe-pack-expert-weights=panel-depth=0 2>&1 | FileCheck %s --check-prefix=BAD-PANEL

// BAD-PANEL: error: moe-pack-expert-weights: panel sizes must be positive

// The routed weights w1, w3 and w2 get packed; the biases and the token
// arguments do not. @layer itself only gains the attribute naming its
// variant, which reads each packed weight through a linalg.unpack, the
// weights' positions and the tiles the caller packs them in.
// CHECK-LABEL: func.func @layer(
//  CHECK-SAME: %{{.*}}: tensor<2x16x8xf32>
//  CHECK-SAME: attributes {moe.packed_weights = {arguments = array<i64: 3, 5, 6>, entry = @layer_packed, inner_tiles = array<i64: 8, 4>}}
//       CHECK:   moe.routed_ffn <silu> %{{.*}} w1(%arg3) b1(%arg4) w3(%arg5) w2(%arg6)
// CHECK-LABEL: func.func @layer_packed(
//  CHECK-SAME: %[[X:[^:]*]]: tensor<?x16xf32>, %{{[^:]*}}: tensor<?x2xf32>, %{{[^:]*}}: tensor<?x2xi64>, %[[W1:[^:]*]]: tensor<2x2x2x8x4xf32>, %[[B1:[^:]*]]: tensor<2x8xf32>, %[[W3:[^:]*]]: tensor<2x2x2x8x4xf32>, %[[W2:[^:]*]]: tensor<2x1x4x8x4xf32>)
//       CHECK:   %[[U1:.*]] = linalg.unpack %[[W1]] inner_dims_pos = [1, 2] inner_tiles = [8, 4] into %{{.*}} : tensor<2x2x2x8x4xf32> -> tensor<2x16x8xf32>
//       CHECK:   %[[U3:.*]] = linalg.unpack %[[W3]] {{.*}} -> tensor<2x16x8xf32>
//       CHECK:   %[[U2:.*]] = linalg.unpack %[[W2]] {{.*}} -> tensor<2x8x16xf32>
//       CHECK:   moe.routed_ffn <silu> %[[X]], %{{.*}}, %{{.*}} w1(%[[U1]]) b1(%[[B1]]) w3(%[[U3]]) w2(%[[U2]])
//   CHECK-NOT:   moe.packed_weights
//   CHECK-NOT: func.func
func.func @layer(%x: tensor<?x16xf32>, %gates: tensor<?x2xf32>,
                 %idx: tensor<?x2xi64>, %w1: tensor<2x16x8xf32>,
                 %b1: tensor<2x8xf32>, %w3: tensor<2x16x8xf32>,
                 %w2: tensor<2x8x16xf32>) -> tensor<?x16xf32> {
  %y = moe.routed_ffn <silu> %x, %gates, %idx w1(%w1) b1(%b1) w3(%w3) w2(%w2)
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>,
         tensor<2x16x8xf32>, tensor<2x8xf32>, tensor<2x16x8xf32>,
         tensor<2x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Not packed: a weight the panel does not divide (w2, 12 rows), one that
// something else reads too (w1, returned), and bf16 weights. Of @left_alone
// only w1b is packed; @bf16, with nothing to pack, gains nothing.
// CHECK-LABEL: func.func @left_alone(
//  CHECK-SAME: attributes {moe.packed_weights = {arguments = array<i64: 5>,
// CHECK-LABEL: func.func @left_alone_packed(
//  CHECK-SAME: %{{[^:]*}}: tensor<2x16x12xf32>, %{{[^:]*}}: tensor<2x12x16xf32>, %{{[^:]*}}: tensor<2x2x3x8x4xf32>)
// CHECK-LABEL: func.func @bf16(
//   CHECK-NOT: moe.packed_weights
//   CHECK-NOT: func.func @bf16_packed
func.func @left_alone(%x: tensor<?x16xf32>, %gates: tensor<?x2xf32>,
                      %idx: tensor<?x2xi64>, %w1: tensor<2x16x12xf32>,
                      %w2: tensor<2x12x16xf32>, %w1b: tensor<2x16x12xf32>)
    -> (tensor<?x16xf32>, tensor<2x16x12xf32>) {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) w2(%w2)
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>,
         tensor<2x16x12xf32>, tensor<2x12x16xf32>) -> tensor<?x16xf32>
  %z = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1b) w2(%w2)
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>,
         tensor<2x16x12xf32>, tensor<2x12x16xf32>) -> tensor<?x16xf32>
  return %y, %w1 : tensor<?x16xf32>, tensor<2x16x12xf32>
}
func.func @bf16(%x: tensor<?x16xbf16>, %gates: tensor<?x2xbf16>,
                %idx: tensor<?x2xi64>, %w1: tensor<2x16x8xbf16>,
                %w2: tensor<2x8x16xbf16>) -> tensor<?x16xbf16> {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) w2(%w2)
      : (tensor<?x16xbf16>, tensor<?x2xbf16>, tensor<?x2xi64>,
         tensor<2x16x8xbf16>, tensor<2x8x16xbf16>) -> tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

// expected-error @below {{moe-pack-expert-weights: cannot add '@taken_packed', the name is taken}}
func.func @taken(%x: tensor<?x16xf32>, %gates: tensor<?x2xf32>,
                 %idx: tensor<?x2xi64>, %w1: tensor<2x16x8xf32>,
                 %w2: tensor<2x8x16xf32>) -> tensor<?x16xf32> {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) w2(%w2)
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>,
         tensor<2x16x8xf32>, tensor<2x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
func.func private @taken_packed()
