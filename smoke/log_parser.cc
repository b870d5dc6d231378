#include "smoke/log_parser.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <set>

// GCC 12's optimizer reports a false "maybe-uninitialized" inside
// libstdc++'s regex compiler when sanitizers are on.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "core/hexfloat.h"
#include "core/text.h"
#include "golden/metric_text.h"

namespace lockstep::smoke {

struct LineParser::CompiledRegex {
  std::regex regex;
};

namespace {

using golden::IsHexFloatText;
using golden::MetricValue;
using golden::ParseNumber;
using golden::ParseStep;
using golden::ParseUint;
using golden::StepRow;

constexpr std::string_view kFormatNames[] = {"jsonl", "torchtitan", "megatron", "regex"};

bool IsWordChar(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '_';
}

// Removes ANSI escape sequences: CSI (ESC '[' parameters intermediates final),
// which covers colors (ESC[31m, ESC[38;2;54;234;195m), and two-byte escapes.
std::string StripAnsi(std::string_view line) {
  if (line.find('\x1b') == std::string_view::npos) return std::string(line);
  std::string out;
  out.reserve(line.size());
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] != '\x1b') {
      out += line[i++];
      continue;
    }
    ++i;  // ESC
    if (i < line.size() && line[i] == '[') {
      ++i;
      // Parameter and intermediate bytes, then the final byte.
      while (i < line.size() && line[i] >= 0x20 && line[i] <= 0x3f) ++i;
      if (i < line.size() && line[i] >= 0x40 && line[i] <= 0x7e) ++i;
    } else if (i < line.size()) {
      ++i;  // a two-byte escape
    }
  }
  return out;
}

// A value from a text log: hex float → exact Float, decimal → inexact Float,
// anything else → Text.
MetricValue TextValue(std::string_view text) {
  text = Trim(text);
  if (IsHexFloatText(text)) {
    if (std::optional<double> v = ParseHexFloat(std::string(text))) return MetricValue::Float(*v);
  }
  // Hex without a 'p' exponent ("0xdeadbeef") is an id or a digest, not a
  // number: strtod would accept it and round long ones.
  std::string_view unsigned_text = text;
  if (!unsigned_text.empty() && (unsigned_text[0] == '+' || unsigned_text[0] == '-')) {
    unsigned_text.remove_prefix(1);
  }
  bool hex_int = unsigned_text.size() > 1 && unsigned_text[0] == '0' &&
                 (unsigned_text[1] == 'x' || unsigned_text[1] == 'X');
  if (!hex_int) {
    if (std::optional<double> v = ParseNumber(text)) return MetricValue::Float(*v, false);
  }
  return MetricValue::Text(std::string(text));
}

// Returns the rank N of a "[rankN]:" prefix, if the line has one.
std::optional<long> RankPrefix(std::string_view line) {
  constexpr std::string_view kPrefix = "[rank";
  if (line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::size_t end = line.find("]:", kPrefix.size());
  if (end == std::string_view::npos) return std::nullopt;
  long rank = 0;
  std::string_view digits = line.substr(kPrefix.size(), end - kPrefix.size());
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), rank);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return rank;
}

// --- regex -------------------------------------------------------------------

std::string Quoted(const std::string& regex) {
  return "regex \"" + regex + "\"";
}

// libstdc++ 12 reads a backreference's number, and a {n,m} count, into a
// long without an overflow check, and has no named backreferences: such
// escapes are refused. `i` is at a backslash.
Status CheckEscape(const std::string& regex, std::size_t i, bool in_class) {
  if (in_class) return Status::Ok();
  if (regex.compare(i, 3, "\\k<") == 0) {
    return Status::BadInput(Quoted(regex) +
                            ": named backreferences (\\k<name>) are not supported by "
                            "std::regex; use a numbered one (\\1)");
  }
  std::size_t digits = 0;
  while (i + 1 + digits < regex.size() && IsDigit(regex[i + 1 + digits])) ++digits;
  if (digits > 3) {
    return Status::BadInput(Quoted(regex) +
                            ": a backreference \\N with more than 3 digits is not supported");
  }
  return Status::Ok();
}

