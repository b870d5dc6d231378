#include "trainer/bf16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/counter_rng.h"
#include "trainer/thread_pool.h"

namespace lockstep::trainer {
namespace {

float FromBits(std::uint32_t u) {
  return std::bit_cast<float>(u);
}
std::uint32_t Bits(float x) {
  return std::bit_cast<std::uint32_t>(x);
}

// Rounds by the definition instead of by carries: the two bf16 neighbours of
// x (truncation, and truncation + one ULP away from zero), compared in double
// (exact for float inputs), ties to the one with an even last bit.
float ReferenceRound(float x) {
  const std::uint32_t u = Bits(x);
  const float lo = FromBits(u & 0xffff0000u);
  const float hi = FromBits((u & 0xffff0000u) + 0x10000u);  // Inf past the largest finite
  const double dlo = std::abs(static_cast<double>(x) - lo);
  const double dhi = std::isinf(hi) ? std::abs(0x1p128 - std::abs(static_cast<double>(x)))
                                    : std::abs(static_cast<double>(hi) - x);
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return ((Bits(lo) >> 16) & 1u) == 0 ? lo : hi;
}

TEST(Bf16Test, ExactValuesAreUnchanged) {
  for (float x : {0.0f, 1.0f, -1.0f, 1.0078125f /* 1 + 2^-7 */, 3.0f, -2.5f, 0.5f, 1024.0f,
                  0x1.fep+127f /* largest finite bf16 */, 0x1p-126f /* smallest normal */,
                  0x1p-133f /* smallest bf16 subnormal */, -0x1.8p-130f}) {
    EXPECT_TRUE(IsBf16(x)) << x;
    EXPECT_EQ(Bits(RoundToBf16(x)), Bits(x)) << x;
  }
  EXPECT_FALSE(IsBf16(1.0f + 0x1p-8f));
}

TEST(Bf16Test, TiesGoToEvenInBothDirections) {
  // 1 + 2^-8 lies halfway between 1 (last bit 0) and 1 + 2^-7 (last bit 1).
  EXPECT_EQ(RoundToBf16(1.0f + 0x1p-8f), 1.0f);
  EXPECT_EQ(RoundToBf16(-(1.0f + 0x1p-8f)), -1.0f);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
  EXPECT_EQ(RoundToBf16(1.0f + 3 * 0x1p-8f), 1.0f + 0x1p-6f);
  EXPECT_EQ(RoundToBf16(-(1.0f + 3 * 0x1p-8f)), -(1.0f + 0x1p-6f));
  // Off the tie by one float ULP, the nearer neighbour wins.
  EXPECT_EQ(RoundToBf16(1.0f + 0x1p-8f + 0x1p-23f), 1.0f + 0x1p-7f);
  EXPECT_EQ(RoundToBf16(1.0f + 0x1p-8f - 0x1p-23f), 1.0f);
  // A tie whose rounding up carries into the exponent.
  EXPECT_EQ(RoundToBf16(2.0f - 0x1p-8f), 2.0f);
}

TEST(Bf16Test, NanStaysAQuietNanAndInfStays) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Bits(RoundToBf16(inf)), Bits(inf));
  EXPECT_EQ(Bits(RoundToBf16(-inf)), Bits(-inf));
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(RoundToBf16(qnan)));
  // A signalling NaN whose only payload bit is dropped by truncation: still
  // NaN, now quiet, sign kept.
  for (std::uint32_t u : {0x7f800001u, 0xff800001u, 0x7fbfffffu}) {
    const float r = RoundToBf16(FromBits(u));
    EXPECT_TRUE(std::isnan(r)) << std::hex << u;
    EXPECT_TRUE(IsBf16(r));
    EXPECT_NE(Bits(r) & 0x00400000u, 0u) << "quiet bit";
    EXPECT_EQ(Bits(r) >> 31, u >> 31) << "sign";
  }
}

TEST(Bf16Test, OverflowBecomesInfAsHardwareDoes) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(RoundToBf16(std::numeric_limits<float>::max()), inf);
  EXPECT_EQ(RoundToBf16(-std::numeric_limits<float>::max()), -inf);
  // Halfway between the largest finite bf16 (odd last bit) and 2^128: up, to Inf.
  EXPECT_EQ(RoundToBf16(FromBits(0x7f7f8000u)), inf);
  // Just below halfway: the largest finite bf16.
  EXPECT_EQ(RoundToBf16(FromBits(0x7f7f7fffu)), 0x1.fep+127f);
}

TEST(Bf16Test, NegativeZeroAndSubnormals) {
  EXPECT_EQ(Bits(RoundToBf16(-0.0f)), 0x80000000u);
  EXPECT_EQ(Bits(RoundToBf16(-std::numeric_limits<float>::denorm_min())), 0x80000000u);
  EXPECT_EQ(Bits(RoundToBf16(std::numeric_limits<float>::denorm_min())), 0u);
  EXPECT_EQ(Bits(RoundToBf16(FromBits(0x00008000u))), 0u);           // tie, 0 is even
  EXPECT_EQ(Bits(RoundToBf16(FromBits(0x00018000u))), 0x00020000u);  // tie, 1 is odd: up
  EXPECT_EQ(Bits(RoundToBf16(FromBits(0x00010001u))), 0x00010000u);
  // The largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(RoundToBf16(FromBits(0x007fffffu)), std::numeric_limits<float>::min());
}

TEST(Bf16Test, AgreesWithTheDefinitionOnRandomFloats) {
  CounterRng rng(7, "test/bf16");
  for (std::uint64_t i = 0; i < 200000; ++i) {
    const std::uint32_t u = static_cast<std::uint32_t>(rng.Bits(i));
    const float x = FromBits(u);
    if (std::isnan(x)) continue;
    ASSERT_EQ(Bits(RoundToBf16(x)), Bits(ReferenceRound(x))) << std::hex << u;
  }
  // Every tie pattern of a few exponents.
  for (std::uint32_t hi : {0x3f80u, 0x3f81u, 0xbf80u, 0x0001u, 0x7f7eu}) {
    const float x = FromBits(hi << 16 | 0x8000u);
    EXPECT_EQ(Bits(RoundToBf16(x)), Bits(ReferenceRound(x))) << std::hex << hi;
  }
}

TEST(Bf16Test, ArrayRoundingEqualsScalarWithAnyThreadCount) {
  CounterRng rng(9, "test/bf16-array");
  std::vector<float> x(100003);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(static_cast<double>(rng.Bits(i) >> 11) * 0x1p-53 * 8.0 - 4.0);
  }
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    std::vector<float> y = x;
    RoundToBf16(pool, y.data(), y.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(Bits(y[i]), Bits(RoundToBf16(x[i]))) << i << ", " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace lockstep::trainer
