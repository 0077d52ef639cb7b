"""Compile sparsely-gated Mixture-of-Experts layers and run them on NumPy
arrays, through the moe C API (libMoECAPI).

    import moe
    executable = moe.compile(open("examples/paper-lm-layer.mlir").read(),
                             threads=2)
    output, importance_loss, load_loss, tokens_per_expert = executable.invoke(
        "paper_lm_layer", x, w_gate, w_noise, noise, w1, b1, w2, b2)

A `Context` parses modules and runs pass pipelines on them (any pass or
pipeline `moe-opt` knows, such as "moe-expand-layer" or
"moe-cpu-pipeline{threads=2}"); `Module.compile` JITs a module for the CPU
(or the GPU) into an `Executable`, whose entry points read the caller's
arrays in place. Failures raise `MoEError` with the compiler's diagnostics.

Expert weights stay the same from call to call: compiled with
pack_weights=True, an entry point gets a variant that takes them packed in
the panels the CPU GEMMs read (`Executable.packed_weights`), which
`pack_expert_weights` packs them in, once.

bf16 arrays are passed and returned as their uint16 bit patterns (the
convention of the runner's .npy files); an `ml_dtypes.bfloat16` array is
accepted too.
"""

import ctypes
import typing
import warnings

import numpy as np

from . import _capi
from ._capi import lib

__all__ = ["Context", "Module", "Executable", "MoEError", "MoEWarning",
           "PackedWeights", "compile", "pack_expert_weights"]


class MoEError(Exception):
    """A diagnostic of the compiler, or a failed call of compiled code."""


class MoEWarning(UserWarning):
    """A warning or remark of the compiler about a module that compiled."""


lib.moeRegisterAllPasses()


class _Messages:
    """Collects what the C API reports through string callbacks: whole
    messages (diagnostics, errors) or the chunks of one printed text."""

    def __init__(self):
        self.chunks = []
        self.callback = _capi.MlirStringCallback(self._append)

    def _append(self, text, _user_data):
        self.chunks.append(bytes(text))

    def take(self):
        """The messages since the last take."""
        chunks, self.chunks = self.chunks, []
        return [chunk.decode(errors="replace") for chunk in chunks]

    def text(self):
        """The chunks since the last take, as one text."""
        chunks, self.chunks = self.chunks, []
        return b"".join(chunks).decode(errors="replace")


