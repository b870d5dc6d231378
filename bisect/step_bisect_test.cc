#include "bisect/step_bisect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/test_util.h"

namespace lockstep::bisect {
namespace {

using golden::MetricValue;
using lockstep::testing::Contains;
using lockstep::testing::FreshTempDir;

golden::RunRecord SteadyRun(int steps) {
  golden::RunRecord r;
  for (int s = 1; s <= steps; ++s) {
    golden::StepRow row;
    row.step = s;
    row.metrics["loss"] = MetricValue::Float(static_cast<float>(5.5 - 0.1 * s));
    row.metrics["grad_norm"] = MetricValue::Float(static_cast<float>(2.0 / s));
    row.metrics["batch_digest"] = MetricValue::Text("b" + std::to_string(s));
    row.metrics["param_digest"] = MetricValue::Text("p" + std::to_string(s));
    row.metrics["step_ms"] = MetricValue::Float(10.0 + s);
    r.steps.push_back(row);
  }
  return r;
}

TEST(FirstDivergentStepTest, NoneWhenEveryCommonStepAgrees) {
  golden::RunRecord a = SteadyRun(10), b = SteadyRun(6);
  b.steps[2].metrics["step_ms"] = MetricValue::Float(99);  // timing is not a divergence
  EXPECT_FALSE(FirstDivergentStep(a, b, nullptr).has_value());
}

TEST(FirstDivergentStepTest, NamesTheStepAndTheValues) {
  golden::RunRecord a = SteadyRun(10), b = SteadyRun(10);
  b.steps[6].metrics["param_digest"] = MetricValue::Text("other");
  b.steps[3].metrics["grad_norm"] = MetricValue::Float(std::nextafter(0.5f, 1.0f));
  std::string what;
  ASSERT_EQ(FirstDivergentStep(a, b, &what), 4);
  EXPECT_TRUE(Contains(what, "grad_norm"));
  EXPECT_FALSE(Contains(what, "loss"));
}

trainer::TracedTensor Tensor(std::string phase, int mb, std::string name, std::vector<float> v) {
  trainer::TracedTensor t;
  t.phase = std::move(phase);
  t.micro_batch = mb;
  t.name = std::move(name);
  t.count = v.size();
  t.values = std::move(v);
  t.digest = 0;
  for (float x : t.values) t.digest = t.digest * 1000003u + std::bit_cast<std::uint32_t>(x);
  return t;
}

TEST(FirstDivergentTensorTest, FirstDifferingTensorWithIndexAndSize) {
  std::vector<trainer::TracedTensor> a = {
      Tensor("forward", 0, "encoded", {1, 2, 3}), Tensor("forward", 0, "h.0.ln1", {4, 5, 6}),
      Tensor("backward", 0, "h.0.fcb.grad", {1, 1, 1, 1}),
      Tensor("backward", 0, "wte.grad", {7, 8}), Tensor("update", -1, "wte", {9, 9})};
  std::vector<trainer::TracedTensor> b = a;
  b[2] = Tensor("backward", 0, "h.0.fcb.grad", {1, 1, 1.5f, 0.75f});
  b[4] = Tensor("update", -1, "wte", {9, 10});
  std::size_t before = 0;
  std::vector<TensorDiff> d = FirstDivergentTensor(a, b, &before);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(before, 2u);
  EXPECT_EQ(d[0].name, "h.0.fcb.grad");
  EXPECT_EQ(d[0].differing, 2u);
  EXPECT_EQ(d[0].first_index, 2u);
  EXPECT_DOUBLE_EQ(d[0].max_abs_diff, 0.5);
  EXPECT_DOUBLE_EQ(d[0].rel_diff, std::sqrt((0.25 + 0.0625) / 4.0));
  EXPECT_EQ(d[1].name, "wte");  // the identical wte.grad in between is not listed
  EXPECT_EQ(d[1].phase, "update");
}

TEST(FirstDivergentTensorTest, TensorsOnlyOneSideHasAreSkipped) {
  // B ran micro-batch 1 on another rank whose trace is missing: not a divergence.
  std::vector<trainer::TracedTensor> a = {Tensor("forward", 0, "x", {1}),
                                          Tensor("forward", 1, "x", {2})};
  std::vector<trainer::TracedTensor> b = {Tensor("forward", 0, "x", {1})};
  EXPECT_TRUE(FirstDivergentTensor(a, b, nullptr).empty());
  std::vector<trainer::TracedTensor> c = {Tensor("forward", 0, "x", {1, 1})};
  std::vector<TensorDiff> d = FirstDivergentTensor(a, c, nullptr);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].shape_differs);
}

