#include "trainer/portable_math.h"

#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>

#include "trainer/simd_clones.h"

// The build passes -ffp-contract=off; Clang also honours the standard pragma,
// so this file stays FMA-free even if compiled without the flag (Clang's default
// would fuse a*b+c on AArch64). GCC's C++ front end ignores the pragma; its
// ISO mode (-std=c++20, CMAKE_CXX_EXTENSIONS OFF) already defaults to off.
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559);
static_assert(FLT_EVAL_METHOD == 0, "x87-style excess precision would change the bits");

namespace lockstep::trainer {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// 1/n!, each a single correctly rounded division (n! itself is exact in double
// for n <= 22), evaluated by the compiler: no typed-in 17-digit constants.
constexpr std::array<double, 18> kInvFactorial = [] {
  std::array<double, 18> c{};
  double factorial = 1.0;
  for (int n = 0; n < 18; ++n) {
    if (n > 0) factorial *= n;
    c[n] = 1.0 / factorial;
  }
  return c;
}();

// c[0] + x*(c[1] + x*(c[2] + ...)), innermost first: one fixed order of roundings.
template <std::size_t N>
double Horner(const std::array<double, N>& c, double x) {
  double p = c[N - 1];
  for (std::size_t i = N - 1; i-- > 0;) p = p * x + c[i];
  return p;
}

// (e^r - 1) / r = sum r^n / (n+1)!, n = 0..12. For |r| <= ln2/2 the first
// omitted term is below 1.2e-17 relative.
constexpr std::array<double, 13> kExpM1OverR = [] {
  std::array<double, 13> c{};
  for (std::size_t n = 0; n < c.size(); ++n) c[n] = kInvFactorial[n + 1];
  return c;
}();

// sin r = r + r*z*S(z), S(z) = sum (-1)^(j+1) z^j / (2j+3)!, j = 0..7 (to r^17);
// cos r = 1 + z*C(z),   C(z) = sum (-1)^(j+1) z^j / (2j+2)!, j = 0..7 (to r^16);
// z = r^2. For |r| <= pi/4 the omitted terms are below 2e-18.
constexpr std::array<double, 8> kSinTail = [] {
  std::array<double, 8> c{};
  for (std::size_t j = 0; j < c.size(); ++j) c[j] = (j % 2 ? 1.0 : -1.0) * kInvFactorial[2 * j + 3];
  return c;
}();
constexpr std::array<double, 8> kCosTail = [] {
  std::array<double, 8> c{};
  for (std::size_t j = 0; j < c.size(); ++j) c[j] = (j % 2 ? 1.0 : -1.0) * kInvFactorial[2 * j + 2];
  return c;
}();

// 2atanh(s)/s = sum 2 s^(2j) / (2j+1), j = 0..9. For |s| <= 0.1716 the omitted
// term is below 2.3e-17 relative. 2/(2j+1) is one correctly rounded division.
constexpr std::array<double, 10> kAtanhOverS = [] {
  std::array<double, 10> c{};
  for (std::size_t j = 0; j < c.size(); ++j) c[j] = 2.0 / static_cast<double>(2 * j + 1);
  return c;
}();

// Cody-Waite constants. ln2 = kLn2Hi + kLn2Lo (+1.2e-26); kLn2Hi has 32
// significant bits, so k * kLn2Hi is exact for |k| < 2^21 and x - k * kLn2Hi is
// exact when x is a float (fdlibm's split).
constexpr double kInvLn2 = 0x1.71547652b82fep+0;
constexpr double kLn2Hi = 0x1.62e42feep-1;
constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;
constexpr double kSqrtHalf = 0x1.6a09e667f3bcdp-1;

// pi/2 = kPio2[0] + kPio2[1] + kPio2[2] (+8.5e-32), each part 33 bits, so
// k * kPio2[i] is exact for k < 2^20 (fdlibm's medium-range split).
constexpr double kTwoOverPi = 0x1.45f306dc9c883p-1;
constexpr double kPio2_1 = 0x1.921fb544p+0;
constexpr double kPio2_2 = 0x1.0b4611a6p-34;
constexpr double kPio2_3 = 0x1.3198a2ep-69;

// 2^k for a normal double exponent, by building the bits (exact, no libm call).
double Pow2(int k) {
  return std::bit_cast<double>(static_cast<std::uint64_t>(k + 1023) << 52);
}

// e^y = 2^k * (1 + q), with q = e^r - 1 and r = y - k*ln2 in [-ln2/2, ln2/2].
// Needs |y| < 700, and y a multiple of 2^-25 whenever k != 0 (true when y is a
// float, or twice one), so that y - k*kLn2Hi is exact. For |y| < ln2/2, k = 0
// and q = e^y - 1 with no cancellation.
struct ExpParts {
  double pow2k;
  double q;
};
ExpParts ReduceExp(double y) {
  const double k = std::floor(y * kInvLn2 + 0.5);
  const double r = (y - k * kLn2Hi) - k * kLn2Lo;
  return {Pow2(static_cast<int>(k)), r * Horner(kExpM1OverR, r)};
}

}  // namespace

