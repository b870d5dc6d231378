#include "smoke/log_parser.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/test_util.h"

namespace lockstep::smoke {
namespace {

using golden::MetricValue;
using golden::StepRow;
using lockstep::testing::Contains;

// Feeds every line and returns the step rows, as ParseLog does.
std::vector<StepRow> FeedAll(LineParser& parser, const std::vector<std::string>& lines) {
  std::vector<StepRow> rows;
  for (const std::string& line : lines) {
    if (auto row = parser.Feed(line)) rows.push_back(*row);
  }
  return rows;
}

LineParser MustCreate(LogFormat format, const std::string& regex = "") {
  Result<LineParser> parser = LineParser::Create(format, regex);
  if (!parser.ok()) throw std::runtime_error(parser.status().message());
  return std::move(parser).value();
}

// The metric, or a failed test naming it.
const MetricValue& Metric(const StepRow& row, const std::string& name) {
  static const MetricValue kMissing = MetricValue::Text("<missing>");
  const MetricValue* m = row.Find(name);
  EXPECT_NE(m, nullptr) << "step " << row.step << " has no metric " << name;
  return m == nullptr ? kMissing : *m;
}

void ExpectDecimal(const StepRow& row, const std::string& name, double expected) {
  const MetricValue& m = Metric(row, name);
  EXPECT_EQ(m.kind, MetricValue::Kind::kFloat) << name;
  EXPECT_FALSE(m.exact) << name << ": decimals from a log are never exact";
  EXPECT_DOUBLE_EQ(m.f, expected) << name;
}

std::uint64_t Bits(double v) {
  return std::bit_cast<std::uint64_t>(v);
}

// --- format names ------------------------------------------------------------

TEST(LogFormatTest, NamesRoundTrip) {
  for (LogFormat f :
       {LogFormat::kJsonl, LogFormat::kTorchtitan, LogFormat::kMegatron, LogFormat::kRegex}) {
    Result<LogFormat> parsed = ParseLogFormat(std::string(LogFormatName(f)));
    ASSERT_TRUE(parsed.ok()) << LogFormatName(f);
    EXPECT_EQ(*parsed, f);
  }
  EXPECT_EQ(LogFormatName(LogFormat::kTorchtitan), "torchtitan");
}

TEST(LogFormatTest, BadNameIsBadInputListingValidNames) {
  Result<LogFormat> parsed = ParseLogFormat("deepspeed");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Status::Code::kBadInput);
  EXPECT_EQ(parsed.status().exit_code(), 2);
  const std::string& msg = parsed.status().message();
  EXPECT_TRUE(Contains(msg, "deepspeed"));
  for (const char* name : {"jsonl", "torchtitan", "megatron", "regex"}) {
    EXPECT_TRUE(Contains(msg, name));
  }
  EXPECT_FALSE(ParseLogFormat("JSONL").ok());
  EXPECT_FALSE(ParseLogFormat("").ok());
}

// --- jsonl -------------------------------------------------------------------

// Lines as `lockstep train --record` writes them (header shortened).
const char* kHeader =
    R"({"type":"header","tool":"lockstep","version":"0.1.0","config_digest":"a258224161c15436",)"
    R"("manifest_digest":"bbe3ebbdefeb1acb","profile":"portable","params":120640})";
const char* kStep1 =
    R"({"step":1,"loss":"0x1.6149f4p+2","loss_dec":5.520138740539551,"grad_norm":"0x1.474cfep+1",)"
    R"("grad_norm_dec":2.557037115097046,"lr":"0x1.3a92a4p-11","lr_dec":0.0006000000284984708,)"
    R"("tokens":512,"batch_digest":"b346336ea24e60e5","param_digest":"d3e4143b2e3c1a2e",)"
    R"("mem_peak_bytes":7268368,"rss_peak_bytes":17838080,"step_ms":26.230123})";
const char* kStep2 =
    R"({"step":2,"loss":"0x1.58995p+2","loss_dec":5.384357452392578,"grad_norm":"0x1.55f354p+1",)"
    R"("grad_norm_dec":2.6714882850646973,"lr":"0x1.3a92a4p-10","lr_dec":0.0012000000569969416,)"
    R"("tokens":512,"batch_digest":"fc5967345499caba","param_digest":"d31f58497919d93d",)"
    R"("mem_peak_bytes":7268368,"rss_peak_bytes":18018304,"step_ms":23.345599})";

TEST(JsonlParserTest, ReadsRecordStreamWithExactHexFloats) {
  LineParser parser = MustCreate(LogFormat::kJsonl);
  std::vector<StepRow> rows = FeedAll(parser, {kHeader, kStep1, kStep2});
  ASSERT_EQ(rows.size(), 2u);
  const StepRow& r = rows[0];
  EXPECT_EQ(r.step, 1);

  const MetricValue& loss = Metric(r, "loss");
  EXPECT_EQ(loss.kind, MetricValue::Kind::kFloat);
  EXPECT_TRUE(loss.exact);
  EXPECT_EQ(Bits(loss.f), Bits(0x1.6149f4p+2));
  EXPECT_EQ(Bits(Metric(r, "grad_norm").f), Bits(0x1.474cfep+1));
  EXPECT_TRUE(Metric(r, "grad_norm").exact);
  EXPECT_EQ(Bits(Metric(r, "lr").f), Bits(0x1.3a92a4p-11));
  EXPECT_TRUE(Metric(r, "lr").exact);
  EXPECT_EQ(Bits(Metric(rows[1], "loss").f), Bits(0x1.58995p+2));

  EXPECT_EQ(Metric(r, "tokens"), MetricValue::Int(512));
  EXPECT_EQ(Metric(r, "mem_peak_bytes"), MetricValue::Int(7268368));
  EXPECT_EQ(Metric(r, "rss_peak_bytes"), MetricValue::Int(17838080));
  EXPECT_EQ(Metric(r, "batch_digest"), MetricValue::Text("b346336ea24e60e5"));
  EXPECT_EQ(Metric(r, "param_digest"), MetricValue::Text("d3e4143b2e3c1a2e"));
  ExpectDecimal(r, "step_ms", 26.230123);

  EXPECT_EQ(r.Find("loss_dec"), nullptr);
  EXPECT_EQ(r.Find("grad_norm_dec"), nullptr);
  EXPECT_EQ(r.Find("lr_dec"), nullptr);
  EXPECT_EQ(r.Find("step"), nullptr);
  EXPECT_EQ(r.metrics.size(), 9u);

  // The value comes from the hex string, to the last bit of a double, never
  // from the rounded *_dec copy.
  auto fine = parser.Feed(R"({"step":3,"loss":"0x1.0000000000001p+0","loss_dec":1.0})");
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(Bits(Metric(*fine, "loss").f), Bits(1.0) + 1);
  EXPECT_TRUE(Metric(*fine, "loss").exact);
}

TEST(JsonlParserTest, KeepsHeaderAndIgnoresNoise) {
  LineParser parser = MustCreate(LogFormat::kJsonl);
  EXPECT_FALSE(parser.header().has_value());
  std::vector<StepRow> rows =
      FeedAll(parser, {
                          "OpenBLAS WARNING - could not determine the L2 cache",
                          kHeader,
                          "",
                          "{not json at all",
                          "[1, 2, 3]",
                          R"({"note": "no step here", "loss": "0x1p+0"})",
                          R"({"step": "three", "loss": "0x1p+0"})",
                          R"({"type": "event", "step": 5, "what": "ckpt"})",
                          std::string(kStep1) + "\r",
                          R"({"type":"header","tool":"second"})",
                      });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].step, 1);
  ASSERT_TRUE(parser.header().has_value());
  EXPECT_EQ(parser.header()->at("config_digest"), "a258224161c15436");
  EXPECT_EQ(parser.header()->at("tool"), "lockstep");  // the first header wins
}

