# RUN: %python %s 2>&1 | FileCheck %s
# UNSUPPORTED: sanitizers
#
# The Python package's API: parsing, pass pipelines, compiling, calling, and
# how each kind of failure is reported.

import numpy as np

import moe

SCALE = """
func.func @scale(%x: tensor<?x4xf32>, %w: tensor<4xf32>)
    -> (tensor<?x4xf32>, tensor<f32>) {
  %c0 = arith.constant 0 : index
  %rows = tensor.dim %x, %c0 : tensor<?x4xf32>
  %init = tensor.empty(%rows) : tensor<?x4xf32>
  %y = linalg.generic {
      indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>,
                       affine_map<(i, j) -> (i, j)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%x, %w : tensor<?x4xf32>, tensor<4xf32>)
      outs(%init : tensor<?x4xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  } -> tensor<?x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<f32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<f32>) -> tensor<f32>
  %sum = linalg.reduce ins(%y : tensor<?x4xf32>) outs(%acc : tensor<f32>)
      dimensions = [0, 1]
      (%in: f32, %init_sum: f32) {
        %s = arith.addf %in, %init_sum : f32
        linalg.yield %s : f32
      }
  return %y, %sum : tensor<?x4xf32>, tensor<f32>
}
"""

DISPATCH = """
func.func @dispatch(%x: tensor<?x4xf32>, %idx: tensor<?x1xi32>)
    -> (tensor<?x4xf32>, tensor<5xi32>, tensor<?x1xi32>) {
  %t, %o, %r = moe.dispatch %x, %idx, num_experts = 4
      : (tensor<?x4xf32>, tensor<?x1xi32>)
      -> (tensor<?x4xf32>, tensor<5xi32>, tensor<?x1xi32>)
  return %t, %o, %r : tensor<?x4xf32>, tensor<5xi32>, tensor<?x1xi32>
}
"""

ROUTE = """
func.func @route(%logits: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %v, %i = moe.topk %logits, k = 2
      : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %g = moe.route_weights <softmax_topk> %logits, %v {renormalize = true}
      : (tensor<?x8xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  return %g, %i : tensor<?x2xf32>, tensor<?x2xi32>
}
"""


def report(what, action):
    try:
        action()
        print(f"{what}: no error")
    except (moe.MoEError, TypeError, ValueError) as error:
        print(f"{what}: {type(error).__name__}: {error}")


rng = np.random.default_rng(1)
x = rng.standard_normal((5, 4)).astype(np.float32)
w = rng.standard_normal(4).astype(np.float32)

# CHECK: entry points: ('scale',)
# CHECK-NEXT: scale: True True
executable = moe.compile(SCALE, threads=2)
print("entry points:", executable.entry_points)
y, total = executable.invoke("scale", x, w)
print("scale:", np.allclose(y, x * w, rtol=1e-6),
      np.isclose(total, (x.astype(np.float64) * w).sum(), rtol=1e-5))

# Arrays that are not C-contiguous are copied first, and give the same
# results.
# CHECK-NEXT: strided: True
transposed = np.ascontiguousarray(x.T).T
print("strided:", np.array_equal(executable.invoke("scale", transposed, w)[0],
                                 y))

# CHECK-NEXT: wrong dtype: MoEError: argument #0 of 'scale' must be tensor<?x4xf32>, got tensor<5x4xf64> (element type differs)
# CHECK-NEXT: wrong shape: MoEError: argument #1 of 'scale' must be tensor<4xf32>, got tensor<3xf32> (size of dimension 0 differs)
# CHECK-NEXT: too few: MoEError: 'scale' takes 2 arguments (tensor<?x4xf32>, tensor<4xf32>), got 1
# CHECK-NEXT: unknown entry: MoEError: no entry point named 'scal' (the module has: scale)
# CHECK-NEXT: unsupported dtype: TypeError: argument #0 has dtype complex64; entry points take float16, uint16 (bf16 bits), float32, float64, int32, int64 in native byte order
# CHECK-NEXT: big-endian: TypeError: argument #0 has dtype >f4;
report("wrong dtype", lambda: executable.invoke("scale", x.astype(np.float64), w))
report("wrong shape", lambda: executable.invoke("scale", x, w[:3]))
report("too few", lambda: executable.invoke("scale", x))
report("unknown entry", lambda: executable.invoke("scal", x, w))
report("unsupported dtype",
       lambda: executable.invoke("scale", x.astype(np.complex64), w))
report("big-endian", lambda: executable.invoke("scale", x.astype(">f4"), w))

