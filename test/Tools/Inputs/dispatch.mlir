// Dispatch of caller-supplied expert indices, which must name experts.
func.func @f(%x: tensor<?x4xf32>, %idx: tensor<?x2xi32>)
    -> (tensor<?x4xf32>, tensor<5xi32>, tensor<?x2xi32>) {
  %t, %o, %r = moe.dispatch %x, %idx, num_experts = 4
      : (tensor<?x4xf32>, tensor<?x2xi32>)
      -> (tensor<?x4xf32>, tensor<5xi32>, tensor<?x2xi32>)
  return %t, %o, %r : tensor<?x4xf32>, tensor<5xi32>, tensor<?x2xi32>
}
