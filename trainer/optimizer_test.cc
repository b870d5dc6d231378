#include "trainer/optimizer.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/counter_rng.h"
#include "trainer/bf16.h"

namespace lockstep::trainer {
namespace {

TEST(CountZerosTest, CountsPlusAndMinusZeroOnly) {
  std::vector<float> x(3 * kNormChunk + 5, 1.0f);
  // Zeros in several chunks, at both ends; near-zeros and NaN do not count.
  const std::size_t zeros[] = {0, 17, kNormChunk - 1, kNormChunk, 2 * kNormChunk + 3, x.size() - 1};
  for (std::size_t i : zeros) x[i] = 0.0f;
  x[5] = -0.0f;
  x[6] = std::numeric_limits<float>::denorm_min();
  x[7] = -std::numeric_limits<float>::denorm_min();
  x[8] = std::numeric_limits<float>::quiet_NaN();
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    EXPECT_EQ(CountZeros(pool, x.data(), x.size()), std::size(zeros) + 1) << threads << " threads";
    EXPECT_EQ(CountZeros(pool, x.data(), 0), 0u);
    EXPECT_EQ(CountZeros(pool, x.data() + 5, 1), 1u);  // -0 alone
  }
}

// A small model's worth of tensors: a matrix spanning several chunks, a
// zero-initialised bias, an empty tensor (RMSNorm has no norm bias) and a
// norm weight at 1.0.
struct Case {
  std::vector<ParamTensor> tensors;
  std::vector<float> params, grads;
};

Case MakeCase() {
  Case c;
  std::size_t offset = 0;
  auto add = [&](const char* name, std::size_t size, bool decay) {
    c.tensors.push_back({name, offset, size, decay});
    offset += size;
  };
  add("w", 2 * kNormChunk + 1000, true);
  add("b", 300, false);
  add("lnb", 0, false);
  add("lnw", 64, false);
  c.params.assign(offset, 0.0f);
  c.grads.assign(offset, 0.0f);
  CounterRng rng(3, "test/adamw");
  for (std::size_t i = 0; i < offset; ++i) {
    c.grads[i] = static_cast<float>(static_cast<double>(rng.Below(i, 2001)) / 1000.0 - 1.0) * 0.01f;
  }
  const ParamTensor& w = c.tensors[0];
  for (std::size_t i = 0; i < w.size; ++i) c.params[w.offset + i] = RoundToBf16(c.grads[i] * 7.0f);
  const ParamTensor& b = c.tensors[1];
  for (std::size_t i = 0; i < b.size; i += 3) c.grads[b.offset + i] = 0.0f;  // these stay at 0
  const ParamTensor& lnw = c.tensors[3];
  for (std::size_t i = 0; i < lnw.size; ++i) c.params[lnw.offset + i] = 1.0f;
  return c;
}

std::uint64_t ChangedBits(const float* before, const float* after, std::size_t n) {
  std::uint64_t changed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    changed += std::bit_cast<std::uint32_t>(before[i]) != std::bit_cast<std::uint32_t>(after[i]);
  }
  return changed;
}

// Two steps of AdamW on MakeCase; returns the parameters after them and the
// statistics of each step.
std::vector<float> RunSteps(int threads, Precision master,
                            std::vector<std::vector<TensorUpdate>>* stats, bool with_stats = true) {
  Case c = MakeCase();
  MemoryTracker tracker;
  ThreadPool pool(threads);
  AdamW adamw(c.params.size(), tracker);
  TrainConfig config;
  config.master = master;
  for (int step = 1; step <= 2; ++step) {
    const std::vector<float> before = c.params;
    std::vector<TensorUpdate> updates;
    adamw.Step(pool, c.tensors, c.params.data(), c.grads.data(), 1e-3f, config, step,
               with_stats ? &updates : nullptr);
    if (!with_stats) continue;
    EXPECT_EQ(updates.size(), c.tensors.size());
    for (std::size_t t = 0; t < c.tensors.size(); ++t) {
      const ParamTensor& pt = c.tensors[t];
      EXPECT_EQ(updates[t].changed,
                ChangedBits(before.data() + pt.offset, c.params.data() + pt.offset, pt.size))
          << pt.name << " step " << step;
      double sq = 0;
      for (std::size_t i = 0; i < pt.size; ++i)
        sq += double(c.params[pt.offset + i]) * c.params[pt.offset + i];
      const double rms = pt.size == 0 ? 0.0 : std::sqrt(sq / double(pt.size));
      EXPECT_NEAR(updates[t].value_rms, rms, 1e-12 * rms) << pt.name;
    }
    if (stats != nullptr) stats->push_back(updates);
  }
  return c.params;
}

