/*===- execution.c - The moe C API, used from C -----------------------------===
 *
 * Registers the dialect and the passes with a context made through the MLIR
 * C API, runs a pass and a pipeline, compiles a module and calls it on
 * caller-owned arrays, and shows how each failure is reported.
 *
 *===----------------------------------------------------------------------===*/

/* RUN: moe-capi-test 2>&1 | FileCheck %s
 *
 * The dialect handle names its namespace.
 * CHECK: {{^}}moe{{$}}
 */

#include "moe-c/Diagnostics.h"
#include "moe-c/Dialects.h"
#include "moe-c/Execution.h"
#include "moe-c/Passes.h"

#include "mlir-c/IR.h"
#include "mlir-c/Pass.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void printString(MlirStringRef text, void *userData) {
  (void)userData;
  fwrite(text.data, 1, text.length, stdout);
}

static void printLine(MlirStringRef text, void *userData) {
  printString(text, userData);
  fputc('\n', stdout);
}

static MlirContext createContext(void) {
  MlirContext context = mlirContextCreate();
  MlirDialectRegistry registry = mlirDialectRegistryCreate();
  moeRegisterCompilerDialects(registry);
  mlirContextAppendDialectRegistry(context, registry);
  mlirDialectRegistryDestroy(registry);
  moeContextAttachDiagnosticPrinter(context, printLine, NULL, NULL);
  return context;
}

static MlirModule parse(MlirContext context, const char *source) {
  return mlirModuleCreateParse(context,
                               mlirStringRefCreateFromCString(source));
}

static const char *routing =
    "func.func @route(%logits: tensor<?x4xf32>)\n"
    "    -> (tensor<?x2xf32>, tensor<?x2xi32>) {\n"
    "  %v, %i = moe.topk %logits, k = 2\n"
    "      : (tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)\n"
    "  %g = moe.route_weights <topk_softmax> %logits, %v\n"
    "      : (tensor<?x4xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>\n"
    "  return %g, %i : tensor<?x2xf32>, tensor<?x2xi32>\n"
    "}\n";

/* CHECK-LABEL: testPasses
 * CHECK: moe.route <topk_softmax> %{{.*}}, k = 2
 * CHECK-NOT: moe.topk
 * CHECK: bad pipeline: {{.*}}error: 'moe-no-such-pass' does not refer to a registered pass or pass pipeline
 */
static void testPasses(void) {
  printf("testPasses\n");
  /* Registration may be repeated. */
  moeRegisterPipelines();
  moeRegisterAllPasses();
  moeRegisterAllPasses();
  MlirContext context = createContext();
  MlirModule module = parse(context, routing);
  MlirOperation operation = mlirModuleGetOperation(module);

  MlirPassManager pm = mlirPassManagerCreate(context);
  MlirOpPassManager functions = mlirPassManagerGetNestedUnder(
      pm, mlirStringRefCreateFromCString("func.func"));
  mlirOpPassManagerAddOwnedPass(functions, mlirCreateMoEMoEFuseRouting());
  if (mlirLogicalResultIsFailure(mlirPassManagerRunOnOp(pm, operation)))
    printf("fuse-routing failed\n");
  mlirOperationPrint(operation, printString, NULL);
  mlirPassManagerDestroy(pm);

  MlirPassManager bad = mlirPassManagerCreate(context);
  printf("bad pipeline: ");
  if (mlirLogicalResultIsSuccess(mlirParsePassPipeline(
          mlirPassManagerGetAsOpPassManager(bad),
          mlirStringRefCreateFromCString("builtin.module(moe-no-such-pass)"),
          printString, NULL)))
    printf("parsed");
  printf("\n");
  mlirPassManagerDestroy(bad);
  mlirModuleDestroy(module);
  mlirContextDestroy(context);
}

/* Compiles `source` with `options` (null: the defaults); exits if that
 * fails. The executable is a copy: the module goes at once. */
