#include "core/ulp.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/counter_rng.h"

namespace lockstep {
namespace {

float FromBits(std::uint32_t u) {
  return std::bit_cast<float>(u);
}

TEST(UlpTest, IsTheSpacingAtTheValue) {
  EXPECT_EQ(Bf16Ulp(1.0f), 0x1p-7f);
  EXPECT_EQ(Fp32Ulp(1.0f), 0x1p-23f);
  EXPECT_EQ(Bf16Ulp(-1.0f), 0x1p-7f);
  EXPECT_EQ(Bf16Ulp(1.99f), 0x1p-7f);
  EXPECT_EQ(Bf16Ulp(2.0f), 0x1p-6f);
  EXPECT_EQ(Bf16Ulp(0x1p-126f), 0x1p-133f);
  EXPECT_EQ(Bf16Ulp(0.0f), 0x1p-133f);  // the smallest subnormal
  EXPECT_EQ(Fp32Ulp(0.0f), std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(Fp32Ulp(std::numeric_limits<float>::max()), 0x1p104f);
  EXPECT_EQ(Bf16Ulp(0x1.fep+127f), 0x1p120f);
  EXPECT_TRUE(std::isinf(Bf16Ulp(-std::numeric_limits<float>::infinity())));
  EXPECT_TRUE(std::isnan(Fp32Ulp(std::numeric_limits<float>::quiet_NaN())));
  // Against the next value up, for normal and subnormal bf16 values.
  CounterRng rng(8, "test/bf16-ulp");
  for (std::uint64_t i = 0; i < 20000; ++i) {
    const std::uint32_t u = static_cast<std::uint32_t>(rng.Below(i, 0x7f7fu)) << 16;
    const double next = FromBits(u + 0x10000u), here = FromBits(u);
    ASSERT_EQ(static_cast<double>(Bf16Ulp(FromBits(u))), next - here) << std::hex << u;
    const std::uint32_t f = static_cast<std::uint32_t>(rng.Below(i, 0x7f7fffffu));
    ASSERT_EQ(static_cast<double>(Fp32Ulp(FromBits(f))),
              static_cast<double>(FromBits(f + 1)) - FromBits(f))
        << std::hex << f;
  }
}

}  // namespace
}  // namespace lockstep
