/* An embedder of the installed C API: parses the model in argv[1], compiles
 * it for the CPU and calls its `scale` entry point on a 2 x 4 array. Built
 * against the installation only (test/Install/install.test). */

#include "moe-c/Diagnostics.h"
#include "moe-c/Dialects.h"
#include "moe-c/Execution.h"

#include "mlir-c/IR.h"

#include <stdio.h>
#include <stdlib.h>

static void printLine(MlirStringRef text, void *userData) {
  (void)userData;
  fwrite(text.data, 1, text.length, stderr);
  fputc('\n', stderr);
}

static char *readFile(const char *path) {
  FILE *file = fopen(path, "rb");
  if (!file)
    return NULL;
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fseek(file, 0, SEEK_SET);
  char *text = malloc(size + 1);
  if (text && fread(text, 1, size, file) != (size_t)size) {
    free(text);
    text = NULL;
  }
  if (text)
    text[size] = '\0';
  fclose(file);
  return text;
}

int main(int argc, char **argv) {
  char *source = argc == 2 ? readFile(argv[1]) : NULL;
  if (!source) {
    fprintf(stderr, "usage: embed MODEL.mlir\n");
    return 1;
  }
  MlirContext context = mlirContextCreate();
  MlirDialectRegistry registry = mlirDialectRegistryCreate();
  moeRegisterCompilerDialects(registry);
  mlirContextAppendDialectRegistry(context, registry);
  mlirDialectRegistryDestroy(registry);
  moeContextAttachDiagnosticPrinter(context, printLine, NULL, NULL);
  MlirModule module =
      mlirModuleCreateParse(context, mlirStringRefCreateFromCString(source));
  free(source);
  if (mlirModuleIsNull(module))
    return 1;
  MoeCompileOptions options = moeCompileOptionsCreate();
  MoeExecutable executable = moeExecutableCreate(module, options);
  moeCompileOptionsDestroy(options);
  mlirModuleDestroy(module);
  if (moeExecutableIsNull(executable))
    return 1;

  const float x[2][4] = {{1, 2, 3, 4}, {-1, 2, -3, 0.5f}};
  const float w[4] = {0.5f, 0.25f, 2, 1};
  const int64_t xShape[2] = {2, 4}, wShape[1] = {4};
  MoeArray inputs[2] = {{MoeElementKindF32, 2, xShape, x},
                        {MoeElementKindF32, 1, wShape, w}};
  MoeResults results = moeExecutableInvoke(
      executable, mlirStringRefCreateFromCString("scale"), 2, inputs,
      printLine, NULL);
  int status = moeResultsIsNull(results) ? 1 : 0;
  if (!status) {
    MoeArray y = moeResultsGetArray(results, 0);
    MoeArray sum = moeResultsGetArray(results, 1);
    printf("y:");
    for (int i = 0; i < 8; ++i)
      printf(" %g", ((const float *)y.data)[i]);
    printf("\nsum: %g\n", *(const float *)sum.data);
  }
  moeResultsDestroy(results);
  moeExecutableDestroy(executable);
  mlirContextDestroy(context);
  return status;
}
