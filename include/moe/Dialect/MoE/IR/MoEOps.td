//===- MoEOps.td - Mixture-of-Experts operations -----------*- tablegen -*-===//

#ifndef MOE_DIALECT_MOE_IR_MOEOPS_TD
#define MOE_DIALECT_MOE_IR_MOEOPS_TD

include "moe/Dialect/MoE/IR/MoEDialect.td"
include "moe/Dialect/MoE/IR/MoEAttrs.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

defvar MoE_FloatTypes = [F16, BF16, F32, F64];
defvar MoE_IndexTypes = [I32, I64];

class MoE_Data<list<int> ranks> : TensorRankOf<MoE_FloatTypes, ranks>;
class MoE_Indices<list<int> ranks> : TensorRankOf<MoE_IndexTypes, ranks>;
def MoE_Scalar : 0DTensorOf<MoE_FloatTypes>;

//===----------------------------------------------------------------------===//
// Gating
//===----------------------------------------------------------------------===//

def MoE_GateOp : MoE_Op<"gate", [Pure, InferTypeOpAdaptor]> {
  let summary = "gating logits x . W_g";
  let description = [{
    Computes the clean gating logits `x . W_g` of every token for every expert
    (SPEC §1.1, inference form).

    Shapes: `input` `[T, d]`, `w_gate` `[d, n]`, result `[T, n]`; one element
    type throughout.

    ```mlir
    %logits = moe.gate %x, %wg
        : (tensor<?x512xf32>, tensor<512x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins MoE_Data<[2]>:$input, MoE_Data<[2]>:$w_gate);
  let results = (outs MoE_Data<[2]>:$logits);
  let assemblyFormat = [{
    $input `,` $w_gate attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_NoisyGateOp : MoE_Op<"noisy_gate", [Pure, InferTypeOpAdaptor]> {
  let summary = "noisy gating logits (training form)";
  let description = [{
    The noisy top-k gating of SPEC §1.1 with an explicit noise sample, so
    that a run is reproducible:

        clean  = x . W_g
        stddev = softplus(x . W_noise) + noise_epsilon
        logits = clean + noise * stddev

    All three are results: `logits` feeds top-k, `clean_logits` and
    `noise_stddev` feed the load loss (`moe.load`).

    Shapes: `input` `[T, d]`, `w_gate` and `w_noise` `[d, n]`, `noise`
    `[T, n]` (a standard normal sample per token and expert); each result
    `[T, n]`. `noise_epsilon` must be finite and non-negative.
  }];
  let arguments = (ins MoE_Data<[2]>:$input, MoE_Data<[2]>:$w_gate,
                       MoE_Data<[2]>:$w_noise, MoE_Data<[2]>:$noise,
                       DefaultValuedAttr<F64Attr, "1.0e-2">:$noise_epsilon);
  let results = (outs MoE_Data<[2]>:$logits, MoE_Data<[2]>:$clean_logits,
                      MoE_Data<[2]>:$noise_stddev);
  let assemblyFormat = [{
    $input `,` $w_gate `,` $w_noise `,` $noise attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Routing
//===----------------------------------------------------------------------===//

def MoE_TopKOp : MoE_Op<"topk", [Pure]> {
  let summary = "k largest values per row, with their indices";
  let description = [{
    For each row of `input` `[T, n]`, the `k` largest values in descending
    order and their column indices. Equal values are ordered by the lower
    index first, on every backend, so routing is deterministic.

    Results: `values` `[T, k]` (element type of `input`), `indices` `[T, k]`
    (i32 or i64). Requires `1 <= k <= n`.

    Folds when `n == k == 1` (values are the input, indices are zero).
  }];
  let arguments = (ins MoE_Data<[2]>:$input,
                       ConfinedAttr<I64Attr, [IntPositive]>:$k);
  let results = (outs MoE_Data<[2]>:$values, MoE_Indices<[2]>:$indices);
  let assemblyFormat = [{
    $input `,` `k` `=` $k attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def MoE_RouteWeightsOp : MoE_Op<"route_weights",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "routing weights of the k chosen experts";
  let description = [{
    Computes the gate values `G(x)` of the `k` experts chosen by `moe.topk`
    from the logits `[T, n]` and the kept logits `values` `[T, k]`:

    - `topk_softmax`: softmax over the k kept logits, i.e.
      `softmax(KeepTopK(H, k))` of the paper;
    - `softmax_topk`: softmax over all n logits, the k chosen entries kept
      (Switch Transformer, Mixtral);
    - `sigmoid_topk`: `sigmoid` of each kept logit (DeepSeek-V3).

    With `renormalize`, the k weights of a token are divided by their sum.
    Result: `[T, k]`, element type of the logits.

    Renormalization that cannot change the weights (`topk_softmax`, or
    `softmax_topk` with `k == n`) is folded away.
  }];
  let arguments = (ins MoE_Data<[2]>:$logits, MoE_Data<[2]>:$values,
      DefaultValuedAttr<MoE_NormalizationAttr,
                        "::mlir::moe::Normalization::topk_softmax">:$normalization,
      DefaultValuedAttr<BoolAttr, "false">:$renormalize);
  let results = (outs MoE_Data<[2]>:$gates);
  let assemblyFormat = [{
    $normalization $logits `,` $values attr-dict
    `:` functional-type(operands, results)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def MoE_RouteOp : MoE_Op<"route", [Pure]> {
  let summary = "top-k selection and gate normalization in one pass";
  let description = [{
    The fused form of `moe.topk` followed by `moe.route_weights` on the same
    logits (`--moe-fuse-routing` forms it): for each row of `logits`
    `[T, n]`, the indices of the `k` largest logits, ranked and tie-broken as
    `moe.topk` ranks them, and their gate values, normalized as
    `moe.route_weights` with the same `normalization` and `renormalize`
    would normalize them.

    For k up to 16 it reads the logits once: the top-k is kept by insertion
    while a row is scanned, and `softmax_topk` accumulates the row's maximum
    and sum of exponentials in the same scan (an online softmax), so no
    `[T, n]` softmax is ever formed. Above, the top-k takes one selection
    pass per kept entry, as `moe.topk`'s does, and the softmax its own
    passes.

    Results: `gates` `[T, k]` (element type of `logits`), `indices` `[T, k]`
    (i32 or i64). Requires `1 <= k <= n`.

    Renormalization that cannot change the gates is folded away, as for
    `moe.route_weights`.
  }];
  let arguments = (ins MoE_Data<[2]>:$logits,
      ConfinedAttr<I64Attr, [IntPositive]>:$k,
      DefaultValuedAttr<MoE_NormalizationAttr,
                        "::mlir::moe::Normalization::topk_softmax">:$normalization,
      DefaultValuedAttr<BoolAttr, "false">:$renormalize);
  let results = (outs MoE_Data<[2]>:$gates, MoE_Indices<[2]>:$indices);
  let assemblyFormat = [{
    $normalization $logits `,` `k` `=` $k attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def MoE_ComposeRoutingOp : MoE_Op<"compose_routing",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "flatten two-level (hierarchical) routing";
  let description = [{
    Composes a primary routing over `a` groups with the secondary routing of
    each group over its `b = group_size` experts (SPEC §1.3) into one flat
    routing over `n = a * b` experts:

        gates[t, i * k2 + j]   = primary_gates[t, i] *
                                 secondary_gates[t, primary_indices[t, i], j]
        indices[t, i * k2 + j] = primary_indices[t, i] * b +
                                 secondary_indices[t, primary_indices[t, i], j]

    Shapes: `primary_gates`/`primary_indices` `[T, k1]`,
    `secondary_gates`/`secondary_indices` `[T, a, k2]`; results `[T, k1*k2]`.
    The flat routing feeds the ordinary dispatch, experts and combine.
  }];
  let arguments = (ins MoE_Data<[2]>:$primary_gates,
                       MoE_Indices<[2]>:$primary_indices,
                       MoE_Data<[3]>:$secondary_gates,
                       MoE_Indices<[3]>:$secondary_indices,
                       ConfinedAttr<I64Attr, [IntPositive]>:$group_size);
  let results = (outs MoE_Data<[2]>:$gates, MoE_Indices<[2]>:$indices);
  let assemblyFormat = [{
    $primary_gates `,` $primary_indices `,` $secondary_gates `,`
    $secondary_indices `,` `group_size` `=` $group_size attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Dispatch and combine
//===----------------------------------------------------------------------===//

def MoE_DispatchOp : MoE_Op<"dispatch", [Pure, InferTypeOpAdaptor]> {
  let summary = "group token copies by expert (dropless)";
  let description = [{
    Dropless dispatch: every choice `(t, j)` of `indices` `[T, k]` places a
    copy of token `t` in the group of expert `indices[t, j]`. Groups are laid
    out by expert, tokens in token order inside a group.

    Results:
    - `tokens` `[T*k, d]`: the grouped copies;
    - `offsets` `[n+1]`: group `e` is rows `offsets[e] .. offsets[e+1]`;
    - `rows` `[T, k]`: the row of `tokens` holding choice `(t, j)`, which is
      what `moe.combine` gathers from.

    Index results use the element type of `indices`.
  }];
  let arguments = (ins MoE_Data<[2]>:$input, MoE_Indices<[2]>:$indices,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_experts);
  let results = (outs MoE_Data<[2]>:$tokens, MoE_Indices<[1]>:$offsets,
                      MoE_Indices<[2]>:$rows);
  let assemblyFormat = [{
    $input `,` $indices `,` `num_experts` `=` $num_experts attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_CapacityDispatchOp : MoE_Op<"capacity_dispatch",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "dispatch into fixed-capacity expert buffers (dropping)";
  let description = [{
    GShard/Switch dispatch (SPEC §1.4). Each expert has
    `C = ceil(k * T * capacity_factor / n)` slots, filled in priority order:
    every token's first choice in token order, then every second choice, and
    so on. A choice that finds its expert full is dropped.

    Results:
    - `tokens` `[n, C, d]`: slot `c` of expert `e` (unused slots are zero);
    - `rows` `[T, k]`: `e * C + c` for a kept choice, `-1` for a dropped one.

    `C` is static when `T` is; with a dynamic `T` it is dynamic too.
  }];
  let arguments = (ins MoE_Data<[2]>:$input, MoE_Indices<[2]>:$indices,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_experts,
                       F64Attr:$capacity_factor);
  let results = (outs MoE_Data<[3]>:$tokens, MoE_Indices<[2]>:$rows);
  let assemblyFormat = [{
    $input `,` $indices `,` `num_experts` `=` $num_experts `,`
    `capacity_factor` `=` $capacity_factor attr-dict
    `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Slots per expert, `ceil(k * T * capacity_factor / n)`; dynamic when
    /// `numTokens` or `k` is.
    static int64_t computeCapacity(int64_t numTokens, int64_t k,
                                   int64_t numExperts, double capacityFactor);
  }];
  let hasVerifier = 1;
}

