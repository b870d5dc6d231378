#include "trainer/bf16.h"

#include <limits>

#include "trainer/thread_pool.h"

namespace lockstep::trainer {
namespace {

// The spacing of a format with `mantissa_bits` explicit mantissa bits and
// float's exponent range, at |x|: 2^(e - 127 - mantissa_bits) for a biased
// exponent e, built from bits (a normal float while that exponent is >= 1,
// a subnormal one below).
float Spacing(float x, int mantissa_bits) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x) & 0x7fffffffu;
  int e = static_cast<int>(u >> 23);
  if (e == 0xff) {
    return u == 0x7f800000u ? std::numeric_limits<float>::infinity()
                            : std::numeric_limits<float>::quiet_NaN();
  }
  if (e == 0) e = 1;  // subnormals share the smallest normal binade's spacing
  if (e > mantissa_bits) return std::bit_cast<float>(static_cast<std::uint32_t>(e - mantissa_bits) << 23);
  return std::bit_cast<float>(std::uint32_t{1} << (e - 1 + 23 - mantissa_bits));
}

}  // namespace

const char* PrecisionName(Precision p) { return p == Precision::kFp32 ? "fp32" : "bf16"; }

void RoundToBf16(ThreadPool& pool, float* x, std::size_t n) {
  pool.ParallelFor(n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) x[i] = RoundToBf16(x[i]);
  });
}

float Bf16Ulp(float x) { return Spacing(x, 7); }
float Fp32Ulp(float x) { return Spacing(x, 23); }

}  // namespace lockstep::trainer