TEST(JsonlParserTest, NonFiniteStatusAndUnknownKeys) {
  LineParser parser = MustCreate(LogFormat::kJsonl);
  auto row = parser.Feed(
      R"({"step":7,"loss":"nan","grad_norm":"-inf","lr":"0x0p+0","tokens":512,)"
      R"("status":"nonfinite","cause":"loss is NaN","clip_coef":0.5,"retries":3,)"
      R"("offset":-2,"scale":"0x1p-3","host":"node-1","warm":true,"extra":{"a":1},"none":null})");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->step, 7);
  EXPECT_TRUE(std::isnan(Metric(*row, "loss").f));
  EXPECT_TRUE(Metric(*row, "loss").exact);
  EXPECT_TRUE(std::isinf(Metric(*row, "grad_norm").f));
  EXPECT_LT(Metric(*row, "grad_norm").f, 0);
  EXPECT_EQ(Metric(*row, "lr"), MetricValue::Float(0.0, true));
  EXPECT_EQ(Metric(*row, "status"), MetricValue::Text("nonfinite"));
  EXPECT_EQ(Metric(*row, "cause"), MetricValue::Text("loss is NaN"));
  ExpectDecimal(*row, "clip_coef", 0.5);
  EXPECT_EQ(Metric(*row, "retries"), MetricValue::Int(3));
  ExpectDecimal(*row, "offset", -2.0);
  EXPECT_EQ(Metric(*row, "scale"), MetricValue::Float(0.125, true));
  EXPECT_EQ(Metric(*row, "host"), MetricValue::Text("node-1"));
  EXPECT_EQ(Metric(*row, "warm"), MetricValue::Text("true"));
  EXPECT_EQ(row->Find("extra"), nullptr);
  EXPECT_EQ(row->Find("none"), nullptr);
}

