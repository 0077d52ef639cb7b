// RUN: moe-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of each op, in the order of MoEOps.td.

func.func @f(%x: tensor<8x16xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{'w_gate' dimension 0 (8) must equal 'input' dimension 1 (16): both are the model width d}}
  %0 = moe.gate %x, %w : (tensor<8x16xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %w: tensor<16x4xf16>) {
  // expected-error @+1 {{'w_gate' element type f16 must match 'input' element type f32}}
  %0 = moe.gate %x, %w : (tensor<8x16xf32>, tensor<16x4xf16>) -> tensor<8x4xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<8x4xf32>' are incompatible with return type(s) of operation 'tensor<8x5xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = moe.gate %x, %w : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x5xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xi32>, %w: tensor<16x4xf32>) {
  // expected-error @+1 {{operand #0 must be 2D tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<8x16xi32>'}}
  %0 = moe.gate %x, %w : (tensor<8x16xi32>, tensor<16x4xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16x1xf32>, %w: tensor<16x4xf32>) {
  // expected-error @+1 {{operand #0 must be 2D tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<8x16x1xf32>'}}
  %0 = moe.gate %x, %w : (tensor<8x16x1xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %wn: tensor<16x5xf32>, %e: tensor<8x4xf32>) {
  // expected-error @+1 {{'w_noise' dimension 1 (5) must equal 'w_gate' dimension 1 (4): 'w_noise' and 'w_gate' share one shape}}
  %0:3 = moe.noisy_gate %x, %w, %wn, %e : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x5xf32>, tensor<8x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %wn: tensor<16x4xf32>, %e: tensor<7x4xf32>) {
  // expected-error @+1 {{'noise' dimension 0 (7) must equal 'input' dimension 0 (8): both are the token count T}}
  %0:3 = moe.noisy_gate %x, %w, %wn, %e : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<7x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %wn: tensor<16x4xf32>, %e: tensor<8x3xf32>) {
  // expected-error @+1 {{'noise' dimension 1 (3) must equal 'w_gate' dimension 1 (4): both are the number of gate outputs}}
  %0:3 = moe.noisy_gate %x, %w, %wn, %e : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<8x3xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %wn: tensor<16x4xf32>, %e: tensor<8x4xf32>) {
  // expected-error @+1 {{'noise_epsilon' must be finite and non-negative, got -1.00}}
  %0:3 = moe.noisy_gate %x, %w, %wn, %e {noise_epsilon = -1.0 : f64} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<8x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %wn: tensor<16x4xf16>, %e: tensor<8x4xf32>) {
  // expected-error @+1 {{'w_noise' element type f16 must match 'input' element type f32}}
  %0:3 = moe.noisy_gate %x, %w, %wn, %e : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf16>, tensor<8x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'k' (5) must not exceed the number of candidates (4)}}
  %v, %i = moe.topk %l, k = 5 : (tensor<8x4xf32>) -> (tensor<8x5xf32>, tensor<8x5xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{attribute 'k' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %v, %i = moe.topk %l, k = 0 : (tensor<8x4xf32>) -> (tensor<8x0xf32>, tensor<8x0xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'values' dimension 1 (3) must be the static 'k' (2)}}
  %v, %i = moe.topk %l, k = 2 : (tensor<8x4xf32>) -> (tensor<8x3xf32>, tensor<8x3xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'values' element type f16 must match 'input' element type f32}}
  %v, %i = moe.topk %l, k = 2 : (tensor<8x4xf32>) -> (tensor<8x2xf16>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'values' dimension 0 (7) must equal 'input' dimension 0 (8): both are the token count T}}
  %v, %i = moe.topk %l, k = 2 : (tensor<8x4xf32>) -> (tensor<7x2xf32>, tensor<7x2xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'indices' dimension 1 (1) must equal 'values' dimension 1 (2): 'indices' and 'values' share one shape}}
  %v, %i = moe.topk %l, k = 2 : (tensor<8x4xf32>) -> (tensor<8x2xf32>, tensor<8x1xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{result #1 must be 2D tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<8x2xi16>'}}
  %v, %i = moe.topk %l, k = 2 : (tensor<8x4xf32>) -> (tensor<8x2xf32>, tensor<8x2xi16>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'values' dimension 1 (?) must be the static 'k' (2)}}
  %v, %i = moe.topk %l, k = 2 : (tensor<8x4xf32>) -> (tensor<8x?xf32>, tensor<8x?xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %v: tensor<7x2xf32>) {
  // expected-error @+1 {{'values' dimension 0 (7) must equal 'logits' dimension 0 (8): both are the token count T}}
  %g = moe.route_weights <topk_softmax> %l, %v : (tensor<8x4xf32>, tensor<7x2xf32>) -> tensor<8x2xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %v: tensor<8x5xf32>) {
  // expected-error @+1 {{the number of kept values (5) must not exceed the number of experts (4)}}
  %g = moe.route_weights <topk_softmax> %l, %v : (tensor<8x4xf32>, tensor<8x5xf32>) -> tensor<8x5xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %v: tensor<8x2xbf16>) {
  // expected-error @+1 {{'values' element type bf16 must match 'logits' element type f32}}
  %g = moe.route_weights <topk_softmax> %l, %v : (tensor<8x4xf32>, tensor<8x2xbf16>) -> tensor<8x2xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %v: tensor<8x2xf32>) {
  // expected-error @+2 {{custom op 'moe.route_weights' expected ::mlir::moe::Normalization to be one of: topk_softmax, softmax_topk, sigmoid_topk}}
  // expected-error @+1 {{custom op 'moe.route_weights' failed to parse MoE_NormalizationAttr parameter 'value' which is to be a `::mlir::moe::Normalization`}}
  %g = moe.route_weights <softmax_all> %l, %v : (tensor<8x4xf32>, tensor<8x2xf32>) -> tensor<8x2xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'k' (5) must not exceed the number of experts (4)}}
  %g, %i = moe.route <topk_softmax> %l, k = 5 : (tensor<8x4xf32>) -> (tensor<8x5xf32>, tensor<8x5xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'gates' element type f16 must match 'logits' element type f32}}
  %g, %i = moe.route <topk_softmax> %l, k = 2 : (tensor<8x4xf32>) -> (tensor<8x2xf16>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'gates' dimension 0 (7) must equal 'logits' dimension 0 (8): both are the token count T}}
  %g, %i = moe.route <topk_softmax> %l, k = 2 : (tensor<8x4xf32>) -> (tensor<7x2xf32>, tensor<7x2xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'indices' dimension 1 (3) must equal 'gates' dimension 1 (2): 'indices' and 'gates' share one shape}}
  %g, %i = moe.route <softmax_topk> %l, k = 2 : (tensor<8x4xf32>) -> (tensor<8x2xf32>, tensor<8x3xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'indices' dimension 0 (7) must equal 'logits' dimension 0 (8): both are the token count T}}
  %g, %i = moe.route <softmax_topk> %l, k = 2 : (tensor<8x4xf32>) -> (tensor<?x2xf32>, tensor<7x2xi64>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'gates' dimension 1 (3) must be the static 'k' (2)}}
  %g, %i = moe.route <sigmoid_topk> %l, k = 2 : (tensor<8x4xf32>) -> (tensor<8x3xf32>, tensor<8x3xi64>)
  return
}

