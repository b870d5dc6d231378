#include "golden/run_record.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/atomic_file.h"
#include "core/test_util.h"

namespace lockstep::golden {
namespace {

using ::lockstep::testing::Contains;
using ::lockstep::testing::FreshTempDir;

RunRecord Sample() {
  RunRecord r;
  r.header.case_name = "tiny";
  r.header.config_digest = "82f4b26ace0be67a";
  r.header.manifest_digest = "bbe3ebbdefeb1acb";
  r.header.profile = "portable";
  r.header.tool_version = "0.1.0";
  r.header.corpora = {{"prose", "aa"}, {"code", "bb"}};
  r.header.env = {{"compiler", "GCC 12.2.0"}, {"threads", 1}};
  r.header.config = {
      {"model", {{"n_layer", 2}, {"norm", "layernorm"}, {"init_std", 0.02}}},
      {"data",
       {{"schedule", nlohmann::json::array({{{"from_step", 0}, {"weights", {{"a", 1.0}}}}})}}}};
  for (int s = 1; s <= 3; ++s) {
    StepRow row;
    row.step = s;
    row.metrics["loss"] = MetricValue::Float(5.5201387405395508 / s);
    row.metrics["grad_norm"] = MetricValue::Float(0x1.474cfep+1f);
    row.metrics["batch_digest"] = MetricValue::Text("b346336ea24e60e5");
    row.metrics["mem_peak_bytes"] = MetricValue::Int(7202832);
    row.metrics["step_ms"] = MetricValue::Float(35.8, false);
    r.steps.push_back(row);
  }
  return r;
}

TEST(RunRecordTest, GoldenRoundTripsEveryBitAndField) {
  RunRecord r = Sample();
  std::string text = GoldenToToml(r);
  Result<RunRecord> back = ParseGolden(text, "g.toml");
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << text;
  EXPECT_EQ(back->header.case_name, "tiny");
  EXPECT_EQ(back->header.config_digest, r.header.config_digest);
  EXPECT_EQ(back->header.env, r.header.env);
  EXPECT_EQ(back->header.config, r.header.config);
  EXPECT_EQ(back->header.corpora, r.header.corpora);
  ASSERT_EQ(back->steps.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back->steps[i].metrics, r.steps[i].metrics) << "step " << i + 1;
  }
  EXPECT_EQ(GoldenToToml(*back), text);                // stable text: no churn in git diffs
  EXPECT_TRUE(Contains(text, "loss = \"0x1.6149f4"));  // exact hex floats
  EXPECT_TRUE(Contains(text, "# loss 5.52014"));       // and decimals for people
}

TEST(RunRecordTest, DamagedGoldensAreBadInputNamingTheFix) {
  std::string text = GoldenToToml(Sample());
  auto error = [](const std::string& t) {
    Result<RunRecord> r = ParseGolden(t, "golden/cases/tiny.toml");
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().exit_code(), 2);
    EXPECT_TRUE(Contains(r.status().message(), "golden/cases/tiny.toml"));
    return r.status().message();
  };
  EXPECT_TRUE(Contains(error(text.substr(0, text.size() * 2 / 3)), "--update"));  // truncated
  std::string edited = text;
  edited.replace(edited.find("format_version = 1"), 18, "format_version = = 1");
  EXPECT_TRUE(Contains(error(edited), "not valid TOML"));
  std::string future = text;
  future.replace(future.find("format_version = 1"), 18, "format_version = 7");
  EXPECT_TRUE(Contains(error(future), "golden format version 7"));
}

