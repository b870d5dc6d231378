// The portable GEMM's NEON micro-kernel (every AArch64 CPU has NEON and its
// fused vfmaq_f32): 8 x 12 outputs in 24 of the 32 q registers.
#include <arm_neon.h>

#include "trainer/gemm_kernel.h"

namespace lockstep::trainer::gemm_internal {
namespace {

struct Neon {
  using Reg = float32x4_t;
  static constexpr std::size_t kWidth = 4;
  static Reg Zero() { return vdupq_n_f32(0.0f); }
  static Reg Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, Reg r) { vst1q_f32(p, r); }
  static Reg Broadcast(float x) { return vdupq_n_f32(x); }
  static Reg Fma(Reg a, Reg b, Reg c) { return vfmaq_f32(c, a, b); }  // c + a*b, one rounding
};

}  // namespace

MicroKernel<float> NeonKernel() {
  return {8, 12, &Sweep<float, Neon, 8, 3>};
}

}  // namespace lockstep::trainer::gemm_internal