class _Closable:
    """Released by `close()`: at the end of a `with` block, or when
    collected."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        self.close()


class Context(_Closable):
    """An MLIR context with the dialects a model and its compilation use.

    A context and its modules belong to one thread at a time; executables
    compiled from them do not."""

    def __init__(self):
        self._context = lib.mlirContextCreate()
        registry = lib.mlirDialectRegistryCreate()
        lib.moeRegisterCompilerDialects(registry)
        lib.mlirContextAppendDialectRegistry(self._context, registry)
        lib.mlirDialectRegistryDestroy(registry)
        self._diagnostics = _Messages()
        lib.moeContextAttachDiagnosticPrinter(
            self._context, self._diagnostics.callback, None, None)
        # The raw handles of the live modules, held strongly: a garbage
        # collection may finalize the context before its modules, which must
        # not then destroy their operations a second time.
        self._module_handles = set()

    def close(self):
        """Destroys the context and its modules (executables compiled from
        them stay usable)."""
        if self._context:
            for handle in self._module_handles:
                lib.mlirModuleDestroy(_capi.MlirModule(handle))
            self._module_handles.clear()
            lib.mlirContextDestroy(self._context)
            self._context = _capi.MlirContext()

    def _check_open(self):
        if not self._context:
            raise MoEError("the context was closed")

    def parse(self, source, name="<string>"):
        """Parses and verifies `source` (MLIR text) into a `Module`."""
        self._check_open()
        self._diagnostics.take()
        module = lib.mlirModuleCreateParse(self._context,
                                           _capi.MlirStringRef.of(source))
        self._raise_if(not module, f"cannot parse {name}")
        return Module(self, module)

    def _raise_if(self, failed, what):
        """Raises MoEError with the diagnostics since the last call when
        `failed`; warns with them otherwise."""
        diagnostics = self._diagnostics.take()
        if failed:
            raise MoEError("\n".join([what + ":"] + diagnostics)
                           if diagnostics else what)
        for diagnostic in diagnostics:
            warnings.warn(diagnostic, MoEWarning, stacklevel=3)


class Module:
    """A module of a `Context`: MLIR to transform, print or compile."""

    def __init__(self, context, module):
        self.context = context
        self._module = module
        context._module_handles.add(module.ptr)

    def __del__(self):
        handles = self.context._module_handles
        if self._module.ptr in handles:
            handles.discard(self._module.ptr)
            lib.mlirModuleDestroy(self._module)

    def _check_open(self):
        if self._module.ptr not in self.context._module_handles:
            raise MoEError("the module's context was closed")

    def _operation(self):
        self._check_open()
        return lib.mlirModuleGetOperation(self._module)

    def __str__(self):
        chunks = _Messages()
        lib.mlirOperationPrint(self._operation(), chunks.callback, None)
        return chunks.text()

    def run_pipeline(self, pipeline):
        """Transforms the module in place with a textual pass pipeline, as
        `moe-opt --pass-pipeline` takes it; the `builtin.module(...)`
        around it may be left out."""
        operation = self._operation()
        if not pipeline.startswith("builtin.module("):
            pipeline = f"builtin.module({pipeline})"
        pm = lib.mlirPassManagerCreate(self.context._context)
        try:
            errors = _Messages()
            parsed = lib.mlirParsePassPipeline(
                lib.mlirPassManagerGetAsOpPassManager(pm),
                _capi.MlirStringRef.of(pipeline), errors.callback, None)
            if not parsed.succeeded():
                raise MoEError(errors.text())
            self.context._diagnostics.take()
            result = lib.mlirPassManagerRunOnOp(pm, operation)
            self.context._raise_if(not result.succeeded(),
                                   f"the pipeline '{pipeline}' failed")
        finally:
            lib.mlirPassManagerDestroy(pm)
        return self

    def compile(self, backend="cpu", threads=0, fuse=True, opt_level=3,
                num_ranks=1, chip="", pack_weights=False, tensor_cores=True):
        """Compiles a copy of the module and JITs it.

        backend: "cpu" or "cuda". threads: CPU threads, 0 for OpenMP's
        default (OMP_NUM_THREADS, else one per core). fuse: run the fusion
        stage. num_ranks: split the experts over this many MPI ranks (this
        process is one of them). chip: the GPU architecture ("sm_90"),
        empty for the GPU's own. pack_weights: give entry points with f32
        expert weights a variant taking them packed
        (`Executable.packed_weights`). tensor_cores: run the GEMMs of
        bf16/f16 operands on tensor cores (CUDA, sm_80 and newer).
        """
        if backend not in _capi.BACKENDS:
            raise ValueError(f"unknown backend '{backend}' (known: "
                             f"{', '.join(_capi.BACKENDS)})")
        self._check_open()
        threads = _integer(threads, "threads", 0)
        opt_level = _integer(opt_level, "opt_level", 0, 3)
        num_ranks = _integer(num_ranks, "num_ranks", 1)
        options = lib.moeCompileOptionsCreate()
        try:
            lib.moeCompileOptionsSetBackend(options,
                                            _capi.BACKENDS.index(backend))
            lib.moeCompileOptionsSetThreads(options, threads)
            lib.moeCompileOptionsSetFuse(options, bool(fuse))
            lib.moeCompileOptionsSetOptLevel(options, opt_level)
            lib.moeCompileOptionsSetNumRanks(options, num_ranks)
            lib.moeCompileOptionsSetChip(options, _capi.MlirStringRef.of(chip))
            lib.moeCompileOptionsSetPackWeights(options, bool(pack_weights))
            lib.moeCompileOptionsSetTensorCores(options, bool(tensor_cores))
            self.context._diagnostics.take()
            executable = lib.moeExecutableCreate(self._module, options)
        finally:
            lib.moeCompileOptionsDestroy(options)
        self.context._raise_if(not executable,
                               f"compiling for {backend} failed")
        return Executable(executable)


def _integer(value, name, minimum, maximum=2**32 - 1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not minimum <= value <= maximum:
        bounds = f">= {minimum}" if maximum == 2**32 - 1 else \
            f"in {minimum}..{maximum}"
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")
    return int(value)


_KIND_OF_DTYPE = {np.dtype(np.float16): "f16", np.dtype(np.uint16): "bf16",
                  np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
                  np.dtype(np.int32): "i32", np.dtype(np.int64): "i64"}
_DTYPE_OF_KIND = {kind: dtype for dtype, kind in _KIND_OF_DTYPE.items()}


def _kind_of(array, what):
    if array.dtype.name == "bfloat16":  # ml_dtypes
        return "bf16"
    kind = _KIND_OF_DTYPE.get(array.dtype.newbyteorder("="))
    if kind is None or not array.dtype.isnative:
        raise TypeError(
            f"{what} has dtype {array.dtype}; entry points take "
            f"float16, uint16 (bf16 bits), float32, float64, int32, int64 in "
            f"native byte order")
    return kind


class Executable(_Closable):
    """A compiled module: call its entry points on arrays."""

    def __init__(self, executable):
        self._executable = executable
        count = lib.moeExecutableGetNumEntryPoints(executable)
        self.entry_points = tuple(
            bytes(lib.moeExecutableGetEntryPointName(executable, pos))
            .decode()
            for pos in range(count))

    def close(self):
        """Releases the compiled code now rather than when garbage
        collected; the executable cannot be called afterwards. Not while
        another thread is inside `invoke`."""
        if self._executable:
            lib.moeExecutableDestroy(self._executable)
            self._executable = _capi.MoeExecutable()

    def _check_open(self):
        if not self._executable:
            raise MoEError("the executable was closed")

    def packed_weights(self, name):
        """Entry point `name`'s variant taking its expert weights packed, as
        a `PackedWeights`, or None where it has none (compile with
        pack_weights=True). Pack the weights once with
        `pack_expert_weights(array, inner_tiles)` and call the variant."""
        self._check_open()
        packed = _capi.MoePackedWeights()
        if not lib.moeExecutableGetPackedWeights(
                self._executable, _capi.MlirStringRef.of(name),
                ctypes.byref(packed)):
            return None
        return PackedWeights(
            bytes(packed.entry).decode(),
            tuple(packed.arguments[pos]
                  for pos in range(packed.num_arguments)),
            tuple(packed.inner_tiles))

    def stage(self, array):
        """`array` copied where the compiled code reads it in place, as a
        `StagedArray` to pass to `invoke` instead of the array: calls then
        make no copy of it (for CUDA, each call otherwise copies its inputs
        to the GPU's managed memory; on the CPU nothing is copied). The copy
        lives as long as the executable; later changes to `array` do not
        reach it."""
        self._check_open()
        array = np.asarray(array, order="C")
        descriptor = _describe(array, "the staged array")
        staged = _capi.MoeArray()
        errors = _Messages()
        if not lib.moeExecutableStageArgument(
                self._executable, descriptor.array, ctypes.byref(staged),
                errors.callback, None):
            raise MoEError(errors.text())
        return StagedArray(self, array, _Descriptor(staged, descriptor.shape))

    def invoke(self, name, *arrays):
        """Calls entry point `name` on `arrays` (array-likes, read in place
        when C-contiguous, or `StagedArray`s of this executable) and returns
        its results as a tuple of new arrays. Several threads may call at
        once (the GIL is released while compiled code runs)."""
        self._check_open()
        described = []
        for position, array in enumerate(arrays):
            if isinstance(array, StagedArray):
                if array.executable is not self:
                    raise ValueError(f"argument #{position} was staged for "
                                     f"another executable")
                described.append(array._descriptor)
            else:
                described.append(_describe(np.asarray(array, order="C"),
                                           f"argument #{position}"))
        descriptors = (_capi.MoeArray * max(len(described), 1))()
        for position, descriptor in enumerate(described):
            descriptors[position] = descriptor.array
        errors = _Messages()
        results = lib.moeExecutableInvoke(
            self._executable, _capi.MlirStringRef.of(name), len(described),
            descriptors, errors.callback, None)
        if not results:
            raise MoEError(errors.text())
        try:
            return tuple(
                _copy_out(lib.moeResultsGetArray(results, pos))
                for pos in range(lib.moeResultsGetNumArrays(results)))
        finally:
            lib.moeResultsDestroy(results)


class _Descriptor(typing.NamedTuple):
    """A `MoeArray` and the ctypes shape it points to, kept alive with it."""
    array: _capi.MoeArray
    shape: ctypes.Array


def _describe(array, what):
    """The `MoeArray` of `array`, a C-contiguous numpy array it reads."""
    kind = _kind_of(array, what)
    shape = (ctypes.c_int64 * array.ndim)(*array.shape)
    return _Descriptor(_capi.MoeArray(_capi.ELEMENT_KINDS.index(kind),
                                      array.ndim, shape, array.ctypes.data),
                       shape)


class StagedArray:
    """An argument copied where an executable's compiled code reads it
    (`Executable.stage`); pass it to that executable's `invoke`."""

    def __init__(self, executable, array, descriptor):
        self.executable = executable
        self.shape = array.shape
        self.dtype = array.dtype
        # On the CPU the descriptor points into `array` itself.
        self._array = array
        self._descriptor = descriptor


class PackedWeights(typing.NamedTuple):
    """An entry point's variant taking its expert weights packed: its name,
    the positions of those arguments, and the panel (d, w) each
    `[n, K, N]` weight is packed in, `[n, K / d, N / w, d, w]`."""
    entry: str
    arguments: tuple
    inner_tiles: tuple


def pack_expert_weights(weights, inner_tiles, in_place=False):
    """Returns `weights`, an `[n, K, N]` array, packed in panels of
    `inner_tiles` (d, w): `[n, K / d, N / w, d, w]`. A copy, or with
    in_place=True, a view of `weights` itself (C-contiguous and writable),
    whose values it rewrites."""
    if in_place:
        if not isinstance(weights, np.ndarray) or \
                not weights.flags.c_contiguous or not weights.flags.writeable:
            raise ValueError("in_place needs a C-contiguous, writable "
                             "numpy array")
        packed = weights
    else:
        packed = np.array(weights, order="C")
    inner_tiles = tuple(inner_tiles)
    if len(inner_tiles) != 2:
        raise ValueError(f"inner_tiles must be two sizes (d, w), got "
                         f"{inner_tiles!r}")
    shape = (ctypes.c_int64 * packed.ndim)(*packed.shape)
    tiles = (ctypes.c_int64 * 2)(*(_integer(size, "inner tile", 1)
                                   for size in inner_tiles))
    packed_shape = (ctypes.c_int64 * 5)()
    errors = _Messages()
    kind = _kind_of(packed, "the weights array")
    if not lib.moePackExpertWeights(
            _capi.ELEMENT_KINDS.index(kind), packed.ndim, shape,
            packed.ctypes.data, tiles, packed_shape, errors.callback, None):
        raise MoEError(errors.text())
    return packed.reshape(tuple(packed_shape))


def _copy_out(array):
    dtype = _DTYPE_OF_KIND[_capi.ELEMENT_KINDS[array.kind]]
    shape = tuple(array.shape[dim] for dim in range(array.rank))
    result = np.empty(shape, dtype)
    if result.nbytes:
        ctypes.memmove(result.ctypes.data, array.data, result.nbytes)
    return result


def compile(source, **options):
    """Parses `source` (MLIR text) in a new `Context` and compiles it;
    `options` are those of `Module.compile`."""
    context = Context()
    try:
        return context.parse(source).compile(**options)
    finally:
        context.close()