// Every way a golden can be damaged by hand or by a tool is refused naming
// the step and the fix, instead of passing or turning into a diagnosis.
TEST(RunRecordTest, AGoldenIsReadStrictly) {
  const std::string text = GoldenToToml(Sample());
  auto damaged = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const std::size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) t.replace(at, from.size(), to);
    Result<RunRecord> r = ParseGolden(t, "g.toml");
    EXPECT_FALSE(r.ok()) << from << " -> " << to;
    if (r.ok()) return std::string();
    EXPECT_EQ(r.status().exit_code(), 2);
    EXPECT_TRUE(Contains(r.status().message(), "g.toml: damaged golden: "));
    EXPECT_TRUE(Contains(r.status().message(), "--update"));
    return r.status().message();
  };
  EXPECT_TRUE(
      Contains(damaged("step = 2, loss", "step = -3, loss"), "step -3: steps are numbered from 1"));
  EXPECT_TRUE(Contains(damaged("step = 2, loss", "step = 1, loss"), "step 1 appears twice"));
  EXPECT_TRUE(Contains(damaged("step = 1, loss", "step = 0, loss"), "steps are numbered from 1"));
  EXPECT_TRUE(Contains(damaged("step = 3, loss", "step = 2, loss"), "step 2 appears twice"));
  const std::string step2 = text.substr(
      text.find("{ step = 2"), text.find("\n", text.find("{ step = 2")) - text.find("{ step = 2"));
  const std::string grad = step2.substr(step2.find(", grad_norm"),
                                        step2.find(", batch_digest") - step2.find(", grad_norm"));
  EXPECT_TRUE(
      Contains(damaged(step2, std::string(step2).replace(step2.find(grad), grad.size(), "")),
               "step 2 has no `grad_norm`, which other steps have"));
  EXPECT_TRUE(Contains(damaged("0x1.6149f4p+2", "0x1.4b441cpz2"), "is not a hex float"));
  EXPECT_TRUE(Contains(damaged("0x1.6149f4p+2\"", "nan\""), "is not a hex float"));
  EXPECT_TRUE(Contains(damaged("mem_peak_bytes = 7202832", "mem_peak_bytes = -1"),
                       "must be an integer >= 0"));
  EXPECT_TRUE(Contains(damaged("b346336ea24e60e5", "b346336ea24e60e"), "16 lower-case hex digits"));
  EXPECT_TRUE(Contains(damaged("format_version = 1", "format_version = 1\nextra = 2"),
                       "unknown key `header.extra`"));
  EXPECT_TRUE(
      Contains(damaged("format_version = 1", "format_version = \"1\""), "must be an integer"));
  EXPECT_TRUE(Contains(damaged("steps = [", "steps = [ ]\nold = ["), "(only) a `steps"));
  EXPECT_TRUE(Contains(damaged("step_ms = 35.8", "step_ms = nan"), "finite values only"));
  // The header's tables become the record's JSON: a value JSON cannot hold
  // would be written back as something TOML cannot read (found by fuzzing).
  EXPECT_TRUE(Contains(damaged("init_std = 0.02", "init_std = +nan"),
                       "`header.config.model.init_std` is nan"));
  EXPECT_TRUE(Contains(damaged("threads = 1", "threads = -inf"), "`header.env.threads` is -inf"));
  EXPECT_TRUE(Contains(damaged("n_layer = 2", "n_layer = 1979-05-27"),
                       "`header.config.model.n_layer` is a date or time"));

  RunRecord three = *ParseGolden(text, "g.toml");
  EXPECT_TRUE(CheckGoldenSteps(three, 3, "g.toml").ok());
  EXPECT_TRUE(Contains(CheckGoldenSteps(three, 5, "g.toml").message(),
                       "it holds 3 steps but the case runs 5"));
  three.steps[1].step = 7;
  EXPECT_TRUE(
      Contains(CheckGoldenSteps(three, 3, "g.toml").message(), "step 7 where step 2 belongs"));
}