// `i` is at a '{' outside a class.
Status CheckRepetitionCount(const std::string& regex, std::size_t i) {
  std::size_t run = 0;
  for (std::size_t k = i + 1; k < regex.size() && (IsDigit(regex[k]) || regex[k] == ','); ++k) {
    run = IsDigit(regex[k]) ? run + 1 : 0;
    if (run > 6) {
      return Status::BadInput(Quoted(regex) +
                              ": a repetition count {n,m} above 999999 is not supported");
    }
  }
  return Status::Ok();
}

// `i` is at "(?" outside a class. The name of a named group (?<name> or
// (?P<name>, with *end just past its '>'; "" for a group that is not one
// ((?:, (?=, (?!). BadInput for a bad name or a named backreference.
Result<std::string> GroupName(const std::string& regex, std::size_t i, std::size_t* end) {
  std::size_t name_start = std::string::npos;
  if (regex.compare(i, 3, "(?<") == 0 && i + 3 < regex.size() && regex[i + 3] != '=' &&
      regex[i + 3] != '!') {
    name_start = i + 3;
  } else if (regex.compare(i, 4, "(?P<") == 0) {
    name_start = i + 4;
  } else if (regex.compare(i, 4, "(?P=") == 0) {
    return Status::BadInput(Quoted(regex) +
                            ": named backreferences ((?P=name)) are not supported by "
                            "std::regex; use a numbered one (\\1)");
  }
  if (name_start == std::string::npos) return std::string();
  const std::size_t name_end = regex.find('>', name_start);
  std::string name =
      name_end == std::string::npos ? "" : regex.substr(name_start, name_end - name_start);
  bool valid = !name.empty() && !IsDigit(name[0]);
  for (char n : name) valid = valid && IsWordChar(n);
  if (!valid) {
    return Status::BadInput(Quoted(regex) + ": bad group name at offset " + std::to_string(i) +
                            ": write (?<name>...) with a name of letters, digits and _");
  }
  *end = name_end + 1;
  return name;
}

// Translates named groups (?<name>...) and (?P<name>...) into plain groups
// for std::regex (ECMAScript has none), recording each name's group index.
Status TranslateNamedGroups(const std::string& regex, std::string* out,
                            std::vector<std::pair<std::string, std::size_t>>* groups) {
  out->clear();
  groups->clear();
  std::set<std::string> names;
  std::size_t group_count = 0;
  bool in_class = false;
  std::size_t i = 0;
  while (i < regex.size()) {
    const char c = regex[i];
    if (c == '\\') {
      LOCKSTEP_RETURN_IF_ERROR(CheckEscape(regex, i, in_class));
      out->append(regex, i, 2);  // the escape and the escaped character (if any)
      i += 2;
      continue;
    }
    if (c == '{' && !in_class) LOCKSTEP_RETURN_IF_ERROR(CheckRepetitionCount(regex, i));
    if (in_class || c != '(') {
      if (in_class && c == ']') in_class = false;
      if (!in_class && c == '[') in_class = true;
      *out += c;
      ++i;
      continue;
    }
    // An opening parenthesis outside a class.
    if (i + 1 >= regex.size() || regex[i + 1] != '?') {
      ++group_count;  // a plain capturing group
      *out += c;
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    Result<std::string> name = GroupName(regex, i, &end);
    if (!name.ok()) return name.status();
    if (name->empty()) {  // (?:...), (?=...), (?!...): not capturing
      *out += c;
      ++i;
      continue;
    }
    if (!names.insert(*name).second) {
      return Status::BadInput(Quoted(regex) + " names group \"" + *name +
                              "\" twice: give each metric one group");
    }
    ++group_count;
    groups->emplace_back(*name, group_count);
    *out += '(';
    i = end;
  }
  return Status::Ok();
}

// The N of "iteration N/ M |" as a word, and where the text after it starts.
std::optional<std::int64_t> MegatronIteration(std::string_view line, std::size_t* rest) {
  std::size_t pos = 0;
  while ((pos = line.find("iteration", pos)) != std::string_view::npos) {
    std::size_t at = pos;
    pos += 9;
    if (at > 0 && IsWordChar(line[at - 1])) continue;
    std::size_t i = pos;
    if (i >= line.size() || !IsSpace(line[i])) continue;
    while (i < line.size() && IsSpace(line[i])) ++i;
    std::size_t n = i;
    while (i < line.size() && IsDigit(line[i])) ++i;
    if (i == n) continue;
    std::string_view number = line.substr(n, i - n);
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i >= line.size() || line[i] != '/') continue;
    ++i;
    while (i < line.size() && IsSpace(line[i])) ++i;
    std::size_t t = i;
    while (i < line.size() && IsDigit(line[i])) ++i;
    if (i == t) continue;
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i < line.size() && line[i] != '|') continue;
    const std::optional<std::int64_t> step = ParseStep(number);
    if (!step) continue;
    *rest = i;
    return step;
  }
  return std::nullopt;
}

