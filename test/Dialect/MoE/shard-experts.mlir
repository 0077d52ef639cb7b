// RUN: moe-opt %s -moe-shard-experts=num-ranks=2 -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -moe-shard-experts -split-input-file | FileCheck %s --check-prefix=ONE-RANK

// Each rank keeps its share of the weights (8 experts over 2 ranks: 4), sends
// each rank the rows of its experts with their local expert indices,
// regroups what it receives, runs its experts, restores the received order
// and sends the rows back; the layer's combine reads them as before.

// CHECK-LABEL: func.func @layer
// CHECK-SAME: %[[W1:[a-z0-9]+]]: tensor<4x16x32xf32> {moe.expert_shards = 2 : i64}
// CHECK-SAME: %[[W2:[a-z0-9]+]]: tensor<4x32x16xf32> {moe.expert_shards = 2 : i64}
// CHECK: %[[TOKENS:.*]], %[[OFFSETS:.*]], %[[ROWS:.*]] = moe.dispatch %{{.*}}, %{{.*}}, num_experts = 8
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[FIRST:.*]] = tensor.extract %[[OFFSETS]][%[[C0]]]
// CHECK: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[MIDDLE:.*]] = tensor.extract %[[OFFSETS]][%[[C4]]]
// CHECK: %[[C8:.*]] = arith.constant 8 : index
// CHECK: %[[LAST:.*]] = tensor.extract %[[OFFSETS]][%[[C8]]]
// CHECK: %[[SEND0:.*]] = arith.subi %[[MIDDLE]], %[[FIRST]]
// CHECK: %[[SEND1:.*]] = arith.subi %[[LAST]], %[[MIDDLE]]
// CHECK: %[[SEND:.*]] = tensor.from_elements %[[SEND0]], %[[SEND1]] : tensor<2xi64>
// CHECK: %[[STARTS:.*]] = tensor.extract_slice %[[OFFSETS]][1] [7] [1]
// CHECK: %[[EXPERT:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[STARTS]] : tensor<7xi64>)
// CHECK: arith.cmpi sle
// CHECK: %[[LOCAL:.*]] = linalg.generic {{.*}} ins(%[[EXPERT]] : tensor<?xi64>)
// CHECK: arith.remui %{{.*}}, %{{.*}} : i64
// CHECK: %[[RECV:.*]], %[[RECV_COUNTS:.*]] = moe.all_to_all %[[TOKENS]], %[[SEND]], num_ranks = 2 : (tensor<?x16xf32>, tensor<2xi64>) -> (tensor<?x16xf32>, tensor<2xi64>)
// CHECK: %[[RECV_LOCAL:.*]], %{{.*}} = moe.all_to_all %[[LOCAL]], %[[SEND]], num_ranks = 2 : (tensor<?xi64>, tensor<2xi64>) -> (tensor<?xi64>, tensor<2xi64>)
// CHECK: %[[CHOICES:.*]] = tensor.expand_shape %[[RECV_LOCAL]] {{\[\[}}0, 1]]
// CHECK: %[[LTOKENS:.*]], %[[LOFFSETS:.*]], %[[LROWS:.*]] = moe.dispatch %[[RECV]], %[[CHOICES]], num_experts = 4 : (tensor<?x16xf32>, tensor<?x1xi64>) -> (tensor<?x16xf32>, tensor<5xi64>, tensor<?x1xi64>)
// CHECK: %[[OUT:.*]] = moe.expert_ffn <relu> %[[LTOKENS]] offsets(%[[LOFFSETS]]) w1(%[[W1]]) w2(%[[W2]]) : ({{.*}}) -> tensor<?x16xf32>
// CHECK: %[[ONES:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x1xf32>)
// CHECK: %[[RESTORED:.*]] = moe.combine %[[OUT]], %[[ONES]], %[[LROWS]]
// CHECK: %[[BACK:.*]], %{{.*}} = moe.all_to_all %[[RESTORED]], %[[RECV_COUNTS]], num_ranks = 2
// CHECK: moe.combine %[[BACK]], %{{.*}}, %[[ROWS]]