TEST(JsonlParserTest, DecimalLossFromAnotherTrainerIsNotExact) {
  LineParser parser = MustCreate(LogFormat::kJsonl);
  auto row = parser.Feed(R"({"step": 10, "loss": 2.5, "grad_norm": "1.25", "tokens": 4096.0})");
  ASSERT_TRUE(row.has_value());
  ExpectDecimal(*row, "loss", 2.5);
  ExpectDecimal(*row, "grad_norm", 1.25);
  EXPECT_EQ(Metric(*row, "tokens"), MetricValue::Int(4096));
}

// --- torchtitan --------------------------------------------------------------

TEST(TorchtitanParserTest, ReadsStepLinesAndSkipsNoise) {
  LineParser parser = MustCreate(LogFormat::kTorchtitan);
  std::vector<StepRow> rows = FeedAll(
      parser,
      {
          "[rank0]:[titan] 2025-01-01 12:00:00,000 - root - INFO - Starting job: Llama 3 debug "
          "training",
          "[rank0]:[titan] 2025-01-01 12:00:00,100 - root - INFO - Training starts at step 1, with "
          "local batch size 8",
          "[rank0]:[titan] 2025-01-01 12:00:01,000 - root - INFO - step:  1  loss:  8.1234  "
          "grad_norm:  1.2345  memory: 12.34GiB(15.67%)  tps: 1,234  tflops: 12.34  mfu: 5.67%",
          "[rank0]:[titan] 2025-01-01 12:00:01,010 - root - INFO - Synchronizing and adjusting "
          "timeout for all ProcessGroups to 0:01:40",
          "[rank0]:[titan] 2025-01-01 12:00:01,500 - root - INFO - step:  2  loss:  7.5000  "
          "grad_norm:  2.0000  memory: 12.40GiB(15.70%)  tps: 177,138  tflops: 96.17  mfu: 9.72%",
          "[rank0]:[titan] 2025-01-01 12:00:02,000 - root - INFO - validate step:  2  loss:  "
          "7.9000  memory: 12.40GiB(15.70%)  tps: 9,999",
          "[rank0]:[titan] 2025-01-01 12:00:03,000 - root - INFO - Saving checkpoint at step: 2",
          "[rank0]:[titan] 2025-01-01 12:00:04,000 - root - INFO - Training completed",
      });
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 1);
  ExpectDecimal(rows[0], "loss", 8.1234);
  ExpectDecimal(rows[0], "grad_norm", 1.2345);
  ExpectDecimal(rows[0], "memory_gib", 12.34);
  ExpectDecimal(rows[0], "tps", 1234);
  EXPECT_EQ(rows[0].metrics.size(), 4u);  // tflops and mfu are not kept
  EXPECT_EQ(rows[1].step, 2);
  ExpectDecimal(rows[1], "loss", 7.5);
  ExpectDecimal(rows[1], "tps", 177138);
}

