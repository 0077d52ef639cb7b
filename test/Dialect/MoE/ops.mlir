// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// CHECK-LABEL: func @gating
func.func @gating(%x: tensor<?x16xf32>, %wg: tensor<16x4xf32>,
                  %wn: tensor<16x4xf32>, %eps: tensor<?x4xf32>)
    -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  // CHECK: moe.gate %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  %clean = moe.gate %x, %wg
      : (tensor<?x16xf32>, tensor<16x4xf32>) -> tensor<?x4xf32>
  // CHECK: moe.noisy_gate %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {noise_epsilon = 0.000000e+00 : f64}
  %h, %c, %s = moe.noisy_gate %x, %wg, %wn, %eps {noise_epsilon = 0.0 : f64}
      : (tensor<?x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>)
  return %clean, %h : tensor<?x4xf32>, tensor<?x4xf32>
}

// CHECK-LABEL: func @routing_bf16_i32
func.func @routing_bf16_i32(%logits: tensor<8x4xbf16>)
    -> (tensor<8x2xbf16>, tensor<8x2xbf16>, tensor<8x2xbf16>) {
  // CHECK: moe.topk %{{.*}}, k = 2 : (tensor<8x4xbf16>) -> (tensor<8x2xbf16>, tensor<8x2xi32>)
  %v, %i = moe.topk %logits, k = 2
      : (tensor<8x4xbf16>) -> (tensor<8x2xbf16>, tensor<8x2xi32>)
  // CHECK: moe.route_weights <topk_softmax>
  %g0 = moe.route_weights <topk_softmax> %logits, %v
      : (tensor<8x4xbf16>, tensor<8x2xbf16>) -> tensor<8x2xbf16>
  // CHECK: moe.route_weights <softmax_topk> %{{.*}}, %{{.*}} {renormalize = true}
  %g1 = moe.route_weights <softmax_topk> %logits, %v {renormalize = true}
      : (tensor<8x4xbf16>, tensor<8x2xbf16>) -> tensor<8x2xbf16>
  // CHECK: moe.route_weights <sigmoid_topk>
  %g2 = moe.route_weights <sigmoid_topk> %logits, %v {renormalize = true}
      : (tensor<8x4xbf16>, tensor<8x2xbf16>) -> tensor<8x2xbf16>
  return %g0, %g1, %g2 : tensor<8x2xbf16>, tensor<8x2xbf16>, tensor<8x2xbf16>
}

// CHECK-LABEL: func @compose
func.func @compose(%pg: tensor<?x2xf16>, %pi: tensor<?x2xi64>,
                   %sg: tensor<?x3x2xf16>, %si: tensor<?x3x2xi64>)
    -> (tensor<?x4xf16>, tensor<?x4xi64>) {
  // CHECK: moe.compose_routing %{{.*}}, group_size = 4 : (tensor<?x2xf16>, tensor<?x2xi64>, tensor<?x3x2xf16>, tensor<?x3x2xi64>) -> (tensor<?x4xf16>, tensor<?x4xi64>)
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 4
      : (tensor<?x2xf16>, tensor<?x2xi64>, tensor<?x3x2xf16>, tensor<?x3x2xi64>)
      -> (tensor<?x4xf16>, tensor<?x4xi64>)
  return %g, %i : tensor<?x4xf16>, tensor<?x4xi64>
}

