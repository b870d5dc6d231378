// Every policy and every diagnosis, on hand-made record pairs that differ in
// exactly one way.
#include "golden/compare.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/test_util.h"

namespace lockstep::golden {
namespace {

using ::lockstep::testing::Contains;

RunRecord Golden(int steps = 5) {
  RunRecord r;
  r.header.config_digest = "c0";
  r.header.manifest_digest = "m0";
  r.header.corpora = {{"prose", "p0"}, {"code", "k0"}};
  r.header.env = {{"compiler", "GCC 12.2.0"}, {"blas_core", "SkylakeX"}};
  r.header.config = {{"train", {{"lr", 0.003}}}};
  for (int s = 1; s <= steps; ++s) {
    StepRow row;
    row.step = s;
    row.metrics["loss"] = MetricValue::Float(static_cast<float>(5.5 - 0.1 * s));
    row.metrics["grad_norm"] = MetricValue::Float(static_cast<float>(2.0 / s));
    row.metrics["batch_digest"] = MetricValue::Text("b" + std::to_string(s));
    row.metrics["param_digest"] = MetricValue::Text("p" + std::to_string(s));
    row.metrics["mem_peak_bytes"] = MetricValue::Int(7000000);
    row.metrics["rss_peak_bytes"] = MetricValue::Int(20000000);
    row.metrics["step_ms"] = MetricValue::Float(30.0 + s, false);
    r.steps.push_back(row);
  }
  return r;
}

float NextFloat(float v, int ulps) {
  for (int i = 0; i < ulps; ++i) v = std::nextafter(v, 100.0f);
  return v;
}

TEST(CompareTest, IdenticalRunsPassAndIgnoredMetricsMayDiffer) {
  RunRecord g = Golden(), r = Golden();
  r.steps[2].metrics["step_ms"] = MetricValue::Float(999, false);     // ignored by default
  r.steps[2].metrics["rss_peak_bytes"] = MetricValue::Int(24000000);  // within rtol 0.25
  r.header.env["blas_core"] = "Haswell";
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kPass);
  EXPECT_EQ(c.steps_compared, 5);
  EXPECT_TRUE(Contains(c.summary, "bit-exact over 5 steps"));
  ASSERT_EQ(c.env_diff.size(), 1u);  // explains, does not fail
  EXPECT_EQ(c.env_diff[0], "blas_core: SkylakeX -> Haswell");
  r.steps[2].metrics["rss_peak_bytes"] = MetricValue::Int(26000000);  // 30% over
  Comparison rss = Compare(g, r, {});
  EXPECT_EQ(rss.diagnosis, Diagnosis::kMemory);
  EXPECT_TRUE(Contains(rss.summary, "peak RSS grew by"));
}

TEST(CompareTest, NumericsSaysByHowManyUlps) {
  RunRecord g = Golden(), r = Golden();
  r.steps[3].metrics["loss"] =
      MetricValue::Float(NextFloat(static_cast<float>(g.steps[3].metrics["loss"].f), 3));
  r.steps[4].metrics["loss"] = MetricValue::Float(0);  // later steps do not matter
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kNumerics);
  EXPECT_EQ(c.first_divergent_step, 4);
  EXPECT_TRUE(Contains(c.summary, "diverged at step 4: same batch, loss differs by 3 ULPs"));
  ASSERT_EQ(c.diffs.size(), 1u);
  EXPECT_EQ(c.diffs[0].ulps, 3);
  // The same pair passes under an ulps policy of 3, not of 2; and a tolerance.
  Policies loose;
  loose.per_metric["loss"] = UlpsPolicy(3);
  r.steps[4].metrics["loss"] = g.steps[4].metrics["loss"];
  EXPECT_EQ(Compare(g, r, loose).diagnosis, Diagnosis::kPass);
  loose.per_metric["loss"] = UlpsPolicy(2);
  EXPECT_EQ(Compare(g, r, loose).diagnosis, Diagnosis::kNumerics);
  loose.per_metric["loss"] = TolerancePolicy(1e-6, 0);
  EXPECT_EQ(Compare(g, r, loose).diagnosis, Diagnosis::kPass);
  loose.per_metric["loss"] = IgnorePolicy();
  EXPECT_EQ(Compare(g, r, loose).diagnosis, Diagnosis::kPass);
}

