// RUN: moe-opt %s -moe-fuse-experts -split-input-file | FileCheck %s

// Dispatch, dropless feed-forward experts and combine become one
// moe.routed_ffn on the un-dispatched input; the dispatch and the experts
// are gone with their last users.
// CHECK-LABEL: func @fuse
//  CHECK-SAME: (%[[X:[^:]*]]: tensor<?x16xf32>, %[[G:[^:]*]]: tensor<?x2xf32>, %[[I:[^:]*]]: tensor<?x2xi64>, %[[W1:[^:]*]]: tensor<4x16x32xf32>, %[[B1:[^:]*]]: tensor<4x32xf32>, %[[W2:[^:]*]]: tensor<4x32x8xf32>, %[[B2:[^:]*]]: tensor<4x8xf32>)
//   CHECK-NOT:   moe.dispatch
//       CHECK:   %[[Y:.*]] = moe.routed_ffn <gelu> %[[X]], %[[G]], %[[I]] w1(%[[W1]]) b1(%[[B1]]) w2(%[[W2]]) b2(%[[B2]]) : {{.*}} -> tensor<?x8xf32>
//   CHECK-NOT:   moe.expert_ffn
//   CHECK-NOT:   moe.combine
//       CHECK:   return %[[Y]]
func.func @fuse(%x: tensor<?x16xf32>, %gates: tensor<?x2xf32>,
                %idx: tensor<?x2xi64>, %w1: tensor<4x16x32xf32>,
                %b1: tensor<4x32xf32>, %w2: tensor<4x32x8xf32>,
                %b2: tensor<4x8xf32>) -> tensor<?x8xf32> {
  %tokens, %offsets, %rows = moe.dispatch %x, %idx, num_experts = 4
      : (tensor<?x16xf32>, tensor<?x2xi64>)
      -> (tensor<?x16xf32>, tensor<5xi64>, tensor<?x2xi64>)
  %y = moe.expert_ffn <gelu> %tokens offsets(%offsets) w1(%w1) b1(%b1) w2(%w2) b2(%b2)
      : (tensor<?x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>, tensor<4x32xf32>,
         tensor<4x32x8xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %out = moe.combine %y, %gates, %rows
      : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

// The gated (SwiGLU) form keeps w3; a combine type more static than the
// fused op infers gets a cast. The dispatch stays for its offsets' other
// user.
// CHECK-LABEL: func @gated_static
//       CHECK:   %{{.*}}, %[[OFFSETS:.*]], %{{.*}} = moe.dispatch
//       CHECK:   %[[Y:.*]] = moe.routed_ffn <silu> %{{.*}}, %{{.*}}, %{{.*}} w1(%{{.*}}) w3(%{{.*}}) w2(%{{.*}}) : {{.*}} -> tensor<?x16xf32>
//       CHECK:   %[[C:.*]] = tensor.cast %[[Y]] : tensor<?x16xf32> to tensor<6x16xf32>
//       CHECK:   return %[[C]], %[[OFFSETS]]
func.func @gated_static(%x: tensor<?x16xf32>, %gates: tensor<?x2xf32>,
                        %idx: tensor<6x2xi32>, %w1: tensor<4x16x32xf32>,
                        %w3: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>)
    -> (tensor<6x16xf32>, tensor<5xi32>) {
  %tokens, %offsets, %rows = moe.dispatch %x, %idx, num_experts = 4
      : (tensor<?x16xf32>, tensor<6x2xi32>)
      -> (tensor<12x16xf32>, tensor<5xi32>, tensor<6x2xi32>)
  %y = moe.expert_ffn <silu> %tokens offsets(%offsets) w1(%w1) w3(%w3) w2(%w2)
      : (tensor<12x16xf32>, tensor<5xi32>, tensor<4x16x32xf32>,
         tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<12x16xf32>
  %out = moe.combine %y, %gates, %rows
      : (tensor<12x16xf32>, tensor<?x2xf32>, tensor<6x2xi32>) -> tensor<6x16xf32>
  return %out, %offsets : tensor<6x16xf32>, tensor<5xi32>
}

// -----

// Expert outputs with another user, the capacity layout, and a dynamic expert
// count in the weights (moe.routed_ffn needs it static) are not fused.
// CHECK-LABEL: func @not_fused
//       CHECK:   moe.expert_ffn
//       CHECK:   moe.combine
//       CHECK:   moe.capacity_dispatch
//       CHECK:   moe.expert_ffn
//       CHECK:   moe.combine
//       CHECK:   moe.expert_ffn
//       CHECK:   moe.combine
//   CHECK-NOT:   moe.routed_ffn
func.func @not_fused(%x: tensor<6x16xf32>, %gates: tensor<6x2xf32>,
                     %idx: tensor<6x2xi64>, %w1: tensor<4x16x32xf32>,
                     %w2: tensor<4x32x16xf32>, %w1d: tensor<?x16x32xf32>)
    -> (tensor<6x16xf32>, tensor<12x16xf32>, tensor<6x16xf32>, tensor<6x16xf32>) {
  %tokens, %offsets, %rows = moe.dispatch %x, %idx, num_experts = 4
      : (tensor<6x16xf32>, tensor<6x2xi64>)
      -> (tensor<12x16xf32>, tensor<5xi64>, tensor<6x2xi64>)
  %y = moe.expert_ffn <relu> %tokens offsets(%offsets) w1(%w1) w2(%w2)
      : (tensor<12x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>,
         tensor<4x32x16xf32>) -> tensor<12x16xf32>
  %out = moe.combine %y, %gates, %rows
      : (tensor<12x16xf32>, tensor<6x2xf32>, tensor<6x2xi64>) -> tensor<6x16xf32>
  %ct, %cr = moe.capacity_dispatch %x, %idx, num_experts = 4,
      capacity_factor = 1.0
      : (tensor<6x16xf32>, tensor<6x2xi64>) -> (tensor<4x3x16xf32>, tensor<6x2xi64>)
  %cy = moe.expert_ffn <relu> %ct w1(%w1) w2(%w2)
      : (tensor<4x3x16xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>)
      -> tensor<4x3x16xf32>
  %cout = moe.combine %cy, %gates, %cr
      : (tensor<4x3x16xf32>, tensor<6x2xf32>, tensor<6x2xi64>) -> tensor<6x16xf32>
  %dt, %doff, %drows = moe.dispatch %x, %idx, num_experts = 4
      : (tensor<6x16xf32>, tensor<6x2xi64>)
      -> (tensor<12x16xf32>, tensor<5xi64>, tensor<6x2xi64>)
  %dy = moe.expert_ffn <relu> %dt offsets(%doff) w1(%w1d) w2(%w2)
      : (tensor<12x16xf32>, tensor<5xi64>, tensor<?x16x32xf32>,
         tensor<4x32x16xf32>) -> tensor<12x16xf32>
  %dout = moe.combine %dy, %gates, %drows
      : (tensor<12x16xf32>, tensor<6x2xf32>, tensor<6x2xi64>) -> tensor<6x16xf32>
  return %out, %y, %cout, %dout
      : tensor<6x16xf32>, tensor<12x16xf32>, tensor<6x16xf32>, tensor<6x16xf32>
}
