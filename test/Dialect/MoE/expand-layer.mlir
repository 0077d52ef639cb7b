// RUN: moe-opt %s -moe-expand-layer -split-input-file | FileCheck %s

// The paper's flat layer with noisy top-k gating, dropless dispatch and ReLU
// experts with biases; the token count is dynamic.
// CHECK-LABEL: func @flat_noisy
//  CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[WG:.*]]: tensor<16x8xf32>, %[[WN:.*]]: tensor<16x8xf32>, %[[EPS:.*]]: tensor<?x8xf32>, %[[W1:.*]]: tensor<8x16x32xf32>, %[[B1:.*]]: tensor<8x32xf32>, %[[W2:.*]]: tensor<8x32x16xf32>, %[[B2:.*]]: tensor<8x16xf32>)
//       CHECK: %[[H:.*]], %[[CLEAN:.*]], %[[STD:.*]] = moe.noisy_gate %[[X]], %[[WG]], %[[WN]], %[[EPS]] {noise_epsilon = 5.000000e-02 : f64}
//       CHECK: %[[V:.*]], %[[I:.*]] = moe.topk %[[H]], k = 4 : (tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
//       CHECK: %[[G:.*]] = moe.route_weights <topk_softmax> %[[H]], %[[V]] :
//       CHECK: %[[LOAD:.*]] = moe.load %[[H]], k = 4 noise(%[[CLEAN]], %[[STD]])
//       CHECK: %[[TOK:.*]], %[[OFF:.*]], %[[ROWS:.*]] = moe.dispatch %[[X]], %[[I]], num_experts = 8 : (tensor<?x16xf32>, tensor<?x4xi64>) -> (tensor<?x16xf32>, tensor<9xi64>, tensor<?x4xi64>)
//       CHECK: %[[Y:.*]] = moe.expert_ffn <relu> %[[TOK]] offsets(%[[OFF]]) w1(%[[W1]]) b1(%[[B1]]) w2(%[[W2]]) b2(%[[B2]])
//       CHECK: %[[OUT:.*]] = moe.combine %[[Y]], %[[G]], %[[ROWS]]
//       CHECK: %[[IMP:.*]] = moe.importance %[[G]], %[[I]], num_experts = 8
//       CHECK: %[[LI:.*]] = moe.cv_squared %[[IMP]] {weight = 1.000000e-01 : f64}
//       CHECK: %[[LL:.*]] = moe.cv_squared %[[LOAD]] {weight = 2.000000e-01 : f64}
//   CHECK-NOT: moe.layer
//       CHECK: return %[[OUT]], %[[LI]], %[[LL]]
func.func @flat_noisy(%x: tensor<?x16xf32>, %wg: tensor<16x8xf32>,
                      %wn: tensor<16x8xf32>, %eps: tensor<?x8xf32>,
                      %w1: tensor<8x16x32xf32>, %b1: tensor<8x32xf32>,
                      %w2: tensor<8x32x16xf32>, %b2: tensor<8x16xf32>)
    -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>) {
  %y, %li, %ll = moe.layer %x gate(%wg) noise(%wn, %eps) w1(%w1) b1(%b1)
      w2(%w2) b2(%b2)
      {num_experts = 8, k = 4, noise_epsilon = 0.05 : f64,
       importance_weight = 0.1 : f64, load_weight = 0.2 : f64}
      : (tensor<?x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<?x8xf32>,
         tensor<8x16x32xf32>, tensor<8x32xf32>, tensor<8x32x16xf32>,
         tensor<8x16xf32>) -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>)
  return %y, %li, %ll : tensor<?x16xf32>, tensor<f32>, tensor<f32>
}

// -----