// CHECK-LABEL: func @dropless
func.func @dropless(%x: tensor<?x16xf32>, %idx: tensor<?x2xi64>,
                    %gates: tensor<?x2xf32>, %w1: tensor<4x16x32xf32>,
                    %b1: tensor<4x32xf32>, %w2: tensor<4x32x8xf32>,
                    %b2: tensor<4x8xf32>) -> tensor<?x8xf32> {
  // CHECK: moe.dispatch %{{.*}}, %{{.*}}, num_experts = 4 : (tensor<?x16xf32>, tensor<?x2xi64>) -> (tensor<?x16xf32>, tensor<5xi64>, tensor<?x2xi64>)
  %tokens, %offsets, %rows = moe.dispatch %x, %idx, num_experts = 4
      : (tensor<?x16xf32>, tensor<?x2xi64>)
      -> (tensor<?x16xf32>, tensor<5xi64>, tensor<?x2xi64>)
  // CHECK: moe.expert_ffn <gelu> %{{.*}} offsets(%{{.*}}) w1(%{{.*}}) b1(%{{.*}}) w2(%{{.*}}) b2(%{{.*}})
  %y = moe.expert_ffn <gelu> %tokens offsets(%offsets) w1(%w1) b1(%b1) w2(%w2) b2(%b2)
      : (tensor<?x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>, tensor<4x32xf32>,
         tensor<4x32x8xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  // CHECK: moe.combine %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>) -> tensor<?x8xf32>
  %out = moe.combine %y, %gates, %rows
      : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// CHECK-LABEL: func @capacity
func.func @capacity(%x: tensor<10x16xf32>, %idx: tensor<10x2xi32>,
                    %gates: tensor<10x2xf32>, %w1: tensor<4x16x32xf32>,
                    %w3: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>)
    -> tensor<10x16xf32> {
  // C = ceil(2 * 10 * 1.25 / 4) = 7
  // CHECK: moe.capacity_dispatch %{{.*}}, %{{.*}}, num_experts = 4, capacity_factor = 1.250000e+00 : (tensor<10x16xf32>, tensor<10x2xi32>) -> (tensor<4x7x16xf32>, tensor<10x2xi32>)
  %tokens, %rows = moe.capacity_dispatch %x, %idx, num_experts = 4,
      capacity_factor = 1.25
      : (tensor<10x16xf32>, tensor<10x2xi32>)
      -> (tensor<4x7x16xf32>, tensor<10x2xi32>)
  // CHECK: moe.expert_ffn <silu> %{{.*}} w1(%{{.*}}) w3(%{{.*}}) w2(%{{.*}})
  %y = moe.expert_ffn <silu> %tokens w1(%w1) w3(%w3) w2(%w2)
      : (tensor<4x7x16xf32>, tensor<4x16x32xf32>, tensor<4x16x32xf32>,
         tensor<4x32x16xf32>) -> tensor<4x7x16xf32>
  %out = moe.combine %y, %gates, %rows
      : (tensor<4x7x16xf32>, tensor<10x2xf32>, tensor<10x2xi32>) -> tensor<10x16xf32>
  return %out : tensor<10x16xf32>
}

// CHECK-LABEL: func @fused_routing_and_experts
func.func @fused_routing_and_experts(
    %x: tensor<?x16xf32>, %logits: tensor<?x4xf32>, %w1: tensor<4x16x32xf32>,
    %b1: tensor<4x32xf32>, %w3: tensor<4x16x32xf32>, %w2: tensor<4x32x8xf32>,
    %b2: tensor<4x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  // CHECK: moe.route <softmax_topk> %{{.*}}, k = 2 {renormalize = true} : (tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %gates, %indices = moe.route <softmax_topk> %logits, k = 2 {renormalize = true}
      : (tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  // CHECK: moe.routed_ffn <relu> %{{.*}}, %{{.*}}, %{{.*}} w1(%{{.*}}) b1(%{{.*}}) w2(%{{.*}}) b2(%{{.*}})
  %y = moe.routed_ffn <relu> %x, %gates, %indices w1(%w1) b1(%b1) w2(%w2) b2(%b2)
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x16x32xf32>,
         tensor<4x32xf32>, tensor<4x32x8xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  // CHECK: moe.routed_ffn <silu> %{{.*}}, %{{.*}}, %{{.*}} w1(%{{.*}}) w3(%{{.*}}) w2(%{{.*}}) :
  %z = moe.routed_ffn <silu> %x, %gates, %indices w1(%w1) w3(%w3) w2(%w2)
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x16x32xf32>,
         tensor<4x16x32xf32>, tensor<4x32x8xf32>) -> tensor<?x8xf32>
  return %y, %z : tensor<?x8xf32>, tensor<?x8xf32>
}

// CHECK-LABEL: func @experts_region
func.func @experts_region(%tokens: tensor<?x8xf32>, %offsets: tensor<5xi64>,
                          %w: tensor<4x8x8xf32>) -> tensor<?x8xf32> {
  // CHECK: moe.experts %{{.*}} offsets(%{{.*}}) weights(%{{.*}})
  // CHECK: ^bb0(%{{.*}}: tensor<?x8xf32>, %{{.*}}: tensor<8x8xf32>):
  // CHECK: moe.yield %{{.*}} : tensor<?x8xf32>
  %y = moe.experts %tokens offsets(%offsets) weights(%w)
      : (tensor<?x8xf32>, tensor<5xi64>, tensor<4x8x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%group: tensor<?x8xf32>, %we: tensor<8x8xf32>):
    %c0 = arith.constant 0 : index
    %rows = tensor.dim %group, %c0 : tensor<?x8xf32>
    %init = tensor.empty(%rows) : tensor<?x8xf32>
    %mm = linalg.matmul ins(%group, %we : tensor<?x8xf32>, tensor<8x8xf32>)
                        outs(%init : tensor<?x8xf32>) -> tensor<?x8xf32>
    moe.yield %mm : tensor<?x8xf32>
  }
  return %y : tensor<?x8xf32>
}

// CHECK-LABEL: func @experts_capacity_region
func.func @experts_capacity_region(%tokens: tensor<4x3x8xf32>)
    -> tensor<4x3x8xf32> {
  // CHECK: moe.experts %{{.*}} weights() : (tensor<4x3x8xf32>) -> tensor<4x3x8xf32>
  %y = moe.experts %tokens weights() : (tensor<4x3x8xf32>) -> tensor<4x3x8xf32> {
  ^bb0(%group: tensor<3x8xf32>):
    moe.yield %group : tensor<3x8xf32>
  }
  return %y : tensor<4x3x8xf32>
}

// CHECK-LABEL: func @losses
func.func @losses(%logits: tensor<8x4xf32>, %clean: tensor<8x4xf32>,
                  %std: tensor<8x4xf32>, %gates: tensor<8x2xf32>,
                  %idx: tensor<8x2xi64>)
    -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<4xf32>) {
  // CHECK: moe.importance %{{.*}}, %{{.*}}, num_experts = 4 : (tensor<8x2xf32>, tensor<8x2xi64>) -> tensor<4xf32>
  %imp = moe.importance %gates, %idx, num_experts = 4
      : (tensor<8x2xf32>, tensor<8x2xi64>) -> tensor<4xf32>
  // CHECK: moe.load %{{.*}}, k = 2 noise(%{{.*}}, %{{.*}}) : (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  %load = moe.load %logits, k = 2 noise(%clean, %std)
      : (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  // CHECK: moe.load %{{.*}}, k = 2 : (tensor<8x4xf32>) -> tensor<4xf32>
  %count = moe.load %logits, k = 2 : (tensor<8x4xf32>) -> tensor<4xf32>
  // CHECK: moe.cv_squared %{{.*}} {weight = 1.000000e-01 : f64} : (tensor<4xf32>) -> tensor<f32>
  %l0 = moe.cv_squared %imp {weight = 0.1 : f64} : (tensor<4xf32>) -> tensor<f32>
  %l1 = moe.cv_squared %load : (tensor<4xf32>) -> tensor<f32>
  // CHECK: moe.switch_loss
  %l2 = moe.switch_loss %logits, %idx : (tensor<8x4xf32>, tensor<8x2xi64>) -> tensor<f32>
  // CHECK: moe.z_loss
  %l3 = moe.z_loss %logits {weight = 1.0e-3 : f64} : (tensor<8x4xf32>) -> tensor<f32>
  return %l0, %l1, %l2, %l3, %count
      : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<4xf32>
}

// CHECK-LABEL: func @hierarchical_load
func.func @hierarchical_load(%logits: tensor<?x3x4xf32>, %pi: tensor<?x2xi64>,
                             %pload: tensor<3xf32>) -> tensor<3x4xf32> {
  // CHECK: moe.load %{{.*}}, k = 2 within(%{{.*}}, %{{.*}}) : (tensor<?x3x4xf32>, tensor<?x2xi64>, tensor<3xf32>) -> tensor<3x4xf32>
  %load = moe.load %logits, k = 2 within(%pi, %pload)
      : (tensor<?x3x4xf32>, tensor<?x2xi64>, tensor<3xf32>) -> tensor<3x4xf32>
  return %load : tensor<3x4xf32>
}

// CHECK-LABEL: func @all_to_all
func.func @all_to_all(%rows: tensor<?x16xbf16>, %counts: tensor<4xi32>)
    -> (tensor<?x16xbf16>, tensor<4xi32>) {
  // CHECK: moe.all_to_all %{{.*}}, %{{.*}}, num_ranks = 4 : (tensor<?x16xbf16>, tensor<4xi32>) -> (tensor<?x16xbf16>, tensor<4xi32>)
  %recv, %recv_counts = moe.all_to_all %rows, %counts, num_ranks = 4
      : (tensor<?x16xbf16>, tensor<4xi32>) -> (tensor<?x16xbf16>, tensor<4xi32>)
  return %recv, %recv_counts : tensor<?x16xbf16>, tensor<4xi32>
}

// CHECK-LABEL: func @layers
func.func @layers(%x: tensor<?x16xf32>, %wg: tensor<16x8xf32>,
                  %wn: tensor<16x8xf32>, %eps: tensor<?x8xf32>,
                  %pg: tensor<16x2xf32>, %w1: tensor<8x16x32xf32>,
                  %w3: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>)
    -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<f32>) {
  // CHECK: moe.layer %{{.*}} gate(%{{.*}}) noise(%{{.*}}, %{{.*}}) w1(%{{.*}}) w2(%{{[^)]*}}) {k = 4 : i64, num_experts = 8 : i64}
  %y0, %li0, %ll0 = moe.layer %x gate(%wg) noise(%wn, %eps) w1(%w1) w2(%w2)
      {num_experts = 8, k = 4}
      : (tensor<?x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<?x8xf32>,
         tensor<8x16x32xf32>, tensor<8x32x16xf32>)
      -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>)
  // CHECK: moe.layer %{{.*}} gate(%{{.*}}) secondary_gate(%{{.*}}) w1(%{{.*}}) w3(%{{.*}}) w2(%{{[^)]*}})
  // CHECK-SAME: activation = #moe.activation<silu>
  // CHECK-SAME: capacity_factor = 2.000000e+00 : f64
  // CHECK-SAME: group_k = 1 : i64
  // CHECK-SAME: normalization = #moe.normalization<softmax_topk>
  // CHECK-SAME: num_groups = 2 : i64
  %y1, %li1, %ll1 = moe.layer %x gate(%pg) secondary_gate(%wg) w1(%w1) w3(%w3) w2(%w2)
      {num_experts = 8, k = 2, num_groups = 2, group_k = 1,
       capacity_factor = 2.0 : f64, activation = #moe.activation<silu>,
       normalization = #moe.normalization<softmax_topk>, renormalize = true}
      : (tensor<?x16xf32>, tensor<16x2xf32>, tensor<16x8xf32>,
         tensor<8x16x32xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>)
      -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>)
  return %y0, %y1, %ll1 : tensor<?x16xf32>, tensor<?x16xf32>, tensor<f32>
}