std::vector<trainer::TracedTensor> Positioned(std::vector<trainer::TracedTensor> tensors) {
  for (std::size_t i = 0; i < tensors.size(); ++i) tensors[i].seq = static_cast<int>(i);
  return tensors;
}

TEST(FirstDivergentTensorTest, ARenamedModuleIsMatchedByPositionNotReportedAsNumbers) {
  const auto a =
      Positioned({Tensor("forward", 0, "x", {1}), Tensor("forward", 0, "mlp.act", {1, 2}),
                  Tensor("forward", 0, "y", {3})});
  auto b = Positioned({Tensor("forward", 0, "x", {1}), Tensor("forward", 0, "mlp.gelu", {1, 2}),
                       Tensor("forward", 0, "y", {4})});
  std::size_t before = 0;
  std::vector<Renamed> renamed;
  std::vector<TensorDiff> d = FirstDivergentTensor(a, b, &before, &renamed);
  ASSERT_EQ(renamed.size(), 1u);
  EXPECT_EQ(renamed[0].name_a, "mlp.act");
  EXPECT_EQ(renamed[0].name_b, "mlp.gelu");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].name, "y");  // the renamed tensor has the same bits: not a divergence
  EXPECT_EQ(before, 2u);

  b[1] = Tensor("forward", 0, "mlp.gelu", {1, 2.5f});
  b[1].seq = 1;
  d = FirstDivergentTensor(a, b, &before, nullptr);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "mlp.act");
  EXPECT_EQ(d[0].name_b, "mlp.gelu");
  EXPECT_EQ(d[0].differing, 1u);
  EXPECT_EQ(before, 1u);
}

TEST(FirstDivergentTensorTest, AModuleOnlyOneSideHasShiftsNoPairing) {
  // B inserts a module: A's tensors still meet their namesakes, B's extra one is skipped.
  const auto a = Positioned({Tensor("forward", 0, "x", {1}), Tensor("forward", 0, "y", {2})});
  const auto b = Positioned({Tensor("forward", 0, "x", {1}), Tensor("forward", 0, "new", {9}),
                             Tensor("forward", 0, "y", {2})});
  std::vector<Renamed> renamed;
  EXPECT_TRUE(FirstDivergentTensor(a, b, nullptr, &renamed).empty());
  EXPECT_TRUE(renamed.empty());
}

TEST(TensorTraceTest, RoundTripAcrossRanksInCanonicalOrder) {
  const std::string dir = (FreshTempDir() / "trace").string();
  const float x[3] = {1, -4, 2};
  for (int rank : {1, 0}) {
    Result<trainer::TensorTrace> t = trainer::TensorTrace::Open(dir, rank);
    ASSERT_TRUE(t.ok()) << t.status().message();
    t->Begin("forward", rank);
    t->Add("encoded", x, 3);
    t->Begin("backward", rank);
    t->Add("wte.grad", x, 2);
    t->Begin("reduce", -1);
    t->Add("wte.grad", x + 1, 2);  // the same on every rank: kept once
    ASSERT_TRUE(t->Close().ok());
  }
  Result<std::vector<trainer::TracedTensor>> all = trainer::LoadTrace(dir);
  ASSERT_TRUE(all.ok()) << all.status().message();
  for (trainer::TracedTensor& t : *all) {
    EXPECT_TRUE(t.values.empty());
    ASSERT_TRUE(trainer::ReadTraceValues(dir, &t).ok());
  }
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].micro_batch, 0);
  EXPECT_EQ((*all)[0].phase, "forward");
  EXPECT_EQ((*all)[1].phase, "backward");
  EXPECT_EQ((*all)[2].micro_batch, 1);
  EXPECT_EQ((*all)[4].phase, "reduce");
  EXPECT_EQ((*all)[0].values, (std::vector<float>{1, -4, 2}));
  EXPECT_DOUBLE_EQ((*all)[0].norm, std::sqrt(21.0));
  EXPECT_DOUBLE_EQ((*all)[0].max_abs, 4.0);
  EXPECT_EQ((*all)[4].values, (std::vector<float>{-4, 2}));
}

TEST(FirstDivergentTensorTest, DigestOnlyWhereValuesAreNotAtHand) {
  std::vector<trainer::TracedTensor> a = {Tensor("forward", 0, "x", {1, 2}),
                                          Tensor("forward", 0, "y", {3})};
  std::vector<trainer::TracedTensor> b = {Tensor("forward", 0, "x", {1, 2}),
                                          Tensor("forward", 0, "y", {4})};
  a[1].values.clear();  // a digests-only trace
  std::size_t before = 0;
  std::vector<TensorDiff> d = FirstDivergentTensor(a, b, &before);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(before, 1u);
  EXPECT_EQ(d[0].name, "y");
  EXPECT_TRUE(d[0].digest_only);
  EXPECT_FALSE(d[0].same());
  EXPECT_EQ(d[0].differing, 0u);
}

