// The portable GEMM's AVX2 + FMA3 micro-kernel: 6 x 16 outputs in 12 ymm
// accumulators. Built with -mavx2 -mfma (trainer/CMakeLists.txt) and only
// called when the CPU has both (gemm.cc).
#include <immintrin.h>

#include "trainer/gemm_kernel.h"

namespace lockstep::trainer::gemm_internal {
namespace {

struct Avx2 {
  using Reg = __m256;
  static constexpr std::size_t kWidth = 8;
  static Reg Zero() { return _mm256_setzero_ps(); }
  static Reg Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, Reg r) { _mm256_storeu_ps(p, r); }
  static Reg Broadcast(float x) { return _mm256_set1_ps(x); }
  static Reg Fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
};

}  // namespace

MicroKernel<float> Avx2Kernel() {
  return {6, 16, &Sweep<float, Avx2, 6, 2>};
}

}  // namespace lockstep::trainer::gemm_internal