TEST(TorchtitanParserTest, StripsAnsiColors) {
  // What torchtitan prints to a terminal: a color before every field.
  std::string line =
      "[titan] 2025-01-01 12:00:00,000 - root - INFO - \x1b[31mstep:  3  \x1b[32mloss:  "
      "6.2500  \x1b[33mgrad_norm:  0.8750  \x1b[38;2;54;234;195mmemory:  2.47GiB(3.12%)  "
      "\x1b[34mtps: 3,502  \x1b[36mtflops: 1.90  \x1b[35mmfu: 0.19%\x1b[39m";
  LineParser parser = MustCreate(LogFormat::kTorchtitan);
  auto row = parser.Feed(line);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->step, 3);
  ExpectDecimal(*row, "loss", 6.25);
  ExpectDecimal(*row, "grad_norm", 0.875);
  ExpectDecimal(*row, "memory_gib", 2.47);
  ExpectDecimal(*row, "tps", 3502);
}

TEST(TorchtitanParserTest, OlderLinesWithoutGradNormAndNanLoss) {
  LineParser parser = MustCreate(LogFormat::kTorchtitan);
  auto row = parser.Feed(
      "[titan] 2024-06-01 10:00:00,000 - root - INFO - step: 10  loss:     nan  memory: "
      "38.74GiB(40.76%)  tps: 812  tflops: 3.20  mfu: 1.03%");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->step, 10);
  EXPECT_TRUE(std::isnan(Metric(*row, "loss").f));
  EXPECT_EQ(row->Find("grad_norm"), nullptr);
  ExpectDecimal(*row, "memory_gib", 38.74);
}

TEST(TorchtitanParserTest, KeepsTheFirstRankOnly) {
  LineParser parser = MustCreate(LogFormat::kTorchtitan);
  std::vector<StepRow> rows = FeedAll(
      parser, {
                  "[rank0]:[titan] - root - INFO - step:  1  loss:  8.0000  memory: 1.00GiB(1%)",
                  "[rank1]:[titan] - root - INFO - step:  1  loss:  8.0000  memory: 1.50GiB(1%)",
                  "[rank1]:[titan] - root - INFO - step:  2  loss:  7.0000  memory: 1.50GiB(1%)",
                  "[rank0]:[titan] - root - INFO - step:  2  loss:  7.0000  memory: 1.00GiB(1%)",
              });
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 1);
  EXPECT_EQ(rows[1].step, 2);
  ExpectDecimal(rows[1], "memory_gib", 1.0);
}

// --- megatron ----------------------------------------------------------------

