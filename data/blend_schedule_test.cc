#include "data/blend_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/counter_rng.h"
#include "core/test_util.h"

namespace lockstep::data {
namespace {

using ::lockstep::testing::Contains;

const std::vector<std::string> kNames = {"prose", "arith", "code"};

Status Check(std::vector<BlendSegment> segments) {
  return ValidateSchedule({std::move(segments)}, kNames, "m.toml");
}

TEST(BlendScheduleTest, AcceptsAWellFormedSchedule) {
  EXPECT_TRUE(Check({{0, {1, 0, 0}}, {10, {0.5, 0.25, 0.25}}}).ok());
}

TEST(BlendScheduleTest, RejectsEveryMalformedSchedule) {
  struct Case {
    std::vector<BlendSegment> segments;
    const char* message;
  } cases[] = {
      {{}, "no [[schedule]] segment"},
      {{{5, {1, 1, 1}}}, "must have from_step = 0"},
      {{{0, {1, 1, 1}}, {20, {1, 1, 1}}, {10, {1, 1, 1}}}, "out of order"},
      {{{0, {1, 1, 1}}, {0, {1, 1, 1}}}, "out of order"},
      {{{0, {1, -0.5, 1}}}, "weight of corpus \"arith\" is -0.5"},
      {{{0, {1, std::numeric_limits<double>::quiet_NaN(), 1}}}, "must be finite"},
      {{{0, {0, 0, 0}}}, "all weights are zero"},
      {{{0, {1, 1}}}, "2 weights for 3 corpora"},
      {{{0, {1, 1e-5, 1}}}, "below 1/4096 of the segment's total"},
  };
  for (const Case& c : cases) {
    Status st = Check(c.segments);
    ASSERT_FALSE(st.ok()) << c.message;
    EXPECT_EQ(st.exit_code(), 2);
    EXPECT_TRUE(Contains(st.message(), c.message));
    EXPECT_TRUE(Contains(st.message(), "m.toml"));
  }
}

TEST(BlendScheduleTest, QuantizedWeightsSumToTheQuantumAndKeepProportions) {
  CounterRng rng(5, "test/quantize");
  for (std::uint64_t trial = 0; trial < 500; ++trial) {
    std::size_t corpora = 1 + rng.Below(trial * 16, 8);
    std::vector<double> w(corpora);
    double total = 0;
    for (std::size_t c = 0; c < corpora; ++c) {
      w[c] = rng.Below(trial * 16 + 1 + c, 4) == 0
                 ? 0.0
                 : 1e-3 * static_cast<double>(1 + rng.Below(trial * 16 + 9 + c, 1000));
      total += w[c];
    }
    if (total == 0) w[0] = total = 1;
    auto q = QuantizeWeights(w);
    std::uint64_t sum = 0;
    for (std::size_t c = 0; c < corpora; ++c) {
      sum += q[c];
      EXPECT_LE(std::abs(static_cast<double>(q[c]) - w[c] / total * kWeightQuantum), 1.0);
      if (w[c] == 0) {
        EXPECT_EQ(q[c], 0u);
      }
    }
    EXPECT_EQ(sum, kWeightQuantum);
  }
}

TEST(BlendScheduleTest, InterleaveCountsSumToNAndCorpusAtAgreesWithCounts) {
  SegmentInterleave il(QuantizeWeights({0.5, 0.3, 0.2}));
  std::vector<std::uint64_t> counts(3, 0);
  for (std::uint64_t i = 0; i < 3 * kWeightQuantum + 17; ++i) {
    for (std::size_t c = 0; c < 3; ++c) ASSERT_EQ(il.CountBefore(c, i), counts[c]);
    ASSERT_EQ(il.RankAt(i), counts[il.CorpusAt(i)]);
    ++counts[il.CorpusAt(i)];
  }
  EXPECT_EQ(counts[0] + counts[1] + counts[2], 3 * kWeightQuantum + 17);
}

TEST(BlendScheduleTest, EveryWindowIsWithinTwoOfItsShare) {
  // The bound the header promises: over any window of L consecutive samples
  // inside a segment, |count_c - L * q_c / Q| < 2; over any prefix, < 1.
  CounterRng rng(11, "test/window");
  for (std::uint64_t trial = 0; trial < 40; ++trial) {
    std::size_t corpora = 1 + rng.Below(trial * 32, 5);
    std::vector<double> w(corpora);
    for (std::size_t c = 0; c < corpora; ++c)
      w[c] = static_cast<double>(rng.Below(trial * 32 + 1 + c, 100));
    w[0] += 1;
    auto q = QuantizeWeights(w);
    SegmentInterleave il(q);
    const std::uint64_t n = 400;
    std::vector<std::vector<std::uint64_t>> prefix(corpora, std::vector<std::uint64_t>(n + 1, 0));
    for (std::uint64_t i = 0; i < n; ++i) {
      std::size_t at = il.CorpusAt(i);
      for (std::size_t c = 0; c < corpora; ++c) prefix[c][i + 1] = prefix[c][i] + (c == at);
    }
    for (std::size_t c = 0; c < corpora; ++c) {
      double share = static_cast<double>(q[c]) / kWeightQuantum;
      for (std::uint64_t b = 0; b <= n; ++b) {
        ASSERT_LT(std::abs(static_cast<double>(prefix[c][b]) - b * share), 1.0);
        for (std::uint64_t a = 0; a < b; ++a) {
          double got = static_cast<double>(prefix[c][b] - prefix[c][a]);
          ASSERT_LT(std::abs(got - (b - a) * share), 2.0)
              << "corpus " << c << " window [" << a << ", " << b << ")";
        }
      }
    }
  }
}

}  // namespace
}  // namespace lockstep::data
