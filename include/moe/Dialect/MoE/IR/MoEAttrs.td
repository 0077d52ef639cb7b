//===- MoEAttrs.td - Mixture-of-Experts attributes ---------*- tablegen -*-===//

#ifndef MOE_DIALECT_MOE_IR_MOEATTRS_TD
#define MOE_DIALECT_MOE_IR_MOEATTRS_TD

include "moe/Dialect/MoE/IR/MoEDialect.td"
include "mlir/IR/EnumAttr.td"

def MoE_Activation : I32EnumAttr<"Activation", "expert activation function", [
    I32EnumAttrCase<"relu", 0>,
    I32EnumAttrCase<"gelu", 1>,
    I32EnumAttrCase<"silu", 2>,
  ]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}
def MoE_ActivationAttr : EnumAttr<MoE_Dialect, MoE_Activation, "activation"> {
  let assemblyFormat = "`<` $value `>`";
}

def MoE_Normalization : I32EnumAttr<"Normalization",
    "how routing weights are computed from the gate logits", [
    // softmax(KeepTopK(H, k)): a softmax over the k kept logits (the paper).
    I32EnumAttrCase<"topk_softmax", 0>,
    // softmax over all n logits, then keep the k largest (Switch, Mixtral).
    I32EnumAttrCase<"softmax_topk", 1>,
    // Independent sigmoid scores, keep the k largest (DeepSeek-V3).
    I32EnumAttrCase<"sigmoid_topk", 2>,
  ]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}
def MoE_NormalizationAttr
    : EnumAttr<MoE_Dialect, MoE_Normalization, "normalization"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // MOE_DIALECT_MOE_IR_MOEATTRS_TD