TEST(MegatronParserTest, ReadsIterationLinesAndSkipsNoise) {
  LineParser parser = MustCreate(LogFormat::kMegatron);
  std::vector<StepRow> rows = FeedAll(
      parser,
      {
          "using world size: 8, data-parallel size: 8, context-parallel size: 1",
          "> building GPT model ...",
          "[after dataloaders are built] datetime: 2024-05-01 09:59:59",
          " [2024-05-01 10:00:00] iteration        3/     100 | consumed samples:          96 | "
          "elapsed time per iteration (ms): 1234.5 | learning rate: 1.500000E-04 | global batch "
          "size:    32 | lm loss: 1.023456E+01 | loss scale: 1.0 | grad norm: 12.345 | number of "
          "skipped iterations:   0 | number of nan iterations:   0 |",
          "[Rank 0] (after 3 iterations) memory (MB) | allocated: 1234.5 | max allocated: 2345.6",
          "-------------------------------------------------------------------------------------",
          " validation loss at iteration 100 | lm loss value: 9.876543E+00 | lm loss PPL: "
          "1.954E+04 |",
          " [2024-05-01 10:00:05] iteration        4/     100 | consumed samples:         128 | "
          "elapsed time per iteration (ms): 1000.0 | learning rate: 2.000000E-04 | global batch "
          "size:    32 | loss scale: 65536.0 | number of skipped iterations:   1 | number of nan "
          "iterations:   0 |",
      });
  ASSERT_EQ(rows.size(), 2u);
  const StepRow& r = rows[0];
  EXPECT_EQ(r.step, 3);
  ExpectDecimal(r, "loss", 10.23456);
  ExpectDecimal(r, "grad_norm", 12.345);
  ExpectDecimal(r, "lr", 1.5e-4);
  ExpectDecimal(r, "step_ms", 1234.5);
  ExpectDecimal(r, "loss_scale", 1.0);
  EXPECT_EQ(Metric(r, "skipped"), MetricValue::Int(0));
  EXPECT_EQ(Metric(r, "nan_iterations"), MetricValue::Int(0));
  EXPECT_EQ(r.metrics.size(), 7u);

  // A skipped iteration logs no loss and no grad norm: still a step.
  EXPECT_EQ(rows[1].step, 4);
  EXPECT_EQ(rows[1].Find("loss"), nullptr);
  EXPECT_EQ(rows[1].Find("grad_norm"), nullptr);
  EXPECT_EQ(Metric(rows[1], "skipped"), MetricValue::Int(1));
  ExpectDecimal(rows[1], "loss_scale", 65536.0);
}

TEST(MegatronParserTest, TheMemoryReportGoesToItsStep) {
  Result<ParsedLog> log = ParseLog(
      " iteration        1/       3 | lm loss: 1.023456E+01 |\n"
      "[Rank 0] (after 1 iterations) memory (MB) | allocated: 1024.5 | max allocated: 2048.25 | "
      "reserved: 3000.0\n"
      " iteration        2/       3 | lm loss: 1.013456E+01 |\n",
      LogFormat::kMegatron, "", "m.log");
  ASSERT_TRUE(log.ok()) << log.status().message();
  ASSERT_EQ(log->steps.size(), 2u);
  ASSERT_NE(log->steps[0].Find("mem_max_allocated_bytes"), nullptr);
  EXPECT_EQ(log->steps[0].Find("mem_max_allocated_bytes")->i, 2147745792u);  // 2048.25 MiB
  EXPECT_EQ(log->steps[1].Find("mem_max_allocated_bytes"), nullptr);
}

TEST(MegatronParserTest, NanLossAndColoredLine) {
  LineParser parser = MustCreate(LogFormat::kMegatron);
  auto row = parser.Feed(
      "\x1b[32m [2024-05-01 10:00:00] iteration       20/     100 | lm loss: NAN | grad norm: "
      "nan |\x1b[0m");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->step, 20);
  EXPECT_TRUE(std::isnan(Metric(*row, "loss").f));
  EXPECT_TRUE(std::isnan(Metric(*row, "grad_norm").f));
}

// --- regex -------------------------------------------------------------------