TEST(CompareTest, DataWhenTheBatchDiffersNamingChangedCorpora) {
  RunRecord g = Golden(), r = Golden();
  r.steps[1].metrics["batch_digest"] = MetricValue::Text("other");
  r.steps[1].metrics["loss"] =
      MetricValue::Float(1.0f);  // consequences do not confuse the diagnosis
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kData);
  EXPECT_EQ(c.first_divergent_step, 2);
  EXPECT_TRUE(Contains(c.detail, "Same manifest"));
  r.header.manifest_digest = "m1";
  r.header.corpora["code"] = "k1";
  c = Compare(g, r, {});
  EXPECT_TRUE(Contains(c.detail, "manifest changed (digest m0 -> m1); changed corpora: code"));
}

TEST(CompareTest, StateWhenOnlyTheParametersDiffer) {
  RunRecord g = Golden(), r = Golden();
  r.steps[2].metrics["param_digest"] = MetricValue::Text("x");
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kState);
  EXPECT_EQ(c.first_divergent_step, 3);
}

TEST(CompareTest, NumericsWhenTheGradientsZerosDifferUnderTheSameNorm) {
  RunRecord g = Golden(), r = Golden();
  for (StepRow& row : g.steps) row.metrics["grad_zeros"] = MetricValue::Int(12);
  r = g;
  r.steps[3].metrics["grad_zeros"] = MetricValue::Int(13);
  r.steps[3].metrics["param_digest"] = MetricValue::Text("x");  // follows from it
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kNumerics);
  EXPECT_EQ(c.first_divergent_step, 4);
  EXPECT_TRUE(
      Contains(c.summary, "but grad_zeros 13 instead of 12: the gradient differs (numerics)"));
  ASSERT_EQ(c.diffs.size(), 2u);
  EXPECT_EQ(c.diffs.front().metric, "grad_zeros") << "the telling metric is listed first";
}

TEST(CompareTest, DiffsListTheTellingMetricFirst) {
  RunRecord g = Golden(), r = Golden();
  r.steps[0].metrics["rss_peak_bytes"] = MetricValue::Int(90000000);
  r.steps[0].metrics["param_digest"] = MetricValue::Text("x");
  r.steps[0].metrics["loss"] = MetricValue::Float(1.0f);
  r.steps[0].metrics["batch_digest"] = MetricValue::Text("y");
  Comparison c = Compare(g, r, {});
  ASSERT_EQ(c.diffs.size(), 4u);
  EXPECT_EQ(c.diffs[0].metric, "batch_digest");
  EXPECT_EQ(c.diffs[1].metric, "loss");
  EXPECT_EQ(c.diffs[2].metric, "param_digest");
  EXPECT_EQ(c.diffs[3].metric, "rss_peak_bytes");
}

TEST(CompareTest, NumericsWhenOnlyTheParametersDifferAfterTheFirstUpdate) {
  // No optimizer state exists before step 1: the backward pass or the update moved.
  RunRecord g = Golden(), r = Golden();
  r.steps[0].metrics["param_digest"] = MetricValue::Text("x");
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kNumerics);
  EXPECT_EQ(c.first_divergent_step, 1);
  EXPECT_TRUE(Contains(c.summary, "parameters differ after the first update (numerics)"));
  EXPECT_TRUE(Contains(c.detail, "bisect steps"));
}

TEST(CompareTest, MemorySaysByHowMuch) {
  RunRecord g = Golden(), r = Golden();
  r.steps[0].metrics["mem_peak_bytes"] = MetricValue::Int(7000000 + 2 * 1024 * 1024);
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kMemory);
  EXPECT_TRUE(Contains(c.summary, "grew by 2.0 MiB"));
}

TEST(CompareTest, CrashWhenTheRunStopsEarlyOrRecordsNonFiniteValues) {
  RunRecord g = Golden(), r = Golden(3);
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kCrash);
  EXPECT_EQ(c.first_divergent_step, 4);
  EXPECT_TRUE(Contains(c.detail, "Last finished step: 3"));
  r = Golden();
  r.steps[1].metrics["status"] = MetricValue::Text("nonfinite");
  r.steps[1].metrics["cause"] = MetricValue::Text("loss is nan");
  c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kCrash);
  EXPECT_TRUE(Contains(c.summary, "crash at step 2: loss is nan"));
}