static MoeExecutable compileOrExit(MlirContext context, const char *source,
                                   MoeCompileOptions options) {
  MlirModule module = parse(context, source);
  MoeExecutable executable = moeExecutableCreate(module, options);
  mlirModuleDestroy(module);
  if (moeExecutableIsNull(executable)) {
    printf("compile failed\n");
    exit(1);
  }
  return executable;
}

static void printResults(MoeResults results) {
  for (intptr_t pos = 0; pos < moeResultsGetNumArrays(results); ++pos) {
    MoeArray array = moeResultsGetArray(results, pos);
    int64_t count = 1;
    printf("result %d: kind %d, shape", (int)pos, (int)array.kind);
    for (intptr_t dim = 0; dim < array.rank; ++dim) {
      printf(" %lld", (long long)array.shape[dim]);
      count *= array.shape[dim];
    }
    printf(", values");
    for (int64_t i = 0; i < count; ++i) {
      if (array.kind == MoeElementKindF32)
        printf(" %.4f", ((const float *)array.data)[i]);
      else if (array.kind == MoeElementKindI32)
        printf(" %d", ((const int32_t *)array.data)[i]);
    }
    printf("\n");
  }
}

/* The kept logits of row 0 differ by ln 3 and those of row 1 by ln 3 too:
 * each row's gates are 3/4 and 1/4.
 * CHECK-LABEL: testExecution
 * CHECK: entry points: 1, route
 * CHECK: result 0: kind 2, shape 2 2, values 0.7500 0.2500 0.7500 0.2500
 * CHECK: result 1: kind 4, shape 2 2, values 1 0 0 2
 * CHECK: error: argument #0 of 'route' must be tensor<?x4xf32>, got tensor<2x4xf64> (element type differs)
 * CHECK: error: 'route' takes 1 arguments (tensor<?x4xf32>), got 2
 * CHECK: error: no entry point named 'missing' (the module has: route)
 * CHECK: error: argument #0: dimension 0 has a negative size (-1)
 * CHECK: error: argument #0: the shape is too large
 * CHECK-SAME: (dimension 1 has size 1048576)
 * CHECK: error: the inputs are not an array
 * CHECK: staged: yes, same data: yes
 * CHECK: error: the argument: dimension 0 has a negative size (-1)
 */
static void testExecution(void) {
  printf("testExecution\n");
  MlirContext context = createContext();
  MoeCompileOptions options = moeCompileOptionsCreate();
  moeCompileOptionsSetThreads(options, 2);
  /* A CUDA option: the CPU compile does without it. */
  moeCompileOptionsSetTensorCores(options, false);
  MoeExecutable executable = compileOrExit(context, routing, options);
  moeCompileOptionsDestroy(options);
  printf("entry points: %d, ",
         (int)moeExecutableGetNumEntryPoints(executable));
  printLine(moeExecutableGetEntryPointName(executable, 0), NULL);

  const float logits[2][4] = {{0.0f, 1.0986123f, -1.0f, -2.0f},
                              {5.0f, -1.0f, 3.9013877f, 0.0f}};
  const int64_t shape[2] = {2, 4};
  MoeArray input = {MoeElementKindF32, 2, shape, logits};
  MlirStringRef route = mlirStringRefCreateFromCString("route");
  MoeResults results =
      moeExecutableInvoke(executable, route, 1, &input, printLine, NULL);
  if (!moeResultsIsNull(results))
    printResults(results);
  moeResultsDestroy(results);

  MoeArray wrongKind = input;
  wrongKind.kind = MoeElementKindF64;
  MoeArray twoInputs[2] = {input, input};
  const int64_t negative[2] = {-1, 4};
  MoeArray negativeSize = {MoeElementKindF32, 2, negative, logits};
  printf("error: ");
  moeExecutableInvoke(executable, route, 1, &wrongKind, printLine, NULL);
  printf("error: ");
  moeExecutableInvoke(executable, route, 2, twoInputs, printLine, NULL);
  printf("error: ");
  moeExecutableInvoke(executable,
                          mlirStringRefCreateFromCString("missing"), 1,
                          &input, printLine, NULL);
  printf("error: ");
  moeExecutableInvoke(executable, route, 1, &negativeSize, printLine,
                          NULL);
  /* 2^60 elements: more than any size or byte count fits in. */
  const int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 20};
  MoeArray hugeSize = {MoeElementKindF32, 2, huge, logits};
  printf("error: ");
  moeExecutableInvoke(executable, route, 1, &hugeSize, printLine, NULL);
  printf("error: ");
  moeExecutableInvoke(executable, route, -1, &input, printLine, NULL);

  /* On the CPU a staged argument is the caller's array itself. */
  MoeArray staged;
  bool stagedOk = moeExecutableStageArgument(executable, input, &staged,
                                             printLine, NULL);
  printf("staged: %s, same data: %s\n", stagedOk ? "yes" : "no",
         staged.data == input.data ? "yes" : "no");
  printf("error: ");
  moeExecutableStageArgument(executable, negativeSize, &staged, printLine,
                             NULL);
  moeExecutableDestroy(executable);
  mlirContextDestroy(context);
}