TEST(RegexParserTest, NamedGroupsBecomeMetrics) {
  LineParser parser = MustCreate(
      LogFormat::kRegex,
      R"(^it (?<step>\d+) \| loss (?<loss>\S+) \| gnorm (?P<grad_norm>\S+) \| tok/s (?<tps>[\d,]+) \| (?<note>\w+))");
  std::vector<StepRow> rows = FeedAll(
      parser, {
                  "starting training", "it 1 | loss 0x1.8p+1 | gnorm 0.5 | tok/s 12,345 | ok",
                  "it 2 | loss 2.75 | gnorm 1e-3 | tok/s 100 | warmup",
                  "eval it 2 | loss 9.0 | gnorm 0 | tok/s 1 | x",  // ^ anchors: skipped
              });
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 1);
  EXPECT_EQ(Metric(rows[0], "loss"), MetricValue::Float(3.0, true));  // hex: exact
  ExpectDecimal(rows[0], "grad_norm", 0.5);
  ExpectDecimal(rows[0], "tps", 12345);
  EXPECT_EQ(Metric(rows[0], "note"), MetricValue::Text("ok"));
  EXPECT_EQ(rows[0].Find("step"), nullptr);
  EXPECT_EQ(rows[1].step, 2);
  ExpectDecimal(rows[1], "loss", 2.75);
  ExpectDecimal(rows[1], "grad_norm", 1e-3);
}

TEST(RegexParserTest, GroupOrderDiffersFromTextOrder) {
  // Lookaheads let the pattern name loss before step although the line has
  // step first; plain, non-capturing, escaped and class parentheses around
  // them must not shift the group indices.
  LineParser parser = MustCreate(
      LogFormat::kRegex,
      R"(^(\w+)(?:\s*\(x\))?[(]?(?=.*loss=(?<loss>[^ ]+))(?=.*lr=(?P<lr>[^ ]+))(?=.*step=(?<step>\d+)))");
  auto row = parser.Feed("train (x)(step=42 lr=0x1p-10 loss=1.5 extra=7");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->step, 42);
  ExpectDecimal(*row, "loss", 1.5);
  EXPECT_EQ(Metric(*row, "lr"), MetricValue::Float(0x1p-10, true));
  EXPECT_EQ(row->metrics.size(), 2u);
}

TEST(RegexParserTest, NonIntegerStepAndOptionalGroups) {
  LineParser parser = MustCreate(LogFormat::kRegex,
                                 R"(step (?<step>\S+)(?: loss (?<loss>\S+))?(?: id (?<id>\S+))?)");
  EXPECT_FALSE(parser.Feed("step abc loss 1.0").has_value());
  auto row = parser.Feed("step 5");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->step, 5);
  EXPECT_TRUE(row->metrics.empty());
  row = parser.Feed("step 6 loss 2.0 id 0xdeadbeefdeadbeef1");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(Metric(*row, "id"),
            MetricValue::Text("0xdeadbeefdeadbeef1"));  // not rounded into a float
}

TEST(RegexParserTest, LongLinesDoNotOverflowTheStack) {
  LineParser parser = MustCreate(LogFormat::kRegex, R"(^(.*)step (?<step>\d+) (?<loss>\d))");
  std::string huge(LineParser::kMaxRegexLineBytes * 50, 'a');
  EXPECT_FALSE(parser.Feed(huge + " step 1 5").has_value());
  std::string longest = std::string(LineParser::kMaxRegexLineBytes - 9, 'a') + " step 2 5";
  ASSERT_EQ(longest.size(), LineParser::kMaxRegexLineBytes);
  auto row = parser.Feed(longest);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->step, 2);
}