// Without noise the gate is the clean one and the load is a count.
// CHECK-LABEL: func @flat_clean_mixtral
//       CHECK: %[[L:.*]] = moe.gate
//       CHECK: %[[V:.*]], %[[I:.*]] = moe.topk %[[L]], k = 2
//       CHECK: moe.route_weights <softmax_topk> %[[L]], %[[V]] {renormalize = true}
//       CHECK: moe.load %[[L]], k = 2 : (tensor<6x8xbf16>) -> tensor<8xbf16>
//       CHECK: moe.dispatch
//       CHECK: moe.expert_ffn <silu> %{{.*}} offsets(%{{.*}}) w1(%{{.*}}) w3(%{{.*}}) w2(%{{.*}}) : {{.*}} -> tensor<12x16xbf16>
func.func @flat_clean_mixtral(%x: tensor<6x16xbf16>, %wg: tensor<16x8xbf16>,
                              %w1: tensor<8x16x32xbf16>, %w3: tensor<8x16x32xbf16>,
                              %w2: tensor<8x32x16xbf16>)
    -> (tensor<6x16xbf16>, tensor<bf16>, tensor<bf16>) {
  %y, %li, %ll = moe.layer %x gate(%wg) w1(%w1) w3(%w3) w2(%w2)
      {num_experts = 8, k = 2, activation = #moe.activation<silu>,
       normalization = #moe.normalization<softmax_topk>, renormalize = true}
      : (tensor<6x16xbf16>, tensor<16x8xbf16>, tensor<8x16x32xbf16>,
         tensor<8x16x32xbf16>, tensor<8x32x16xbf16>)
      -> (tensor<6x16xbf16>, tensor<bf16>, tensor<bf16>)
  return %y, %li, %ll : tensor<6x16xbf16>, tensor<bf16>, tensor<bf16>
}

// -----

// Capacity: C = ceil(2 * 10 * 1.5 / 4) = 8 slots per expert, no offsets.
// CHECK-LABEL: func @capacity
//       CHECK: %[[TOK:.*]], %[[ROWS:.*]] = moe.capacity_dispatch %{{.*}}, %{{.*}}, num_experts = 4, capacity_factor = 1.500000e+00 : (tensor<10x16xf32>, tensor<10x2xi64>) -> (tensor<4x8x16xf32>, tensor<10x2xi64>)
//       CHECK: %[[Y:.*]] = moe.expert_ffn <gelu> %[[TOK]] w1(%{{.*}}) w2(%{{.*}}) : {{.*}} -> tensor<4x8x16xf32>
//       CHECK: moe.combine %[[Y]], %{{.*}}, %[[ROWS]] : (tensor<4x8x16xf32>, tensor<10x2xf32>, tensor<10x2xi64>) -> tensor<10x16xf32>
func.func @capacity(%x: tensor<10x16xf32>, %wg: tensor<16x4xf32>,
                    %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>)
    -> (tensor<10x16xf32>, tensor<f32>, tensor<f32>) {
  %y, %li, %ll = moe.layer %x gate(%wg) w1(%w1) w2(%w2)
      {num_experts = 4, k = 2, capacity_factor = 1.5 : f64,
       activation = #moe.activation<gelu>}
      : (tensor<10x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>,
         tensor<4x32x16xf32>) -> (tensor<10x16xf32>, tensor<f32>, tensor<f32>)
  return %y, %li, %ll : tensor<10x16xf32>, tensor<f32>, tensor<f32>
}

// -----

// Hierarchical: a = 2 groups of b = 4 experts, top-1 group then top-2 experts
// in it; both levels noisy. The secondary gates of all groups are computed at
// once and split per group.
// CHECK-LABEL: func @hierarchical
//  CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[PG:.*]]: tensor<16x2xf32>, %[[PN:.*]]: tensor<16x2xf32>, %[[PE:.*]]: tensor<?x2xf32>, %[[SG:.*]]: tensor<16x8xf32>, %[[SN:.*]]: tensor<16x8xf32>, %[[SE:.*]]: tensor<?x8xf32>
//       CHECK: %[[PH:.*]], %[[PC:.*]], %[[PS:.*]] = moe.noisy_gate %[[X]], %[[PG]], %[[PN]], %[[PE]]
//       CHECK: %[[PV:.*]], %[[PI:.*]] = moe.topk %[[PH]], k = 1 : (tensor<?x2xf32>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
//       CHECK: %[[PGATES:.*]] = moe.route_weights <topk_softmax> %[[PH]], %[[PV]]
//       CHECK: %[[SH:.*]], %[[SC:.*]], %[[SS:.*]] = moe.noisy_gate %[[X]], %[[SG]], %[[SN]], %[[SE]]
//       CHECK: %[[SH3:.*]] = tensor.expand_shape %[[SH]] {{\[}}[0], [1, 2]] {{.*}} : tensor<?x8xf32> into tensor<?x2x4xf32>
//       CHECK: %[[SC3:.*]] = tensor.expand_shape %[[SC]]
//       CHECK: %[[SS3:.*]] = tensor.expand_shape %[[SS]]
//       CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[SH3]] {{\[}}[0, 1], [2]] : tensor<?x2x4xf32> into tensor<?x4xf32>
//       CHECK: %[[SV:.*]], %[[SI:.*]] = moe.topk %[[ROWS]], k = 2 : (tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
//       CHECK: %[[SGATES:.*]] = moe.route_weights <topk_softmax> %[[ROWS]], %[[SV]]
//       CHECK: %[[SG3:.*]] = tensor.expand_shape %[[SGATES]] {{\[}}[0, 1], [2]] {{.*}} : tensor<?x2xf32> into tensor<?x2x2xf32>
//       CHECK: %[[SI3:.*]] = tensor.expand_shape %[[SI]]
//       CHECK: %[[G:.*]], %[[I:.*]] = moe.compose_routing %[[PGATES]], %[[PI]], %[[SG3]], %[[SI3]], group_size = 4 : {{.*}} -> (tensor<?x2xf32>, tensor<?x2xi64>)
//       CHECK: %[[PLOAD:.*]] = moe.load %[[PH]], k = 1 noise(%[[PC]], %[[PS]]) : {{.*}} -> tensor<2xf32>
//       CHECK: %[[LOAD:.*]] = moe.load %[[SH3]], k = 2 noise(%[[SC3]], %[[SS3]]) within(%[[PI]], %[[PLOAD]]) : {{.*}} -> tensor<2x4xf32>
//       CHECK: moe.dispatch %[[X]], %[[I]], num_experts = 8
//       CHECK: moe.importance %[[G]], %[[I]], num_experts = 8
//       CHECK: moe.cv_squared %[[LOAD]]
func.func @hierarchical(%x: tensor<?x16xf32>, %pg: tensor<16x2xf32>,
                        %pn: tensor<16x2xf32>, %pe: tensor<?x2xf32>,
                        %sg: tensor<16x8xf32>, %sn: tensor<16x8xf32>,
                        %se: tensor<?x8xf32>, %w1: tensor<8x16x32xf32>,
                        %w2: tensor<8x32x16xf32>)
    -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>) {
  %y, %li, %ll = moe.layer %x gate(%pg) noise(%pn, %pe) secondary_gate(%sg)
      secondary_noise(%sn, %se) w1(%w1) w2(%w2)
      {num_experts = 8, k = 2, num_groups = 2, group_k = 1}
      : (tensor<?x16xf32>, tensor<16x2xf32>, tensor<16x2xf32>, tensor<?x2xf32>,
         tensor<16x8xf32>, tensor<16x8xf32>, tensor<?x8xf32>,
         tensor<8x16x32xf32>, tensor<8x32x16xf32>)
      -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>)
  return %y, %li, %ll : tensor<?x16xf32>, tensor<f32>, tensor<f32>
}

