// Health checks through `lockstep smoke`, end to end: a fake external trainer
// prints a record-stream log (JSON lines), and the gate judges it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/atomic_file.h"
#include "core/hexfloat.h"
#include "core/test_util.h"
#include "tests/run_lockstep.h"

namespace lockstep {
namespace {

using ::lockstep::testing::CommandRun;
using ::lockstep::testing::Contains;
using ::lockstep::testing::FreshTempDir;
using ::lockstep::testing::Lockstep;
namespace fs = std::filesystem;

const double kLnVocab = std::log(257.0);

void Write(const fs::path& p, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomically(p.string(), text).ok());
}
std::string Read(const fs::path& p) {
  return *ReadFile(p.string());
}

struct LogOptions {
  double first_loss = kLnVocab;  // the step-1 loss; later steps fall 2% a step
  std::string frozen;            // params_unchanged on every step
  int perturb_step = 0;          // this step's loss one float ULP higher
};

// A 12-step record stream as lockstep's trainer writes it, with an
// evaluation at steps 6 and 12.
std::string FakeLog(const LogOptions& o) {
  std::string log;
  for (int s = 1; s <= 12; ++s) {
    float loss = static_cast<float>(o.first_loss * (1 - 0.02 * (s - 1)));
    if (s == o.perturb_step) loss = std::nextafter(loss, 100.0f);
    nlohmann::ordered_json j = {{"type", "step"},
                                {"step", s},
                                {"loss", HexFloat(loss)},
                                {"grad_norm", HexFloat(static_cast<float>(1.0 + 0.01 * s))},
                                {"grad_zeros", 3},
                                {"params_unchanged", o.frozen},
                                {"batch_mix", "prose:3 arithmetic:3 code:2"}};
    if (!o.frozen.empty()) {
      j["unchanged_detail"][o.frozen] = {{"value_rms", "0x1p+0"},
                                         {"update_rms", HexFloat(0x1.0c6f7ap-11)}};
    }
    if (s % 6 == 0) {
      j["eval_loss"] = HexFloat(static_cast<float>(5.5 - 0.2 * s));
      j["eval_acc_arithmetic"] = HexFloat(static_cast<float>(0.01 * s));
    }
    log += j.dump() + "\n";
  }
  return log;
}

class HealthE2E : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = FreshTempDir(); }
  // A case whose command prints NAME.log; its golden is NAME.golden.toml.
  fs::path Case(const std::string& name, const LogOptions& log, const std::string& checks = "") {
    Write(dir_ / (name + ".log"), FakeLog(log));
    fs::path p = dir_ / (name + ".toml");
    Write(p, "command = [\"/bin/cat\", \"" + name + ".log\"]\nparser = \"jsonl\"\ngolden = \"" +
                 name + ".golden.toml\"\n[checks.loss_scale]\nvocab_size = 257\n" + checks);
    return p;
  }
  fs::path dir_;
};