def MoE_CombineOp : MoE_Op<"combine", [Pure, InferTypeOpAdaptor]> {
  let summary = "weighted gather-sum of expert outputs back to token order";
  let description = [{
    `output[t] = sum_j gates[t, j] * expert_output[rows[t, j]]`, skipping
    choices whose row is `-1` (dropped). `expert_output` is either the
    grouped rows `[R, d_out]` of the dropless layout or `[n, C, d_out]` of
    the capacity layout, indexed as `[n * C, d_out]`.

    Shapes: `gates` and `rows` `[T, k]`; result `[T, d_out]`.
  }];
  let arguments = (ins MoE_Data<[2, 3]>:$expert_output, MoE_Data<[2]>:$gates,
                       MoE_Indices<[2]>:$rows);
  let results = (outs MoE_Data<[2]>:$output);
  let assemblyFormat = [{
    $expert_output `,` $gates `,` $rows attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Experts
//===----------------------------------------------------------------------===//

def MoE_YieldOp : MoE_Op<"yield", [Pure, ReturnLike, Terminator,
                                   HasParent<"ExpertsOp">]> {
  let summary = "result of one expert's body";
  let arguments = (ins AnyRankedTensor:$result);
  let assemblyFormat = "$result attr-dict `:` type($result)";
}

def MoE_ExpertsOp : MoE_Op<"experts", [
    RecursiveMemoryEffects, IsolatedFromAbove, AttrSizedOperandSegments,
    SingleBlock]> {
  let summary = "apply a per-expert body to each expert's token group";
  let description = [{
    Runs `body` once per expert `e` on that expert's token group with that
    expert's slice of each stacked weight. The body is isolated from above:
    an expert is a function of its tokens and its weights only.

    Layouts:
    - dropless: `tokens` `[R, d]` with `offsets` `[n+1]`; the group of `e` is
      rows `offsets[e] .. offsets[e+1]` and its block argument is
      `tensor<?xd>`; the result is `[R, d_out]`.
    - capacity: `tokens` `[n, C, d]`, no offsets; the group block argument is
      `tensor<Cxd>` and the result `[n, C, d_out]`.

    Each weight is stacked `[n, ...]`; its block argument drops the leading
    `n`. The body yields the group's output, `[rows, d_out]`.

    ```mlir
    %y = moe.experts %tokens offsets(%offsets) weights(%w1, %w2)
        : (tensor<?x8xf32>, tensor<5xi64>, tensor<4x8x16xf32>,
           tensor<4x16x8xf32>) -> tensor<?x8xf32> {
    ^bb0(%x: tensor<?x8xf32>, %a: tensor<8x16xf32>, %b: tensor<16x8xf32>):
      ...
      moe.yield %out : tensor<?x8xf32>
    }
    ```
  }];
  let arguments = (ins MoE_Data<[2, 3]>:$tokens,
                       Optional<MoE_Indices<[1]>>:$offsets,
                       Variadic<AnyRankedTensor>:$weights);
  let results = (outs MoE_Data<[2, 3]>:$output);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $tokens (`offsets` `(` $offsets^ `)`)? `weights` `(` $weights `)`
    attr-dict `:` functional-type(operands, results) $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def MoE_ExpertFFNOp : MoE_Op<"expert_ffn", [
    Pure, AttrSizedOperandSegments, InferTypeOpAdaptor]> {
  let summary = "the common feed-forward expert, for every expert at once";
  let description = [{
    `act(x . W1[e] + b1[e]) . W2[e] + b2[e]`, or with `w3` the gated form
    `(act(x . W1[e]) * (x . W3[e])) . W2[e]` (SwiGLU with `silu`), applied to
    each expert's token group in the same layouts as `moe.experts`.

    Weights: `w1`, `w3` `[n, d, h]`, `b1` `[n, h]`, `w2` `[n, h, d_out]`,
    `b2` `[n, d_out]`; biases are optional and, when given, are added in the
    gated form too (`act(x . W1 + b1) * (x . W3)`, then `+ b2`). Result
    `[R, d_out]` (dropless) or `[n, C, d_out]` (capacity).
  }];
  let arguments = (ins MoE_Data<[2, 3]>:$tokens,
                       Optional<MoE_Indices<[1]>>:$offsets,
                       MoE_Data<[3]>:$w1, Optional<MoE_Data<[2]>>:$b1,
                       Optional<MoE_Data<[3]>>:$w3,
                       MoE_Data<[3]>:$w2, Optional<MoE_Data<[2]>>:$b2,
                       MoE_ActivationAttr:$activation);
  let results = (outs MoE_Data<[2, 3]>:$output);
  let assemblyFormat = [{
    $activation $tokens (`offsets` `(` $offsets^ `)`)?
    `w1` `(` $w1 `)` (`b1` `(` $b1^ `)`)? (`w3` `(` $w3^ `)`)?
    `w2` `(` $w2 `)` (`b2` `(` $b2^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_RoutedFFNOp : MoE_Op<"routed_ffn", [
    Pure, AttrSizedOperandSegments, InferTypeOpAdaptor]> {
  let summary = "dispatch, feed-forward experts and combine, fused";
  let description = [{
    The dropless feed-forward MoE computation from the routing to the
    combined output, without the grouped token copies in between:

        output[t] = sum_j gates[t, j] * FFN_e(input[t]),  e = indices[t, j]

    where `FFN_e` is expert `e` of `moe.expert_ffn` (same weights, biases,
    gated form and activation). It computes
    `moe.combine(moe.expert_ffn(moe.dispatch(input, indices)), gates, rows)`,
    which `--moe-fuse-experts` rewrites into it, up to rounding: f16 and bf16
    expert outputs stay in f32 until the weighted sum is rounded once.

    The lowering walks each expert's tokens in tiles of rows: a tile is
    gathered from `input` as the first GEMM's operand (the gather on load),
    and the last GEMM's rows are scaled by their gates and added into the
    output rows of their tokens (the scatter-add epilogue). Neither the
    `[T*k, d]` dispatched tokens nor the `[T*k, d_out]` expert outputs are
    materialized; only per-tile buffers are.

    Shapes: `input` `[T, d]`, `gates` and `indices` `[T, k]`, weights as in
    `moe.expert_ffn` with a static expert count `n`; result `[T, d_out]`.
    Every index must lie in `[0, n)` (checked at run time).
  }];
  let arguments = (ins MoE_Data<[2]>:$input, MoE_Data<[2]>:$gates,
                       MoE_Indices<[2]>:$indices,
                       MoE_Data<[3]>:$w1, Optional<MoE_Data<[2]>>:$b1,
                       Optional<MoE_Data<[3]>>:$w3,
                       MoE_Data<[3]>:$w2, Optional<MoE_Data<[2]>>:$b2,
                       MoE_ActivationAttr:$activation);
  let results = (outs MoE_Data<[2]>:$output);
  let assemblyFormat = [{
    $activation $input `,` $gates `,` $indices
    `w1` `(` $w1 `)` (`b1` `(` $b1^ `)`)? (`w3` `(` $w3^ `)`)?
    `w2` `(` $w2 `)` (`b2` `(` $b2^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Balancing losses
//===----------------------------------------------------------------------===//

def MoE_ImportanceOp : MoE_Op<"importance", [Pure, InferTypeOpAdaptor]> {
  let summary = "Importance(X): the summed gate value of each expert";
  let description = [{
    `importance[e] = sum over (t, j) with indices[t, j] == e of gates[t, j]`
    (SPEC §1.2). Shapes: `gates`, `indices` `[T, k]`; result `[n]`.
  }];
  let arguments = (ins MoE_Data<[2]>:$gates, MoE_Indices<[2]>:$indices,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_experts);
  let results = (outs MoE_Data<[1]>:$importance);
  let assemblyFormat = [{
    $gates `,` $indices `,` `num_experts` `=` $num_experts attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_LoadOp : MoE_Op<"load", [
    Pure, AttrSizedOperandSegments, InferTypeOpAdaptor]> {
  let summary = "Load(X): the (smooth) number of tokens per expert";
  let description = [{
    The load estimator of SPEC §1.2 over the top-`k` routing of `logits`.

    - With `noise(clean_logits, noise_stddev)`, the smooth estimator
      `Load[e] = sum_t Phi((clean[t, e] - kth_excluding(logits[t], k, e)) /
      stddev[t, e])`.
    - Without, the exact count of tokens whose top-k contains `e`.

    `logits` is `[T, n]` (result `[n]`), or `[T, a, b]` for the secondary
    level of a hierarchical layer (top-k within each group, result `[a, b]`).
    The hierarchical form takes `within(primary_indices, primary_load)`
    (`[T, k1]` and `[a]`) and computes SPEC §1.3's
    `Load_H[i, j] = primary_load[i] * Load_i(X^(i))[j] / |X^(i)|`, where
    `X^(i)` are the tokens whose primary choices include group `i`.

    Folds to the constant `T` when `k == n` and `T` is static (every token
    is routed to every expert).
  }];
  let arguments = (ins MoE_Data<[2, 3]>:$logits,
                       Optional<MoE_Data<[2, 3]>>:$clean_logits,
                       Optional<MoE_Data<[2, 3]>>:$noise_stddev,
                       Optional<MoE_Indices<[2]>>:$primary_indices,
                       Optional<MoE_Data<[1]>>:$primary_load,
                       ConfinedAttr<I64Attr, [IntPositive]>:$k);
  let results = (outs MoE_Data<[1, 2]>:$load);
  let assemblyFormat = [{
    $logits `,` `k` `=` $k
    (`noise` `(` $clean_logits^ `,` $noise_stddev `)`)?
    (`within` `(` $primary_indices^ `,` $primary_load `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def MoE_CVSquaredOp : MoE_Op<"cv_squared", [Pure, InferTypeOpAdaptor]> {
  let summary = "weighted squared coefficient of variation";
  let description = [{
    `weight * var(v) / (mean(v)^2 + 1e-10)` over all elements of `v`, with
    the unbiased variance (divides by N - 1), so N must be at least 2. Applied
    to `moe.importance` it is `L_importance`, to `moe.load` `L_load`.
    Result: a 0-d tensor of the element type of `v`.
  }];
  let arguments = (ins MoE_Data<[1, 2]>:$input,
                       DefaultValuedAttr<F64Attr, "1.0">:$weight);
  let results = (outs MoE_Scalar:$loss);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_SwitchLossOp : MoE_Op<"switch_loss", [Pure, InferTypeOpAdaptor]> {
  let summary = "Switch Transformer balancing loss";
  let description = [{
    `weight * n * sum_e f_e * p_e`, where `f_e` is the fraction of the
    `T * k` choices of `indices` `[T, k]` that go to expert `e` and `p_e` the
    mean over tokens of `softmax(logits)[t, e]` (`logits` `[T, n]`).
    Result: a 0-d tensor.
  }];
  let arguments = (ins MoE_Data<[2]>:$logits, MoE_Indices<[2]>:$indices,
                       DefaultValuedAttr<F64Attr, "1.0">:$weight);
  let results = (outs MoE_Scalar:$loss);
  let assemblyFormat = [{
    $logits `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_ZLossOp : MoE_Op<"z_loss", [Pure, InferTypeOpAdaptor]> {
  let summary = "router z-loss";
  let description = [{
    `weight * mean_t (logsumexp_e logits[t, e])^2` for `logits` `[T, n]`.
    Result: a 0-d tensor.
  }];
  let arguments = (ins MoE_Data<[2]>:$logits,
                       DefaultValuedAttr<F64Attr, "1.0">:$weight);
  let results = (outs MoE_Scalar:$loss);
  let assemblyFormat = [{
    $logits attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Expert parallelism
//===----------------------------------------------------------------------===//

def MoE_AllToAllOp : MoE_Op<"all_to_all", [
    MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "exchange variable-sized row blocks between ranks";
  let description = [{
    The collective of expert parallelism (SPEC §1.6). The rows of `input`
    `[N, ...]` are split, in order, into `num_ranks` consecutive blocks of
    `send_counts[r]` rows; block `r` is sent to rank `r`. Each rank receives
    one block from every rank and concatenates them in rank order into
    `output` `[M, ...]`; `recv_counts[r]` is the size of the block that came
    from rank `r`. Trailing dimensions and element type are preserved.

    It communicates, so it is never folded, hoisted or erased.
  }];
  let arguments = (ins AnyRankedTensor:$input, MoE_Indices<[1]>:$send_counts,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_ranks);
  let results = (outs AnyRankedTensor:$output, MoE_Indices<[1]>:$recv_counts);
  let assemblyFormat = [{
    $input `,` $send_counts `,` `num_ranks` `=` $num_ranks attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The whole layer
//===----------------------------------------------------------------------===//

def MoE_LayerOp : MoE_Op<"layer", [
    Pure, AttrSizedOperandSegments, InferTypeOpAdaptor]> {
  let summary = "a whole sparsely-gated MoE layer";
  let description = [{
    One MoE layer with its configuration; `moe-expand-layer` rewrites it into
    the fine-grained ops.

    Gating: `gate(w_gate)` `[d, n]`; `noise(w_noise, noise)` makes it noisy
    (`w_noise` `[d, n]`, a noise sample `noise` `[T, n]`). Routing keeps the
    top `k` with the given `normalization` and `renormalize`.

    Hierarchical (SPEC §1.3): with `num_groups = a` the `n` experts form `a`
    groups of `b = n / a`; `w_gate` is then the primary gate `[d, a]`
    choosing `group_k` groups, and `secondary_gate(w)` `[d, a*b]` holds the
    secondary gate of group `i` in columns `i*b .. (i+1)*b`, choosing `k`
    experts inside each chosen group. `secondary_noise(w_noise, noise)`
    (`[d, a*b]`, `[T, a*b]`) and `noise(...)` (`[d, a]`, `[T, a]`) make the
    two levels noisy.

    Experts: the feed-forward `moe.expert_ffn` with `activation` and weights
    `w1`, `b1`, `w3`, `w2`, `b2` stacked over all `n` experts; `w3` selects
    the gated (SwiGLU) form.

    Dispatch: dropless unless `capacity_factor` is given.

    Results: the layer output `[T, d_out]`, and
    `importance_weight * CV(Importance)^2` and `load_weight * CV(Load)^2`.
  }];
  let arguments = (ins
    MoE_Data<[2]>:$input,
    MoE_Data<[2]>:$w_gate,
    Optional<MoE_Data<[2]>>:$w_noise,
    Optional<MoE_Data<[2]>>:$noise,
    Optional<MoE_Data<[2]>>:$secondary_w_gate,
    Optional<MoE_Data<[2]>>:$secondary_w_noise,
    Optional<MoE_Data<[2]>>:$secondary_noise,
    MoE_Data<[3]>:$w1, Optional<MoE_Data<[2]>>:$b1,
    Optional<MoE_Data<[3]>>:$w3,
    MoE_Data<[3]>:$w2, Optional<MoE_Data<[2]>>:$b2,
    ConfinedAttr<I64Attr, [IntPositive]>:$num_experts,
    ConfinedAttr<I64Attr, [IntPositive]>:$k,
    OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$num_groups,
    OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$group_k,
    DefaultValuedAttr<F64Attr, "1.0e-2">:$noise_epsilon,
    OptionalAttr<F64Attr>:$capacity_factor,
    DefaultValuedAttr<MoE_ActivationAttr,
                      "::mlir::moe::Activation::relu">:$activation,
    DefaultValuedAttr<MoE_NormalizationAttr,
                      "::mlir::moe::Normalization::topk_softmax">:$normalization,
    DefaultValuedAttr<BoolAttr, "false">:$renormalize,
    DefaultValuedAttr<F64Attr, "1.0e-2">:$importance_weight,
    DefaultValuedAttr<F64Attr, "1.0e-2">:$load_weight);
  let results = (outs MoE_Data<[2]>:$output, MoE_Scalar:$importance_loss,
                      MoE_Scalar:$load_loss);
  let assemblyFormat = [{
    $input `gate` `(` $w_gate `)`
    (`noise` `(` $w_noise^ `,` $noise `)`)?
    (`secondary_gate` `(` $secondary_w_gate^ `)`)?
    (`secondary_noise` `(` $secondary_w_noise^ `,` $secondary_noise `)`)?
    `w1` `(` $w1 `)` (`b1` `(` $b1^ `)`)? (`w3` `(` $w3^ `)`)?
    `w2` `(` $w2 `)` (`b2` `(` $b2^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    bool isNoisy() { return getWNoise() != nullptr; }
    bool isHierarchical() { return getNumGroups().has_value(); }
  }];
  let hasVerifier = 1;
}

#endif // MOE_DIALECT_MOE_IR_MOEOPS_TD
