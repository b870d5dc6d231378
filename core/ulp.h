// The spacing of float and bf16 values: how far apart two neighbouring
// numbers of the format are at a given magnitude. The frozen-parameter
// check (golden/health.h) and the bf16 emulation (trainer/bf16.h) both
// explain an update that did not stick by comparing it with this.
#ifndef LOCKSTEP_CORE_ULP_H_
#define LOCKSTEP_CORE_ULP_H_

#include <bit>
#include <cstdint>
#include <limits>

namespace lockstep {

// The spacing of a format with `mantissa_bits` explicit mantissa bits and
// float's exponent range, at |x|: 2^(e - 127 - mantissa_bits) for a biased
// exponent e, built from bits (a normal float while that exponent is >= 1,
// a subnormal one below).
constexpr float FormatSpacing(float x, int mantissa_bits) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x) & 0x7fffffffu;
  int e = static_cast<int>(u >> 23);
  if (e == 0xff) {
    return u == 0x7f800000u ? std::numeric_limits<float>::infinity()
                            : std::numeric_limits<float>::quiet_NaN();
  }
  if (e == 0) e = 1;  // subnormals share the smallest normal binade's spacing
  if (e > mantissa_bits)
    return std::bit_cast<float>(static_cast<std::uint32_t>(e - mantissa_bits) << 23);
  return std::bit_cast<float>(std::uint32_t{1} << (e - 1 + 23 - mantissa_bits));
}

// The spacing of bf16 / float values at |x|: the distance from the largest
// representable value <= |x| to the next one above (2^-7 and 2^-23 at 1.0;
// the smallest subnormal for 0 and subnormals). Inf for +-Inf, NaN for NaN.
// An update smaller than half of this leaves x unchanged.
constexpr float Bf16Ulp(float x) {
  return FormatSpacing(x, 7);
}
constexpr float Fp32Ulp(float x) {
  return FormatSpacing(x, 23);
}

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_ULP_H_