# A failed run-time check of the compiled code is an error, and the
# executable stays usable.
# CHECK-NEXT: bad index: MoEError: in 'dispatch': run-time check failed: moe.dispatch: an expert index is outside [0, num_experts)
# CHECK-NEXT: offsets: [0 0 1 1 2]
dispatch = moe.compile(DISPATCH)
tokens = np.ones((2, 4), np.float32)
report("bad index", lambda: dispatch.invoke(
    "dispatch", tokens, np.array([[0], [7]], np.int32)))
print("offsets:", dispatch.invoke("dispatch", tokens,
                                  np.array([[3], [1]], np.int32))[1])

# A 0-d argument keeps its rank, and a result that is an argument comes
# back as a copy (the caller's array is not handed to the allocator).
# CHECK-NEXT: echo: 2.5 () [0. 1. 2.] True
echo = moe.compile("""
func.func @echo(%s: tensor<f32>, %v: tensor<3xf32>) -> (tensor<f32>, tensor<3xf32>) {
  return %s, %v : tensor<f32>, tensor<3xf32>
}""")
v = np.arange(3, dtype=np.float32)
for _ in range(2):
    s, echoed = echo.invoke("echo", np.float32(2.5), v)
print("echo:", s, s.shape, echoed, echoed.ctypes.data != v.ctypes.data)

# Compile options are checked before they reach the C API.
# CHECK-NEXT: threads: ValueError: threads must be an integer >= 0, got -1
# CHECK-NEXT: opt_level: ValueError: opt_level must be an integer in 0..3, got 4
# CHECK-NEXT: backend: ValueError: unknown backend 'tpu' (known: cpu, cuda)
report("threads", lambda: moe.compile(SCALE, threads=-1))
report("opt_level", lambda: moe.compile(SCALE, opt_level=4))
report("backend", lambda: moe.compile(SCALE, backend="tpu"))

# Parse and verifier errors carry the diagnostics, with their locations.
# CHECK-NEXT: syntax: MoEError: cannot parse <string>:
# CHECK-NEXT: loc("-":1:15): error: expected ':'
# CHECK-NEXT: verifier: MoEError: cannot parse <string>:
# CHECK-NEXT: loc("-":3:12): error: 'moe.topk' op 'k' (9) must not exceed the number of candidates (8)
context = moe.Context()
report("syntax", lambda: context.parse("func.func @f(%x"))
report("verifier", lambda: context.parse(ROUTE.replace("k = 2", "k = 9")))

# A module runs any pass or pipeline moe-opt knows, in place.
# CHECK: fused: moe.route <softmax_topk> %arg0, k = 2 {renormalize = true}
# CHECK-NEXT: lowered: True
# CHECK: unknown pass: MoEError: MLIR Textual PassPipeline Parser:1:1: error: 'moe-no-such-pass' does not refer to a registered pass or pass pipeline
module = context.parse(ROUTE)
module.run_pipeline("func.func(moe-fuse-routing)")
print("fused:", next(line.split("= ", 1)[1].split(" :")[0]
                     for line in str(module).splitlines() if "moe.route" in line))
module.run_pipeline("moe-cpu-pipeline{threads=2}")
print("lowered:", "llvm.func @route" in str(module))
report("unknown pass", lambda: module.run_pipeline("moe-no-such-pass"))

# The executable compiled from a module outlives its context; the module
# does not.
# CHECK: route: {{\[\[}}0 1]] {{\[\[}}0.5 0.5]]
# CHECK-NEXT: closed: MoEError: the module's context was closed
routing = context.parse(ROUTE).compile()
closed = context.parse(ROUTE)
context.close()
gates, indices = routing.invoke("route", np.array([[1, 1] + [0] * 6], np.float32))
print("route:", indices, gates)
report("closed", lambda: str(closed))
report("parse after close", lambda: context.parse(ROUTE))

# A context and its module in a reference cycle are collected in either
# order without destroying the module twice.
# CHECK-NEXT: parse after close: MoEError: the context was closed
# CHECK-NEXT: collected
import gc  # noqa: E402

cyclic = moe.Context()
cyclic.module = cyclic.parse(ROUTE)
cyclic.module.owner = cyclic
del cyclic
gc.collect()
print("collected")