float PortableExp(float x) {
  if (x != x) return x;                            // NaN
  if (x > 89.0f) return static_cast<float>(kInf);  // e^89 > FLT_MAX, incl. +inf
  if (x < -104.0f) return 0.0f;                    // e^-104 < 2^-150 rounds to 0, incl. -inf
  const ExpParts e = ReduceExp(x);
  // pow2k * q is exact; the sum is the only rounding after the polynomial.
  // The double is never subnormal, and the conversion rounds once to float
  // (to a subnormal float below FLT_MIN, to inf above FLT_MAX).
  return static_cast<float>(e.pow2k + e.pow2k * e.q);
}

float PortableLog(float x) {
  if (!(x > 0.0f)) {  // 0, negative or NaN
    if (x == 0.0f) return static_cast<float>(-kInf);
    return x != x ? x : static_cast<float>(kNaN);
  }
  if (x == static_cast<float>(kInf)) return x;
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)), so e = 0 near x = 1 and log(m)
  // carries all the precision there. Subnormal floats are normal doubles.
  int e = 0;
  double m = std::frexp(static_cast<double>(x), &e);  // m in [1/2, 1)
  if (m < kSqrtHalf) {
    m = m * 2.0;
    e = e - 1;
  }
  // log m = 2 atanh(s), s = (m-1)/(m+1) in [-0.172, 0.172]; m-1 and m+1 are exact.
  const double s = (m - 1.0) / (m + 1.0);
  const double log_m = s * Horner(kAtanhOverS, s * s);
  // e * kLn2Hi is exact; add the small parts first.
  const double ed = e;
  return static_cast<float>(ed * kLn2Hi + (ed * kLn2Lo + log_m));
}

float PortableTanh(float x) {
  if (x != x) return x;
  // Work on |x| and restore the sign, so the function is odd to the bit.
  const bool negative = std::signbit(x);
  const double a = negative ? -static_cast<double>(x) : static_cast<double>(x);
  // 1 - tanh(a) < 2^-25 (half an ulp below 1) once a > 13 ln2 = 9.011.
  double t = 1.0;
  if (a <= 10.0) {
    // tanh a = (e^2a - 1) / (e^2a + 1) = m / (m + 2) with m = e^2a - 1, computed
    // as (2^k - 1) + 2^k q: 2^k - 1 and 2^k q are exact, so no cancellation
    // near a = 0 (there k = 0 and m = q). 2a is exact.
    const ExpParts e = ReduceExp(2.0 * a);
    const double m = (e.pow2k - 1.0) + e.pow2k * e.q;
    t = m / (m + 2.0);
  }
  const float result = static_cast<float>(t);
  return negative ? -result : result;
}

double PortableCos(double x) {
  const double a = x < 0.0 ? -x : x;            // cos is even; reduce |x| so cos(-x) == cos(x)
  if (!(a <= kPortableCosMaxArg)) return kNaN;  // NaN, inf, or beyond the exact reduction
  // a = k*pi/2 + r, |r| <= pi/4 (slightly more when the rounding of k is close).
  // k < 2^20, so every k * kPio2_i is exact and a - k * kPio2_1 is exact (the
  // two are within pi/4 of each other on a grid of 2^-32 or finer); the two
  // later subtractions round once each, so |error of r| <= 2^-53.
  const double k = std::floor(a * kTwoOverPi + 0.5);
  const double r = ((a - k * kPio2_1) - k * kPio2_2) - k * kPio2_3;
  const double z = r * r;
  const double cos_r = 1.0 + z * Horner(kCosTail, z);
  const double sin_r = r + (r * z) * Horner(kSinTail, z);
  switch (static_cast<std::uint64_t>(k) & 3) {
    case 0:
      return cos_r;
    case 1:
      return -sin_r;
    case 2:
      return -cos_r;
    default:
      return sin_r;
  }
}

