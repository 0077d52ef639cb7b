//===- MoEDialect.td - Mixture-of-Experts dialect ----------*- tablegen -*-===//

#ifndef MOE_DIALECT_MOE_IR_MOEDIALECT_TD
#define MOE_DIALECT_MOE_IR_MOEDIALECT_TD

include "mlir/IR/OpBase.td"

def MoE_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::mlir::moe";
  let summary = "Sparsely-gated Mixture-of-Experts layers";
  let description = [{
    The `moe` dialect expresses the sparsely-gated Mixture-of-Experts layer of
    Shazeer et al. 2017 on ranked tensors: gating (optionally noisy), top-k,
    routing weights, dispatch of tokens to experts (dropless or with a
    capacity), the experts themselves, the weighted combine back to token
    order, the balancing losses, hierarchical routing and the all-to-all
    exchange of expert parallelism.

    `moe.layer` carries a whole layer's configuration; `moe-expand-layer`
    rewrites it into the fine-grained ops, which the conversions lower.

    Conventions shared by all ops: `T` is the token count (static or dynamic),
    `d` the model width, `n` the number of experts, `k` the experts chosen per
    token. Data tensors hold f16, bf16, f32 or f64; index tensors i32 or i64.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let hasRegionArgAttrVerify = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// On a function argument: the argument holds one rank's share of a
    /// stacked expert weight split over this many ranks (an i64 above 1),
    /// as `moe-shard-experts` leaves it.
    static constexpr ::llvm::StringLiteral kExpertShardsAttrName =
        "moe.expert_shards";
    /// On a public function: its variant taking packed expert weights, as
    /// `moe-pack-expert-weights` adds it, `{entry = @f_packed, arguments =
    /// array<i64: ...>, inner_tiles = array<i64: d, w>}`: the packed
    /// arguments' positions, increasing, each packed as `linalg.pack` with
    /// inner tiles `[d, w]` on dims 1 and 2 leaves it.
    static constexpr ::llvm::StringLiteral kPackedWeightsAttrName =
        "moe.packed_weights";
  }];
}

class MoE_Op<string mnemonic, list<Trait> traits = []>
    : Op<MoE_Dialect, mnemonic, traits>;

#endif // MOE_DIALECT_MOE_IR_MOEDIALECT_TD