# Expert weights packed once: the variant on the packed weights gives what
# the entry gives on the weights as they were; a copy leaves them as they
# were, in place packs them where they lie.
# CHECK-NEXT: packed: PackedWeights(entry='routed_packed', arguments=(3, 4), inner_tiles=(128, 64))
# CHECK-NEXT: unpacked entry: None
# CHECK-NEXT: shapes: (2, 1, 2, 128, 64) (2, 1, 2, 128, 64) True
# CHECK-NEXT: same result: True
# CHECK-NEXT: ragged: MoEError: cannot pack tensor<2x100x64xf32> in panels of 128 x 64: expected [experts, K, N] with K and N multiples of the panel
# CHECK-NEXT: read-only: ValueError: in_place needs a C-contiguous, writable numpy array
# CHECK-NEXT: one tile: ValueError: inner_tiles must be two sizes (d, w), got (128,)
# CHECK-NEXT: complex weights: TypeError: the weights array has dtype complex64;
# CHECK-NEXT: no variant: None
ROUTED = """
func.func @routed(%x: tensor<?x128xf32>, %gates: tensor<?x1xf32>,
    %idx: tensor<?x1xi64>, %w1: tensor<2x128x128xf32>,
    %w2: tensor<2x128x128xf32>) -> tensor<?x128xf32> {
  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) w2(%w2)
      : (tensor<?x128xf32>, tensor<?x1xf32>, tensor<?x1xi64>,
         tensor<2x128x128xf32>, tensor<2x128x128xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
"""
routed = moe.compile(ROUTED, pack_weights=True)
packing = routed.packed_weights("routed")
print("packed:", packing)
print("unpacked entry:", routed.packed_weights(packing.entry))
tokens = rng.standard_normal((3, 128)).astype(np.float32)
route_gates = np.array([[0.75], [1.0], [0.5]], np.float32)
experts = np.array([[1], [0], [1]], np.int64)
w1 = rng.standard_normal((2, 128, 128)).astype(np.float32)
w2 = rng.standard_normal((2, 128, 128)).astype(np.float32)
(expected,) = routed.invoke("routed", tokens, route_gates, experts, w1, w2)
packed_w1 = moe.pack_expert_weights(w1, packing.inner_tiles)
w2_address = w2.ctypes.data
packed_w2 = moe.pack_expert_weights(w2, packing.inner_tiles, in_place=True)
print("shapes:", packed_w1.shape, packed_w2.shape,
      packed_w2.ctypes.data == w2_address)
(actual,) = routed.invoke(packing.entry, tokens, route_gates, experts,
                          packed_w1, packed_w2)
print("same result:", np.allclose(actual, expected, rtol=1e-5, atol=1e-5))
report("ragged", lambda: moe.pack_expert_weights(
    np.ones((2, 100, 64), np.float32), packing.inner_tiles))
read_only = np.ones((2, 128, 64), np.float32)
read_only.flags.writeable = False
report("read-only", lambda: moe.pack_expert_weights(
    read_only, packing.inner_tiles, in_place=True))
report("one tile", lambda: moe.pack_expert_weights(w1, (128,)))
report("complex weights", lambda: moe.pack_expert_weights(
    w1.astype(np.complex64), packing.inner_tiles))
print("no variant:", moe.compile(ROUTED).packed_weights("routed"))

# An executable closed (or left by a `with` block) refuses calls with an
# error rather than calling through a released handle.
# CHECK-NEXT: inside with: 2
# CHECK-NEXT: invoke after close: MoEError: the executable was closed
# CHECK-NEXT: packed_weights after close: MoEError: the executable was closed
# CHECK-NEXT: closed twice: None
with moe.compile(ROUTED, pack_weights=True) as scoped:
    print("inside with:", len(scoped.entry_points))
report("invoke after close", lambda: scoped.invoke("routed", tokens,
                                                   route_gates, experts,
                                                   w1, w2))
report("packed_weights after close",
       lambda: scoped.packed_weights("routed"))
print("closed twice:", scoped.close())

# Arguments staged once (Executable.stage) are passed without a copy; on the
# CPU the compiled code reads the array itself. A staged array belongs to its
# executable.
# CHECK-NEXT: staged: True (3, 128)
# CHECK-NEXT: foreign staged: ValueError: argument #0 was staged for another executable
# CHECK-NEXT: stage after close: MoEError: the executable was closed
staging = moe.compile(ROUTED)
(unstaged_result,) = staging.invoke("routed", tokens, route_gates, experts,
                                    w1, w2)
(staged_result,) = staging.invoke("routed", tokens, route_gates, experts,
                                  staging.stage(w1), staging.stage(w2))
print("staged:", np.array_equal(staged_result, unstaged_result),
      staged_result.shape)
report("foreign staged", lambda: routed.invoke(
    "routed", staging.stage(tokens), route_gates, experts, w1, w2))
staging.close()
report("stage after close", lambda: staging.stage(w1))
