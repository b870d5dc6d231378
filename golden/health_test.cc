// Each health check on a healthy synthetic run and on one crafted to trip it
// in exactly one way; policies, n/a, and the record-stream fields they read.
#include "golden/health.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/hexfloat.h"
#include "core/test_util.h"

namespace lockstep::golden {
namespace {

using ::lockstep::testing::Contains;

const double kLnVocab = std::log(257.0);

// A run that learns: loss from about ln(257) down by a third, smooth
// grad_norm, no frozen tensor, an evaluation every 10 steps.
RunRecord Healthy(int steps = 40) {
  RunRecord r;
  r.header.config = {{"model", {{"vocab_size", 257}, {"n_layer", 2}}}};
  for (int s = 1; s <= steps; ++s) {
    StepRow row;
    row.step = s;
    row.metrics["loss"] =
        MetricValue::Float(static_cast<float>(kLnVocab * (1.0 - 0.33 * (s - 1) / steps)));
    row.metrics["grad_norm"] = MetricValue::Float(static_cast<float>(1.0 + 0.1 * std::sin(s)));
    row.metrics["grad_zeros"] = MetricValue::Int(static_cast<std::uint64_t>(s % 3));
    row.metrics["params_unchanged"] = MetricValue::Text("");
    row.metrics["batch_mix"] = MetricValue::Text("prose:3 arithmetic:3 code:2");
    if (s % 10 == 0) {
      row.metrics["eval_loss"] = MetricValue::Float(static_cast<float>(5.5 - 0.05 * s));
      row.metrics["eval_loss_prose"] = MetricValue::Float(static_cast<float>(5.4 - 0.05 * s));
      row.metrics["eval_acc_arithmetic"] = MetricValue::Float(static_cast<float>(0.0025 * s));
    }
    r.steps.push_back(row);
  }
  return r;
}

// `names` unchanged at steps [first, last], each with value_rms 1.0 and
// update_rms 2^-11 = 4.9e-4 (below half a bf16 ULP at 1.0, above fp32's),
// 2^-9 at the first step: an outlier the median ignores.
void Freeze(RunRecord& r, const std::string& names, std::int64_t first, std::int64_t last) {
  for (StepRow& row : r.steps) {
    if (row.step < first || row.step > last) continue;
    std::string& text = row.metrics["params_unchanged"].s;
    text += (text.empty() ? "" : " ") + names;
    for (const std::string& n :
         {std::string("h.0.ln1w"), std::string("h.1.ln1w"), std::string("wte")}) {
      if (names.find(n) == std::string::npos) continue;
      row.detail["unchanged_detail"][n] = {
          {"value_rms", HexFloat(1.0)},
          {"update_rms", HexFloat(row.step == first ? 0x1p-9 : 0x1p-11)}};
    }
  }
}

bool Failed(const CheckResult& r) {
  return r.outcome == CheckOutcome::kFail;
}

std::string Text(const CheckResult& r) {
  std::string s = r.summary;
  for (const auto& d : r.detail) s += "\n" + d;
  return s;
}

// ---- frozen ----

TEST(FrozenCheckTest, TripsAtKConsecutiveUnchangedStepsNotAtKMinusOne) {
  RunRecord k = Healthy();
  Freeze(k, "h.0.ln1w", 3, 7);  // 5 steps: K = 5
  CheckResult r = CheckFrozen(k, FrozenOptions{});
  EXPECT_TRUE(Failed(r)) << Text(r);
  ASSERT_EQ(r.detail.size(), 1u) << Text(r);
  // 1.0: bf16 ULP 2^-7, fp32 ULP 2^-23; the median update 2^-11 sits below 2^-8.
  EXPECT_EQ(r.detail[0],
            "h.0.ln1w unchanged for steps 3-7: values ~1.0 (bf16 ULP 7.8e-3, fp32 ULP 1.2e-7), "
            "updates ~4.9e-4 < bf16 ULP/2");
  EXPECT_TRUE(Contains(r.summary, "1 tensor unchanged for 5 or more consecutive steps: h.0.ln1w"));
  EXPECT_TRUE(Contains(r.summary, "max grad_zeros 2"));

  RunRecord k1 = Healthy();
  Freeze(k1, "h.0.ln1w", 3, 6);  // 4 steps
  r = CheckFrozen(k1, FrozenOptions{});
  EXPECT_EQ(r.outcome, CheckOutcome::kPass) << Text(r);
  EXPECT_TRUE(Contains(r.summary, "no tensor unchanged for 5 consecutive steps; max grad_zeros 2"));
  FrozenOptions four;
  four.steps = 4;
  EXPECT_TRUE(Failed(CheckFrozen(k1, four)));
}

TEST(FrozenCheckTest, AGapOrAMissingStepBreaksTheStreak) {
  RunRecord r = Healthy();
  Freeze(r, "wte", 1, 4);
  Freeze(r, "wte", 6, 9);  // step 5 moved it
  EXPECT_EQ(CheckFrozen(r, FrozenOptions{}).outcome, CheckOutcome::kPass);
  RunRecord holes = Healthy();
  Freeze(holes, "wte", 1, 8);
  holes.steps.erase(holes.steps.begin() +
                    4);  // step 5 not recorded: 1-4 and 6-8 are not consecutive
  EXPECT_EQ(CheckFrozen(holes, FrozenOptions{}).outcome, CheckOutcome::kPass);
}

TEST(FrozenCheckTest, TensorsWithTheSameRangeAndScaleShareALine) {
  RunRecord r = Healthy();
  Freeze(r, "h.0.ln1w h.1.ln1w", 1, 40);
  Freeze(r, "wte", 11, 20);
  CheckResult c = CheckFrozen(r, FrozenOptions{});
  ASSERT_TRUE(Failed(c));
  ASSERT_EQ(c.detail.size(), 2u) << Text(c);
  EXPECT_TRUE(Contains(c.detail[0], "h.0.ln1w, h.1.ln1w unchanged for steps 1-40: values ~1.0"));
  EXPECT_TRUE(Contains(c.detail[1], "wte unchanged for steps 11-20"));
  EXPECT_TRUE(Contains(c.summary, "3 tensors"));
}

TEST(FrozenCheckTest, UpdatesOfZeroOrAboveTheUlpSaySo) {
  RunRecord r = Healthy(10);
  for (StepRow& row : r.steps) {
    row.metrics["params_unchanged"].s = "a b";
    row.detail["unchanged_detail"]["a"] = {{"value_rms", "0x1p+0"}, {"update_rms", "0x0p+0"}};
    row.detail["unchanged_detail"]["b"] = {{"value_rms", "0x1p+0"}, {"update_rms", "0x1p-4"}};
  }
  CheckResult c = CheckFrozen(r, FrozenOptions{});
  ASSERT_EQ(c.detail.size(), 2u) << Text(c);
  EXPECT_TRUE(
      Contains(c.detail[0],
               "a unchanged for steps 1-10: values ~1.0 (bf16 ULP 7.8e-3, fp32 ULP 1.2e-7), "
               "updates 0: the optimizer does not move it"));
  EXPECT_TRUE(Contains(c.detail[1], "updates ~6.2e-2, above ULP/2: computed but not applied"));
}

TEST(FrozenCheckTest, PoliciesAndNotApplicable) {
  RunRecord r = Healthy();
  Freeze(r, "h.0.ln1w", 1, 40);
  FrozenOptions o;
  o.policy = CheckPolicy::kWarn;
  EXPECT_EQ(CheckFrozen(r, o).outcome, CheckOutcome::kWarn);
  o.policy = CheckPolicy::kOff;
  EXPECT_EQ(CheckFrozen(r, o).outcome, CheckOutcome::kOff);
  RunRecord external = Healthy();
  for (StepRow& row : external.steps) row.metrics.erase("params_unchanged");
  CheckResult c = CheckFrozen(external, FrozenOptions{});
  EXPECT_EQ(c.outcome, CheckOutcome::kNotApplicable);
  EXPECT_TRUE(Contains(c.summary, "max grad_zeros 2")) << "grad_zeros is reported as information";
}

// ---- loss_scale ----

TEST(LossScaleCheckTest, StepOneLossNearLnVocabPassesAndDividedByWorldSizeFails) {
  CheckResult ok = CheckLossScale(Healthy(), LossScaleOptions{});
  EXPECT_EQ(ok.outcome, CheckOutcome::kPass) << Text(ok);
  EXPECT_TRUE(Contains(ok.summary, "x ln(257), within [0.75, 1.5]"));

  RunRecord bad = Healthy();
  bad.steps[0].metrics["loss"] = MetricValue::Float(static_cast<float>(kLnVocab / 12));
  CheckResult c = CheckLossScale(bad, LossScaleOptions{});
  EXPECT_TRUE(Failed(c)) << Text(c);
  EXPECT_TRUE(Contains(c.summary, "outside [0.75, 1.5] x ln(257)"));
  ASSERT_EQ(c.detail.size(), 1u);
  EXPECT_TRUE(Contains(c.detail[0], "data-parallel world size (12 ranks)"));

  bad.steps[0].metrics["loss"] = MetricValue::Float(static_cast<float>(kLnVocab * 4));
  c = CheckLossScale(bad, LossScaleOptions{});
  EXPECT_TRUE(Failed(c));
  EXPECT_TRUE(Contains(Text(c), "about 4 x ln(257): a loss summed"));
}

TEST(LossScaleCheckTest, BandAndVocabAreConfigurable) {
  RunRecord r = Healthy();
  r.steps[0].metrics["loss"] = MetricValue::Float(0.7 * kLnVocab);
  EXPECT_TRUE(Failed(CheckLossScale(r, LossScaleOptions{})));
  LossScaleOptions wide;
  wide.band_low = 0.5;
  EXPECT_EQ(CheckLossScale(r, wide).outcome, CheckOutcome::kPass);
  // The case's vocab_size wins over the header: ln(50257) makes 3.9 too small.
  LossScaleOptions gpt2;
  gpt2.vocab_size = 50257;
  EXPECT_TRUE(Failed(CheckLossScale(Healthy(), gpt2)));
}

TEST(LossScaleCheckTest, NotApplicableWithoutVocabOrStepOne) {
  RunRecord external = Healthy();
  external.header.config = nlohmann::json::object();
  CheckResult c = CheckLossScale(external, LossScaleOptions{});
  EXPECT_EQ(c.outcome, CheckOutcome::kNotApplicable);
  EXPECT_TRUE(Contains(c.summary, "vocab_size"));
  RunRecord resumed = Healthy();
  resumed.steps.erase(resumed.steps.begin());
  resumed.steps[0].metrics["loss"] = MetricValue::Float(0.1);
  c = CheckLossScale(resumed, LossScaleOptions{});
  EXPECT_EQ(c.outcome, CheckOutcome::kNotApplicable);
  EXPECT_TRUE(Contains(c.summary, "first recorded step is 2"));
}

TEST(LossScaleCheckTest, SameLossAsAnotherGoldenIsBitwise) {
  RunRecord one_rank = Healthy();
  LossScaleOptions o;
  o.same_loss_as = "golden/cases/tiny.toml";
  RunRecord run = Healthy();
  CheckResult c = CheckLossScale(run, o, &one_rank);
  EXPECT_EQ(c.outcome, CheckOutcome::kPass) << Text(c);
  EXPECT_TRUE(
      Contains(c.summary, "loss bitwise equal to golden/cases/tiny.toml at all 40 common steps"));

  const float l3 = static_cast<float>(run.steps[2].metrics["loss"].f);
  run.steps[2].metrics["loss"] = MetricValue::Float(std::nextafter(l3, 0.0f));
  c = CheckLossScale(run, o, &one_rank);
  EXPECT_TRUE(Failed(c)) << Text(c);
  EXPECT_TRUE(Contains(c.summary, "differs from golden/cases/tiny.toml at 1 of 40 common steps"));
  EXPECT_TRUE(Contains(Text(c), "first difference at step 3"));
  EXPECT_TRUE(Contains(Text(c), ": 1 ULPs"));

  // Judged on the reference alone when the band cannot be.
  RunRecord later = Healthy();
  later.steps.erase(later.steps.begin(), later.steps.begin() + 5);
  EXPECT_EQ(CheckLossScale(later, o, &one_rank).outcome, CheckOutcome::kPass);
  RunRecord disjoint;
  disjoint.steps.push_back(later.steps[0]);
  disjoint.steps[0].step = 99;
  EXPECT_TRUE(Failed(CheckLossScale(disjoint, o, &one_rank)));
}

TEST(LossScaleCheckTest, Policies) {
  RunRecord bad = Healthy();
  bad.steps[0].metrics["loss"] = MetricValue::Float(kLnVocab / 4);
  LossScaleOptions o;
  o.policy = CheckPolicy::kWarn;
  EXPECT_EQ(CheckLossScale(bad, o).outcome, CheckOutcome::kWarn);
  o.policy = CheckPolicy::kOff;
  EXPECT_EQ(CheckLossScale(bad, o).outcome, CheckOutcome::kOff);
}

// ---- spike ----

TEST(SpikeCheckTest, ATenfoldLossSpikeIsFlaggedWithItsBatch) {
  EXPECT_EQ(CheckSpike(Healthy(), SpikeOptions{}).outcome, CheckOutcome::kPass);
  RunRecord r = Healthy();
  r.steps[19].metrics["loss"] = MetricValue::Float(r.steps[19].metrics["loss"].f * 10);
  r.steps[19].metrics["batch_mix"] = MetricValue::Text("code:8");
  CheckResult c = CheckSpike(r, SpikeOptions{});
  ASSERT_TRUE(Failed(c)) << Text(c);
  ASSERT_EQ(c.detail.size(), 1u) << Text(c);
  EXPECT_TRUE(Contains(c.detail[0], "step 20: loss"));
  EXPECT_TRUE(Contains(c.detail[0], "of steps 10-19; batch code:8"));
  EXPECT_TRUE(Contains(c.summary, "1 spike above 3 x the median of the previous 10 steps"));
  // The spike sits inside later windows too, but a median ignores one outlier.
  SpikeOptions warn;
  warn.policy = CheckPolicy::kWarn;
  EXPECT_EQ(CheckSpike(r, warn).outcome, CheckOutcome::kWarn);
  SpikeOptions lenient;
  lenient.factor = 11;
  EXPECT_EQ(CheckSpike(r, lenient).outcome, CheckOutcome::kPass);
}

TEST(SpikeCheckTest, GradNormToo) {
  RunRecord r = Healthy();
  r.steps[29].metrics["grad_norm"] = MetricValue::Float(40.0);
  CheckResult c = CheckSpike(r, SpikeOptions{});
  ASSERT_TRUE(Failed(c));
  EXPECT_TRUE(Contains(c.detail[0], "step 30: grad_norm 40"));
}

TEST(SpikeCheckTest, NoJudgementBeforeMinHistory) {
  RunRecord r = Healthy();
  r.steps[4].metrics["loss"] = MetricValue::Float(100.0);  // step 5: 4 steps before it
  EXPECT_EQ(CheckSpike(r, SpikeOptions{}).outcome, CheckOutcome::kPass);
  r.steps[5].metrics["loss"] =
      MetricValue::Float(100.0);  // step 6: 5 before, median of a 100 and four ~5.5
  EXPECT_TRUE(Failed(CheckSpike(r, SpikeOptions{})));
  CheckResult c = CheckSpike(Healthy(5), SpikeOptions{});
  EXPECT_EQ(c.outcome, CheckOutcome::kNotApplicable) << Text(c);
  SpikeOptions off;
  off.policy = CheckPolicy::kOff;
  EXPECT_EQ(CheckSpike(r, off).outcome, CheckOutcome::kOff);
}

// ---- learning ----

TEST(LearningCheckTest, FallingEvalLossPassesAndFlatFails) {
  CheckResult ok = CheckLearning(Healthy(), LearningOptions{});
  EXPECT_EQ(ok.outcome, CheckOutcome::kPass) << Text(ok);
  EXPECT_TRUE(Contains(ok.summary, "eval_loss 5 (step 10) -> 3.5 (step 40), -30.0%"));
  EXPECT_TRUE(Contains(ok.summary, "acc_arithmetic 0.025 -> 0.100"));
  EXPECT_TRUE(Contains(Text(ok), "eval_loss_prose 4.9 -> 3.4"));

  RunRecord flat = Healthy();
  for (StepRow& row : flat.steps) {
    if (row.Find("eval_loss")) row.metrics["eval_loss"] = MetricValue::Float(5.0);
  }
  CheckResult c = CheckLearning(flat, LearningOptions{});
  EXPECT_TRUE(Failed(c)) << Text(c);
  EXPECT_TRUE(Contains(c.summary, "not learning"));
  LearningOptions warn;
  warn.policy = CheckPolicy::kWarn;
  EXPECT_EQ(CheckLearning(flat, warn).outcome, CheckOutcome::kWarn);
}

TEST(LearningCheckTest, MarginAndNotApplicable) {
  RunRecord r = Healthy();
  r.steps[39].metrics["eval_loss"] = MetricValue::Float(5.0 * 0.97);  // 3% below step 10
  EXPECT_TRUE(Failed(CheckLearning(r, LearningOptions{})));
  LearningOptions small;
  small.margin = 0.02;
  EXPECT_EQ(CheckLearning(r, small).outcome, CheckOutcome::kPass);
  CheckResult c = CheckLearning(Healthy(19), LearningOptions{});
  EXPECT_EQ(c.outcome, CheckOutcome::kNotApplicable);
  EXPECT_TRUE(Contains(c.summary, "1 evaluation step"));
}

// ---- all together, and the fields they read ----

TEST(HealthChecksTest, AllFourInOrderOnAHealthyRun) {
  std::vector<CheckResult> all = RunHealthChecks(Healthy(), HealthOptions{});
  ASSERT_EQ(all.size(), 4u);
  const char* names[] = {"frozen", "loss_scale", "spike", "learning"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(all[i].check, names[i]);
    EXPECT_EQ(all[i].outcome, CheckOutcome::kPass) << all[i].check << ": " << Text(all[i]);
  }
  EXPECT_STREQ(CheckOutcomeName(CheckOutcome::kNotApplicable), "n/a");
  EXPECT_EQ(ParseCheckPolicy("warn"), CheckPolicy::kWarn);
  EXPECT_EQ(ParseCheckPolicy("Warn"), std::nullopt);
}

TEST(HealthChecksTest, ShippedGoldensAreHealthy) {
  int seen = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(LOCKSTEP_SOURCE_DIR "/golden/cases")) {
    if (entry.path().extension() != ".toml") continue;
    Result<RunRecord> g = LoadGolden(entry.path().string());
    ASSERT_TRUE(g.ok()) << g.status().message();
    ++seen;
    for (const CheckResult& c : RunHealthChecks(*g, HealthOptions{})) {
      EXPECT_NE(c.outcome, CheckOutcome::kFail)
          << entry.path() << " " << c.check << ": " << Text(c);
      if (c.check == "loss_scale") {
        EXPECT_EQ(c.outcome, CheckOutcome::kPass) << Text(c);
      }
    }
  }
  EXPECT_GT(seen, 0);
}

TEST(HealthChecksTest, StepRowsKeepObjectFieldsAsDetailAndGoldensDropThem) {
  // A line as the trainer writes it (docs/design.md record stream plus the health fields).
  nlohmann::json line =
      nlohmann::json::parse(R"({"step": 3, "loss": "0x1.6p+2", "params_unchanged": "h.0.ln1w",
      "batch_mix": "prose:3 code:5", "grad_zeros": 17,
      "unchanged_detail": {"h.0.ln1w": {"value_rms": "0x1p+0", "update_rms": "0x1p-11"}}})");
  std::optional<StepRow> row = StepRowFromJson(line);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->metrics.count("unchanged_detail"), 0u);
  EXPECT_EQ(row->detail["unchanged_detail"]["h.0.ln1w"]["update_rms"], "0x1p-11");
  EXPECT_EQ(row->Find("params_unchanged")->s, "h.0.ln1w");
  EXPECT_EQ(row->Find("grad_zeros")->i, 17u);
  EXPECT_TRUE(StepRowFromJson({{"step", 1}})->detail.empty());

  RunRecord r;
  r.steps.push_back(*row);
  Result<RunRecord> back = ParseGolden(GoldenToToml(r), "g.toml");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->steps[0].detail.empty());
  EXPECT_EQ(back->steps[0].metrics, row->metrics);
}

}  // namespace
}  // namespace lockstep::golden