// -----

func.func @f(%pg: tensor<8x2xf32>, %pi: tensor<8x3xi64>, %sg: tensor<8x3x2xf32>, %si: tensor<8x3x2xi64>) {
  // expected-error @+1 {{'primary_gates' dimension 1 (2) must equal 'primary_indices' dimension 1 (3): 'primary_gates' and 'primary_indices' share one shape}}
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 4 : (tensor<8x2xf32>, tensor<8x3xi64>, tensor<8x3x2xf32>, tensor<8x3x2xi64>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
  return
}

// -----

func.func @f(%pg: tensor<8x2xf32>, %pi: tensor<8x2xi64>, %sg: tensor<8x3x2xf32>, %si: tensor<8x3x1xi64>) {
  // expected-error @+1 {{'secondary_indices' dimension 2 (1) must equal 'secondary_gates' dimension 2 (2): 'secondary_indices' and 'secondary_gates' share one shape}}
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 4 : (tensor<8x2xf32>, tensor<8x2xi64>, tensor<8x3x2xf32>, tensor<8x3x1xi64>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
  return
}

// -----

func.func @f(%pg: tensor<8x2xf32>, %pi: tensor<8x2xi64>, %sg: tensor<4x3x2xf32>, %si: tensor<4x3x2xi64>) {
  // expected-error @+1 {{'secondary_gates' dimension 0 (4) must equal 'primary_gates' dimension 0 (8): both are the token count T}}
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 4 : (tensor<8x2xf32>, tensor<8x2xi64>, tensor<4x3x2xf32>, tensor<4x3x2xi64>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
  return
}

// -----

func.func @f(%pg: tensor<8x4xf32>, %pi: tensor<8x4xi64>, %sg: tensor<8x3x2xf32>, %si: tensor<8x3x2xi64>) {
  // expected-error @+1 {{the primary choices per token (4) must not exceed the number of groups (3)}}
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 4 : (tensor<8x4xf32>, tensor<8x4xi64>, tensor<8x3x2xf32>, tensor<8x3x2xi64>) -> (tensor<8x8xf32>, tensor<8x8xi64>)
  return
}

// -----

func.func @f(%pg: tensor<8x2xf32>, %pi: tensor<8x2xi64>, %sg: tensor<8x3x2xf32>, %si: tensor<8x3x2xi64>) {
  // expected-error @+1 {{the secondary choices per group (2) must not exceed 'group_size' (1)}}
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 1 : (tensor<8x2xf32>, tensor<8x2xi64>, tensor<8x3x2xf32>, tensor<8x3x2xi64>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
  return
}

// -----

func.func @f(%pg: tensor<8x2xf32>, %pi: tensor<8x2xi64>, %sg: tensor<8x3x2xf16>, %si: tensor<8x3x2xi64>) {
  // expected-error @+1 {{'secondary_gates' element type f16 must match 'primary_gates' element type f32}}
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 4 : (tensor<8x2xf32>, tensor<8x2xi64>, tensor<8x3x2xf16>, tensor<8x3x2xi64>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
  return
}

// -----

func.func @f(%pg: tensor<8x2xf32>, %pi: tensor<8x2xi64>, %sg: tensor<8x3x2xf32>, %si: tensor<8x3x2xi32>) {
  // expected-error @+1 {{'secondary_indices' element type i32 must match 'primary_indices' element type i64}}
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 4 : (tensor<8x2xf32>, tensor<8x2xi64>, tensor<8x3x2xf32>, tensor<8x3x2xi32>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<7x2xi64>) {
  // expected-error @+1 {{'indices' dimension 0 (7) must equal 'input' dimension 0 (8): both are the token count T}}
  %t, %o, %r = moe.dispatch %x, %i, num_experts = 4 : (tensor<8x16xf32>, tensor<7x2xi64>) -> (tensor<16x16xf32>, tensor<5xi64>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<8x5xi64>) {
  // expected-error @+1 {{the choices per token (5) must not exceed 'num_experts' (4)}}
  %t, %o, %r = moe.dispatch %x, %i, num_experts = 4 : (tensor<8x16xf32>, tensor<8x5xi64>) -> (tensor<40x16xf32>, tensor<5xi64>, tensor<8x5xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<8x2xi64>) {
  // expected-error @+2 {{inferred type(s) 'tensor<16x16xf32>', 'tensor<5xi64>', 'tensor<8x2xi64>' are incompatible with return type(s) of operation 'tensor<16x16xf32>', 'tensor<4xi64>', 'tensor<8x2xi64>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %t, %o, %r = moe.dispatch %x, %i, num_experts = 4 : (tensor<8x16xf32>, tensor<8x2xi64>) -> (tensor<16x16xf32>, tensor<4xi64>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<8x2xi64>) {
  // expected-error @+1 {{attribute 'num_experts' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %t, %o, %r = moe.dispatch %x, %i, num_experts = 0 : (tensor<8x16xf32>, tensor<8x2xi64>) -> (tensor<16x16xf32>, tensor<1xi64>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<8x2xi64>) {
  // expected-error @+1 {{'capacity_factor' must be a finite positive number, got 0.00}}
  %t, %r = moe.capacity_dispatch %x, %i, num_experts = 4, capacity_factor = 0.0 : (tensor<8x16xf32>, tensor<8x2xi64>) -> (tensor<4x0x16xf32>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<8x2xi64>) {
  // expected-error @+1 {{'capacity_factor' (5) must not exceed 'num_experts' (4): experts would have more slots than there are choices}}
  %t, %r = moe.capacity_dispatch %x, %i, num_experts = 4, capacity_factor = 5.0 : (tensor<8x16xf32>, tensor<8x2xi64>) -> (tensor<4x20x16xf32>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<8x2xi64>) {
  // expected-error @+2 {{inferred type(s) 'tensor<4x4x16xf32>', 'tensor<8x2xi64>' are incompatible with return type(s) of operation 'tensor<4x5x16xf32>', 'tensor<8x2xi64>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %t, %r = moe.capacity_dispatch %x, %i, num_experts = 4, capacity_factor = 1.0 : (tensor<8x16xf32>, tensor<8x2xi64>) -> (tensor<4x5x16xf32>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<9x2xi64>) {
  // expected-error @+1 {{'indices' dimension 0 (9) must equal 'input' dimension 0 (8): both are the token count T}}
  %t, %r = moe.capacity_dispatch %x, %i, num_experts = 4, capacity_factor = 1.0 : (tensor<8x16xf32>, tensor<9x2xi64>) -> (tensor<4x4x16xf32>, tensor<8x2xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %i: tensor<8x5xi64>) {
  // expected-error @+1 {{the choices per token (5) must not exceed 'num_experts' (4)}}
  %t, %r = moe.capacity_dispatch %x, %i, num_experts = 4, capacity_factor = 1.0 : (tensor<8x16xf32>, tensor<8x5xi64>) -> (tensor<4x10x16xf32>, tensor<8x5xi64>)
  return
}

// -----

func.func @f(%y: tensor<16x8xf32>, %g: tensor<8x2xf32>, %r: tensor<8x3xi64>) {
  // expected-error @+1 {{'gates' dimension 1 (2) must equal 'rows' dimension 1 (3): 'gates' and 'rows' share one shape}}
  %o = moe.combine %y, %g, %r : (tensor<16x8xf32>, tensor<8x2xf32>, tensor<8x3xi64>) -> tensor<8x8xf32>
  return
}

// -----

func.func @f(%y: tensor<16x8xf32>, %g: tensor<8x2xf16>, %r: tensor<8x2xi64>) {
  // expected-error @+1 {{'gates' element type f16 must match 'expert_output' element type f32}}
  %o = moe.combine %y, %g, %r : (tensor<16x8xf32>, tensor<8x2xf16>, tensor<8x2xi64>) -> tensor<8x8xf32>
  return
}

// -----

func.func @f(%y: tensor<16x8xf32>, %g: tensor<8x2xf32>, %r: tensor<8x2xi64>) {
  // expected-error @+2 {{inferred type(s) 'tensor<8x8xf32>' are incompatible with return type(s) of operation 'tensor<8x16xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %o = moe.combine %y, %g, %r : (tensor<16x8xf32>, tensor<8x2xf32>, tensor<8x2xi64>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %w: tensor<4x16x16xf32>) {
  // expected-error @+1 {{the dropless layout ('tokens' of rank 2) needs 'offsets' [n+1]}}
  %y = moe.experts %t weights(%w) : (tensor<8x16xf32>, tensor<4x16x16xf32>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>, %we: tensor<16x16xf32>):
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<4x2x16xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{the capacity layout ('tokens' of rank 3) takes no 'offsets'}}
  %y = moe.experts %t offsets(%o) weights() : (tensor<4x2x16xf32>, tensor<5xi64>) -> tensor<4x2x16xf32> {
  ^bb0(%g: tensor<2x16xf32>):
    moe.yield %g : tensor<2x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<?xi64>) {
  // expected-error @+1 {{'offsets' must have a static size n+1}}
  %y = moe.experts %t offsets(%o) weights() : (tensor<8x16xf32>, tensor<?xi64>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>):
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<1xi64>) {
  // expected-error @+1 {{'offsets' must have n+1 >= 2 elements, got 1}}
  %y = moe.experts %t offsets(%o) weights() : (tensor<8x16xf32>, tensor<1xi64>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>):
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w: tensor<3x16x16xf32>) {
  // expected-error @+1 {{'weights #0' dimension 0 (3) must be the expert count n (4)}}
  %y = moe.experts %t offsets(%o) weights(%w) : (tensor<8x16xf32>, tensor<5xi64>, tensor<3x16x16xf32>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>, %we: tensor<16x16xf32>):
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w: tensor<f32>) {
  // expected-error @+1 {{'weights #0' must be stacked over the experts (rank >= 1)}}
  %y = moe.experts %t offsets(%o) weights(%w) : (tensor<8x16xf32>, tensor<5xi64>, tensor<f32>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>, %we: tensor<f32>):
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<4x2x16xf32>) {
  // expected-error @+1 {{'output' must have the rank of 'tokens' (3), got 2}}
  %y = moe.experts %t weights() : (tensor<4x2x16xf32>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<2x16xf32>):
    moe.yield %g : tensor<2x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<4x2x16xf32>) {
  // expected-error @+1 {{'output' dimension 1 (3) must equal 'tokens' dimension 1 (2): both are the same token layout}}
  %y = moe.experts %t weights() : (tensor<4x2x16xf32>) -> tensor<4x3x16xf32> {
  ^bb0(%g: tensor<2x16xf32>):
    moe.yield %g : tensor<2x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w: tensor<4x16x16xf32>) {
  // expected-error @+1 {{the body must take the token group and one slice per weight (2 arguments), got 1}}
  %y = moe.experts %t offsets(%o) weights(%w) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x16xf32>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>):
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{body argument #0 must be the token group tensor<?x16xf32>, got tensor<8x16xf32>}}
  %y = moe.experts %t offsets(%o) weights() : (tensor<8x16xf32>, tensor<5xi64>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<8x16xf32>):
    moe.yield %g : tensor<8x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w: tensor<4x16x16xf32>) {
  // expected-error @+1 {{body argument #1 must be one expert's slice of 'weights #0', tensor<16x16xf32>, got tensor<4x16x16xf32>}}
  %y = moe.experts %t offsets(%o) weights(%w) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x16xf32>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>, %we: tensor<4x16x16xf32>):
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{the body must yield the group's output tensor<?x8xf32>, got tensor<?x16xf32>}}
  %y = moe.experts %t offsets(%o) weights() : (tensor<8x16xf32>, tensor<5xi64>) -> tensor<8x8xf32> {
  ^bb0(%g: tensor<?x16xf32>):
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{expects region #0 to have 0 or 1 blocks}}
  %y = moe.experts %t offsets(%o) weights() : (tensor<8x16xf32>, tensor<5xi64>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>):
    cf.br ^bb1
  ^bb1:
    moe.yield %g : tensor<?x16xf32>
  }
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w1' dimension 1 (8) must equal 'tokens' dimension 1 (16): both are the model width d}}
  %y = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x8x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<3x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w1' dimension 0 (3) must be the expert count n (4)}}
  %y = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<3x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x31x16xf32>) {
  // expected-error @+1 {{'w2' dimension 1 (31) must equal 'w1' dimension 2 (32): both are the hidden width h}}
  %y = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>, tensor<4x31x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x16x32xf32>, %b1: tensor<4x16xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'b1' dimension 1 (16) must equal 'w1' dimension 2 (32): both are the hidden width h}}
  %y = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) b1(%b1) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>, tensor<4x16xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x16x32xf32>, %w3: tensor<4x16x16xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w3' dimension 2 (16) must equal 'w1' dimension 2 (32): 'w3' and 'w1' share one shape}}
  %y = moe.expert_ffn <silu> %t offsets(%o) w1(%w1) w3(%w3) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>, tensor<4x16x16xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>, %b2: tensor<4x8xf32>) {
  // expected-error @+1 {{'b2' dimension 1 (8) must equal 'w2' dimension 2 (16): both are the output width d_out}}
  %y = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) w2(%w2) b2(%b2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>, tensor<4x8xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x16x32xbf16>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w1' element type bf16 must match 'tokens' element type f32}}
  %y = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x32xbf16>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{the dropless layout ('tokens' of rank 2) needs 'offsets' [n+1]}}
  %y = moe.expert_ffn <relu> %t w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<8x16xf32>' are incompatible with return type(s) of operation 'tensor<8x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x8xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+2 {{custom op 'moe.expert_ffn' expected ::mlir::moe::Activation to be one of: relu, gelu, silu}}
  // expected-error @+1 {{custom op 'moe.expert_ffn' failed to parse MoE_ActivationAttr parameter 'value' which is to be a `::mlir::moe::Activation`}}
  %y = moe.expert_ffn <tanh> %t offsets(%o) w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%g: tensor<8x2xf32>, %i: tensor<8x3xi64>) {
  // expected-error @+1 {{'gates' dimension 1 (2) must equal 'indices' dimension 1 (3): 'gates' and 'indices' share one shape}}
  %0 = moe.importance %g, %i, num_experts = 4 : (tensor<8x2xf32>, tensor<8x3xi64>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'k' (5) must not exceed the experts per row (4)}}
  %0 = moe.load %l, k = 5 : (tensor<8x4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %c: tensor<8x4xf32>) {
  // expected-error @+1 {{'clean_logits' and 'noise_stddev' must be given together}}
  %0 = "moe.load"(%l, %c) <{k = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 0, 0, 0>}> : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %c: tensor<8x3xf32>, %s: tensor<8x3xf32>) {
  // expected-error @+1 {{'clean_logits' dimension 1 (3) must equal 'logits' dimension 1 (4): 'clean_logits' and 'logits' share one shape}}
  %0 = moe.load %l, k = 2 noise(%c, %s) : (tensor<8x4xf32>, tensor<8x3xf32>, tensor<8x3xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %c: tensor<8x4xf32>, %s: tensor<8x4xf16>) {
  // expected-error @+1 {{'noise_stddev' element type f16 must match 'logits' element type f32}}
  %0 = moe.load %l, k = 2 noise(%c, %s) : (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf16>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x3x4xf32>) {
  // expected-error @+1 {{'within(primary_indices, primary_load)' is required for, and only valid with, grouped [T, a, b] logits}}
  %0 = moe.load %l, k = 2 : (tensor<8x3x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %pi: tensor<8x1xi64>, %pl: tensor<3xf32>) {
  // expected-error @+1 {{'within(primary_indices, primary_load)' is required for, and only valid with, grouped [T, a, b] logits}}
  %0 = moe.load %l, k = 2 within(%pi, %pl) : (tensor<8x4xf32>, tensor<8x1xi64>, tensor<3xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x3x4xf32>, %pi: tensor<7x1xi64>, %pl: tensor<3xf32>) {
  // expected-error @+1 {{'primary_indices' dimension 0 (7) must equal 'logits' dimension 0 (8): both are the token count T}}
  %0 = moe.load %l, k = 2 within(%pi, %pl) : (tensor<8x3x4xf32>, tensor<7x1xi64>, tensor<3xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x3x4xf32>, %pi: tensor<8x4xi64>, %pl: tensor<3xf32>) {
  // expected-error @+1 {{the primary choices per token (4) must not exceed the number of groups (3)}}
  %0 = moe.load %l, k = 2 within(%pi, %pl) : (tensor<8x3x4xf32>, tensor<8x4xi64>, tensor<3xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x3x4xf32>, %pi: tensor<8x1xi64>, %pl: tensor<2xf32>) {
  // expected-error @+1 {{'primary_load' dimension 0 (2) must equal 'logits' dimension 1 (3): both are the number of groups a}}
  %0 = moe.load %l, k = 2 within(%pi, %pl) : (tensor<8x3x4xf32>, tensor<8x1xi64>, tensor<2xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%l: tensor<8x3x4xf32>, %pi: tensor<8x1xi64>, %pl: tensor<3xf16>) {
  // expected-error @+1 {{'primary_load' element type f16 must match 'logits' element type f32}}
  %0 = moe.load %l, k = 2 within(%pi, %pl) : (tensor<8x3x4xf32>, tensor<8x1xi64>, tensor<3xf16>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%v: tensor<1xf32>) {
  // expected-error @+1 {{'input' must have at least 2 elements for an unbiased variance, got 1}}
  %0 = moe.cv_squared %v : (tensor<1xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%v: tensor<4xf32>) {
  // expected-error @+1 {{'weight' must be finite}}
  %0 = moe.cv_squared %v {weight = 0x7FF0000000000000 : f64} : (tensor<4xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %i: tensor<7x2xi64>) {
  // expected-error @+1 {{'indices' dimension 0 (7) must equal 'logits' dimension 0 (8): both are the token count T}}
  %0 = moe.switch_loss %l, %i : (tensor<8x4xf32>, tensor<7x2xi64>) -> tensor<f32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %i: tensor<8x5xi64>) {
  // expected-error @+1 {{the choices per token (5) must not exceed the number of experts (4)}}
  %0 = moe.switch_loss %l, %i : (tensor<8x4xf32>, tensor<8x5xi64>) -> tensor<f32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'weight' must be finite}}
  %0 = moe.z_loss %l {weight = 0x7FF8000000000000 : f64} : (tensor<8x4xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{result #0 must be 0D tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<1xf32>'}}
  %0 = moe.z_loss %l : (tensor<8x4xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%x: tensor<f32>, %c: tensor<4xi32>) {
  // expected-error @+1 {{'input' must have a leading row dimension}}
  %r, %rc = moe.all_to_all %x, %c, num_ranks = 4 : (tensor<f32>, tensor<4xi32>) -> (tensor<f32>, tensor<4xi32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %c: tensor<4xi32>) {
  // expected-error @+1 {{'output' must have the rank of 'input' (2), got 1}}
  %r, %rc = moe.all_to_all %x, %c, num_ranks = 4 : (tensor<8x16xf32>, tensor<4xi32>) -> (tensor<?xf32>, tensor<4xi32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %c: tensor<4xi32>) {
  // expected-error @+1 {{'output' dimension 1 (8) must equal 'input' dimension 1 (16): both are a row's shape}}
  %r, %rc = moe.all_to_all %x, %c, num_ranks = 4 : (tensor<8x16xf32>, tensor<4xi32>) -> (tensor<?x8xf32>, tensor<4xi32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %c: tensor<4xi32>) {
  // expected-error @+1 {{'output' element type bf16 must match 'input' element type f32}}
  %r, %rc = moe.all_to_all %x, %c, num_ranks = 4 : (tensor<8x16xf32>, tensor<4xi32>) -> (tensor<?x16xbf16>, tensor<4xi32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %c: tensor<2xi32>) {
  // expected-error @+1 {{'send_counts' dimension 0 (2) must be 'num_ranks' (4)}}
  %r, %rc = moe.all_to_all %x, %c, num_ranks = 4 : (tensor<8x16xf32>, tensor<2xi32>) -> (tensor<?x16xf32>, tensor<4xi32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %c: tensor<4xi32>) {
  // expected-error @+1 {{'recv_counts' dimension 0 (3) must be 'num_ranks' (4)}}
  %r, %rc = moe.all_to_all %x, %c, num_ranks = 4 : (tensor<8x16xf32>, tensor<4xi32>) -> (tensor<?x16xf32>, tensor<3xi32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %c: tensor<4xi32>) {
  // expected-error @+1 {{'recv_counts' element type i64 must match 'send_counts' element type i32}}
  %r, %rc = moe.all_to_all %x, %c, num_ranks = 4 : (tensor<8x16xf32>, tensor<4xi32>) -> (tensor<?x16xf32>, tensor<4xi64>)
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{the body must end in 'moe.yield'}}
  %y = moe.experts %t offsets(%o) weights() : (tensor<8x16xf32>, tensor<5xi64>) -> tensor<8x16xf32> {
  ^bb0(%g: tensor<?x16xf32>):
    llvm.unreachable
  }
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'noise_epsilon' must be finite and non-negative, got -0.50}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2, noise_epsilon = -0.5 : f64} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'importance_weight' must be finite}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2, importance_weight = 0x7FF0000000000000 : f64} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'load_weight' must be finite}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2, load_weight = 0x7FF8000000000000 : f64} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'capacity_factor' must be a finite positive number, got -1.00}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2, capacity_factor = -1.0 : f64} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'capacity_factor' (1e+300) must not exceed 'num_experts' (4)}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2, capacity_factor = 1.0e300 : f64} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{a hierarchical layer needs both 'num_groups' and 'group_k'}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2, num_groups = 2} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'secondary_gate' and 'secondary_noise' need a hierarchical layer ('num_groups')}}
  %y:3 = moe.layer %x gate(%wg) secondary_gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'k' (5) must not exceed 'num_experts' (4)}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 5} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x3xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w_gate' dimension 1 (3) must be 'num_experts' (4)}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2} : (tensor<8x16xf32>, tensor<16x3xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %wn: tensor<16x4xf32>, %e: tensor<8x3xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'noise' dimension 1 (3) must equal 'w_gate' dimension 1 (4): both are the number of gate outputs}}
  %y:3 = moe.layer %x gate(%wg) noise(%wn, %e) w1(%w1) w2(%w2) {num_experts = 4, k = 2} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<8x3xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %wn: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w_noise' and 'noise' must be given together}}
  %y:3 = "moe.layer"(%x, %wg, %wn, %w1, %w2) <{num_experts = 4 : i64, k = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0>}> : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x2xf32>, %ws: tensor<16x6xf32>, %w1: tensor<6x16x32xf32>, %w2: tensor<6x32x16xf32>) {
  // expected-error @+1 {{'num_experts' (6) must be a multiple of 'num_groups' (4)}}
  %y:3 = moe.layer %x gate(%wg) secondary_gate(%ws) w1(%w1) w2(%w2) {num_experts = 6, k = 2, num_groups = 4, group_k = 1} : (tensor<8x16xf32>, tensor<16x2xf32>, tensor<16x6xf32>, tensor<6x16x32xf32>, tensor<6x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x2xf32>, %w1: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>) {
  // expected-error @+1 {{a hierarchical layer needs 'secondary_gate'}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 8, k = 2, num_groups = 2, group_k = 1} : (tensor<8x16xf32>, tensor<16x2xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x2xf32>, %ws: tensor<16x8xf32>, %w1: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>) {
  // expected-error @+1 {{'group_k' (3) must not exceed 'num_groups' (2)}}
  %y:3 = moe.layer %x gate(%wg) secondary_gate(%ws) w1(%w1) w2(%w2) {num_experts = 8, k = 2, num_groups = 2, group_k = 3} : (tensor<8x16xf32>, tensor<16x2xf32>, tensor<16x8xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x2xf32>, %ws: tensor<16x8xf32>, %w1: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>) {
  // expected-error @+1 {{'k' (5) must not exceed the experts per group (4)}}
  %y:3 = moe.layer %x gate(%wg) secondary_gate(%ws) w1(%w1) w2(%w2) {num_experts = 8, k = 5, num_groups = 2, group_k = 1} : (tensor<8x16xf32>, tensor<16x2xf32>, tensor<16x8xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x8xf32>, %ws: tensor<16x8xf32>, %w1: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>) {
  // expected-error @+1 {{'w_gate' dimension 1 (8) must be 'num_groups' (2)}}
  %y:3 = moe.layer %x gate(%wg) secondary_gate(%ws) w1(%w1) w2(%w2) {num_experts = 8, k = 2, num_groups = 2, group_k = 1} : (tensor<8x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x2xf32>, %ws: tensor<16x4xf32>, %w1: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>) {
  // expected-error @+1 {{'secondary_w_gate' dimension 1 (4) must be 'num_experts' (8)}}
  %y:3 = moe.layer %x gate(%wg) secondary_gate(%ws) w1(%w1) w2(%w2) {num_experts = 8, k = 2, num_groups = 2, group_k = 1} : (tensor<8x16xf32>, tensor<16x2xf32>, tensor<16x4xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x2xf32>, %ws: tensor<16x8xf32>, %wsn: tensor<16x8xf32>, %es: tensor<8x2xf32>, %w1: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>) {
  // expected-error @+1 {{'secondary_noise' dimension 1 (2) must equal 'secondary_w_gate' dimension 1 (8): both are the number of gate outputs}}
  %y:3 = moe.layer %x gate(%wg) secondary_gate(%ws) secondary_noise(%wsn, %es) w1(%w1) w2(%w2) {num_experts = 8, k = 2, num_groups = 2, group_k = 1} : (tensor<8x16xf32>, tensor<16x2xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8x2xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>) {
  // expected-error @+1 {{'w1' dimension 0 (8) must be the expert count n (4)}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<8x16xf32>', 'tensor<f32>', 'tensor<f32>' are incompatible with return type(s) of operation 'tensor<8x16xf32>', 'tensor<f16>', 'tensor<f32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 4, k = 2} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f16>, tensor<f32>)
  return
}

// -----

// Malformed generic forms and rules found in review: each used to crash or
// to be accepted.

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<4x16x32xf32>) {
  // expected-error @+1 {{needs exactly one 'w2' operand}}
  %y = "moe.expert_ffn"(%t, %o, %w1) <{activation = #moe.activation<relu>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0>}> : (tensor<8x16xf32>, tensor<5xi64>, tensor<4x16x32xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %w1: tensor<4x16x32xf32>, %b1: tensor<4x32xf32>) {
  // expected-error @+1 {{needs exactly one 'w2' operand}}
  %y:3 = "moe.layer"(%x, %wg, %w1, %b1) <{num_experts = 4 : i64, k = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0>}> : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4x16x32xf32>, tensor<4x32xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>, %c: tensor<8x4xf32>) {
  // expected-error @+1 {{needs exactly one 'logits' operand}}
  %0 = "moe.load"(%l, %c) <{k = 2 : i64, operandSegmentSizes = array<i32: 2, 0, 0, 0, 0>}> : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{needs exactly one 'tokens' operand}}
  %y = "moe.experts"(%o) <{operandSegmentSizes = array<i32: 0, 1, 0>}> ({
  ^bb0(%g: tensor<?x16xf32>):
    moe.yield %g : tensor<?x16xf32>
  }) : (tensor<5xi64>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x1xf32>, %w1: tensor<1x16x32xf32>, %w2: tensor<1x32x16xf32>) {
  // expected-error @+1 {{'num_experts' must be at least 2: the balancing losses are variances over the experts}}
  %y:3 = moe.layer %x gate(%wg) w1(%w1) w2(%w2) {num_experts = 1, k = 1} : (tensor<8x16xf32>, tensor<16x1xf32>, tensor<1x16x32xf32>, tensor<1x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x?xf32>, %wn: tensor<16x5xf32>, %e: tensor<8x5xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w_noise' dimension 1 (5) must be 'num_experts' (4)}}
  %y:3 = moe.layer %x gate(%wg) noise(%wn, %e) w1(%w1) w2(%w2) {num_experts = 4, k = 2} : (tensor<8x16xf32>, tensor<16x?xf32>, tensor<16x5xf32>, tensor<8x5xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %wg: tensor<16x4xf32>, %e: tensor<8x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'secondary_gate' and 'secondary_noise' need a hierarchical layer ('num_groups')}}
  %y:3 = "moe.layer"(%x, %wg, %e, %w1, %w2) <{num_experts = 4 : i64, k = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0>}> : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<8x4xf32>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> (tensor<8x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %wg: tensor<16x2xf32>, %wn: tensor<16x2xf32>, %e: tensor<6x2xf32>, %ws: tensor<16x8xf32>, %wsn: tensor<16x8xf32>, %es: tensor<7x8xf32>, %w1: tensor<8x16x32xf32>, %w2: tensor<8x32x16xf32>) {
  // expected-error @+1 {{'secondary_noise' dimension 0 (7) must equal 'noise' dimension 0 (6): both are the token count T}}
  %y:3 = moe.layer %x gate(%wg) noise(%wn, %e) secondary_gate(%ws) secondary_noise(%wsn, %es) w1(%w1) w2(%w2) {num_experts = 8, k = 2, num_groups = 2, group_k = 1} : (tensor<?x16xf32>, tensor<16x2xf32>, tensor<16x2xf32>, tensor<6x2xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<7x8xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>) -> (tensor<?x16xf32>, tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @f(%t: tensor<8x16xf32>, %o: tensor<5xi64>, %w1: tensor<?x16x32xf32>, %w2: tensor<3x32x16xf32>) {
  // expected-error @+1 {{'w2' dimension 0 (3) must be the expert count n (4)}}
  %y = moe.expert_ffn <relu> %t offsets(%o) w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<5xi64>, tensor<?x16x32xf32>, tensor<3x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<8x2xf32>, %i: tensor<8x2xi64>, %w1: tensor<?x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w1' dimension 0 (the expert count n) must be static}}
  %y = moe.routed_ffn <relu> %x, %g, %i w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xi64>, tensor<?x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<8x2xf32>, %i: tensor<8x3xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'gates' dimension 1 (2) must equal 'indices' dimension 1 (3): 'gates' and 'indices' share one shape}}
  %y = moe.routed_ffn <relu> %x, %g, %i w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x3xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<6x2xf32>, %i: tensor<6x2xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'gates' dimension 0 (6) must equal 'input' dimension 0 (8): both are the token count T}}
  %y = moe.routed_ffn <relu> %x, %g, %i w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<6x2xf32>, tensor<6x2xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<?x2xf32>, %i: tensor<7x2xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'indices' dimension 0 (7) must equal 'input' dimension 0 (8): both are the token count T}}
  %y = moe.routed_ffn <relu> %x, %g, %i w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<?x2xf32>, tensor<7x2xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<8x2xf16>, %i: tensor<8x2xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'gates' element type f16 must match 'input' element type f32}}
  %y = moe.routed_ffn <relu> %x, %g, %i w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<8x2xf16>, tensor<8x2xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<8x5xf32>, %i: tensor<8x5xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{the choices per token (5) must not exceed the expert count n (4)}}
  %y = moe.routed_ffn <relu> %x, %g, %i w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<8x5xf32>, tensor<8x5xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<8x2xf32>, %i: tensor<8x2xi64>, %w1: tensor<4x8x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{'w1' dimension 1 (8) must equal 'input' dimension 1 (16): both are the model width d}}
  %y = moe.routed_ffn <relu> %x, %g, %i w1(%w1) w2(%w2) : (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xi64>, tensor<4x8x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<8x2xf32>, %i: tensor<8x2xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>, %b2: tensor<4x8xf32>) {
  // expected-error @+1 {{'b2' dimension 1 (8) must equal 'w2' dimension 2 (16): both are the output width d_out}}
  %y = moe.routed_ffn <relu> %x, %g, %i w1(%w1) w2(%w2) b2(%b2) : (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>, tensor<4x8xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %g: tensor<8x2xf32>, %i: tensor<8x2xi64>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x32x16xf32>) {
  // expected-error @+1 {{needs exactly one 'w1' operand}}
  %y = "moe.routed_ffn"(%x, %g, %i, %w1, %w2) <{activation = #moe.activation<relu>, operandSegmentSizes = array<i32: 1, 1, 1, 2, 0, 0, 0, 0>}> : (tensor<8x16xf32>, tensor<8x2xf32>, tensor<8x2xi64>, tensor<4x16x32xf32>, tensor<4x32x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%l: tensor<8x4xf32>) {
  // expected-error @+1 {{'indices' dimension 0 (7) must equal 'input' dimension 0 (8): both are the token count T}}
  %v, %i = moe.topk %l, k = 2 : (tensor<8x4xf32>) -> (tensor<?x2xf32>, tensor<7x2xi64>)
  return
}

// -----

func.func @f(%pg: tensor<8x2xf32>, %pi: tensor<8x2xi64>, %sg: tensor<?x3x2xf32>, %si: tensor<7x3x2xi64>) {
  // expected-error @+1 {{'secondary_indices' dimension 0 (7) must equal 'primary_indices' dimension 0 (8): both are the token count T}}
  %g, %i = moe.compose_routing %pg, %pi, %sg, %si, group_size = 4 : (tensor<8x2xf32>, tensor<8x2xi64>, tensor<?x3x2xf32>, tensor<7x3x2xi64>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
  return
}

// -----

func.func @f(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %wn: tensor<16x4xf32>, %e: tensor<8x5xf32>) {
  // expected-error @+1 {{'noise' dimension 1 (5) must equal 'w_gate' dimension 1 (4): both are the number of gate outputs}}
  %0:3 = moe.noisy_gate %x, %w, %wn, %e : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<8x5xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
  return
}

// -----

// expected-error @+1 {{'moe.expert_shards' must be an i64 above 1, got 1 : i64}}
func.func @expert_shards_one(%w: tensor<4x8xf32> {moe.expert_shards = 1 : i64}) {
  return
}

// -----

// expected-error @+1 {{'moe.expert_shards' marks argument #0, which does not stack experts with a static leading dimension}}
func.func @expert_shards_dynamic(%w: tensor<?x8xf32> {moe.expert_shards = 2 : i64}) {
  return
}

// -----

// expected-error @+1 {{unknown argument attribute 'moe.shards'}}
func.func @unknown_argument_attribute(%w: tensor<4x8xf32> {moe.shards = 2 : i64}) {
  return
}

// -----

// expected-error @+1 {{'moe.packed_weights' must be {entry = @symbol, arguments = array<i64: ...>, inner_tiles = array<i64: depth, width>}, got {entry = @f_packed}}}
func.func @packed_weights_fields(%w: tensor<4x8x8xf32>) attributes {moe.packed_weights = {entry = @f_packed}} {
  return
}

// -----

func.func private @f_packed(tensor<4x1x1x8x8xf32>)
// expected-error @+1 {{'moe.packed_weights' inner_tiles must be two positive sizes, got array<i64: 8, 0>}}
func.func @packed_weights_tiles(%w: tensor<4x8x8xf32>) attributes {moe.packed_weights = {entry = @f_packed, arguments = array<i64: 0>, inner_tiles = array<i64: 8, 0>}} {
  return
}

// -----

func.func private @f_packed(tensor<4x1x1x8x8xf32>)
// expected-error @+1 {{'moe.packed_weights' arguments must be increasing positions below 1, got array<i64: 1>}}
func.func @packed_weights_position(%w: tensor<4x8x8xf32>) attributes {moe.packed_weights = {entry = @f_packed, arguments = array<i64: 1>, inner_tiles = array<i64: 8, 8>}} {
  return
}

// -----

// expected-error @+1 {{'moe.packed_weights' names @f_packed, which is not a function}}
func.func @packed_weights_missing(%w: tensor<4x8x8xf32>) attributes {moe.packed_weights = {entry = @f_packed, arguments = array<i64: 0>, inner_tiles = array<i64: 8, 8>}} {
  return
}

// -----

func.func private @f_packed(tensor<4x1x1x8x8xf32>, tensor<4xf32>)
// expected-error @+1 {{'moe.packed_weights' names @f_packed, which takes 2 arguments instead of 1}}
func.func @packed_weights_arity(%w: tensor<4x8x8xf32>) attributes {moe.packed_weights = {entry = @f_packed, arguments = array<i64: 0>, inner_tiles = array<i64: 8, 8>}} {
  return
}

// -----

func.func private @f_packed(tensor<4x8x8xf32>)
// expected-error @+1 {{'moe.packed_weights' argument #0 ('tensor<4x8x8xf32>') does not match the variant's packed 'tensor<4x8x8xf32>'}}
func.func @packed_weights_layout(%w: tensor<4x8x8xf32>) attributes {moe.packed_weights = {entry = @f_packed, arguments = array<i64: 0>, inner_tiles = array<i64: 8, 8>}} {
  return
}

// -----

// A scalar argument beside the weights does not turn the checks off.
func.func private @f_packed(index, tensor<4x1x1x8x8xf16>)
// expected-error @+1 {{'moe.packed_weights' argument #1 ('tensor<4x8x8xf32>') does not match the variant's packed 'tensor<4x1x1x8x8xf16>'}}
func.func @packed_weights_element_type(%i: index, %w: tensor<4x8x8xf32>) attributes {moe.packed_weights = {entry = @f_packed, arguments = array<i64: 1>, inner_tiles = array<i64: 8, 8>}} {
  return
}

// -----

func.func private @f_packed(tensor<4x1x1x6x8xf32>)
// expected-error @+1 {{'moe.packed_weights' argument #0 ('tensor<4x8x8xf32>') is not a static [n, K, N] weight of whole tiles}}
func.func @packed_weights_tiles_divide(%w: tensor<4x8x8xf32>) attributes {moe.packed_weights = {entry = @f_packed, arguments = array<i64: 0>, inner_tiles = array<i64: 6, 8>}} {
  return
}

// -----

// expected-error @+1 {{unknown attribute 'moe.packed'}}
func.func @unknown_attribute() attributes {moe.packed = 1 : i64} {
  return
}