/* Expert weights of whole 128 x 64 panels. */
static const char *routedExperts =
    "func.func @routed(%x: tensor<?x128xf32>, %gates: tensor<?x1xf32>,\n"
    "    %idx: tensor<?x1xi64>, %w1: tensor<2x128x128xf32>,\n"
    "    %w2: tensor<2x128x128xf32>) -> tensor<?x128xf32> {\n"
    "  %y = moe.routed_ffn <relu> %x, %gates, %idx w1(%w1) w2(%w2)\n"
    "      : (tensor<?x128xf32>, tensor<?x1xf32>, tensor<?x1xi64>,\n"
    "         tensor<2x128x128xf32>, tensor<2x128x128xf32>)\n"
    "      -> tensor<?x128xf32>\n"
    "  return %y : tensor<?x128xf32>\n"
    "}\n";

/* Uniform in [-0.5, 0.5), from a fixed seed. */
static float nextRandom(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return (float)(*state >> 8) / (float)(1u << 24) - 0.5f;
}

/* The packed variant, on weights packed in place, gives what the entry
 * gives on the weights as they were.
 * CHECK-LABEL: testPackedWeights
 * CHECK: routed: variant routed_packed, arguments 3 4, panels 128 x 64
 * CHECK: routed_packed: no variant
 * CHECK: packed shape 2 1 2 128 64
 * CHECK: largest difference: {{[0-9.e+-]+}}, within 1e-4: yes
 * CHECK: error: cannot pack tensor<2x100x128xf32> in panels of 128 x 64:
 * CHECK-SAME: expected [experts, K, N] with K and N multiples of the panel
 * CHECK: error: the weights array has an unknown element kind 9
 * CHECK: error: the weights array: dimension 1 has a negative size (-128)
 */
