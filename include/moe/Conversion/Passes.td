//===- Passes.td - Conversions out of the MoE dialect ------*- tablegen -*-===//

#ifndef MOE_CONVERSION_PASSES_TD
#define MOE_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertMoEToLinalg : Pass<"convert-moe-to-linalg"> {
  let summary = "Lower MoE ops to linalg, tensor, arith and math";
  let description = [{
    Lowers the computing `moe` ops to destination-style linalg ops on tensors
    (GEMMs as `linalg.matmul`, elementwise math and row reductions as
    `linalg.generic`), so that upstream tiling, fusion, vectorization and
    bufferization apply to them.

    f16 and bf16 data are computed in f32 (GEMM accumulation, softmax,
    reductions) and rounded once at the end.

    Routing steps are real loops, not runtime calls: top-k is one selection
    pass over each row per kept entry; dispatch assigns rows (or capacity
    slots) in one `scf.for` scan over the choices, then gathers the token
    data in a parallel `linalg.generic`; histograms are reductions over
    `(token, choice, expert)`. Dropless experts run in an `scf.for` over
    experts on slices of the grouped rows; capacity-layout experts are
    `linalg.batch_matmul`s. `moe.routed_ffn` walks each expert's rows in
    tiles of `routed-tile-rows`, gathering a tile from the tokens, running
    it through the expert and scatter-adding its weighted output. With
    `routed-workers` above one, the tiles are dealt round-robin to that many
    workers of an `scf.forall`; each accumulates into its own `[T, d_out]`
    slice (a token's k rows may land in tiles of different workers), and a
    reduction over the workers sums the slices. The worker body holds no
    run-time check of its own (a failing check could not return from another
    thread): tile sizes are `affine.min`s that bound the GEMMs' rows.

    Sizes the verifier cannot compare (dynamic token counts) and data that
    addresses memory (expert indices, dispatch rows, offsets) are checked at
    run time with `cf.assert`, so a mismatch stops the program with a message
    instead of reading out of bounds.

    `moe.layer` must be expanded first (`--moe-expand-layer`) and
    `moe.all_to_all` lowered to runtime calls first
    (`--convert-moe-collectives-to-mpi`); both are reported as errors.
  }];
  let options = [
    Option<"routedTileRows", "routed-tile-rows", "int64_t", /*default=*/"512",
           "Rows of one expert that moe.routed_ffn gathers and computes at "
           "a time: large enough for efficient GEMMs, small enough to bound "
           "the per-tile buffers (about d + 3h + d_out floats per row)">,
    Option<"routedWorkers", "routed-workers", "int64_t", /*default=*/"1",
           "Parallel workers moe.routed_ffn deals its tiles to (the CPU "
           "pipeline passes its thread count); each holds a [T, d_out] "
           "accumulator">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def ConvertMoECollectivesToMPI
    : Pass<"convert-moe-collectives-to-mpi", "ModuleOp"> {
  let summary = "Lower moe.all_to_all to calls of the MPI runtime";
  let description = [{
    Expert parallelism on the CPU, one process per rank. Each
    `moe.all_to_all` becomes, on tensors, before bufferization:

    - its send counts, widened to i64, exchanged by
      `moe_mpi_exchange_counts`, so each rank learns what it receives;
    - an output buffer of the received row count;
    - `moe_mpi_all_to_all_<type>` on the input's buffer
      (`bufferization.to_buffer`) into that output (`MPI_Alltoallv`);
    - the output as a tensor again (`bufferization.to_tensor restrict`).

    Buffers pass as unranked memrefs (a rank and a descriptor pointer), so
    one runtime function serves every row shape; there is one per element
    type (bf16, f16, f32, f64, i32, i64). The runtime (include/moe/Runtime/
    MPIRuntime.h) checks that the job has `num_ranks` processes.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def ConvertRuntimeChecksToCalls
    : Pass<"convert-moe-runtime-checks", "ModuleOp"> {
  let summary = "Make failed run-time checks call the MoE runtime";
  let description = [{
    Rewrites each `cf.assert` in host code into a branch to a call of
    `void moe_runtime_check_failed(const char *message)`. The execution
    library implements it by returning an error to the caller of the entry
    point (the runner prints one line and exits non-zero), where the default
    lowering of `cf.assert` would abort the whole process. Kernels inside
    `gpu.module`s keep `cf.assert`, which the GPU lowering handles.

    Runs once structured control flow is gone (after `convert-scf-to-cf`):
    it splits blocks.
  }];
  let dependentDialects = [
    "::mlir::cf::ControlFlowDialect",
    "::mlir::LLVM::LLVMDialect",
  ];
}

def ConvertStridedCopiesToLinalg : Pass<"convert-strided-copies-to-linalg"> {
  let summary = "Turn memref.copy between strided buffers into linalg.copy";
  let description = [{
    `finalize-memref-to-llvm` lowers a `memref.copy` to a `memcpy` when both
    buffers are contiguous, and otherwise to a call of `memrefCopy`, MLIR's
    runner-utility copy that walks both layouts element by element at run
    time. This pass rewrites the second kind (a column of a matrix, a
    strided slice: what bufferization makes of `tensor.insert_slice`) into
    `linalg.copy`, which the pipelines lower with every other linalg op: to
    loops on the CPU, to a kernel on the GPU. Compiled code then calls no
    runner utility, and the runner needs no `libmlir_c_runner_utils` (which
    Debian links against the whole of `libMLIR.so`).

    Copies the `memcpy` lowering takes (identity layouts, or static shapes
    that are contiguous row-major) are left alone, as are unranked ones.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def ConvertMathToPolynomials : Pass<"convert-math-to-polynomials"> {
  let summary = "Replace f32 math functions by polynomial approximations";
  let description = [{
    Rewrites the selected `math` functions on f32 (and, computed in f32,
    f16 and bf16) scalars and vectors into arithmetic: MLIR's polynomial
    approximations, accurate to a few ulp. f64 ops are left alone.

    LLVM has no vector form of `expf`, `logf` or `erfcf` on x86: without this
    pass each element of a loop over them is a libm call, and the loop stays
    scalar. The gating of a layer with many experts evaluates them over all
    `T x n` logits (the load estimator's normal CDF, the noise's softplus),
    where those calls are a visible share of the layer's time.
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "Names of the math ops to approximate, without the dialect "
               "prefix (default: exp, expm1, log, log1p, log2, erf, erfc, "
               "tanh)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def ConvertLinalgToBLAS : Pass<"convert-linalg-to-blas"> {
  let summary = "Run f32/f64 GEMMs on buffers through CBLAS (OpenBLAS)";
  let description = [{
    Replaces `linalg.matmul` on memrefs with an f32 (or f64) output, the
    default indexing maps and rows of unit stride, by a call to
    `cblas_sgemm` (`cblas_dgemm`) that accumulates into the output
    (`beta = 1`, as `linalg.matmul` does); `linalg.batch_matmul` becomes a
    loop of such calls over the batch. Leading dimensions and the buffers'
    offsets come from the memrefs' strided metadata, so slices of larger
    buffers (one expert's rows and weights) need no copy. Narrower inputs
    (bf16/f16 data accumulated in f32) are first widened into a temporary
    copy, since CBLAS has no mixed-precision GEMM. Empty products
    skip the call; sizes beyond CBLAS's 32-bit ints fail a run-time check.

    A zero `linalg.fill` of the output right before the product becomes
    `beta = 0` instead.

    A product of at most `streaming-max-rows` rows (M; tested at run time
    when dynamic) is vector code instead, reading the right-hand side once,
    eight rows at a time into four output rows held in registers, without
    copying it: with so few rows, the copy a BLAS GEMM makes of its operands
    costs more than the arithmetic (see docs/Performance.md). A product of
    up to `packed-max-rows` rows (tested likewise) copies each 64 columns of
    up to 128 right-hand rows into a contiguous panel (prefetching the next
    panel's part of each row as it goes) and runs blocks of four output
    rows by four vectors, held in registers, through the panel: the copy
    costs two memory operations per vector against the rows' FMAs, and
    keeps the panel's rows, 4 KiB apart in an expert's weights, in L1. More
    rows than that go to CBLAS, whose kernel is then faster.

    A GEMM over weights packed beforehand (the `linalg.generic` that
    `moe-materialize-packed-weights` leaves, with panels of 128 rows by 64
    f32 or 32 f64 columns) runs the same blocks through the packed panels
    where they lie, whatever its row count, each block prefetching the next
    panel as it goes: there is nothing to copy.

    GEMMs are where an MoE layer spends its time, and a tuned BLAS runs them
    an order of magnitude faster than loops; the other linalg ops are left
    alone. The compiled code then needs the CBLAS symbols at load time.
  }];
  let options = [
    Option<"streamingMaxRows", "streaming-max-rows", "int64_t",
           /*default=*/"32",
           "Most rows of a GEMM computed by streaming its right-hand side "
           "(0: none)">,
    Option<"packedMaxRows", "packed-max-rows", "int64_t",
           /*default=*/"384",
           "Most rows of a GEMM computed through packed panels of its "
           "right-hand side, above streaming-max-rows (0: none)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def ConvertLinalgToTensorCores : Pass<"convert-linalg-to-tensor-cores"> {
  let summary = "Run 16-bit GEMMs on buffers as tensor-core (mma.sync) kernels";
  let description = [{
    Replaces `linalg.matmul` and `linalg.batch_matmul` on memrefs, with the
    default indexing maps, a bf16 or f16 right-hand side, a left-hand side
    of the same type (or f32 with bf16) and an f32 output, outside kernels,
    by a `gpu.launch` of a
    tiled kernel on NVIDIA's tensor cores (`nvvm.mma.sync`, m16n8k16, which
    needs sm_80 or newer). It is what the GEMMs of a bf16 model's experts
    and gating become in the CUDA pipeline; the other linalg ops are left to
    the generic mapping of parallel loops onto blocks and threads.

    Each block of 128 threads computes 64 x 64 elements of the output (the
    batch element on the grid's z), stepping 32 deep through shared memory:
    the threads stage both operands' slices there, reading consecutive
    elements of a row of global memory, the right-hand slice transposed so
    that each lane's pairs of depth values are contiguous; then each of the
    four warps accumulates 32 x 32 elements in registers, eight m16n8k16
    products per 16 of depth. Rows, columns and depths past the operands'
    sizes are staged as zeros, so every size and every stride (slices of an
    expert's rows) takes the same kernel, and the sums are added to the
    output in range, as `linalg.matmul` accumulates.

    An f32 left-hand side (a bf16 expert's f32 hidden activation) is staged
    as its rounding to bf16 plus the rounded rest, and multiplied twice: the
    product keeps 16 bits of the f32 mantissa where one rounding would keep
    8. With f16 weights it is left to the loops: f16's range (65504) would
    not hold every f32 activation.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // MOE_CONVERSION_PASSES_TD
