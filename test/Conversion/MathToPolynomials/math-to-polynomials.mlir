// RUN: moe-opt %s --split-input-file --convert-math-to-polynomials \
// RUN:   | FileCheck %s
// RUN: moe-opt %s --split-input-file \
// RUN:   --convert-math-to-polynomials=functions=exp | FileCheck %s --check-prefix=EXP
// RUN: not moe-opt %s --convert-math-to-polynomials=functions=expo 2>&1 \
// RUN:   | FileCheck %s --check-prefix=UNKNOWN

// By default the functions that would be libm calls become arithmetic on f32
// scalars and vectors alike. Only ops with an LLVM instruction (fma, floor,
// abs) are left of the math dialect.
// CHECK-LABEL: func.func @f32_functions
//   CHECK-NOT:   math.erfc
//   CHECK-NOT:   math.exp
//   CHECK-NOT:   math.log
//       CHECK:   math.fma {{.*}} : vector<16xf32>
//       CHECK:   return
// With functions=exp, only exp is rewritten.
// EXP-LABEL: func.func @f32_functions
//       EXP:   math.erfc %{{.*}} : f32
//   EXP-NOT:   math.exp
//       EXP:   math.log %{{.*}} : vector<16xf32>
func.func @f32_functions(%x: f32, %v: vector<16xf32>) -> (f32, f32, vector<16xf32>) {
  %erfc = math.erfc %x : f32
  %exp = math.exp %x : f32
  %log = math.log %v : vector<16xf32>
  return %erfc, %exp, %log : f32, f32, vector<16xf32>
}

// -----

// f64 keeps its libm-accurate functions; bf16 is computed in f32 and rounded.
// CHECK-LABEL: func.func @other_widths
//       CHECK:   math.exp %{{.*}} : f64
//       CHECK:   arith.extf %{{.*}} : bf16 to f32
//   CHECK-NOT:   math.exp
//       CHECK:   arith.truncf %{{.*}} : f32 to bf16
func.func @other_widths(%d: f64, %h: bf16) -> (f64, bf16) {
  %0 = math.exp %d : f64
  %1 = math.exp %h : bf16
  return %0, %1 : f64, bf16
}

// UNKNOWN: error: convert-math-to-polynomials: 'math.expo' is not a math op