static void testPackedWeights(void) {
  printf("testPackedWeights\n");
  MlirContext context = createContext();
  MoeCompileOptions options = moeCompileOptionsCreate();
  moeCompileOptionsSetPackWeights(options, true);
  MoeExecutable executable = compileOrExit(context, routedExperts, options);
  moeCompileOptionsDestroy(options);
  MoePackedWeights packed;
  if (!moeExecutableGetPackedWeights(
          executable, mlirStringRefCreateFromCString("routed"), &packed)) {
    printf("no packed variant\n");
    exit(1);
  }
  printf("routed: variant %.*s, arguments", (int)packed.entry.length,
         packed.entry.data);
  for (intptr_t pos = 0; pos < packed.numArguments; ++pos)
    printf(" %u", packed.arguments[pos]);
  printf(", panels %lld x %lld\n", (long long)packed.innerTiles[0],
         (long long)packed.innerTiles[1]);
  MoePackedWeights none;
  printf("routed_packed: %s\n",
         moeExecutableGetPackedWeights(executable, packed.entry, &none)
             ? "a variant"
             : "no variant");

  enum { kTokens = 3, kModel = 128, kHidden = 128, kExperts = 2 };
  static float x[kTokens][kModel], w1[kExperts][kModel][kHidden],
      w2[kExperts][kHidden][kModel];
  uint32_t state = 7;
  for (int i = 0; i < kTokens * kModel; ++i)
    (&x[0][0])[i] = nextRandom(&state);
  for (int i = 0; i < kExperts * kModel * kHidden; ++i) {
    (&w1[0][0][0])[i] = nextRandom(&state);
    (&w2[0][0][0])[i] = nextRandom(&state);
  }
  const float gates[kTokens][1] = {{0.75f}, {1.0f}, {0.5f}};
  const int64_t experts[kTokens][1] = {{1}, {0}, {1}};
  const int64_t xShape[2] = {kTokens, kModel}, gateShape[2] = {kTokens, 1},
                w1Shape[3] = {kExperts, kModel, kHidden},
                w2Shape[3] = {kExperts, kHidden, kModel};
  MoeArray inputs[5] = {{MoeElementKindF32, 2, xShape, x},
                        {MoeElementKindF32, 2, gateShape, gates},
                        {MoeElementKindI64, 2, gateShape, experts},
                        {MoeElementKindF32, 3, w1Shape, w1},
                        {MoeElementKindF32, 3, w2Shape, w2}};
  MoeResults expected =
      moeExecutableInvoke(executable, mlirStringRefCreateFromCString("routed"),
                          5, inputs, printLine, NULL);

  int64_t packedShapes[5][5];
  void *writable[5] = {NULL, NULL, NULL, w1, w2};
  for (intptr_t pos = 0; pos < packed.numArguments; ++pos) {
    unsigned argument = packed.arguments[pos];
    MoeArray *weight = &inputs[argument];
    if (!moePackExpertWeights(weight->kind, weight->rank, weight->shape,
                              writable[argument], packed.innerTiles,
                              packedShapes[argument], printLine, NULL))
      exit(1);
    weight->rank = 5;
    weight->shape = packedShapes[argument];
  }
  printf("packed shape");
  for (int dim = 0; dim < 5; ++dim)
    printf(" %lld", (long long)packedShapes[3][dim]);
  printf("\n");
  MoeResults actual =
      moeExecutableInvoke(executable, packed.entry, 5, inputs, printLine, NULL);
  if (moeResultsIsNull(expected) || moeResultsIsNull(actual))
    exit(1);
  const float *want = moeResultsGetArray(expected, 0).data;
  const float *got = moeResultsGetArray(actual, 0).data;
  float largest = 0;
  for (int i = 0; i < kTokens * kModel; ++i) {
    float difference = fabsf(want[i] - got[i]);
    largest = difference > largest ? difference : largest;
  }
  printf("largest difference: %g, within 1e-4: %s\n", largest,
         largest <= 1e-4f ? "yes" : "no");
  moeResultsDestroy(expected);
  moeResultsDestroy(actual);

  const int64_t ragged[3] = {kExperts, 100, kHidden};
  int64_t unused[5];
  printf("error: ");
  moePackExpertWeights(MoeElementKindF32, 3, ragged, w1, packed.innerTiles,
                       unused, printLine, NULL);
  printf("error: ");
  moePackExpertWeights((MoeElementKind)9, 3, w1Shape, w1, packed.innerTiles,
                       unused, printLine, NULL);
  const int64_t negative[3] = {kExperts, -kModel, kHidden};
  printf("error: ");
  moePackExpertWeights(MoeElementKindF32, 3, negative, w1, packed.innerTiles,
                       unused, printLine, NULL);
  moeExecutableDestroy(executable);
  mlirContextDestroy(context);
}

/* A failed check in the compiled code comes back as an error, and the
 * executable stays usable.
 * CHECK-LABEL: testRuntimeCheck
 * CHECK: error: in 'dispatch': run-time check failed: moe.dispatch: an expert index is outside [0, num_experts)
 * CHECK: result 0: kind 2, shape 2 4, values 5.0000 6.0000 7.0000 8.0000 1.0000 2.0000 3.0000 4.0000
 * CHECK: result 1: kind 4, shape 5, values 0 0 1 1 2
 * CHECK: result 2: kind 4, shape 2 1, values 1 0
 */