// The "| key: value |" segments of `tail`, by key (the first of each).
std::map<std::string, std::string_view, std::less<>> BarFields(std::string_view tail) {
  std::map<std::string, std::string_view, std::less<>> fields;
  while (!tail.empty()) {
    std::size_t bar = tail.find('|');
    std::string_view segment = tail.substr(0, bar);
    tail = bar == std::string_view::npos ? std::string_view() : tail.substr(bar + 1);
    std::size_t colon = segment.find(':');
    if (colon == std::string_view::npos) continue;
    fields.emplace(std::string(Trim(segment.substr(0, colon))), Trim(segment.substr(colon + 1)));
  }
  return fields;
}

}  // namespace

Result<LogFormat> ParseLogFormat(const std::string& name) {
  for (std::size_t i = 0; i < std::size(kFormatNames); ++i) {
    if (name == kFormatNames[i]) return static_cast<LogFormat>(i);
  }
  std::string valid;
  for (std::string_view n : kFormatNames) {
    if (!valid.empty()) valid += ", ";
    valid += n;
  }
  return Status::BadInput("unknown log parser \"" + name + "\": valid parsers are " + valid);
}

std::string_view LogFormatName(LogFormat format) {
  return kFormatNames[static_cast<std::size_t>(format)];
}

Result<LineParser> LineParser::Create(LogFormat format, const std::string& regex) {
  LineParser parser(format);
  if (format != LogFormat::kRegex) {
    if (!regex.empty()) {
      return Status::BadInput("a regex is only used by parser \"regex\", not by parser \"" +
                              std::string(LogFormatName(format)) + "\": drop the regex or use " +
                              "parser \"regex\"");
    }
    return parser;
  }
  if (regex.empty()) {
    return Status::BadInput(
        "parser \"regex\" needs a regex with one named group per metric and a step group, e.g. "
        "\"step (?<step>\\d+) loss (?<loss>\\S+)\"");
  }
  std::string translated;
  LOCKSTEP_RETURN_IF_ERROR(TranslateNamedGroups(regex, &translated, &parser.groups_));
  try {
    parser.regex_ = std::make_shared<CompiledRegex>(
        CompiledRegex{std::regex(translated, std::regex::ECMAScript)});
  } catch (const std::regex_error& e) {
    return Status::BadInput(Quoted(regex) + " does not compile: " + e.what());
  }
  bool has_step = false, has_loss = false;
  for (const auto& [name, index] : parser.groups_) {
    has_step = has_step || name == "step";
    has_loss = has_loss || name == "loss";
  }
  if (!has_step) {
    return Status::BadInput(Quoted(regex) + " has no (?<step>...) group: add one");
  }
  if (!has_loss) {
    return Status::BadInput(Quoted(regex) +
                            " has no (?<loss>...) group: a step line without a loss is not "
                            "a training step; add one");
  }
  return parser;
}

std::optional<StepRow> LineParser::Feed(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  switch (format_) {
    case LogFormat::kJsonl:
      return FeedJsonl(line);
    case LogFormat::kTorchtitan:
      return FeedTorchtitan(line);
    case LogFormat::kMegatron:
      return FeedMegatron(line);
    case LogFormat::kRegex:
      return FeedRegex(line);
  }
  return std::nullopt;
}

bool LineParser::AcceptRank(std::string_view line, bool is_step_line) {
  std::optional<long> rank = RankPrefix(line);
  if (!rank) return true;
  if (!rank_) {
    if (is_step_line) rank_ = rank;
    return true;
  }
  return *rank_ == *rank;
}

std::optional<StepRow> LineParser::FeedJsonl(std::string_view line) {
  line = Trim(line);
  if (line.empty() || line.front() != '{') return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto type = j.find("type");
  if (type != j.end()) {
    if (*type == "header" && !header_) header_ = j;
    if (*type != "step") return std::nullopt;
  }
  return golden::StepRowFromJson(j);
}

