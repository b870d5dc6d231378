// bfloat16 emulation: bf16 values kept in float storage.
//
// A bf16 is the top 16 bits of a float (sign, the same 8-bit exponent, 7
// mantissa bits), so every bf16 is exactly a float and rounding a float to
// bf16 is an integer operation on its bits. That is all this file does: no
// float arithmetic, so no dependence on the FPU's rounding mode, FTZ/DAZ or
// the compiler.
//
// Why emulate: the trainer can then reproduce what mixed precision does to
// training (a bf16 master weight at 1.0 has a ULP of 2^-7, so AdamW updates
// of ~1e-3 round to nothing) with the same bits on every machine.
#ifndef LOCKSTEP_TRAINER_BF16_H_
#define LOCKSTEP_TRAINER_BF16_H_

#include <bit>
#include <cstddef>
#include <cstdint>

namespace lockstep::trainer {

class ThreadPool;

// How values are held: the inputs of products (numerics.compute) or the
// master copy of the parameters (numerics.master).
enum class Precision { kFp32, kBf16 };

// x rounded to the nearest bf16, ties to even, as hardware converts:
// NaN stays NaN (made quiet, sign kept), +-Inf stay, values that round past
// the largest finite bf16 (0x1.fep+127) become +-Inf, -0 stays -0, and
// subnormals round like any other value (bf16 has them too).
inline float RoundToBf16(float x) {
  std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    // NaN: truncating could clear every payload bit and make it Inf; the
    // quiet bit keeps it a NaN.
    return std::bit_cast<float>((u | 0x00400000u) & 0xffff0000u);
  }
  // Adding 0x7fff plus the lowest kept bit carries into the kept bits exactly
  // when the dropped half is above one half, or one half with the kept value
  // odd. A carry out of the mantissa raises the exponent, which is right,
  // including into Inf.
  u += 0x7fffu + ((u >> 16) & 1u);
  return std::bit_cast<float>(u & 0xffff0000u);
}

// True when x is exactly a bf16 value (NaN included).
inline bool IsBf16(float x) {
  return (std::bit_cast<std::uint32_t>(x) & 0xffffu) == 0;
}

// x[i] = RoundToBf16(x[i]) on the pool (elementwise: no order to fix).
void RoundToBf16(ThreadPool& pool, float* x, std::size_t n);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_BF16_H_