TEST_F(HealthE2E, AHealthyLogPassesEveryCheckThatHasData) {
  fs::path c = Case("ok", LogOptions{});
  CommandRun run = Lockstep("smoke --update -q " + c.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(Contains(run.output, "checks: frozen ok, loss_scale ok, spike ok, learning ok"));
  EXPECT_FALSE(Contains(run.output, "check loss_scale:"));
}

TEST_F(HealthE2E, LossDividedByTheWorldSizeFailsTheGateAndWarnOnlyWarns) {
  LogOptions divided;
  divided.first_loss = kLnVocab / 4;
  fs::path c = Case("div", divided);
  // --update records the golden but the exit code says the run is unhealthy.
  CommandRun run = Lockstep("smoke --update -q " + c.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(fs::exists(dir_ / "div.golden.toml"));
  EXPECT_TRUE(Contains(run.output, "health check loss_scale failed"));

  const fs::path json = dir_ / "r.json", junit = dir_ / "j.xml", report = dir_ / "report";
  run = Lockstep("smoke -q " + c.string() + " --json " + json.string() + " --junit " +
                 junit.string() + " --report " + report.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(
      Contains(run.output, "check loss_scale: FAIL  step-1 loss 1.387 = 0.25 x ln(257), outside"));
  EXPECT_TRUE(Contains(run.output, "data-parallel world size (4 ranks)"));
  EXPECT_TRUE(Contains(run.output, "checks: frozen ok, loss_scale FAIL, spike ok, learning ok"));
  EXPECT_TRUE(Contains(run.output, "check loss_scale"));  // the summary table's column
  EXPECT_TRUE(Contains(run.output, "0 passed, 1 failed"));

  nlohmann::json r = nlohmann::json::parse(Read(json));
  EXPECT_EQ(r["cases"][0]["outcome"], "regression");
  EXPECT_EQ(r["cases"][0]["diagnosis"], "pass") << "the golden comparison itself passed";
  ASSERT_EQ(r["cases"][0]["checks"].size(), 4u);
  EXPECT_EQ(r["cases"][0]["checks"][1]["check"], "loss_scale");
  EXPECT_EQ(r["cases"][0]["checks"][1]["outcome"], "fail");

  const std::string x = Read(junit);
  EXPECT_TRUE(Contains(x, "tests=\"5\" failures=\"1\" errors=\"0\" skipped=\"0\""));
  EXPECT_TRUE(Contains(x, "<testcase classname=\"lockstep.smoke\" name=\"div\" time=\"")) << x;
  EXPECT_TRUE(
      Contains(x, "name=\"div/loss_scale\" time=\"0\">\n      <failure type=\"loss_scale\""));

  const std::string html = Read(report / "index.html");
  EXPECT_TRUE(Contains(html, "<th>health check</th>"));
  EXPECT_TRUE(Contains(html, "<td class=\"fail\">fail</td>"));
  EXPECT_TRUE(Contains(html, "aria-label=\"div: eval_loss\""));

  Case("div", divided, "policy = \"warn\"\n");
  run = Lockstep("smoke -q " + c.string() + " --junit " + junit.string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(Contains(run.output, "check loss_scale: WARN  step-1 loss 1.387"));
  EXPECT_TRUE(Contains(run.output, "1 passed, 0 failed"));
  EXPECT_TRUE(Contains(Read(junit), "<system-out>WARN: step-1 loss"));

  Case("div", divided, "policy = \"off\"\n");
  run = Lockstep("smoke -q " + c.string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(Contains(run.output, "loss_scale off"));
}

TEST_F(HealthE2E, AFrozenTensorInTheRecordStreamIsNamedWithItsScale) {
  LogOptions frozen;
  frozen.frozen = "h.0.ln1w";
  fs::path c = Case("fz", frozen);
  CommandRun run = Lockstep("smoke --update -q " + c.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(
      Contains(run.output,
               "check frozen: FAIL  1 tensor unchanged for 5 or more consecutive steps: h.0.ln1w; "
               "max grad_zeros 3"));
  EXPECT_TRUE(Contains(run.output,
                       "h.0.ln1w unchanged for steps 1-12: values ~1.0 (bf16 ULP 7.8e-3, fp32 ULP "
                       "1.2e-7), updates ~5.1e-4 < bf16 ULP/2"));
  Case("fz", frozen, "[checks.frozen]\nsteps = 13\n");
  EXPECT_EQ(Lockstep("smoke -q " + c.string()).exit_code, 0);
}

TEST_F(HealthE2E, SameLossAsAnotherCasesGoldenIsBitwise) {
  fs::path one = Case("one", LogOptions{});
  ASSERT_EQ(Lockstep("smoke --update -q " + one.string()).exit_code, 0);
  const std::string same = "same_loss_as = \"one.golden.toml\"\n";
  fs::path two = Case("two", LogOptions{}, same);
  ASSERT_EQ(Lockstep("smoke --update -q " + two.string()).exit_code, 0);
  CommandRun run = Lockstep("smoke -q " + two.string());
  EXPECT_EQ(run.exit_code, 0) << run.output;

  LogOptions off_by_one_ulp;
  off_by_one_ulp.perturb_step = 7;
  Case("two", off_by_one_ulp, same);
  ASSERT_EQ(Lockstep("smoke --update -q " + two.string()).exit_code, 1);
  run = Lockstep("smoke -q " + two.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(Contains(run.output, "at 1 of 12 common steps"));
  EXPECT_TRUE(Contains(run.output, "first difference at step 7"));

  Case("two", LogOptions{}, "same_loss_as = \"missing.toml\"\n");
  run = Lockstep("smoke -q " + two.string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(Contains(run.output, "checks.loss_scale.same_loss_as"));
}

}  // namespace
}  // namespace lockstep
