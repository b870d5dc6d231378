// The portable GEMM's AVX-512 micro-kernel: 12 x 32 outputs in 24 zmm
// accumulators. Built with -mavx512f (trainer/CMakeLists.txt) and only called
// when the CPU has it (gemm.cc).
#include <immintrin.h>

#include "trainer/gemm_kernel.h"

namespace lockstep::trainer::gemm_internal {
namespace {

struct Avx512 {
  using Reg = __m512;
  static constexpr std::size_t kWidth = 16;
  static Reg Zero() { return _mm512_setzero_ps(); }
  static Reg Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, Reg r) { _mm512_storeu_ps(p, r); }
  static Reg Broadcast(float x) { return _mm512_set1_ps(x); }
  static Reg Fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
};

}  // namespace

MicroKernel<float> Avx512Kernel() {
  return {12, 32, &Sweep<float, Avx512, 12, 2>};
}

}  // namespace lockstep::trainer::gemm_internal
