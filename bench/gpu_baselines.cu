// The GPU baselines of bench/gpu_bench.py, on cuBLAS:
//
//   gpu_baselines gemm M K N REPEAT
//       The expert FLOPs of a SwiGLU layer as dense bf16 GEMMs (f32
//       accumulation): [M, K] x [K, N] twice and [M, N] x [N, K] once per
//       call, M being the routed rows (T * k), K = d, N = h. The practical
//       ceiling of the experts' arithmetic.
//   gpu_baselines bandwidth BYTES REPEAT
//       Device-to-device copies of BYTES: the memory bandwidth a kernel
//       reaches (bytes read and written per second).
//   gpu_baselines eager DIR T D H N K REPEAT
//       The Mixtral-style layer (softmax over the experts, top k,
//       renormalized; SwiGLU experts) the way PyTorch eager runs it: the
//       gating GEMM, the routing, the routing's indices copied to the host,
//       then per expert a gather of its tokens, three GEMMs, the SwiGLU
//       product and a weighted scatter-add. DIR holds x, w_gate, w1, w3, w2
//       as raw little-endian bf16 (x.bin, ...); the last call's output is
//       written to DIR/y.bin (f32).
//
// Each mode prints one JSON line: mean and min seconds per call. Build:
//   nvcc -O3 -std=c++17 -o gpu_baselines bench/gpu_baselines.cu -lcublas

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "gpu_baselines: %s\n", message.c_str());
  std::exit(1);
}

void check(cudaError_t status, const char *what) {
  if (status != cudaSuccess)
    fail(std::string(what) + ": " + cudaGetErrorString(status));
}

void check(cublasStatus_t status, const char *what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail(std::string(what) + ": " + cublasGetStatusString(status));
}

#define CHECK(call) check((call), #call)

long long parse(const char *text) {
  char *end = nullptr;
  long long value = std::strtoll(text, &end, 10);
  if (*end || value <= 0)
    fail(std::string("expected a positive integer, got '") + text + "'");
  return value;
}

template <typename T> T *deviceArray(size_t count) {
  T *data = nullptr;
  CHECK(cudaMalloc(&data, std::max<size_t>(count, 1) * sizeof(T)));
  return data;
}

/// Values in [-1, 1) from a hash of the index: no zeros, denormals or
/// repeated patterns for the GEMMs to profit from.
__global__ void fillRandom(__nv_bfloat16 *data, size_t count, unsigned seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x) {
    unsigned hash = unsigned(i) * 2654435761u ^ seed;
    hash ^= hash >> 15;
    hash *= 2246822519u;
    hash ^= hash >> 13;
    data[i] = __float2bfloat16(float(hash >> 8) / float(1 << 23) - 1.0f);
  }
}