static const char *dispatch =
    "func.func @dispatch(%x: tensor<?x4xf32>, %idx: tensor<?x1xi32>)\n"
    "    -> (tensor<?x4xf32>, tensor<5xi32>, tensor<?x1xi32>) {\n"
    "  %t, %o, %r = moe.dispatch %x, %idx, num_experts = 4\n"
    "      : (tensor<?x4xf32>, tensor<?x1xi32>)\n"
    "      -> (tensor<?x4xf32>, tensor<5xi32>, tensor<?x1xi32>)\n"
    "  return %t, %o, %r : tensor<?x4xf32>, tensor<5xi32>, tensor<?x1xi32>\n"
    "}\n";

static void testRuntimeCheck(void) {
  printf("testRuntimeCheck\n");
  MlirContext context = createContext();
  MoeExecutable executable =
      compileOrExit(context, dispatch, (MoeCompileOptions){NULL});
  const float tokens[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  const int64_t tokenShape[2] = {2, 4};
  const int64_t indexShape[2] = {2, 1};
  const int32_t badIndices[2] = {0, 7};
  const int32_t indices[2] = {3, 1};
  MoeArray inputs[2] = {
      {MoeElementKindF32, 2, tokenShape, tokens},
      {MoeElementKindI32, 2, indexShape, badIndices}};
  MlirStringRef name = mlirStringRefCreateFromCString("dispatch");
  printf("error: ");
  MoeResults results =
      moeExecutableInvoke(executable, name, 2, inputs, printLine, NULL);
  if (!moeResultsIsNull(results))
    printf("no error\n");
  inputs[1].data = indices;
  results =
      moeExecutableInvoke(executable, name, 2, inputs, printLine, NULL);
  if (!moeResultsIsNull(results))
    printResults(results);
  moeResultsDestroy(results);
  moeExecutableDestroy(executable);
  mlirContextDestroy(context);
}

/* Compile failures reach the context's diagnostic handlers.
 * CHECK-LABEL: testCompileErrors
 * CHECK: loc("-":0:0): error: unknown backend 7
 * CHECK-NEXT: null executable
 * CHECK-NEXT: loc("-":0:0): error: optimization level 4 is not in 0..3
 * CHECK-NEXT: null executable
 */
static void testCompileErrors(void) {
  printf("testCompileErrors\n");
  MlirContext context = createContext();
  MlirModule module = parse(context, routing);
  MoeCompileOptions options = moeCompileOptionsCreate();
  moeCompileOptionsSetBackend(options, (MoeBackend)7);
  if (moeExecutableIsNull(moeExecutableCreate(module, options)))
    printf("null executable\n");
  moeCompileOptionsSetBackend(options, MoeBackendCPU);
  moeCompileOptionsSetOptLevel(options, 4);
  if (moeExecutableIsNull(moeExecutableCreate(module, options)))
    printf("null executable\n");
  moeCompileOptionsDestroy(options);
  mlirModuleDestroy(module);
  mlirContextDestroy(context);
}

/* CHECK-LABEL: testParseError
 * CHECK: loc("-":2:11): error: expected SSA operand
 * CHECK: null module
 */
static void testParseError(void) {
  printf("testParseError\n");
  MlirContext context = createContext();
  MlirModule module = parse(context, "func.func @f() {\n  moe.topk\n}\n");
  if (mlirModuleIsNull(module))
    printf("null module\n");
  mlirContextDestroy(context);
}

int main(void) {
  MlirDialectHandle moe = mlirGetDialectHandle__moe__();
  printString(mlirDialectHandleGetNamespace(moe), NULL);
  printf("\n");
  testPasses();
  testExecution();
  testPackedWeights();
  testRuntimeCheck();
  testCompileErrors();
  testParseError();
  return 0;
}
