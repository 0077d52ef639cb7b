// Expert GEMMs with several layouts of the weights, side by side.
//
//   clang-22 -O3 -march=native -fopenmp \
//       -I/usr/include/x86_64-linux-gnu/openblas-serial \
//       bench/expert_gemm_layouts.c -o /tmp/expert_gemm_layouts \
//       -L/usr/lib/x86_64-linux-gnu/openblas-serial -lopenblas \
//       -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-serial
//   OMP_NUM_THREADS=2 /tmp/expert_gemm_layouts [EXPERTS ROWS [REPEATS]]
//
// Each of EXPERTS experts (default 256) multiplies ROWS tokens (default 64,
// the paper layer's share at n = 256, T = 4096, k = 4) by its two weight
// matrices, [512, 1024] and [1024, 512], f32, the experts dealt out to the
// OpenMP threads. But for `openblas` (the serial OpenBLAS's sgemm, as the
// layer calls it on unpacked weights), the variants run the packed
// product's kernel of `convert-linalg-to-blas` (four output rows by four
// 16-float vectors in registers, panels of 128 weight rows by 64 columns);
// they differ in where each panel comes from, and in what order:
//
//   per-panel  what the compiled layer does: each panel is copied out of the
//              weights just before its products, prefetching the same rows
//              of the next panel while it is copied;
//   k-block    each 128 weight rows are copied at once, in memory order, into
//              all their panels, and the next 128 rows are prefetched a line
//              at a time from inside the products;
//   prepacked  the weights were packed once, beforehand, into panels in the
//              order the products use them, and the products prefetch the
//              next panel a line every four steps; no copy;
//   chunked    prepacked, run by chunks of the output of 128 rows by 512
//              columns, each through all its panels (what the layer does).
//
// It prints milliseconds per pass over all experts and GFLOP/s for each, and
// the largest difference of each from per-panel.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float Vector __attribute__((ext_vector_type(16)));

enum {
  kLanes = 16,
  kVectors = 4,
  kWidth = kLanes * kVectors,
  kRowsPerBlock = 4,
  kDepth = 128,
  kLineFloats = 16,
  // Cache lines in a panel: what prepacked prefetches of the next one, and
  // each panel's share of the next 128 weight rows that k-block prefetches.
  kPanelLines = kDepth * kWidth / kLineFloats,
  kModel = 512,
  kHidden = 1024
};

static double seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec + now.tv_nsec * 1e-9;
}
static Vector load(const float *p) {
  Vector v;
  memcpy(&v, p, sizeof v);
  return v;
}
static void store(float *p, Vector v) { memcpy(p, &v, sizeof v); }

// out[:, column:column+64] (+)= lhs[:, first:first+128] . panel, where the
// panel's row r, vector v is at panel[r * kWidth + 16 v]. Each block of four
// output rows prefetches up to `lines` lines of `prefetch` (one every
// `every` steps, counted across blocks).
static void products(int rows, int depth, int columns, int first, int column,
                     const float *lhs, const float *panel, float *out,
                     const float *prefetch, int lines, int every) {
  int prefetched = 0;
  for (int row = 0; row + kRowsPerBlock <= rows; row += kRowsPerBlock) {
    Vector sums[kRowsPerBlock][kVectors];
    for (int r = 0; r < kRowsPerBlock; ++r)
      for (int v = 0; v < kVectors; ++v)
        sums[r][v] = first ? load(out + (row + r) * columns + column + 16 * v)
                           : (Vector)0;
    for (int step = 0; step < kDepth; ++step) {
      Vector weights[kVectors];
      for (int v = 0; v < kVectors; ++v)
        weights[v] = load(panel + step * kWidth + 16 * v);
      if (prefetched < lines && step % every == 0)
        __builtin_prefetch(prefetch + kLineFloats * prefetched++, 0, 2);
      for (int r = 0; r < kRowsPerBlock; ++r) {
        Vector coefficient = lhs[(row + r) * depth + first + step];
        for (int v = 0; v < kVectors; ++v)
          sums[r][v] += coefficient * weights[v];
      }
    }
    for (int r = 0; r < kRowsPerBlock; ++r)
      for (int v = 0; v < kVectors; ++v)
        store(out + (row + r) * columns + column + 16 * v, sums[r][v]);
  }
}

