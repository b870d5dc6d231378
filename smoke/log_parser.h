// Log parsers: turn a trainer's output into StepRows, so the smoke gate can
// compare runs of any trainer, not only lockstep's own (issue 4, "Any
// trainer").
//
// Four formats, chosen by a case's `parser` key (or --parser):
//
//   jsonl       lockstep's record stream (docs/design.md): line 1 a header object
//               with "type": "header", then one JSON object per step (any
//               object with an integer "step" and no other "type"). loss,
//               grad_norm, lr: hex strings ("0x1.63d2a4p+2", "nan") → exact
//               Float, JSON numbers → inexact Float. tokens, *_bytes → Int.
//               Digests, status, cause → Text. step_ms → inexact Float.
//               *_dec keys (the decimal copies for people) are skipped.
//               Other keys: non-negative integers → Int, other numbers →
//               inexact Float, hex float strings → exact Float, other
//               strings and booleans → Text; null/objects/arrays dropped.
//   torchtitan  its step lines, e.g.
//                 [rank0]:[titan] 2025-01-01 12:00:00,000 - root - INFO - step:  1
//                 loss:  8.1234  grad_norm:  1.2345  memory: 12.34GiB(15.67%)
//                 tps: 1,234  tflops: 12.34  mfu: 5.67%
//               (one line) → metrics loss, grad_norm, memory_gib, tps (a
//               line without "loss:" is not a step line; tflops and mfu are
//               not kept). "validate step: N ..." lines are validation.
//   megatron    Megatron-LM's training log lines, e.g.
//                 [2024-05-01 10:00:00] iteration 3/ 100 | consumed samples: 96 |
//                 elapsed time per iteration (ms): 1234.5 | learning rate: 1.500000E-04 |
//                 lm loss: 1.023456E+01 | loss scale: 1.0 | grad norm: 12.345 |
//                 number of skipped iterations: 0 | number of nan iterations: 0 |
//               (one line) → loss ("lm loss", or a fork's bare "loss"),
//               grad_norm, lr, step_ms, loss_scale (Floats), skipped,
//               nan_iterations (Ints): those present. Validation lines
//               ("validation loss at iteration N | ...") are not steps.
//   regex       a user's ECMAScript regex with one named group per metric,
//               (?<name>...) or (?P<name>...); `step` and `loss` groups are required.
//
// Decimal values from logs are rounded, so they become MetricValue::Float
// with exact = false and are compared under the case's tolerance policy;
// only hex floats are exact.
//
// Text formats (torchtitan, megatron, regex) have ANSI color sequences
// (ESC [ ... m and other CSI sequences) removed before matching, so patterns
// are written against the text as it shows in a terminal. torchtitan and
// megatron lines may carry torchrun's "[rankN]:" prefix: the rank of the
// first step line seen is kept and step lines of other ranks are ignored.
//
// Every step line is returned in log order: a log that repeats a step (a
// resumed run) yields it twice; deciding what that means is the caller's job.
#ifndef LOCKSTEP_SMOKE_LOG_PARSER_H_
#define LOCKSTEP_SMOKE_LOG_PARSER_H_

#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "golden/step_row.h"

namespace lockstep::smoke {

enum class LogFormat { kJsonl, kTorchtitan, kMegatron, kRegex };

// "jsonl" | "torchtitan" | "megatron" | "regex"; BadInput listing the valid
// names otherwise.
Result<LogFormat> ParseLogFormat(const std::string& name);

// The name ParseLogFormat accepts for `format`.
std::string_view LogFormatName(LogFormat format);

// Parses a trainer's output line by line. Feed() takes one line (without
// '\n'; a trailing '\r' is ignored) and returns a StepRow when the line is a
// step line, nothing otherwise: other log noise is ignored, never an error.
class LineParser {
 public:
  // The regex parser does not look at lines longer than this: libstdc++'s
  // std::regex recurses per character and would overflow the stack on a long
  // line (a dumped config, a tensor print). Step lines are far shorter.
  static constexpr std::size_t kMaxRegexLineBytes = 4096;

  // `regex` is used only for kRegex (and must be empty otherwise): an
  // ECMAScript regex, searched in each line (std::regex_search), whose named
  // groups (?<name>...) or (?P<name>...) become metrics. It must have a
  // `step` and a `loss` group. The value of a group that took part in the match becomes:
  // a hex float ("0x1.8p+1") → Float, exact; a decimal number (thousands
  // commas allowed: "1,234") → Float, not exact; anything else → Text.
  // A line whose `step` capture is not an integer is not a step line.
  //
  // BadInput when the regex does not compile (the message names the regex
  // and std::regex_error's reason), has no `step` or no `loss` group, names a
  // group twice, uses a named backreference (\k<name>, (?P=name)), which
  // std::regex cannot express, or a backreference of more than 3 digits or a
  // {n,m} count above 999999 (libstdc++ 12 overflows reading those).
  static Result<LineParser> Create(LogFormat format, const std::string& regex = "");

  std::optional<golden::StepRow> Feed(std::string_view line);

  // jsonl only: the header line's JSON (the first one, if several were seen).
  const std::optional<nlohmann::json>& header() const { return header_; }

  // Metrics that a log prints on lines of their own, after their step's line:
  // Megatron's "[Rank 0] (after N iterations) memory (MB) | ... | max
  // allocated: X | ..." becomes mem_max_allocated_bytes (X MiB, rounded to a
  // byte) of step N. AddLateMetrics puts them into the run's rows.
  void AddLateMetrics(std::vector<golden::StepRow>& steps) const;

  LogFormat format() const { return format_; }

 private:
  explicit LineParser(LogFormat format) : format_(format) {}

  std::optional<golden::StepRow> FeedJsonl(std::string_view line);
  std::optional<golden::StepRow> FeedTorchtitan(std::string_view line);
  std::optional<golden::StepRow> FeedMegatron(std::string_view line);
  bool FeedMegatronMemory(std::string_view line);
  std::optional<golden::StepRow> FeedRegex(std::string_view line);
  // False when `line` carries a "[rankN]:" prefix of another rank than the
  // one locked onto; locks onto the first rank seen when `is_step_line`.
  bool AcceptRank(std::string_view line, bool is_step_line);

  LogFormat format_;
  std::optional<nlohmann::json> header_;
  std::map<std::int64_t, std::uint64_t> max_allocated_;  // megatron: step -> bytes
  std::optional<long> rank_;                             // torchtitan/megatron: the rank kept
  // kRegex: the compiled pattern (std::regex, kept out of this header) and
  // (metric name, group index) per named group, in pattern order.
  struct CompiledRegex;
  std::shared_ptr<const CompiledRegex> regex_;
  std::vector<std::pair<std::string, std::size_t>> groups_;
};

// A whole log (a file's contents) parsed.
struct ParsedLog {
  std::optional<nlohmann::json> header;  // jsonl only
  std::vector<golden::StepRow> steps;    // in log order
};

// Every step row of `text`, in order. BadInput (as LineParser::Create), or
// when there is no step line at all: "<origin>: no step lines found for
// parser <name>; is this the right --parser / log?". `origin` names the log
// (a path, or "stdout of case X").
Result<ParsedLog> ParseLog(std::string_view text, LogFormat format, const std::string& regex,
                           const std::string& origin);

}  // namespace lockstep::smoke

#endif  // LOCKSTEP_SMOKE_LOG_PARSER_H_