namespace {

// The same arithmetic as PortableExp and PortableTanh, written without
// branches (special inputs are computed on a clamped value and selected away
// at the end) so that a loop over an array vectorises. 2^k is built by adding
// 1.5 * 2^52 to the integer-valued k + 1023, which puts it in the low mantissa
// bits, and shifting those bits into the exponent field: the value Pow2 gives.
inline __attribute__((always_inline)) double Pow2Vector(double k) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(k + 1023.0 + 0x1.8p52);
  return std::bit_cast<double>(bits << 52);
}

// floor(w) for |w| < 2^51 without a call GCC will not vectorise: adding and
// subtracting 1.5 * 2^52 rounds w to the nearest integer (both steps exact
// but the first rounding), and one is taken off where that went up.
inline __attribute__((always_inline)) double FloorSmall(double w) {
  const double nearest = (w + 0x1.8p52) - 0x1.8p52;
  // 1.0 where nearest > w, else 0.0, by masking bits rather than ?: so the
  // loop stays branch-free.
  const std::uint64_t above = 0 - static_cast<std::uint64_t>(nearest > w);
  return nearest - std::bit_cast<double>(std::bit_cast<std::uint64_t>(1.0) & above);
}

// Out-of-range inputs are clamped to a bound whose result rounds to the same
// float the scalar function returns for them: e^-104 < 2^-150 rounds to 0,
// e^89 > FLT_MAX to +inf, and tanh(10) to exactly 1.
// x itself where x is NaN, else `value`; by bits, for the reason above.
inline __attribute__((always_inline)) float KeepNaN(float x, float value) {
  const std::uint32_t nan = 0 - static_cast<std::uint32_t>(x != x);
  return std::bit_cast<float>((std::bit_cast<std::uint32_t>(x) & nan) |
                              (std::bit_cast<std::uint32_t>(value) & ~nan));
}

inline __attribute__((always_inline)) float ExpBranchFree(float x) {
  const double y = x;
  const double low_clamped = y < -104.0 ? -104.0 : y;
  const double yc = low_clamped > 89.0 ? 89.0 : low_clamped;
  const double k = FloorSmall(yc * kInvLn2 + 0.5);
  const double r = (yc - k * kLn2Hi) - k * kLn2Lo;
  const double q = r * Horner(kExpM1OverR, r);
  const double p2 = Pow2Vector(k);
  return KeepNaN(x, static_cast<float>(p2 + p2 * q));
}

inline __attribute__((always_inline)) float TanhBranchFree(float x) {
  const double a = std::fabs(static_cast<double>(x));
  const double ac = a <= 10.0 ? a : 10.0;
  const double y = 2.0 * ac;
  const double k = FloorSmall(y * kInvLn2 + 0.5);
  const double r = (y - k * kLn2Hi) - k * kLn2Lo;
  const double q = r * Horner(kExpM1OverR, r);
  const double p2 = Pow2Vector(k);
  const double m = (p2 - 1.0) + p2 * q;
  const float magnitude = static_cast<float>(m / (m + 2.0));
  // Copy the input's sign bit (not x < 0: -0 must give -0, as PortableTanh).
  const std::uint32_t sign = std::bit_cast<std::uint32_t>(x) & 0x80000000u;
  return KeepNaN(x, std::bit_cast<float>(std::bit_cast<std::uint32_t>(magnitude) | sign));
}

// The array loops compiled for several instruction sets, picked at run
// time. Internal functions of their own: Clang 14 emits only the first clone,
// with no run-time choice, for a function whose header declaration lacks the
// attribute (an AVX-512 loop that died with SIGILL on an AVX2-only EPYC).
LOCKSTEP_SIMD_CLONES void ExpInPlaceClones(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = ExpBranchFree(x[i]);
}

LOCKSTEP_SIMD_CLONES void TanhInPlaceClones(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = TanhBranchFree(x[i]);
}

}  // namespace

void PortableExpInPlace(float* x, std::size_t n) {
  ExpInPlaceClones(x, n);
}

void PortableTanhInPlace(float* x, std::size_t n) {
  TanhInPlaceClones(x, n);
}

double PortablePow(double base, std::uint64_t exponent) {
  // Right to left: multiply in base^(2^i) for each set bit i of the exponent.
  double result = 1.0;
  while (exponent != 0) {
    if (exponent & 1) result = result * base;
    exponent >>= 1;
    if (exponent != 0) base = base * base;
  }
  return result;
}

}  // namespace lockstep::trainer
