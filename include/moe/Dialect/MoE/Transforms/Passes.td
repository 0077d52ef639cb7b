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

def MoEShardExperts : Pass<"moe-shard-experts", "ModuleOp"> {
  let summary = "Split the experts over ranks (expert parallelism)";
  let description = [{
    SPEC §1.6 on the dropless layout. Every rank runs the function on its
    own tokens and holds `n / num-ranks` of the experts: rank `r` holds
    experts `[r * n/R, (r+1) * n/R)`. Each argument holding stacked expert
    weights becomes this rank's share `[n/R, ...]`, marked
    `moe.expert_shards = R`. Around each `moe.expert_ffn` and `moe.experts`:

    - the grouped rows of each rank's experts, which are consecutive, go to
      that rank by `moe.all_to_all`, each with its expert's local index;
    - the receiver regroups what it got by local expert (`moe.dispatch`),
      runs its experts, and restores the received order (`moe.combine` with
      gates of 1);
    - a second `moe.all_to_all` with the received counts brings every row
      back to where it came from, so the combine of the layer is unchanged.

    Runs after `moe-expand-layer` and before fusion (the inner dispatch,
    experts and combine then fuse like any other). Expert ops in the
    capacity layout, `moe.routed_ffn`, and weights that are not arguments of
    the function are reported as errors. `num-ranks = 1` changes nothing.
  }];
  let options = [
    Option<"numRanks", "num-ranks", "int64_t", /*default=*/"1",
           "Ranks (processes) the experts are split over">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MoEFuseRouting : Pass<"moe-fuse-routing"> {
  let summary = "Fuse top-k and routing weights into one pass over the logits";
  let description = [{
    Rewrites `moe.route_weights` of `moe.topk`'s kept logits into one
    `moe.route`, whose lowering scans each row of logits once: the top-k
    by insertion, and for `softmax_topk` the row's softmax denominator
    online, so no `[T, n]` softmax is formed. Unfused, `softmax_topk`
    takes three more passes over the logits.

    Applies where the kept logits feed nothing else. (Above k = 16 the
    lowering selects the top-k in k passes, as `moe.topk`'s does, and the
    softmax takes its own passes: no faster than unfused, and no slower.)
  }];
}

def MoEFuseExperts : Pass<"moe-fuse-experts"> {
  let summary = "Fuse dispatch, feed-forward experts and combine";
  let description = [{
    Rewrites `moe.combine(moe.expert_ffn(moe.dispatch(x, indices)))` in the
    dropless layout into one `moe.routed_ffn`. Its lowering gathers each
    tile of an expert's tokens as it loads them into the first GEMM and
    scatter-adds the last GEMM's rows, scaled by their gates, into the
    output: the `[T*k, d]` grouped tokens and `[T*k, d_out]` expert outputs
    are never materialized.

    Applies where the expert outputs feed only the combine; the dispatch
    stays where its other results have users.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def MoEDistributeOverThreads
    : Pass<"moe-distribute-over-threads", "func::FuncOp"> {
  let summary = "Split the token loops of a lowered layer over threads";
  let description = [{
    On the CPU, after `convert-moe-to-linalg`: tiles every linalg op in the
    function's body whose first parallel loop is large (a dynamic size, the
    tokens, or at least `min-rows`) into an `scf.forall` of `threads`
    iterations along that loop, each taking one contiguous block of it.
    This covers the gating GEMMs, the softmax and loss terms over `[T, n]`,
    and the sum of the fused experts' per-worker outputs; with
    `convert-scf-to-openmp` each becomes one OpenMP parallel loop.

    Ops nested in loops (the per-expert work, the routing scans) stay as
    they are: the fused experts have their own workers (`routed-workers` of
    `convert-moe-to-linalg`), and a thread fork per iteration would cost more
    than it saves. Ops whose first parallel loop is small and static are
    left alone too.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"2",
           "Iterations of each scf.forall (the thread count)">,
    Option<"minRows", "min-rows", "int64_t", /*default=*/"64",
           "Smallest static loop size worth splitting">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MoEParallelIteratorsFirst : Pass<"moe-parallel-iterators-first"> {
  let summary = "Interchange linalg.generic loops: parallel iterators first";
  let description = [{
    Reorders the loops of each `linalg.generic` whose iterators put a
    reduction before a parallel dimension (the per-expert sums over the
    tokens of the balancing losses, `["reduction", "parallel"]`), so that
    its parallel iterators come first, in their order, then its reductions,
    in theirs. Parallel loops are independent, so the order does not change
    the result.

    Named ops are left as they are (generalize them first: the CUDA
    pipeline runs `linalg-generalize-named-ops` before it). The CUDA
    pipeline runs it before `convert-linalg-to-parallel-loops`: a
    reduction outermost becomes a host loop around a kernel launch, one per
    token (and, with MLIR's launch lowering, stack space per launch that is
    not given back until the function returns); parallel iterators first
    make one kernel whose threads each run the reduction.
  }];
}

def MoEScopeLaunchStack : Pass<"moe-scope-launch-stack"> {
  let summary = "Release the stack of each kernel launch's arguments after it";
  let description = [{
    Wraps each `gpu.launch_func` without results in a
    `memref.alloca_scope`. The launch's lowering to LLVM allocates the
    kernel's argument array on the stack where the launch is; in a loop (the
    experts'), each iteration would take more until the function returns.
    The scope becomes `llvm.intr.stacksave`/`stackrestore` around the
    launch. Asynchronous launches, whose token outlives them, are left
    alone (the pipelines make none).
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def MoEPackExpertWeights : Pass<"moe-pack-expert-weights", "ModuleOp"> {
  let summary = "Give entry functions a variant taking packed expert weights";
  let description = [{
    The CPU's expert GEMMs run through a weight in panels of `panel-depth`
    rows by `panel-width` columns. Copied out of the weight on every call,
    a panel's rows are a weight row apart, and the copy waits on memory
    with no arithmetic to hide it. Packed once, in the order the GEMMs read
    them, the panels stream in from one contiguous block.

    For each public function `@f` with arguments that are f32 stacked
    expert weights `[n, K, N]` used only as `moe.routed_ffn` weights (K and
    N static multiples of the panel, not split over ranks), adds `@f_packed`:
    `@f` with those arguments in the layout `linalg.pack` with inner tiles
    (`panel-depth`, `panel-width`) on dims 1 and 2 gives them, `[n,
    K/panel-depth, N/panel-width, panel-depth, panel-width]`, each read
    through a `linalg.unpack` that `moe-materialize-packed-weights` folds
    into the GEMMs.

    `@f` is unchanged but for `moe.packed_weights`, which names the variant,
    the packed arguments' positions and the inner tiles: the caller packs
    the weights itself, once (the execution library does it in place,
    `packExpertWeights`), and compiles no code for it. A name that is taken
    is an error. Functions without such arguments are left alone.
  }];
  let options = [
    Option<"panelDepth", "panel-depth", "int64_t", /*default=*/"128",
           "Weight rows per panel">,
    Option<"panelWidth", "panel-width", "int64_t", /*default=*/"64",
           "Weight columns per panel">,
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MoEMaterializePackedWeights : Pass<"moe-materialize-packed-weights"> {
  let summary = "Read packed weights in place in the GEMMs that use them";
  let description = [{
    After `convert-moe-to-linalg`: a `linalg.matmul` whose right operand is
    one expert's slice of a `linalg.unpack`ed weight (inner tiles on dims 1
    and 2 that divide them, no outer permutation) becomes a `linalg.generic`
    that reads the slice of the packed weight in its place:

        out[m, n1 * w + n0] += lhs[m, k1 * d + k0] * packed[k1, n1, k0, n0]

    for panels of `d` rows by `w` columns, which `convert-linalg-to-blas`
    runs panel by panel. The `linalg.unpack`s left (any other use of an
    unpacked weight) are lowered to `linalg.transpose`s and reshapes.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // MOE_DIALECT_MOE_TRANSFORMS_PASSES_TD