TEST(StepBisectJsonTest, NamesTheFirstTensorAndTheSpread) {
  StepBisectResult r;
  r.step = 17;
  r.step_differs = "param_digest a vs b";
  r.exit_code = 0;
  r.identical_before = 32;
  r.traced = 350;
  r.not_deterministic = {'B'};
  TensorDiff first;
  first.phase = "backward";
  first.micro_batch = 0;
  first.name = "h.1.fcprojb.grad";
  first.count = 64;
  first.differing = 55;
  first.first_index = 3;
  first.max_abs_diff = 2.5e-8;
  TensorDiff later;
  later.phase = "update";
  later.name = "wte";
  later.digest_only = true;
  r.tensors = {first, later};
  const nlohmann::ordered_json j = StepBisectToJson(r);
  EXPECT_EQ(j["step"], 17);
  EXPECT_EQ(j["first_tensor"]["name"], "h.1.fcprojb.grad");
  EXPECT_EQ(j["first_tensor"]["first_index"], 3);
  EXPECT_EQ(j["first_tensor"]["differing"], 55);
  EXPECT_DOUBLE_EQ(j["first_tensor"]["max_abs_diff"].get<double>(), 2.5e-8);
  EXPECT_EQ(j["identical_before"], 32);
  ASSERT_EQ(j["spread"].size(), 1u);
  EXPECT_EQ(j["spread"][0]["name"], "wte");
  EXPECT_FALSE(j["spread"][0].contains("differing")) << "a digest-only diff has no element counts";
  EXPECT_EQ(j["not_deterministic"][0], "B");
  const nlohmann::ordered_json agree = StepBisectToJson(StepBisectResult{});
  EXPECT_TRUE(agree["step"].is_null());
  EXPECT_FALSE(agree.contains("first_tensor"));
  EXPECT_EQ(agree["exit_code"], 1);
}

TEST(TraceValuesTest, AllNoneOrNamedTensors) {
  Result<trainer::TraceValues> all = trainer::TraceValues::Parse("all");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Keeps("anything"));
  Result<trainer::TraceValues> none = trainer::TraceValues::Parse("none");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->Keeps("wte"));
  Result<trainer::TraceValues> some = trainer::TraceValues::Parse("wte.grad,h.0.qkv");
  ASSERT_TRUE(some.ok());
  EXPECT_TRUE(some->Keeps("wte.grad"));
  EXPECT_TRUE(some->Keeps("h.0.qkv"));
  EXPECT_FALSE(some->Keeps("wte"));
  Result<trainer::TraceValues> bad = trainer::TraceValues::Parse("wte,,lnfw");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Contains(bad.status().message(), "empty name"));
}

TEST(TensorTraceTest, KeepsOnlyTheNamedValuesButEveryDigest) {
  const std::string dir = (FreshTempDir() / "trace").string();
  const float x[3] = {1, -4, 2};
  Result<trainer::TraceValues> values = trainer::TraceValues::Parse("wte.grad");
  ASSERT_TRUE(values.ok());
  {
    Result<trainer::TensorTrace> t = trainer::TensorTrace::Open(dir, 0, *values);
    ASSERT_TRUE(t.ok()) << t.status().message();
    t->Begin("forward", 0);
    t->Add("encoded", x, 3);
    t->Begin("backward", 0);
    t->Add("wte.grad", x + 1, 2);
    ASSERT_TRUE(t->Close().ok());
  }
  Result<std::vector<trainer::TracedTensor>> all = trainer::LoadTrace(dir);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 2u);
  trainer::TracedTensor& encoded = (*all)[0];
  trainer::TracedTensor& grad = (*all)[1];
  EXPECT_FALSE(encoded.has_values);
  EXPECT_DOUBLE_EQ(encoded.max_abs, 4.0);  // statistics are kept without the values
  EXPECT_NE(encoded.digest, grad.digest);
  Status st = trainer::ReadTraceValues(dir, &encoded);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "--trace-values encoded"));
  ASSERT_TRUE(trainer::ReadTraceValues(dir, &grad).ok());
  EXPECT_EQ(grad.values, (std::vector<float>{-4, 2}));
  EXPECT_EQ(std::filesystem::file_size(std::filesystem::path(dir) / "rank0.bin"),
            2 * sizeof(float));
}

TEST(TensorTraceTest, MissingTraceSaysHowToWriteOne) {
  Result<std::vector<trainer::TracedTensor>> all =
      trainer::LoadTrace((FreshTempDir() / "none").string());
  ASSERT_FALSE(all.ok());
  EXPECT_TRUE(Contains(all.status().message(), "--trace-step"));
}

}  // namespace
}  // namespace lockstep::bisect
