//===- Passes.td - MoE dialect transformations -------------*- tablegen -*-===//

#ifndef MOE_DIALECT_MOE_TRANSFORMS_PASSES_TD
#define MOE_DIALECT_MOE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoEExpandLayer : Pass<"moe-expand-layer"> {
  let summary = "Expand moe.layer into gating, routing, dispatch, experts, "
                "combine and loss ops";
  let description = [{
    Rewrites each `moe.layer` into the fine-grained ops of the dialect:
    `moe.gate` or `moe.noisy_gate`, `moe.topk`, `moe.route_weights`,
    `moe.dispatch` (or `moe.capacity_dispatch`), `moe.expert_ffn`,
    `moe.combine`, and the balancing losses
    `moe.cv_squared(moe.importance(...))` and `moe.cv_squared(moe.load(...))`.

    A hierarchical layer routes twice: the primary gate picks `group_k`
    groups, the secondary gate of every group picks `k` of its experts
    (computed for all groups at once and reshaped to `[T, a, b]`), and
    `moe.compose_routing` flattens the two levels into one routing over all
    `n` experts, so dispatch, experts and combine are those of a flat layer.
    Its load loss is SPEC §1.3's `Load_H`, from `moe.load ... within(...)`.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

#endif // MOE_DIALECT_MOE_TRANSFORMS_PASSES_TD