// A golden that covers other steps than the run does not pass them unchecked.
TEST(CompareTest, StepsNumberedDifferentlyOrBeyondTheGoldenAreNotCompared) {
  RunRecord g = Golden(3), r = Golden(5);
  Comparison longer = Compare(g, r, {});
  EXPECT_EQ(longer.diagnosis, Diagnosis::kConfig);
  EXPECT_TRUE(Contains(longer.summary, "the run has 5 steps, the golden only 3"));
  RunRecord renumbered = Golden(3);
  renumbered.steps[1].step = 20;
  renumbered.steps[2].step = 30;
  Comparison other = Compare(g, renumbered, {});
  EXPECT_EQ(other.diagnosis, Diagnosis::kConfig);
  EXPECT_TRUE(Contains(other.summary, "the run's step 20 stands where the golden has step 2"));
  RunRecord empty;
  EXPECT_EQ(Compare(empty, empty, {}).diagnosis, Diagnosis::kConfig);
}

// A golden step that lacks a metric the run records is a difference, not a pass.
TEST(CompareTest, AMetricTheGoldenLacksIsADifference) {
  RunRecord g = Golden(3), r = Golden(3);
  g.steps[1].metrics.erase("grad_norm");
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kNumerics);
  EXPECT_EQ(c.first_divergent_step, 2);
}

// A rounded decimal without a batch digest: the batch was not checked, and
// the distance is a decimal one.
TEST(CompareTest, TextLogsWithoutABatchDigestAreDataOrNumerics) {
  RunRecord g = Golden(3), r = Golden(3);
  for (RunRecord* x : {&g, &r}) {
    for (StepRow& row : x->steps) {
      row.metrics.erase("batch_digest");
      row.metrics["loss"].exact = false;
      row.metrics["grad_norm"].exact = false;
    }
  }
  r.steps[1].metrics["loss"].f += 2e-5;
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kDataOrNumerics);
  EXPECT_TRUE(Contains(c.summary, "loss differs by 2e-05 (relative"));
  EXPECT_TRUE(Contains(c.summary, "data or numerics: this log has no batch digest"));
  EXPECT_FALSE(c.ulps_measured);
  EXPECT_FALSE(c.diffs.front().ulps.has_value());
  EXPECT_FALSE(Contains(c.detail, "bisect steps"));
}

// A non-finite loss from any log is a crash, never a distance in ULPs.
TEST(CompareTest, NonFiniteLossInALogIsACrashNotUlps) {
  RunRecord g = Golden(3), r = Golden(3);
  r.steps[1].metrics["loss"] = MetricValue::Float(std::nan(""), false);
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kCrash);
  EXPECT_TRUE(Contains(c.summary, "crash at step 2: loss is nan"));
}

TEST(CompareTest, ConfigRefusesToCompareAndNamesTheKeys) {
  RunRecord g = Golden(), r = Golden();
  r.header.config_digest = "c1";
  r.header.config["train"]["lr"] = 0.01;
  r.steps[0].metrics["loss"] = MetricValue::Float(0);
  Comparison c = Compare(g, r, {});
  EXPECT_EQ(c.diagnosis, Diagnosis::kConfig);
  EXPECT_EQ(c.steps_compared, 0);
  ASSERT_EQ(c.config_diff.size(), 1u);
  EXPECT_EQ(c.config_diff[0], "train.lr: 0.003 -> 0.01");
}

TEST(CompareTest, UlpDistanceCountsFloatsThenDoubles) {
  EXPECT_EQ(UlpDistance(1.0, 1.0), 0);
  EXPECT_EQ(UlpDistance(1.0f, NextFloat(1.0f, 1)), 1);
  EXPECT_EQ(UlpDistance(0.0, -0.0), 0);
  EXPECT_EQ(UlpDistance(-0x1p-149, 0x1p-149), 2);            // across zero
  EXPECT_EQ(UlpDistance(1.0, std::nextafter(1.0, 2.0)), 1);  // not a float: double ULPs
}

}  // namespace
}  // namespace lockstep::golden