static void perPanel(int rows, int depth, int columns, const float *lhs,
                     const float *weights, float *out) {
  static _Thread_local float panel[kDepth * kWidth]
      __attribute__((aligned(64)));
  for (int first = 0; first < depth; first += kDepth)
    for (int column = 0; column < columns; column += kWidth) {
      for (int step = 0; step < kDepth; ++step) {
        const float *row = weights + (long)(first + step) * columns + column;
        if (column + kWidth < columns)
          __builtin_prefetch(row + kWidth, 0, 2);
        for (int v = 0; v < kVectors; ++v)
          store(panel + step * kWidth + 16 * v, load(row + 16 * v));
      }
      products(rows, depth, columns, first, column, lhs, panel, out, 0, 0, 1);
    }
}

static void kBlock(int rows, int depth, int columns, const float *lhs,
                   const float *weights, float *out) {
  static _Thread_local float panels[kDepth * kHidden]
      __attribute__((aligned(64)));
  int panelCount = columns / kWidth;
  for (int first = 0; first < depth; first += kDepth) {
    for (int step = 0; step < kDepth; ++step)
      for (int p = 0; p < panelCount; ++p)
        for (int v = 0; v < kVectors; ++v)
          store(panels + (p * kDepth + step) * kWidth + 16 * v,
                load(weights + (long)(first + step) * columns + p * kWidth +
                     16 * v));
    const float *next = weights + (long)(first + kDepth) * columns;
    int lines = first + kDepth < depth ? kPanelLines : 0;
    for (int p = 0; p < panelCount; ++p)
      products(rows, depth, columns, first, p * kWidth, lhs,
               panels + p * kDepth * kWidth, out,
               next + (long)p * kPanelLines * kLineFloats, lines, 4);
  }
}

// Panels in the order the products use them: rows [first, first + 128) of
// panel p start at (first * columns + p * 128 * 64).
static void pack(int depth, int columns, const float *weights, float *packed) {
  for (int first = 0; first < depth; first += kDepth)
    for (int column = 0; column < columns; column += kWidth)
      for (int step = 0; step < kDepth; ++step)
        memcpy(packed + (long)first * columns + column * kDepth + step * kWidth,
               weights + (long)(first + step) * columns + column,
               kWidth * sizeof(float));
}

static void prepacked(int rows, int depth, int columns, const float *lhs,
                      const float *packed, float *out) {
  for (int first = 0; first < depth; first += kDepth)
    for (int column = 0; column < columns; column += kWidth) {
      const float *panel = packed + (long)first * columns + column * kDepth;
      int last = first + kDepth >= depth && column + kWidth >= columns;
      products(rows, depth, columns, first, column, lhs, panel, out,
               panel + kDepth * kWidth, last ? 0 : kPanelLines, 4);
    }
}

enum { kChunkRows = 128, kChunkColumns = 512 };

static void chunked(int rows, int depth, int columns, const float *lhs,
                    const float *packed, float *out) {
  for (int firstColumn = 0; firstColumn < columns;
       firstColumn += kChunkColumns)
    for (int firstRow = 0; firstRow < rows; firstRow += kChunkRows) {
      int chunkRows = rows - firstRow < kChunkRows ? rows - firstRow
                                                   : kChunkRows;
      int lastColumn = firstColumn + kChunkColumns < columns
                           ? firstColumn + kChunkColumns
                           : columns;
      for (int first = 0; first < depth; first += kDepth)
        for (int column = firstColumn; column < lastColumn;
             column += kWidth) {
          const float *panel =
              packed + (long)first * columns + column * kDepth;
          // The next panel used: to the right, else the chunk's first one
          // in the next 128 rows.
          int last = first + kDepth >= depth && column + kWidth >= lastColumn;
          const float *next =
              last ? panel
              : column + kWidth < lastColumn
                  ? panel + kDepth * kWidth
                  : packed + (long)(first + kDepth) * columns +
                        firstColumn * kDepth;
          products(chunkRows, depth, columns, first, column,
                   lhs + (long)firstRow * depth, panel,
                   out + (long)firstRow * columns, next,
                   last ? 0 : kPanelLines, 4);
        }
    }
}

static void openblas(int rows, int depth, int columns, const float *lhs,
                     const float *weights, float *out) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, columns, depth,
              1.0f, lhs, depth, weights, columns, 0.0f, out, columns);
}

typedef void Product(int, int, int, const float *, const float *, float *);

