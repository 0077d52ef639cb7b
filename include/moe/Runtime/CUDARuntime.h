/*===- CUDARuntime.h - The runtime compiled CUDA code calls ------*- C -*-===*\
|*                                                                            *|
|* Compiled host code of the CUDA pipeline calls the mgpu* entry points that  *|
|* MLIR's gpu-to-llvm conversion emits (module loading, kernel launches,      *|
|* streams) and allocates its buffers through _mlir_memref_to_llvm_alloc and  *|
|* _free, which this runtime serves with CUDA managed memory so that host     *|
|* loops and kernels share them. The driver (libcuda.so.1) is loaded on first *|
|* use, so programs linking this library start on machines without a GPU.     *|
|*                                                                            *|
|* Every driver call is checked. A failure, named with its call and kernel,   *|
|* goes to the error handler; compiled code cannot go on after one, so the    *|
|* handler must not return (the execution library unwinds to the caller of    *|
|* the entry point).                                                          *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_CUDARUNTIME_H
#define MOE_RUNTIME_CUDARUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Control API, for the execution library. */

/* Loads the driver and makes device 0's primary context current. Returns 0,
   or writes why not (no driver, no GPU) to `message` and returns -1. */
int moeCudaInitialize(char *message, size_t messageSize);

/* The compute capability of the device, as in "sm_90". Requires a
   successful moeCudaInitialize. */
void moeCudaGetChip(char *chip, size_t chipSize);

/* Receives every driver failure but a module load's; must not return. */
typedef void (*MoeCudaErrorHandler)(const char *message);
void moeCudaSetErrorHandler(MoeCudaErrorHandler handler);

/* Modules load from the compiled module's global constructors, which the
   JIT runs inside frames of its own that a failure must not jump over: a
   load that fails returns a null module instead, and this writes why to
   `message` and returns -1, once (0 when every load on this thread
   succeeded). */
int moeCudaTakeModuleLoadFailure(char *message, size_t messageSize);

/* Managed memory, shared by the host and kernels. */
void *moeCudaAllocate(size_t bytes);
void moeCudaFree(void *pointer);

/* Destroys a stream of compiled code that failed before destroying it. Like
   moeCudaFree, a cleanup: a failure is printed, not raised. */
void moeCudaReleaseStream(void *stream);

/* Entry points of compiled code (signatures fixed by MLIR's gpu-to-llvm and
   finalize-memref-to-llvm conversions). */
void *mgpuModuleLoad(void *data, size_t size);
void *mgpuModuleLoadJIT(void *data, int optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedMemoryBytes, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuStreamCreate(void);
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void *_mlir_memref_to_llvm_alloc(size_t bytes);
void _mlir_memref_to_llvm_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_CUDARUNTIME_H */
