// moe.routed_ffn written directly, with routings that name one expert twice
// for a token (which moe.topk never produces): both choices must add in.
func.func @routed(%x: tensor<?x8xf32>, %gates: tensor<?x2xf32>,
                  %idx: tensor<?x2xi32>, %w1: tensor<3x8x16xf32>,
                  %b1: tensor<3x16xf32>, %w2: tensor<3x16x8xf32>)
    -> tensor<?x8xf32> {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) b1(%b1) w2(%w2)
      : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<3x8x16xf32>,
         tensor<3x16xf32>, tensor<3x16x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
