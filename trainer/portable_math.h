// Portable elementary functions for the trainer's `portable` numerics profile.
//
// libm's exp/log/tanh/cos differ in the last bit between glibc versions, musl,
// macOS and compilers' builtins, so the portable profile must not call them.
// These functions use only IEEE-754 +, -, *, / and exact helpers (comparisons,
// conversions, std::floor, std::frexp, bit casts), each operation in a fixed
// order, so they return the same bits on any x86-64 or AArch64 CPU with GCC or
// Clang at any optimisation level. Requirements (FLT_EVAL_METHOD is checked by
// a static_assert; the others would change the test's pinned sweep hashes):
//   * FLT_EVAL_METHOD == 0 (no x87 excess precision): true on x86-64 and AArch64;
//   * no FMA contraction: the project builds with -ffp-contract=off, and the
//     implementation file also turns contraction off itself for Clang;
//   * no fast-math (which would also set flush-to-zero) and the default
//     rounding mode, round to nearest even.
//
// The float functions compute internally in double (error a few double ulps)
// and round to float once at the end, so they are correctly rounded except
// when the exact result lies within a few double ulps of a midpoint between
// two floats. Range reduction is Cody-Waite (ln2 or pi/2 split into
// parts whose multiples are exact); the polynomials are truncated Taylor
// series in Horner form, with terms kept until the truncation error is below
// double rounding error.
//
// Measured accuracy (exhaustively over all 2^32 float inputs, against glibc's
// double function rounded to float, with every input whose result lies within
// 2^-46 of a rounding midpoint re-checked against 400-bit mpmath):
//   PortableExp   correctly rounded for every float input (0 ulp)
//   PortableTanh  correctly rounded for every float input (0 ulp)
//   PortableLog   correctly rounded except 5 inputs, which are 1 ulp off (e.g.
//                 x = 9.472636f; each exact log lies within 1e-9 float ulp
//                 of a midpoint, beyond double precision)
//   PortableCos   max absolute error 2.2e-16 over 4M points in |x| <= 1.6e6,
//                 including the near-multiples of pi/2 (vs glibc cos)
//   PortablePow   relative error below 0.6 * exponent * 2^-53 (each squaring
//                 doubles the relative error already in the base): 1e-16 for
//                 0.9^10, 9e-14 for 0.999^10000, 1.5e-11 for 0.9999^1000000
#ifndef LOCKSTEP_TRAINER_PORTABLE_MATH_H_
#define LOCKSTEP_TRAINER_PORTABLE_MATH_H_

#include <cstddef>
#include <cstdint>

namespace lockstep::trainer {

// e^x. Results below FLT_MIN are subnormal, rounded as std::exp would (gradual
// underflow, not flushed); e^x < 2^-150 gives +0 (x < -103.97), e^x above
// FLT_MAX gives +inf (x > 88.7228). exp(-inf) = +0, exp(+inf) = +inf, NaN -> NaN.
float PortableExp(float x);

// Natural logarithm. Subnormal inputs are handled exactly. log(+-0) = -inf,
// log(x < 0) = NaN, log(+inf) = +inf, log(1) = +0, NaN -> NaN.
float PortableLog(float x);

// Hyperbolic tangent. Odd to the bit: PortableTanh(-x) == -PortableTanh(x) for
// every x including +-0. Returns exactly +-1 for |x| > 9.02 (where the true
// value rounds to +-1 in float), including +-inf. NaN -> NaN.
float PortableTanh(float x);

// x[i] = PortableExp(x[i]) and x[i] = PortableTanh(x[i]) for an array, bit
// for bit the same values, written branch-free and compiled for several
// instruction sets so the loop vectorises (PortableMathTest checks equality).
void PortableExpInPlace(float* x, std::size_t n);
void PortableTanhInPlace(float* x, std::size_t n);

// Cosine. Even to the bit: PortableCos(-x) == PortableCos(x). Accurate to
// 2.2e-16 absolute for |x| <= kPortableCosMaxArg; the one-step range reduction
// (pi/2 in three 33-bit parts) is exact only there, so beyond it, and for
// +-inf and NaN, it returns NaN rather than a silently inaccurate value.
inline constexpr double kPortableCosMaxArg = 1.6e6;
double PortableCos(double x);

// base^exponent by binary exponentiation (right-to-left squaring), for Adam's
// bias correction beta^t. pow(anything, 0) = 1, including NaN; otherwise IEEE
// multiplication semantics (overflow to inf, underflow through subnormals).
double PortablePow(double base, std::uint64_t exponent);

}  // namespace lockstep::trainer

#endif  // LOCKSTEP_TRAINER_PORTABLE_MATH_H_
