// Expert weights of whole 128 x 64 panels, which --pack-weights packs.
func.func @routed(%x: tensor<?x128xf32>, %gates: tensor<?x1xf32>,
                  %idx: tensor<?x1xi64>, %w1: tensor<2x128x64xf32>,
                  %w2: tensor<2x64x128xf32>) -> tensor<?x128xf32> {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) w2(%w2)
      : (tensor<?x128xf32>, tensor<?x1xf32>, tensor<?x1xi64>,
         tensor<2x128x64xf32>, tensor<2x64x128xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