std::optional<StepRow> LineParser::FeedTorchtitan(std::string_view raw) {
  if (raw.find("step") == std::string_view::npos) return std::nullopt;  // fast path
  std::string text = StripAnsi(raw);
  std::string_view line = text;
  // Find "step:" as a word, not preceded by a validation word.
  std::size_t pos = 0;
  std::optional<std::int64_t> step;
  std::size_t after_step = 0;
  while ((pos = line.find("step:", pos)) != std::string_view::npos) {
    std::size_t at = pos;
    pos += 5;
    if (at > 0 && IsWordChar(line[at - 1])) continue;
    std::size_t w_end = at;
    while (w_end > 0 && IsSpace(line[w_end - 1])) --w_end;
    std::size_t w_start = w_end;
    while (w_start > 0 && IsWordChar(line[w_start - 1])) --w_start;
    std::string prev = ToLower(line.substr(w_start, w_end - w_start));
    if (prev == "validate" || prev == "validation" || prev == "val" || prev == "eval" ||
        prev == "evaluation" || prev == "test") {
      continue;
    }
    std::size_t d = pos;
    while (d < line.size() && IsSpace(line[d])) ++d;
    std::size_t d_end = d;
    while (d_end < line.size() && IsDigit(line[d_end])) ++d_end;
    if (d_end == d || (d_end < line.size() && !IsSpace(line[d_end]))) continue;
    step = ParseStep(line.substr(d, d_end - d));
    if (!step) continue;
    after_step = d_end;
    break;
  }
  if (!step) return std::nullopt;

  // Then "key: value" pairs separated by spaces.
  StepRow row;
  row.step = *step;
  std::size_t i = after_step;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    std::size_t tok_end = i;
    while (tok_end < line.size() && !IsSpace(line[tok_end])) ++tok_end;
    std::string_view token = line.substr(i, tok_end - i);
    i = tok_end;
    std::size_t colon = token.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = token.substr(0, colon);
    std::string_view value = token.substr(colon + 1);
    if (value.empty()) {  // "key: value": the value is the next token
      while (i < line.size() && IsSpace(line[i])) ++i;
      std::size_t v_end = i;
      while (v_end < line.size() && !IsSpace(line[v_end])) ++v_end;
      value = line.substr(i, v_end - i);
      i = v_end;
    }
    if (key == "loss" || key == "grad_norm") {
      if (std::optional<double> v = ParseNumber(value)) {
        row.metrics.emplace(std::string(key), MetricValue::Float(*v, false));
      }
    } else if (key == "memory") {
      // "12.34GiB(15.67%)"
      std::size_t unit = value.find("GiB");
      if (unit != std::string_view::npos) {
        if (std::optional<double> v = ParseNumber(value.substr(0, unit))) {
          row.metrics.emplace("memory_gib", MetricValue::Float(*v, false));
        }
      }
    } else if (key == "tps") {
      if (std::optional<double> v = ParseNumber(value)) {
        row.metrics.emplace("tps", MetricValue::Float(*v, false));
      }
    }
  }
  if (row.metrics.count("loss") == 0) return std::nullopt;  // not a training step line
  if (!AcceptRank(line, /*is_step_line=*/true)) return std::nullopt;
  return row;
}

void LineParser::AddLateMetrics(std::vector<StepRow>& steps) const {
  for (StepRow& row : steps) {
    auto it = max_allocated_.find(row.step);
    if (it != max_allocated_.end())
      row.metrics["mem_max_allocated_bytes"] = MetricValue::Int(it->second);
  }
}

// "[Rank 0] (after 10 iterations) memory (MB) | allocated: ... | max allocated:
// 2345.6 | ...": keeps the step's max allocated; true for such a line.
bool LineParser::FeedMegatronMemory(std::string_view line) {
  const std::size_t after = line.find("(after ");
  if (after == std::string_view::npos ||
      line.find("iterations) memory (MB)", after) == std::string_view::npos) {
    return false;
  }
  std::size_t i = after + 7, digits = i;
  while (i < line.size() && IsDigit(line[i])) ++i;
  const std::optional<std::int64_t> step = ParseStep(line.substr(digits, i - digits));
  const std::size_t key = line.find("| max allocated:");
  if (step && key != std::string_view::npos && AcceptRank(line, /*is_step_line=*/false)) {
    std::string_view value = line.substr(key + 16);
    value = Trim(value.substr(0, value.find('|')));
    if (std::optional<double> mib = ParseNumber(value); mib && *mib >= 0 && *mib < 1e12) {
      max_allocated_[*step] = static_cast<std::uint64_t>(std::llround(*mib * 1048576.0));
    }
  }
  return true;
}