// Elements of `t` with a non-zero gradient: AdamW moves exactly those (a
// zero gradient gives m = 0, and the tensors at 0 have nothing to decay).
std::uint64_t NonZeroGrads(const Case& c, const ParamTensor& t) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < t.size; ++i) n += c.grads[t.offset + i] != 0.0f;
  return n;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(AdamWTest, UpdateStatisticsMatchTheParametersAndAnyThreadCount) {
  for (Precision master : {Precision::kFp32, Precision::kBf16}) {
    std::vector<std::vector<TensorUpdate>> one, two;
    const std::vector<float> p1 = RunSteps(1, master, &one);
    const std::vector<float> p2 = RunSteps(2, master, &two);
    EXPECT_TRUE(SameBits(p1, p2));
    ASSERT_EQ(one.size(), two.size());
    for (std::size_t s = 0; s < one.size(); ++s) {
      for (std::size_t t = 0; t < one[s].size(); ++t) {
        EXPECT_EQ(one[s][t].changed, two[s][t].changed);
        EXPECT_EQ(std::bit_cast<std::uint64_t>(one[s][t].value_rms),
                  std::bit_cast<std::uint64_t>(two[s][t].value_rms));
        EXPECT_EQ(std::bit_cast<std::uint64_t>(one[s][t].update_rms),
                  std::bit_cast<std::uint64_t>(two[s][t].update_rms));
      }
    }
    // Statistics are only read: the parameters are the same without them.
    EXPECT_TRUE(SameBits(p1, RunSteps(2, master, nullptr, false)));
  }
}

TEST(AdamWTest, Bf16MasterSwallowsSmallUpdatesOfUnitNormWeights) {
  std::vector<std::vector<TensorUpdate>> fp32, bf16;
  const std::vector<float> p_fp32 = RunSteps(1, Precision::kFp32, &fp32);
  const std::vector<float> p_bf16 = RunSteps(1, Precision::kBf16, &bf16);
  const Case c = MakeCase();
  const ParamTensor &w = c.tensors[0], &lnw = c.tensors[3];
  ASSERT_GT(NonZeroGrads(c, lnw), lnw.size / 2);
  for (std::size_t s = 0; s < 2; ++s) {
    // Steps 1 and 2 see the same gradient, so |mhat| / sqrt(vhat) is 1 (or 0
    // for a zero gradient): AdamW asks for lr = 1e-3 per element, under half
    // of bf16's spacing just below 1.0 (2^-8 / 2 = 2e-3).
    EXPECT_NEAR(bf16[s][3].update_rms, 1e-3, 1e-4);
    EXPECT_EQ(bf16[s][3].changed, 0u);
    EXPECT_EQ(bf16[s][3].value_rms, 1.0);
    EXPECT_EQ(fp32[s][3].changed, NonZeroGrads(c, lnw));
    EXPECT_NE(fp32[s][3].value_rms, 1.0);
    // No decay on norm weights: the update does not depend on the value.
    EXPECT_EQ(fp32[s][3].update_rms, bf16[s][3].update_rms);
    // The matrix (|values| < 0.125, bf16 spacing <= 2^-11) learns in both.
    EXPECT_EQ(bf16[s][0].changed, NonZeroGrads(c, w));
    EXPECT_EQ(fp32[s][0].changed, NonZeroGrads(c, w));
    // The empty tensor reports zeros, not NaN.
    EXPECT_EQ(bf16[s][2].changed, 0u);
    EXPECT_EQ(bf16[s][2].value_rms, 0.0);
    EXPECT_EQ(bf16[s][2].update_rms, 0.0);
  }
  for (std::size_t i = 0; i < lnw.size; ++i) EXPECT_EQ(p_bf16[lnw.offset + i], 1.0f);
  for (float p : p_bf16) ASSERT_TRUE(IsBf16(p)) << p;
  // A zero-initialised tensor without decay, in fp32: its values after the
  // first step are exactly minus the updates, and zero gradients leave zeros.
  const ParamTensor& b = c.tensors[1];
  EXPECT_EQ(fp32[0][1].value_rms, fp32[0][1].update_rms);
  EXPECT_EQ(fp32[0][1].changed, NonZeroGrads(c, b));
  EXPECT_LE(NonZeroGrads(c, b), b.size - (b.size + 2) / 3);
}

}  // namespace
}  // namespace lockstep::trainer