/// Row-major C[M, N] = A[M, K] x B[K, N], bf16 operands accumulated in f32;
/// C is bf16 (as PyTorch's bf16 matmul returns) or f32.
void gemm(cublasHandle_t blas, const __nv_bfloat16 *a, const __nv_bfloat16 *b,
          void *c, cudaDataType cType, int m, int k, int n) {
  const float one = 1.0f, zero = 0.0f;
  // Column-major cuBLAS computes C^T = B^T x A^T on the same memory.
  CHECK(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, b,
                     CUDA_R_16BF, n, a, CUDA_R_16BF, k, &zero, c, cType, n,
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

template <typename Call> void timeCalls(long long repeat, Call call) {
  call();
  CHECK(cudaDeviceSynchronize());
  double total = 0, fastest = 1e30;
  for (long long i = 0; i < repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    call();
    CHECK(cudaDeviceSynchronize());
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    total += seconds;
    fastest = std::min(fastest, seconds);
  }
  std::printf("{\"mean\": %.9g, \"min\": %.9g}\n", total / repeat, fastest);
}

int runGemm(int argc, char **argv) {
  if (argc != 6)
    fail("usage: gemm M K N REPEAT");
  int m = int(parse(argv[2])), k = int(parse(argv[3])), n = int(parse(argv[4]));
  long long repeat = parse(argv[5]);
  auto *a = deviceArray<__nv_bfloat16>(size_t(m) * k);
  auto *up = deviceArray<__nv_bfloat16>(size_t(k) * n);
  auto *gate = deviceArray<__nv_bfloat16>(size_t(k) * n);
  auto *down = deviceArray<__nv_bfloat16>(size_t(n) * k);
  auto *hidden = deviceArray<__nv_bfloat16>(size_t(m) * n);
  auto *gated = deviceArray<__nv_bfloat16>(size_t(m) * n);
  auto *out = deviceArray<__nv_bfloat16>(size_t(m) * k);
  fillRandom<<<1024, 256>>>(a, size_t(m) * k, 1);
  fillRandom<<<1024, 256>>>(up, size_t(k) * n, 2);
  fillRandom<<<1024, 256>>>(gate, size_t(k) * n, 3);
  fillRandom<<<1024, 256>>>(down, size_t(n) * k, 4);
  CHECK(cudaGetLastError());
  cublasHandle_t blas;
  CHECK(cublasCreate(&blas));
  timeCalls(repeat, [&] {
    gemm(blas, a, up, hidden, CUDA_R_16BF, m, k, n);
    gemm(blas, a, gate, gated, CUDA_R_16BF, m, k, n);
    gemm(blas, hidden, down, out, CUDA_R_16BF, m, n, k);
  });
  return 0;
}

int runBandwidth(int argc, char **argv) {
  if (argc != 4)
    fail("usage: bandwidth BYTES REPEAT");
  size_t bytes = size_t(parse(argv[2]));
  long long repeat = parse(argv[3]);
  auto *source = deviceArray<char>(bytes);
  auto *target = deviceArray<char>(bytes);
  CHECK(cudaMemset(source, 1, bytes));
  timeCalls(repeat, [&] {
    CHECK(cudaMemcpy(target, source, bytes, cudaMemcpyDeviceToDevice));
  });
  return 0;
}

std::vector<__nv_bfloat16> readArray(const std::string &path, size_t count) {
  std::ifstream file(path, std::ios::binary);
  std::vector<__nv_bfloat16> values(count);
  if (!file.read(reinterpret_cast<char *>(values.data()),
                 std::streamsize(count * sizeof(__nv_bfloat16))) ||
      file.peek() != EOF)
    fail("'" + path + "' does not hold " + std::to_string(count) +
         " bf16 values");
  return values;
}

__nv_bfloat16 *upload(const std::vector<__nv_bfloat16> &values) {
  auto *data = deviceArray<__nv_bfloat16>(values.size());
  CHECK(cudaMemcpy(data, values.data(), values.size() * sizeof(values[0]),
                   cudaMemcpyHostToDevice));
  return data;
}

/// One thread per token: softmax over the n experts, the k largest (first
/// index on ties), renormalized.
__global__ void route(const float *logits, int tokens, int n, int k,
                      int *indices, float *gates) {
  int token = blockIdx.x * blockDim.x + threadIdx.x;
  if (token >= tokens)
    return;
  const float *row = logits + size_t(token) * n;
  float largest = row[0];
  for (int e = 1; e < n; ++e)
    largest = fmaxf(largest, row[e]);
  unsigned long long taken = 0;
  float sum = 0;
  for (int slot = 0; slot < k; ++slot) {
    int best = -1;
    for (int e = 0; e < n; ++e)
      if (!(taken >> e & 1) && (best < 0 || row[e] > row[best]))
        best = e;
    taken |= 1ull << best;
    indices[token * k + slot] = best;
    gates[token * k + slot] = expf(row[best] - largest);
    sum += gates[token * k + slot];
  }
  for (int slot = 0; slot < k; ++slot)
    gates[token * k + slot] /= sum;
}

__global__ void gatherRows(const __nv_bfloat16 *x, const int *tokens, int rows,
                           int d, __nv_bfloat16 *out) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
       i < size_t(rows) * d; i += size_t(gridDim.x) * blockDim.x)
    out[i] = x[size_t(tokens[i / d]) * d + i % d];
}

__global__ void swiglu(__nv_bfloat16 *hidden, const __nv_bfloat16 *gated,
                       size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x) {
    float h = __bfloat162float(hidden[i]);
    hidden[i] = __float2bfloat16(h / (1.0f + expf(-h)) *
                                 __bfloat162float(gated[i]));
  }
}

__global__ void scatterAdd(const __nv_bfloat16 *rows, const int *tokens,
                           const int *slots, const float *gates, int count,
                           int d, int k, float *y) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
       i < size_t(count) * d; i += size_t(gridDim.x) * blockDim.x) {
    size_t row = i / d;
    int token = tokens[row];
    atomicAdd(&y[size_t(token) * d + i % d],
              gates[token * k + slots[row]] * __bfloat162float(rows[i]));
  }
}

int blocksFor(size_t count) {
  return int(std::min<size_t>((count + 255) / 256, 65535));
}