TEST(RegexParserTest, BadRegexesAreBadInput) {
  struct Case {
    LogFormat format;
    std::string regex;
    std::vector<std::string> expected;  // substrings of the message
  };
  std::vector<Case> cases = {
      {LogFormat::kRegex,
       R"(step (?<step>\d+ loss)",
       {R"(step (?<step>\d+ loss)", "does not compile"}},
      {LogFormat::kRegex, "step [0-9", {"step [0-9", "does not compile"}},
      {LogFormat::kRegex,
       R"(it (?<iter>\d+) loss (?<loss>\S+))",
       {R"(it (?<iter>\d+) loss (?<loss>\S+))", "has no (?<step>...) group: add one"}},
      {LogFormat::kRegex, R"(step (\d+))", {"has no (?<step>...) group"}},
      {LogFormat::kRegex, R"(step (?<step>\d+) lr (?<lr>\S+))", {"has no (?<loss>...) group"}},
      // libstdc++ would overflow reading these numbers (found by the fuzzer).
      {LogFormat::kRegex,
       R"((?<step>\d+) (?<loss>\S+)\22222222222222222222)",
       {"more than 3 digits"}},
      {LogFormat::kRegex, R"((?<step>\d+) (?<loss>\S{1,99999999999}))", {"above 999999"}},
      {LogFormat::kRegex,
       R"((?<step>\d+) (?<loss>\S+) (?<loss>\S+))",
       {"names group \"loss\" twice"}},
      {LogFormat::kRegex, R"((?<step>\d+) (?<a>x)\k<a>)", {"backreference"}},
      {LogFormat::kRegex, R"((?<step>\d+) (?<1bad>x))", {"bad group name"}},
      {LogFormat::kRegex, "", {"needs a regex"}},
      {LogFormat::kTorchtitan, R"(step (?<step>\d+))", {"only used by parser \"regex\""}},
  };
  for (const Case& c : cases) {
    Result<LineParser> parser = LineParser::Create(c.format, c.regex);
    ASSERT_FALSE(parser.ok()) << c.regex;
    EXPECT_EQ(parser.status().code(), Status::Code::kBadInput) << c.regex;
    for (const std::string& s : c.expected) {
      EXPECT_TRUE(Contains(parser.status().message(), s)) << c.regex;
    }
  }
}

// --- ParseLog ----------------------------------------------------------------

TEST(ParseLogTest, WholeTextInOrderWithCrlfAndNoFinalNewline) {
  std::string text = std::string(kHeader) + "\r\n" + kStep1 + "\r\nnoise\r\n" + kStep2;
  Result<ParsedLog> log = ParseLog(text, LogFormat::kJsonl, "", "run.jsonl");
  ASSERT_TRUE(log.ok()) << log.status().message();
  ASSERT_EQ(log->steps.size(), 2u);
  EXPECT_EQ(log->steps[0].step, 1);
  EXPECT_EQ(log->steps[1].step, 2);
  EXPECT_EQ(Bits(Metric(log->steps[1], "loss").f), Bits(0x1.58995p+2));
  ASSERT_TRUE(log->header.has_value());
  EXPECT_EQ(log->header->at("profile"), "portable");
}

TEST(ParseLogTest, NoStepLinesIsBadInputNamingTheOrigin) {
  std::string text =
      "[titan] 2025-01-01 12:00:00,000 - root - INFO - step:  1  loss:  8.1234  tps: 1\n"
      "some other line\n";
  Result<ParsedLog> log = ParseLog(text, LogFormat::kMegatron, "", "logs/run-7.log");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().exit_code(), 2);
  EXPECT_TRUE(Contains(log.status().message(),
                       "logs/run-7.log: no step lines found for parser megatron; is this the "
                       "right --parser / log?"));

  Result<ParsedLog> empty =
      ParseLog("", LogFormat::kRegex, R"(s(?<step>\d+) (?<loss>\S+))", "stdout of case x");
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(Contains(empty.status().message(), "stdout of case x: no step lines found"));

  // The same text with the right parser has its step.
  Result<ParsedLog> right = ParseLog(text, LogFormat::kTorchtitan, "", "logs/run-7.log");
  ASSERT_TRUE(right.ok()) << right.status().message();
  EXPECT_EQ(right->steps.size(), 1u);
  EXPECT_FALSE(right->header.has_value());
}

TEST(ParseLogTest, BadRegexIsReportedBeforeParsing) {
  Result<ParsedLog> log = ParseLog("step 1\n", LogFormat::kRegex, "step (\\d+", "a.log");
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(Contains(log.status().message(), "does not compile"));
}

}  // namespace
}  // namespace lockstep::smoke