// Both GEMMs of every expert; returns seconds. `hidden` and `out` hold one
// [rows, 1024] and one [rows, 512] buffer per thread.
static double pass(Product *product, int experts, int rows, const float *x,
                   const float *w1, const float *w2, float *hidden,
                   float *out) {
  double start = seconds();
#pragma omp parallel for schedule(static, 1)
  for (int e = 0; e < experts; ++e) {
    int thread = omp_get_thread_num();
    float *h = hidden + (long)thread * rows * kHidden;
    product(rows, kModel, kHidden, x, w1 + (long)e * kModel * kHidden, h);
    product(rows, kHidden, kModel, h, w2 + (long)e * kModel * kHidden,
            out + (long)thread * rows * kModel);
  }
  return seconds() - start;
}

// Uniform in [-0.5, 0.5).
static float randomValue(void) {
  return (float)(rand() / (RAND_MAX + 1.0)) - 0.5f;
}

static float largestDifference(const float *a, const float *b, long count) {
  float largest = 0;
  for (long i = 0; i < count; ++i) {
    float d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    largest = d > largest ? d : largest;
  }
  return largest;
}

int main(int argc, char **argv) {
  int experts = argc > 2 ? atoi(argv[1]) : 256;
  int rows = argc > 2 ? atoi(argv[2]) : 64;
  int repeats = argc > 3 ? atoi(argv[3]) : 5;
  if (experts < 1 || rows < kRowsPerBlock || rows % kRowsPerBlock ||
      repeats < 1) {
    fprintf(stderr,
            "usage: %s [EXPERTS ROWS [REPEATS]] (ROWS a multiple of "
            "4)\n",
            argv[0]);
    return 1;
  }
  long weightCount = (long)experts * kModel * kHidden;
  int threads = omp_get_max_threads();
  float *w1 = aligned_alloc(64, weightCount * sizeof(float));
  float *w2 = aligned_alloc(64, weightCount * sizeof(float));
  float *packed1 = aligned_alloc(64, weightCount * sizeof(float));
  float *packed2 = aligned_alloc(64, weightCount * sizeof(float));
  float *x = aligned_alloc(64, (long)rows * kModel * sizeof(float));
  float *hidden =
      aligned_alloc(64, (long)threads * rows * kHidden * sizeof(float));
  enum { kVariants = 5 };
  float *outs[kVariants];
  for (int i = 0; i < kVariants; ++i)
    outs[i] = aligned_alloc(64, (long)threads * rows * kModel * sizeof(float));
  srand(0);
  for (long i = 0; i < weightCount; ++i) {
    w1[i] = randomValue();
    w2[i] = randomValue();
  }
  for (long i = 0; i < (long)rows * kModel; ++i)
    x[i] = randomValue();
  for (int e = 0; e < experts; ++e) {
    pack(kModel, kHidden, w1 + (long)e * kModel * kHidden,
         packed1 + (long)e * kModel * kHidden);
    pack(kHidden, kModel, w2 + (long)e * kModel * kHidden,
         packed2 + (long)e * kModel * kHidden);
  }

  const struct {
    const char *name;
    Product *product;
    int packedWeights;
  } variants[kVariants] = {{"per-panel", perPanel, 0},
                           {"k-block", kBlock, 0},
                           {"prepacked", prepacked, 1},
                           {"chunked", chunked, 1},
                           {"openblas", openblas, 0}};
  double best[kVariants];
  for (int i = 0; i < kVariants; ++i)
    best[i] = 1e30;
  for (int repeat = 0; repeat < repeats; ++repeat)
    for (int i = 0; i < kVariants; ++i) {
      int packedWeights = variants[i].packedWeights;
      double time = pass(variants[i].product, experts, rows, x,
                         packedWeights ? packed1 : w1,
                         packedWeights ? packed2 : w2, hidden, outs[i]);
      best[i] = time < best[i] ? time : best[i];
    }
  double flops = 2.0 * 2 * experts * rows * kModel * kHidden;
  printf("%d experts, %d rows each, %d threads, min of %d passes\n", experts,
         rows, threads, repeats);
  long outCount = (long)threads * rows * kModel;
  for (int i = 0; i < kVariants; ++i)
    printf("%-10s %8.1f ms %6.0f GFLOP/s  %.2fx per-panel  (largest "
           "difference %g)\n",
           variants[i].name, best[i] * 1e3, flops / best[i] / 1e9,
           best[0] / best[i], largestDifference(outs[0], outs[i], outCount));
  return 0;
}
