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


class MlirMoEExecutable(_Handle):
    pass


class MlirMoEResults(_Handle):
    pass


class MlirStringRef(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("length", ctypes.c_size_t)]

    @classmethod
    def of(cls, text):
        data = text.encode() if isinstance(text, str) else bytes(text)
        return cls(data, len(data))

    def __str__(self):
        return ctypes.string_at(self.data, self.length).decode(
            errors="replace")


class MlirLogicalResult(ctypes.Structure):
    _fields_ = [("value", ctypes.c_int8)]

    def succeeded(self):
        return self.value != 0


class MlirDiagnosticHandlerID(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64)]


class MlirMoEArray(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("rank", ctypes.c_ssize_t),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("data", ctypes.c_void_p)]


class MlirMoECompileOptions(ctypes.Structure):
    _fields_ = [("backend", ctypes.c_int), ("optLevel", ctypes.c_uint),
                ("fuse", ctypes.c_bool), ("numRanks", ctypes.c_uint),
                ("threads", ctypes.c_uint), ("chip", MlirStringRef)]


# MlirMoEElementKind and MlirMoEBackend, in the headers' order.
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
_declare("mlirOperationVerify", ctypes.c_bool, MlirOperation)
_declare("mlirPassManagerCreate", MlirPassManager, MlirContext)
_declare("mlirPassManagerDestroy", None, MlirPassManager)
_declare("mlirPassManagerGetAsOpPassManager", MlirOpPassManager,
         MlirPassManager)
_declare("mlirPassManagerRunOnOp", MlirLogicalResult, MlirPassManager,
         MlirOperation)
_declare("mlirParsePassPipeline", MlirLogicalResult, MlirOpPassManager,
         MlirStringRef, MlirStringCallback, ctypes.c_void_p)

_declare("mlirMoERegisterCompilerDialects", None, MlirDialectRegistry)
_declare("mlirMoERegisterAllPasses", None)
_declare("mlirMoEContextAttachDiagnosticPrinter", MlirDiagnosticHandlerID,
         MlirContext, MlirStringCallback, ctypes.c_void_p)
_declare("mlirMoECompileOptionsGetDefault", MlirMoECompileOptions)
_declare("mlirMoEExecutableCreate", MlirMoEExecutable, MlirModule,
         ctypes.POINTER(MlirMoECompileOptions))
_declare("mlirMoEExecutableDestroy", None, MlirMoEExecutable)
_declare("mlirMoEExecutableGetNumEntryPoints", ctypes.c_ssize_t,
         MlirMoEExecutable)
_declare("mlirMoEExecutableGetEntryPointName", MlirStringRef,
         MlirMoEExecutable, ctypes.c_ssize_t)
_declare("mlirMoEExecutableInvoke", MlirMoEResults, MlirMoEExecutable,
         MlirStringRef, ctypes.c_ssize_t, ctypes.POINTER(MlirMoEArray),
         MlirStringCallback, ctypes.c_void_p)
_declare("mlirMoEResultsGetNumArrays", ctypes.c_ssize_t, MlirMoEResults)
_declare("mlirMoEResultsGetArray", MlirMoEArray, MlirMoEResults,
         ctypes.c_ssize_t)
_declare("mlirMoEResultsDestroy", None, MlirMoEResults)
