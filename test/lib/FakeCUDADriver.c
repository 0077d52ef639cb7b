/*===- FakeCUDADriver.c - A driver whose one named call fails -------------===*
 *
 * The CUDA driver entry points the project's runtime loads, for tests on
 * machines without a GPU: one device (sm_90), memory from malloc, modules
 * and kernels that are only handles, launches that run nothing. The call
 * named by MOE_FAKE_CUDA_FAIL (its cuda.h name, e.g. cuLaunchKernel)
 * returns an error instead, so that each failure path of the runtime can be
 * taken on purpose. At exit it reports the streams never destroyed, which
 * a failed call must not leak.
 *
 *===----------------------------------------------------------------------===*/

#include <cuda.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails(const char *call) {
  const char *failing = getenv("MOE_FAKE_CUDA_FAIL");
  return failing && strcmp(failing, call) == 0;
}

/* Handles the runtime only passes back. */
static int fakeContext, fakeModule, fakeFunction, fakeStream;

static int liveStreams;

__attribute__((destructor)) static void reportLiveStreams(void) {
  if (liveStreams)
    fprintf(stderr, "fake CUDA driver: %d stream(s) never destroyed\n",
            liveStreams);
}

CUresult cuInit(unsigned int flags) {
  (void)flags;
  return fails("cuInit") ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                              CUdevice device) {
  (void)device;
  if (fails("cuDeviceGetAttribute"))
    return CUDA_ERROR_INVALID_VALUE;
  *value = attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ? 9 : 0;
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  (void)device;
  *context = (CUcontext)&fakeContext;
  return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext context) {
  (void)context;
  return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return CUDA_SUCCESS;
  case CUDA_ERROR_OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return CUDA_SUCCESS;
  case CUDA_ERROR_NO_DEVICE:
    *name = "CUDA_ERROR_NO_DEVICE";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_IMAGE:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    return CUDA_SUCCESS;
  case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
    *name = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    return CUDA_SUCCESS;
  case CUDA_ERROR_ILLEGAL_ADDRESS:
    *name = "CUDA_ERROR_ILLEGAL_ADDRESS";
    return CUDA_SUCCESS;
  default:
    *name = NULL;
    return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult cuGetErrorString(CUresult error, const char **text) {
  (void)error;
  *text = "failed on purpose by the fake driver";
  return CUDA_SUCCESS;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  (void)image;
  if (fails("cuModuleLoadData"))
    return CUDA_ERROR_INVALID_IMAGE;
  *module = (CUmodule)&fakeModule;
  return CUDA_SUCCESS;
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                            unsigned int numOptions, CUjit_option *options,
                            void **optionValues) {
  (void)numOptions, (void)options, (void)optionValues;
  return cuModuleLoadData(module, image);
}

CUresult cuModuleUnload(CUmodule module) {
  (void)module;
  return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                             const char *name) {
  (void)module, (void)name;
  if (fails("cuModuleGetFunction"))
    return CUDA_ERROR_INVALID_VALUE;
  *function = (CUfunction)&fakeFunction;
  return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction function, unsigned int gridX,
                        unsigned int gridY, unsigned int gridZ,
                        unsigned int blockX, unsigned int blockY,
                        unsigned int blockZ, unsigned int sharedMemoryBytes,
                        CUstream stream, void **params, void **extra) {
  (void)function, (void)gridX, (void)gridY, (void)gridZ, (void)blockX,
      (void)blockY, (void)blockZ, (void)sharedMemoryBytes, (void)stream,
      (void)params, (void)extra;
  return fails("cuLaunchKernel") ? CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
                                 : CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *stream, unsigned int flags) {
  (void)flags;
  *stream = (CUstream)&fakeStream;
  ++liveStreams;
  return CUDA_SUCCESS;
}

CUresult cuStreamDestroy(CUstream stream) {
  (void)stream;
  --liveStreams;
  return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream stream) {
  (void)stream;
  return fails("cuStreamSynchronize") ? CUDA_ERROR_ILLEGAL_ADDRESS
                                      : CUDA_SUCCESS;
}

CUresult cuMemAllocManaged(CUdeviceptr *pointer, size_t bytes,
                           unsigned int flags) {
  (void)flags;
  if (fails("cuMemAllocManaged"))
    return CUDA_ERROR_OUT_OF_MEMORY;
  *pointer = (CUdeviceptr)(uintptr_t)malloc(bytes);
  return *pointer ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cuMemFree(CUdeviceptr pointer) {
  free((void *)(uintptr_t)pointer);
  return CUDA_SUCCESS;
}
