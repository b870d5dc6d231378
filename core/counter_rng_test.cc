#include "core/counter_rng.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace lockstep {
namespace {

TEST(CounterRngTest, DrawIsAPureFunctionOfKeyAndIndex) {
  CounterRng a(42, "init/wte");
  CounterRng b(42, "init/wte");
  // Ask in different orders: the value for an index never depends on history.
  std::vector<std::uint64_t> forward, backward(1000);
  for (std::uint64_t i = 0; i < 1000; ++i) forward.push_back(a.Bits(i));
  for (std::uint64_t i = 1000; i-- > 0;) backward[i] = b.Bits(i);
  EXPECT_EQ(forward, backward);
}

TEST(CounterRngTest, PurposesAndSeedsGiveDifferentStreams) {
  EXPECT_NE(CounterRng(42, "init/wte").Bits(0), CounterRng(42, "init/wpe").Bits(0));
  EXPECT_NE(CounterRng(42, "init/wte").Bits(0), CounterRng(43, "init/wte").Bits(0));
}

TEST(CounterRngTest, BelowStaysInRangeAndCoversIt) {
  CounterRng rng(7, "test/below");
  std::set<std::uint64_t> seen;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    std::uint64_t v = rng.Below(i, 10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 10u);
}

}  // namespace
}  // namespace lockstep