std::optional<StepRow> LineParser::FeedMegatron(std::string_view raw) {
  if (raw.find("iteration") == std::string_view::npos) return std::nullopt;  // fast path
  std::string text = StripAnsi(raw);
  std::string_view line = text;
  if (FeedMegatronMemory(line)) return std::nullopt;
  std::size_t rest = 0;
  const std::optional<std::int64_t> step = MegatronIteration(line, &rest);
  if (!step) return std::nullopt;
  if (!AcceptRank(line, /*is_step_line=*/true)) return std::nullopt;

  const auto fields = BarFields(line.substr(rest));
  StepRow row;
  row.step = *step;
  auto add_float = [&](std::string_view key, const std::string& metric) {
    auto it = fields.find(key);
    if (it == fields.end() || row.metrics.count(metric) != 0) return;
    if (std::optional<double> v = ParseNumber(it->second)) {
      row.metrics[metric] = MetricValue::Float(*v, false);
    }
  };
  auto add_int = [&](std::string_view key, const std::string& metric) {
    auto it = fields.find(key);
    if (it == fields.end()) return;
    if (std::optional<std::uint64_t> v = ParseUint(it->second)) {
      row.metrics[metric] = MetricValue::Int(*v);
    } else if (std::optional<double> d = ParseNumber(it->second)) {
      row.metrics[metric] = MetricValue::Float(*d, false);
    }
  };
  add_float("lm loss", "loss");
  add_float("loss", "loss");  // forks that log a bare "loss"
  add_float("grad norm", "grad_norm");
  add_float("learning rate", "lr");
  add_float("elapsed time per iteration (ms)", "step_ms");
  add_float("loss scale", "loss_scale");
  add_int("number of skipped iterations", "skipped");
  add_int("number of nan iterations", "nan_iterations");
  return row;
}

std::optional<StepRow> LineParser::FeedRegex(std::string_view raw) {
  std::string text = StripAnsi(raw);
  if (text.size() > kMaxRegexLineBytes) return std::nullopt;
  std::cmatch match;
  const char* begin = text.data();
  try {
    if (!std::regex_search(begin, begin + text.size(), match, regex_->regex)) {
      return std::nullopt;
    }
  } catch (const std::regex_error&) {  // error_complexity / error_stack on this line
    return std::nullopt;
  }
  StepRow row;
  bool has_step = false;
  for (const auto& [name, index] : groups_) {
    if (index >= match.size() || !match[index].matched) continue;
    std::string_view value(match[index].first,
                           static_cast<std::size_t>(match[index].second - match[index].first));
    if (name == "step") {
      std::optional<std::int64_t> step = ParseStep(value);
      if (!step) return std::nullopt;
      row.step = *step;
      has_step = true;
      continue;
    }
    if (Trim(value).empty()) continue;
    row.metrics[name] = TextValue(value);
  }
  if (!has_step) return std::nullopt;
  return row;
}

Result<ParsedLog> ParseLog(std::string_view text, LogFormat format, const std::string& regex,
                           const std::string& origin) {
  Result<LineParser> parser = LineParser::Create(format, regex);
  if (!parser.ok()) return parser.status();
  ParsedLog log;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t newline = text.find('\n', start);
    std::size_t end = newline == std::string_view::npos ? text.size() : newline;
    if (std::optional<StepRow> row = parser->Feed(text.substr(start, end - start))) {
      log.steps.push_back(std::move(*row));
    }
    start = end + 1;
  }
  log.header = parser->header();
  parser->AddLateMetrics(log.steps);
  if (log.steps.empty()) {
    std::string name(LogFormatName(format));
    if (format == LogFormat::kRegex) name += " \"" + regex + "\"";
    return Status::BadInput(origin + ": no step lines found for parser " + name +
                            "; is this the right --parser / log?");
  }
  return log;
}

}  // namespace lockstep::smoke