// -----

// The noise samples know T = 6 while the input leaves it dynamic, and the
// secondary gate leaves a*b dynamic: the expansion reshapes with the sizes
// the verifier guarantees and casts its results back to the layer's types.
// CHECK-LABEL: func @hierarchical_mixed_static
//       CHECK: %[[FLAT:.*]] = tensor.cast %{{.*}} : tensor<6x?xf32> to tensor<6x8xf32>
//       CHECK: tensor.expand_shape %[[FLAT]] {{\[}}[0], [1, 2]] {{.*}} : tensor<6x8xf32> into tensor<6x2x4xf32>
//       CHECK: %[[OUT:.*]] = moe.combine {{.*}} -> tensor<6x16xf32>
//       CHECK: %[[CAST:.*]] = tensor.cast %[[OUT]] : tensor<6x16xf32> to tensor<?x16xf32>
//       CHECK: return %[[CAST]]
func.func @hierarchical_mixed_static(%x: tensor<?x16xf32>, %pg: tensor<16x2xf32>,
                                     %sg: tensor<16x?xf32>, %sn: tensor<16x?xf32>,
                                     %se: tensor<6x?xf32>, %w1: tensor<8x16x32xf32>,
                                     %w2: tensor<8x32x16xf32>)
    -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>) {
  %y, %li, %ll = moe.layer %x gate(%pg) secondary_gate(%sg)
      secondary_noise(%sn, %se) w1(%w1) w2(%w2)
      {num_experts = 8, k = 2, num_groups = 2, group_k = 1}
      : (tensor<?x16xf32>, tensor<16x2xf32>, tensor<16x?xf32>, tensor<16x?xf32>,
         tensor<6x?xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>)
      -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>)
  return %y, %li, %ll : tensor<?x16xf32>, tensor<f32>, tensor<f32>
}