// ONE-RANK-LABEL: func.func @layer
// ONE-RANK-SAME: tensor<8x16x32xf32>, %{{.*}}: tensor<8x32x16xf32>)
// ONE-RANK-NOT: moe.all_to_all
func.func @layer(%x: tensor<?x16xf32>, %indices: tensor<?x2xi64>,
                 %gates: tensor<?x2xf32>, %w1: tensor<8x16x32xf32>,
                 %w2: tensor<8x32x16xf32>) -> tensor<?x16xf32> {
  %tokens, %offsets, %rows = moe.dispatch %x, %indices, num_experts = 8
      : (tensor<?x16xf32>, tensor<?x2xi64>)
      -> (tensor<?x16xf32>, tensor<9xi64>, tensor<?x2xi64>)
  %out = moe.expert_ffn <relu> %tokens offsets(%offsets) w1(%w1) w2(%w2)
      : (tensor<?x16xf32>, tensor<9xi64>, tensor<8x16x32xf32>,
         tensor<8x32x16xf32>) -> tensor<?x16xf32>
  %y = moe.combine %out, %gates, %rows
      : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<?x2xi64>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// An expert with its own body is split the same way; its block arguments
// (one expert's weights) do not change.

// CHECK-LABEL: func.func @custom_body
// CHECK-SAME: tensor<2x8x8xf32> {moe.expert_shards = 2 : i64}
// CHECK: moe.all_to_all
// CHECK: moe.experts %{{.*}} offsets(%{{.*}}) weights(%{{.*}}) : (tensor<?x8xf32>, tensor<3xi32>, tensor<2x8x8xf32>) -> tensor<?x8xf32>
// CHECK: ^bb0(%{{.*}}: tensor<?x8xf32>, %{{.*}}: tensor<8x8xf32>):
// CHECK: moe.all_to_all
// CHECK: tensor.cast %{{.*}} : tensor<?x8xf32> to tensor<12x8xf32>
func.func @custom_body(%tokens: tensor<12x8xf32>, %offsets: tensor<5xi32>,
                       %w: tensor<4x8x8xf32>) -> tensor<12x8xf32> {
  %y = moe.experts %tokens offsets(%offsets) weights(%w)
      : (tensor<12x8xf32>, tensor<5xi32>, tensor<4x8x8xf32>) -> tensor<12x8xf32> {
  ^bb0(%t: tensor<?x8xf32>, %a: tensor<8x8xf32>):
    %zero = arith.constant 0.0 : f32
    %c0 = arith.constant 0 : index
    %rows = tensor.dim %t, %c0 : tensor<?x8xf32>
    %empty = tensor.empty(%rows) : tensor<?x8xf32>
    %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x8xf32>) -> tensor<?x8xf32>
    %r = linalg.matmul ins(%t, %a : tensor<?x8xf32>, tensor<8x8xf32>)
                       outs(%init : tensor<?x8xf32>) -> tensor<?x8xf32>
    moe.yield %r : tensor<?x8xf32>
  }
  return %y : tensor<12x8xf32>
}

// -----

func.func @capacity(%tokens: tensor<4x3x8xf32>, %w1: tensor<4x8x16xf32>,
                    %w2: tensor<4x16x8xf32>) -> tensor<4x3x8xf32> {
  // expected-error @+1 {{'moe.expert_ffn' op cannot be split over ranks: expert parallelism needs the dropless layout (moe.dispatch), not expert capacity}}
  %y = moe.expert_ffn <relu> %tokens w1(%w1) w2(%w2)
      : (tensor<4x3x8xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<4x3x8xf32>
  return %y : tensor<4x3x8xf32>
}

// -----

func.func @uneven(%tokens: tensor<?x8xf32>, %offsets: tensor<4xi64>,
                  %w1: tensor<3x8x16xf32>, %w2: tensor<3x16x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.expert_ffn' op cannot split 3 experts evenly over 2 ranks}}
  %y = moe.expert_ffn <relu> %tokens offsets(%offsets) w1(%w1) w2(%w2)
      : (tensor<?x8xf32>, tensor<4xi64>, tensor<3x8x16xf32>, tensor<3x16x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @computed_weight(%tokens: tensor<?x8xf32>, %offsets: tensor<5xi64>,
                           %w1: tensor<4x8x16xf32>) -> tensor<?x8xf32> {
  %w2 = arith.constant dense<1.0> : tensor<4x16x8xf32>
  // expected-error @+1 {{'moe.expert_ffn' op cannot be split over ranks: a weight is not an argument of 'computed_weight' (each rank receives its share of the weights as arguments)}}
  %y = moe.expert_ffn <relu> %tokens offsets(%offsets) w1(%w1) w2(%w2)
      : (tensor<?x8xf32>, tensor<5xi64>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @weight_read_elsewhere(%tokens: tensor<?x8xf32>, %offsets: tensor<5xi64>,
                                 %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> (tensor<?x8xf32>, tensor<4x8x16xf32>) {
  %y = moe.expert_ffn <relu> %tokens offsets(%offsets) w1(%w1) w2(%w2)
      : (tensor<?x8xf32>, tensor<5xi64>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x8xf32>
  // expected-error @+1 {{'func.return' op uses argument #2, which holds expert weights split over ranks; only expert ops may use it}}
  return %y, %w1 : tensor<?x8xf32>, tensor<4x8x16xf32>
}

// -----

func.func @fused(%x: tensor<?x8xf32>, %gates: tensor<?x2xf32>, %indices: tensor<?x2xi64>,
                 %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.routed_ffn' op cannot be split over ranks: shard the experts before the fusion stage, on moe.dispatch, moe.expert_ffn and moe.combine}}
  %y = moe.routed_ffn <relu> %x, %gates, %indices w1(%w1) w2(%w2)
      : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// expected-error @+1 {{cannot split the experts of 'callee' over ranks: it has callers, whose weights would change type}}
func.func @callee(%tokens: tensor<?x8xf32>, %offsets: tensor<5xi64>,
                  %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> tensor<?x8xf32> {
  %y = moe.expert_ffn <relu> %tokens offsets(%offsets) w1(%w1) w2(%w2)
      : (tensor<?x8xf32>, tensor<5xi64>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

func.func @caller(%tokens: tensor<?x8xf32>, %offsets: tensor<5xi64>,
                  %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> tensor<?x8xf32> {
  %y = func.call @callee(%tokens, %offsets, %w1, %w2)
      : (tensor<?x8xf32>, tensor<5xi64>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @dynamic_weight(%tokens: tensor<?x8xf32>, %offsets: tensor<5xi64>,
                          %w: tensor<?x8x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'moe.experts' op cannot be split over ranks: a weight does not stack 4 experts in a static leading dimension}}
  %y = moe.experts %tokens offsets(%offsets) weights(%w)
      : (tensor<?x8xf32>, tensor<5xi64>, tensor<?x8x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%t: tensor<?x8xf32>, %a: tensor<8x8xf32>):
    moe.yield %t : tensor<?x8xf32>
  }
  return %y : tensor<?x8xf32>
}