// Nothing is written that cannot be read back: a non-finite value or a step
// out of order leaves the old golden as it was.
TEST(RunRecordTest, SaveGoldenRefusesWhatCouldNotBeReadBack) {
  auto dir = FreshTempDir();
  const std::string path = (dir / "g.toml").string();
  ASSERT_TRUE(SaveGolden(Sample(), path).ok());
  const std::string before = *ReadFile(path);
  RunRecord nan_loss = Sample();
  nan_loss.steps[1].metrics["loss"] = MetricValue::Float(std::nan(""), false);
  Status st = SaveGolden(nan_loss, path);
  EXPECT_EQ(st.exit_code(), 2);
  EXPECT_TRUE(Contains(st.message(), "not written: step 2: loss is nan"));
  RunRecord repeated = Sample();
  repeated.steps[2].step = 2;
  EXPECT_TRUE(Contains(SaveGolden(repeated, path).message(), "step 2 appears twice"));
  RunRecord odd_text = Sample();
  odd_text.steps[0].metrics["note"] =
      MetricValue::Text("0x1p+");  // would read back as a malformed float
  EXPECT_FALSE(SaveGolden(odd_text, path).ok());
  EXPECT_EQ(*ReadFile(path), before);
}

// A one-line file that is not JSON is not an empty record, and a line
// without a step is not skipped.
TEST(RunRecordTest, RecordStreamsAreReadStrictly) {
  auto dir = FreshTempDir();
  const std::string path = (dir / "run.jsonl").string();
  auto error = [&](const std::string& text) {
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    Result<RunRecord> r = LoadRecordStream(path);
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_TRUE(Contains(error("hello"), "run.jsonl:1: not a JSON object"));
  const std::string header = "{\"type\":\"header\"}\n";
  EXPECT_TRUE(Contains(error(header + "{\"loss\":\"0x1p+0\"}\n"),
                       "run.jsonl:2: a line without a valid \"step\""));
  EXPECT_TRUE(Contains(error(header + "{\"step\":2}\n{\"step\":1}\n"), "step 1 follows step 2"));
  EXPECT_TRUE(
      Contains(error(header + "not json\n{\"step\":1}\n"), "run.jsonl:2: not a JSON object"));
  // Fields of another type are not thrown on (the fuzzer found both).
  EXPECT_TRUE(Contains(error("{\"type\":1}\n"), "not a record header"));
  ASSERT_TRUE(WriteFileAtomically(path, "{\"type\":\"header\",\"profile\":1,\"env\":[]}\n").ok());
  Result<RunRecord> odd = LoadRecordStream(path);
  ASSERT_TRUE(odd.ok()) << odd.status().message();
  EXPECT_EQ(odd->header.profile, "");
}

TEST(RunRecordTest, RecordStreamsAreReadWithExactFloats) {
  auto dir = FreshTempDir();
  std::string path = (dir / "run.jsonl").string();
  ASSERT_TRUE(WriteFileAtomically(path,
                                  "{\"type\":\"header\",\"config_digest\":\"ab\",\"env\":{"
                                  "\"threads\":2},\"config\":{\"m\":{\"x\":1}}}\n"
                                  "{\"step\":1,\"loss\":\"0x1.6149f4p+2\",\"loss_dec\":5.52,"
                                  "\"tokens\":512,\"batch_digest\":\"b3\",\"step_ms\":3.5}\n"
                                  "{\"step\":2,\"loss\":\"0x1.58995p+2\",\"tok")
                  .ok());  // a run killed mid-line
  Result<RunRecord> r = LoadRecordStream(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->header.config_digest, "ab");
  ASSERT_EQ(r->steps.size(), 1u);
  const MetricValue* loss = r->steps[0].Find("loss");
  ASSERT_NE(loss, nullptr);
  EXPECT_TRUE(loss->exact);
  EXPECT_EQ(loss->f, 0x1.6149f4p+2);
  EXPECT_EQ(r->steps[0].Find("loss_dec"), nullptr);
  EXPECT_EQ(r->steps[0].Find("tokens")->i, 512u);
  EXPECT_FALSE(r->steps[0].Find("step_ms")->exact);

  ASSERT_TRUE(WriteFileAtomically(path, "{\"step\":1}\n").ok());
  EXPECT_TRUE(Contains(LoadRecordStream(path).status().message(), "not a record header"));
}

}  // namespace
}  // namespace lockstep::golden