int runEager(int argc, char **argv) {
  if (argc != 9)
    fail("usage: eager DIR T D H N K REPEAT");
  std::string dir = argv[2];
  int tokens = int(parse(argv[3])), d = int(parse(argv[4])),
      h = int(parse(argv[5])), n = int(parse(argv[6])), k = int(parse(argv[7]));
  long long repeat = parse(argv[8]);
  if (n > 64 || k > n)
    fail("eager: needs k <= n <= 64");
  __nv_bfloat16 *x = upload(readArray(dir + "/x.bin", size_t(tokens) * d));
  __nv_bfloat16 *wGate = upload(readArray(dir + "/w_gate.bin", size_t(d) * n));
  __nv_bfloat16 *w1 = upload(readArray(dir + "/w1.bin", size_t(n) * d * h));
  __nv_bfloat16 *w3 = upload(readArray(dir + "/w3.bin", size_t(n) * d * h));
  __nv_bfloat16 *w2 = upload(readArray(dir + "/w2.bin", size_t(n) * h * d));

  size_t routed = size_t(tokens) * k;
  auto *logits = deviceArray<float>(size_t(tokens) * n);
  auto *indices = deviceArray<int>(routed);
  auto *gates = deviceArray<float>(routed);
  auto *rowTokens = deviceArray<int>(routed);
  auto *rowSlots = deviceArray<int>(routed);
  auto *rows = deviceArray<__nv_bfloat16>(routed * d);
  auto *hidden = deviceArray<__nv_bfloat16>(routed * h);
  auto *gated = deviceArray<__nv_bfloat16>(routed * h);
  auto *out = deviceArray<__nv_bfloat16>(routed * d);
  auto *y = deviceArray<float>(size_t(tokens) * d);
  std::vector<int> hostIndices(routed), hostTokens(routed), hostSlots(routed);
  cublasHandle_t blas;
  CHECK(cublasCreate(&blas));

  timeCalls(repeat, [&] {
    CHECK(cudaMemsetAsync(y, 0, size_t(tokens) * d * sizeof(float)));
    gemm(blas, x, wGate, logits, CUDA_R_32F, tokens, d, n);
    route<<<(tokens + 127) / 128, 128>>>(logits, tokens, n, k, indices, gates);
    CHECK(cudaGetLastError());
    // PyTorch's nonzero() waits for the device the same way.
    CHECK(cudaMemcpy(hostIndices.data(), indices, routed * sizeof(int),
                     cudaMemcpyDeviceToHost));
    std::vector<size_t> start(n + 1, 0);
    for (int expert : hostIndices)
      ++start[expert + 1];
    for (int e = 0; e < n; ++e)
      start[e + 1] += start[e];
    std::vector<size_t> next(start.begin(), start.end() - 1);
    for (size_t i = 0; i < routed; ++i) {
      size_t at = next[hostIndices[i]]++;
      hostTokens[at] = int(i / k);
      hostSlots[at] = int(i % k);
    }
    CHECK(cudaMemcpy(rowTokens, hostTokens.data(), routed * sizeof(int),
                     cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(rowSlots, hostSlots.data(), routed * sizeof(int),
                     cudaMemcpyHostToDevice));
    for (int e = 0; e < n; ++e) {
      int count = int(start[e + 1] - start[e]);
      if (!count)
        continue;
      const int *expertTokens = rowTokens + start[e];
      gatherRows<<<blocksFor(size_t(count) * d), 256>>>(x, expertTokens, count,
                                                       d, rows);
      gemm(blas, rows, w1 + size_t(e) * d * h, hidden, CUDA_R_16BF, count, d,
           h);
      gemm(blas, rows, w3 + size_t(e) * d * h, gated, CUDA_R_16BF, count, d,
           h);
      swiglu<<<blocksFor(size_t(count) * h), 256>>>(hidden, gated,
                                                    size_t(count) * h);
      gemm(blas, hidden, w2 + size_t(e) * h * d, out, CUDA_R_16BF, count, h,
           d);
      scatterAdd<<<blocksFor(size_t(count) * d), 256>>>(
          out, expertTokens, rowSlots + start[e], gates, count, d, k, y);
      CHECK(cudaGetLastError());
    }
  });

  std::vector<float> result(size_t(tokens) * d);
  CHECK(cudaMemcpy(result.data(), y, result.size() * sizeof(float),
                   cudaMemcpyDeviceToHost));
  std::ofstream file(dir + "/y.bin", std::ios::binary);
  if (!file.write(reinterpret_cast<const char *>(result.data()),
                  std::streamsize(result.size() * sizeof(float))))
    fail("cannot write '" + dir + "/y.bin'");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "gemm")
    return runGemm(argc, argv);
  if (mode == "bandwidth")
    return runBandwidth(argc, argv);
  if (mode == "eager")
    return runEager(argc, argv);
  fail("usage: gpu_baselines gemm|bandwidth|eager ... (see the source)");
}
