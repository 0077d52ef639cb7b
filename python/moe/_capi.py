"""ctypes declarations of the C API in libMoECAPI (include/moe-c and the
parts of upstream's mlir-c it exports).

Handles are the C API's one-pointer structs; every prototype is declared, so
a mismatch with the headers is an error here rather than a wrong call.
"""

import ctypes
import os

from . import _config


class _Handle(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_void_p)]

    def __bool__(self):
        return bool(self.ptr)


class MlirContext(_Handle):
    pass


class MlirDialectRegistry(_Handle):
    pass


class MlirModule(_Handle):
    pass


class MlirOperation(_Handle):
    pass


class MlirPassManager(_Handle):
    pass


class MlirOpPassManager(_Handle):
    pass


class MoeExecutable(_Handle):
    pass


class MoeResults(_Handle):
    pass


class MoeCompileOptions(_Handle):
    pass


class MlirStringRef(ctypes.Structure):
    # Not c_char_p: the C API's strings are not NUL-terminated.
    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_size_t)]

    @classmethod
    def of(cls, text):
        data = text.encode() if isinstance(text, str) else bytes(text)
        buffer = ctypes.create_string_buffer(data, len(data))
        ref = cls(ctypes.addressof(buffer), len(data))
        ref._buffer = buffer  # alive as long as the reference
        return ref

    def __bytes__(self):
        return ctypes.string_at(self.data, self.length) if self.length \
            else b""


class MoePackedWeights(ctypes.Structure):
    _fields_ = [("entry", MlirStringRef), ("num_arguments", ctypes.c_ssize_t),
                ("arguments", ctypes.POINTER(ctypes.c_uint)),
                ("inner_tiles", ctypes.c_int64 * 2)]


class MlirLogicalResult(ctypes.Structure):
    _fields_ = [("value", ctypes.c_int8)]

    def succeeded(self):
        return self.value != 0


class MoeArray(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("rank", ctypes.c_ssize_t),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("data", ctypes.c_void_p)]


# MoeElementKind and MoeBackend, in the headers' order.
ELEMENT_KINDS = ("f16", "bf16", "f32", "f64", "i32", "i64")
BACKENDS = ("cpu", "cuda")

MlirStringCallback = ctypes.CFUNCTYPE(None, MlirStringRef, ctypes.c_void_p)


def _load():
    path = os.environ.get("MOE_CAPI_LIBRARY", _config.CAPI_LIBRARY)
    try:
        return ctypes.CDLL(path)
    except OSError as error:
        raise ImportError(
            f"cannot load the moe C API library '{path}' ({error}); build "
            f"the MoECAPI target or set MOE_CAPI_LIBRARY") from None


lib = _load()


def _declare(name, result, *arguments):
    function = getattr(lib, name)
    function.restype = result
    function.argtypes = arguments


_declare("mlirContextCreate", MlirContext)
_declare("mlirContextDestroy", None, MlirContext)
_declare("mlirContextAppendDialectRegistry", None, MlirContext,
         MlirDialectRegistry)
_declare("mlirDialectRegistryCreate", MlirDialectRegistry)
_declare("mlirDialectRegistryDestroy", None, MlirDialectRegistry)
_declare("mlirModuleCreateParse", MlirModule, MlirContext, MlirStringRef)
_declare("mlirModuleDestroy", None, MlirModule)
_declare("mlirModuleGetOperation", MlirOperation, MlirModule)
_declare("mlirOperationPrint", None, MlirOperation, MlirStringCallback,
         ctypes.c_void_p)
_declare("mlirPassManagerCreate", MlirPassManager, MlirContext)
_declare("mlirPassManagerDestroy", None, MlirPassManager)
_declare("mlirPassManagerGetAsOpPassManager", MlirOpPassManager,
         MlirPassManager)
_declare("mlirPassManagerRunOnOp", MlirLogicalResult, MlirPassManager,
         MlirOperation)
_declare("mlirParsePassPipeline", MlirLogicalResult, MlirOpPassManager,
         MlirStringRef, MlirStringCallback, ctypes.c_void_p)

_declare("moeRegisterCompilerDialects", None, MlirDialectRegistry)
_declare("moeRegisterAllPasses", None)
# MlirDiagnosticHandlerID is a uint64_t; the last argument is a deleter
# this package does not need.
_declare("moeContextAttachDiagnosticPrinter", ctypes.c_uint64, MlirContext,
         MlirStringCallback, ctypes.c_void_p, ctypes.c_void_p)
_declare("moeCompileOptionsCreate", MoeCompileOptions)
_declare("moeCompileOptionsDestroy", None, MoeCompileOptions)
_declare("moeCompileOptionsSetBackend", None, MoeCompileOptions, ctypes.c_int)
_declare("moeCompileOptionsSetOptLevel", None, MoeCompileOptions,
         ctypes.c_uint)
_declare("moeCompileOptionsSetFuse", None, MoeCompileOptions, ctypes.c_bool)
_declare("moeCompileOptionsSetNumRanks", None, MoeCompileOptions,
         ctypes.c_uint)
_declare("moeCompileOptionsSetThreads", None, MoeCompileOptions,
         ctypes.c_uint)
_declare("moeCompileOptionsSetChip", None, MoeCompileOptions, MlirStringRef)
_declare("moeCompileOptionsSetPackWeights", None, MoeCompileOptions,
         ctypes.c_bool)
_declare("moeCompileOptionsSetTensorCores", None, MoeCompileOptions,
         ctypes.c_bool)
_declare("moeExecutableCreate", MoeExecutable, MlirModule, MoeCompileOptions)
_declare("moeExecutableDestroy", None, MoeExecutable)
_declare("moeExecutableGetNumEntryPoints", ctypes.c_ssize_t,
         MoeExecutable)
_declare("moeExecutableGetEntryPointName", MlirStringRef,
         MoeExecutable, ctypes.c_ssize_t)
_declare("moeExecutableGetPackedWeights", ctypes.c_bool, MoeExecutable,
         MlirStringRef, ctypes.POINTER(MoePackedWeights))
_declare("moePackExpertWeights", ctypes.c_bool, ctypes.c_int,
         ctypes.c_ssize_t, ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p,
         ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64),
         MlirStringCallback, ctypes.c_void_p)
_declare("moeExecutableStageArgument", ctypes.c_bool, MoeExecutable,
         MoeArray, ctypes.POINTER(MoeArray), MlirStringCallback,
         ctypes.c_void_p)
_declare("moeExecutableInvoke", MoeResults, MoeExecutable,
         MlirStringRef, ctypes.c_ssize_t, ctypes.POINTER(MoeArray),
         MlirStringCallback, ctypes.c_void_p)
_declare("moeResultsGetNumArrays", ctypes.c_ssize_t, MoeResults)
_declare("moeResultsGetArray", MoeArray, MoeResults,
         ctypes.c_ssize_t)
_declare("moeResultsDestroy", None, MoeResults)
