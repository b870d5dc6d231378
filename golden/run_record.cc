#include "golden/run_record.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "core/atomic_file.h"
#include "core/hexfloat.h"
#include "core/toml_fields.h"
#include "golden/metric_text.h"

namespace lockstep::golden {
namespace {

// The order metrics are written in; others follow alphabetically.
const std::vector<std::string> kMetricOrder = {"loss",           "grad_norm",      "lr",
                                               "tokens",         "batch_digest",   "param_digest",
                                               "mem_peak_bytes", "rss_peak_bytes", "step_ms"};

std::vector<std::string> OrderedKeys(const StepRow& row) {
  std::vector<std::string> keys;
  for (const auto& k : kMetricOrder) {
    if (row.metrics.count(k)) keys.push_back(k);
  }
  for (const auto& [k, v] : row.metrics) {
    if (std::find(kMetricOrder.begin(), kMetricOrder.end(), k) == kMetricOrder.end())
      keys.push_back(k);
  }
  return keys;
}

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string TomlKey(const std::string& k) {
  bool bare =
      !k.empty() &&
      k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
          std::string::npos;
  return bare ? k : TomlString(k);
}

std::string TomlFloat(double v) {
  std::string s = nlohmann::json(v).dump();
  if (s.find_first_of(".eE") == std::string::npos && s.find("inf") == std::string::npos &&
      s.find("nan") == std::string::npos) {
    s += ".0";
  }
  return s;
}

// A JSON value as an inline TOML value.
std::string TomlInline(const nlohmann::json& v) {
  if (v.is_string()) return TomlString(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) return TomlFloat(v.get<double>());
  if (v.is_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : " ") + TomlInline(v[i]);
    return out + (v.empty() ? "]" : " ]");
  }
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, x] : v.items()) {
      out += (first ? " " : ", ") + TomlKey(k) + " = " + TomlInline(x);
      first = false;
    }
    return out + (first ? "}" : " }");
  }
  return "\"\"";  // null: absent
}

std::string MetricToToml(const MetricValue& m) {
  switch (m.kind) {
    case MetricValue::Kind::kFloat:
      return m.exact ? TomlString(HexFloat(m.f)) : TomlFloat(m.f);
    case MetricValue::Kind::kInt:
      return std::to_string(m.i);
    case MetricValue::Kind::kText:
      return TomlString(m.s);
  }
  return "\"\"";
}

// A header table as JSON, the form the record stream holds it in. A value
// JSON cannot hold (nan, inf, a date or time) is refused: GoldenToToml could
// not write it back (it did write `nan` as `null.0`, which is not TOML).
// Returns what is wrong and where ("" when nothing is).
std::string TomlToJson(const toml::value& v, const std::string& key, nlohmann::json* out) {
  if (v.is_table()) {
    *out = nlohmann::json::object();
    for (const auto& [k, x] : v.as_table()) {
      std::string wrong = TomlToJson(x, key + "." + k, &(*out)[k]);
      if (!wrong.empty()) return wrong;
    }
    return "";
  }
  if (v.is_array()) {
    *out = nlohmann::json::array();
    for (std::size_t i = 0; i < v.as_array().size(); ++i) {
      nlohmann::json item;
      std::string wrong = TomlToJson(v.as_array()[i], fmt::format("{}[{}]", key, i), &item);
      if (!wrong.empty()) return wrong;
      out->push_back(std::move(item));
    }
    return "";
  }
  if (v.is_integer()) {
    *out = v.as_integer();
  } else if (v.is_floating()) {
    if (!std::isfinite(v.as_floating()))
      return fmt::format("`{}` is {}, which a run never records", key, v.as_floating());
    *out = v.as_floating();
  } else if (v.is_boolean()) {
    *out = v.as_boolean();
  } else if (v.is_string()) {
    *out = v.as_string().str;
  } else {
    return fmt::format("`{}` is a date or time, which a run never records", key);
  }
  return "";
}

std::string Badly(const std::string& origin, const std::string& what) {
  return fmt::format(
      "{}: damaged golden: {}; restore it from version control or re-record it with "
      "`lockstep smoke CASE --update`",
      origin, what);
}

bool IsCountMetric(const std::string& k) {
  return k == "tokens" || k == "grad_zeros" || k.ends_with("_bytes");
}
bool IsFloatMetric(const std::string& k) {
  return k == "loss" || k == "grad_norm" || k == "lr" || k.starts_with("eval_");
}

// One metric of a golden step, each kind strictly: floats are hex-float
// strings (exact) or TOML floats (rounded decimals of another trainer's log),
// counts non-negative integers, digests 16 hex digits.
Result<MetricValue> GoldenMetric(const std::string& k, const toml::value& v) {
  if (IsFloatMetric(k) || k == "step_ms") {
    if (v.is_string()) {
      const std::string& str = v.as_string().str;
      std::optional<double> f = IsHexFloatText(str) ? ParseHexFloat(str) : std::nullopt;
      if (!f)
        return Status::BadInput(
            fmt::format("`{}` = \"{}\" is not a hex float such as \"0x1.8p+1\"", k, str));
      return MetricValue::Float(*f, true);
    }
    if (v.is_floating()) return MetricValue::Float(v.as_floating(), false);
    if (v.is_integer()) return MetricValue::Float(static_cast<double>(v.as_integer()), false);
    return Status::BadInput(fmt::format("`{}` must be a hex-float string or a number", k));
  }
  if (IsCountMetric(k)) {
    if (!v.is_integer() || v.as_integer() < 0)
      return Status::BadInput(fmt::format("`{}` must be an integer >= 0", k));
    return MetricValue::Int(static_cast<std::uint64_t>(v.as_integer()));
  }
  if (k.ends_with("_digest")) {
    const bool ok = v.is_string() && v.as_string().str.size() == 16 &&
                    v.as_string().str.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!ok) return Status::BadInput(fmt::format("`{}` must be 16 lower-case hex digits", k));
    return MetricValue::Text(v.as_string().str);
  }
  // Fields this reader does not know: text, counts, or floats as above.
  if (v.is_string()) {
    const std::string& str = v.as_string().str;
    if (IsHexFloatText(str)) {
      std::optional<double> f = ParseHexFloat(str);
      if (!f)
        return Status::BadInput(
            fmt::format("`{}` = \"{}\" is not a well-formed hex float", k, str));
      return MetricValue::Float(*f, true);
    }
    return MetricValue::Text(str);
  }
  if (v.is_integer()) {
    if (v.as_integer() < 0) return Status::BadInput(fmt::format("`{}` must be an integer >= 0", k));
    return MetricValue::Int(static_cast<std::uint64_t>(v.as_integer()));
  }
  if (v.is_floating()) return MetricValue::Float(v.as_floating(), false);
  return Status::BadInput(fmt::format("`{}` must be a string or a number", k));
}

}  // namespace

std::string MetricValue::ToString() const {
  switch (kind) {
    case Kind::kFloat:
      return exact ? HexFloat(f) : fmt::format("{}", f);
    case Kind::kInt:
      return std::to_string(i);
    case Kind::kText:
      return s;
  }
  return "";
}

std::string JsonText(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

RunHeader HeaderFromJson(const nlohmann::json& h) {
  RunHeader header;
  if (!h.is_object()) return header;
  header.config_digest = JsonText(h, "config_digest");
  header.manifest_digest = JsonText(h, "manifest_digest");
  header.profile = JsonText(h, "profile");
  header.tool_version = JsonText(h, "version");
  for (auto [key, target] : {std::pair{"corpora", &header.corpora}, std::pair{"env", &header.env},
                             std::pair{"config", &header.config}}) {
    if (h.contains(key) && h[key].is_object()) *target = h[key];
  }
  return header;
}

Result<RunRecord> LoadRecordStream(const std::string& path) {
  Result<std::string> text = ReadFile(path, kMaxRecordStreamBytes);
  if (!text.ok()) return text.status();
  RunRecord record;
  std::string_view rest = *text;
  int number = 0;
  while (!rest.empty()) {
    const std::size_t eol = rest.find('\n');
    const bool complete = eol != std::string_view::npos;
    const std::string_view line = rest.substr(0, complete ? eol : rest.size());
    rest.remove_prefix(complete ? eol + 1 : rest.size());
    ++number;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      // A run killed mid-write leaves a partial last line, without its
      // newline: only that is passed over, and only after the header.
      if (!complete && number > 1) break;
      return Status::BadInput(
          fmt::format("{}:{}: not a JSON object; is this a lockstep record stream?", path, number));
    }
    if (number == 1) {
      if (JsonText(j, "type") != "header") {
        return Status::BadInput(
            fmt::format("{}:1: the first line is not a record header; pass the file `lockstep "
                        "train --record` wrote",
                        path));
      }
      record.header = HeaderFromJson(j);
      continue;
    }
    std::optional<StepRow> row = StepRowFromJson(j);
    if (!row) {
      return Status::BadInput(
          fmt::format("{}:{}: a line without a valid \"step\" (an integer >= 1)", path, number));
    }
    record.steps.push_back(std::move(*row));
  }
  if (number == 0) return Status::BadInput(path + ": empty record stream");
  Status order = CheckStepOrder(record);
  if (!order.ok()) return Status::BadInput(fmt::format("{}: {}", path, order.message()));
  return record;
}

std::string GoldenToToml(const RunRecord& r) {
  std::string out = fmt::format(
      "# lockstep golden file: written by `lockstep smoke --update`, compared by `lockstep "
      "smoke`.\n"
      "# Floats are exact hex floats; the comment after each step gives decimals.\n"
      "[header]\ncase = {}\nformat_version = {}\nconfig_digest = {}\nmanifest_digest = {}\n"
      "profile = {}\ntool_version = {}\n",
      TomlString(r.header.case_name), kGoldenFormatVersion, TomlString(r.header.config_digest),
      TomlString(r.header.manifest_digest), TomlString(r.header.profile),
      TomlString(r.header.tool_version));
  auto table = [&](const std::string& name, const nlohmann::json& obj) {
    out += "\n[" + name + "]\n";
    for (const auto& [k, v] : obj.items()) {
      if (!v.is_object()) out += TomlKey(k) + " = " + TomlInline(v) + "\n";
    }
    for (const auto& [k, v] : obj.items()) {
      if (v.is_object()) {
        out += "\n[" + name + "." + TomlKey(k) + "]\n";
        for (const auto& [k2, v2] : v.items()) out += TomlKey(k2) + " = " + TomlInline(v2) + "\n";
      }
    }
  };
  table("header.corpora", r.header.corpora);
  table("header.env", r.header.env);
  table("header.config", r.header.config);
  out += "\n[record]\n";
  out += "steps = [\n";
  for (const StepRow& row : r.steps) {
    out += fmt::format("  {{ step = {}", row.step);
    for (const std::string& k : OrderedKeys(row)) {
      out += ", " + TomlKey(k) + " = " + MetricToToml(row.metrics.at(k));
    }
    out += " },";
    std::string comment;
    for (const char* k : {"loss", "grad_norm"}) {
      const MetricValue* m = row.Find(k);
      if (m != nullptr && m->kind == MetricValue::Kind::kFloat)
        comment += fmt::format(" {} {:.6g}", k, m->f);
    }
    if (!comment.empty()) out += "  #" + comment;
    out += "\n";
  }
  out += "]\n";
  return out;
}

namespace {

// [header]: only known keys, the format version this lockstep reads, each
// key its type.
Status ParseGoldenHeader(const toml::value& h, const std::string& origin, RunHeader* header) {
  static const std::set<std::string> kHeaderKeys = {
      "case",         "format_version", "config_digest", "manifest_digest", "profile",
      "tool_version", "corpora",        "env",           "config"};
  for (const auto& [key, value] : h.as_table()) {
    if (!kHeaderKeys.count(key)) {
      return Status::BadInput(Badly(origin, fmt::format("unknown key `header.{}`", key)));
    }
  }
  if (!h.contains("format_version") || !h.at("format_version").is_integer()) {
    return Status::BadInput(Badly(origin, "`header.format_version` must be an integer"));
  }
  const std::int64_t version = h.at("format_version").as_integer();
  if (version != kGoldenFormatVersion) {
    return Status::BadInput(fmt::format(
        "{}: golden format version {}, but this lockstep reads version {}: re-record it with "
        "`lockstep smoke CASE --update` (or use the lockstep that wrote it)",
        origin, version, kGoldenFormatVersion));
  }
  const struct {
    const char* key;
    std::string* target;
    bool required;
  } strings[] = {{"case", &header->case_name, true},
                 {"config_digest", &header->config_digest, true},
                 {"manifest_digest", &header->manifest_digest, false},
                 {"profile", &header->profile, false},
                 {"tool_version", &header->tool_version, false}};
  for (const auto& s : strings) {
    if (!h.contains(s.key)) {
      if (s.required) return Status::BadInput(Badly(origin, fmt::format("no `header.{}`", s.key)));
      continue;
    }
    if (!h.at(s.key).is_string()) {
      return Status::BadInput(Badly(origin, fmt::format("`header.{}` must be a string", s.key)));
    }
    *s.target = h.at(s.key).as_string().str;
  }
  for (const char* table : {"corpora", "env", "config"}) {
    if (!h.contains(table)) continue;
    if (!h.at(table).is_table()) {
      return Status::BadInput(Badly(origin, fmt::format("`header.{}` must be a table", table)));
    }
  }
  const std::pair<const char*, nlohmann::json*> tables[] = {
      {"corpora", &header->corpora}, {"env", &header->env}, {"config", &header->config}};
  for (const auto& [table, target] : tables) {
    if (!h.contains(table)) continue;
    std::string wrong = TomlToJson(h.at(table), std::string("header.") + table, target);
    if (!wrong.empty()) return Status::BadInput(Badly(origin, wrong));
  }
  return Status::Ok();
}

// [record] steps = [...]: each an integer `step` and metrics of their kind.
Status ParseGoldenSteps(const toml::value& root, const std::string& origin,
                        std::vector<StepRow>* steps) {
  if (!root.contains("record") || !root.at("record").is_table() ||
      !root.at("record").contains("steps") || !root.at("record").at("steps").is_array() ||
      root.at("record").as_table().size() != 1) {
    return Status::BadInput(
        Badly(origin, "no `[record]` table with (only) a `steps = [...]` array"));
  }
  for (const toml::value& s : root.at("record").at("steps").as_array()) {
    const std::string where = fmt::format("record.steps[{}]", steps->size());
    if (!s.is_table() || !s.contains("step") || !s.at("step").is_integer()) {
      return Status::BadInput(Badly(origin, where + " has no integer `step`"));
    }
    StepRow row;
    row.step = s.at("step").as_integer();
    for (const auto& [k, v] : s.as_table()) {
      if (k == "step") continue;
      Result<MetricValue> m = GoldenMetric(k, v);
      if (!m.ok())
        return Status::BadInput(
            Badly(origin, fmt::format("step {}: {}", row.step, m.status().message())));
      row.metrics[k] = std::move(m).value();
    }
    steps->push_back(std::move(row));
  }
  return Status::Ok();
}

}  // namespace

Result<RunRecord> ParseGolden(const std::string& text, const std::string& origin) {
  Result<toml::value> parsed = ParseTomlText(text, origin);
  if (!parsed.ok())
    return Status::BadInput(
        Badly(origin, "not valid TOML (truncated?)\n" + parsed.status().message()));
  const toml::value root = std::move(parsed).value();
  for (const auto& [key, value] : root.as_table()) {
    if (key != "header" && key != "record") {
      return Status::BadInput(Badly(
          origin,
          fmt::format("unknown top-level key `{}`; a golden holds [header] and [record]", key)));
    }
  }
  if (!root.contains("header") || !root.at("header").is_table()) {
    return Status::BadInput(Badly(origin, "no [header] table"));
  }
  const toml::value& h = root.at("header");
  RunRecord r;
  LOCKSTEP_RETURN_IF_ERROR(ParseGoldenHeader(h, origin, &r.header));
  LOCKSTEP_RETURN_IF_ERROR(ParseGoldenSteps(root, origin, &r.steps));
  Status shape = CheckRecordShape(r);
  if (!shape.ok()) return Status::BadInput(Badly(origin, shape.message()));
  return r;
}

Status CheckStepOrder(const RunRecord& record) {
  std::int64_t previous = 0;
  for (const StepRow& row : record.steps) {
    if (row.step < 1)
      return Status::BadInput(fmt::format("step {}: steps are numbered from 1", row.step));
    if (row.step == previous)
      return Status::BadInput(fmt::format("step {} appears twice", row.step));
    if (row.step < previous) {
      return Status::BadInput(
          fmt::format("step {} follows step {}: steps must be in order", row.step, previous));
    }
    previous = row.step;
  }
  return Status::Ok();
}

Status CheckRecordShape(const RunRecord& record) {
  if (record.steps.empty()) return Status::BadInput("no steps");
  LOCKSTEP_RETURN_IF_ERROR(CheckStepOrder(record));
  std::set<std::string> core_present;
  for (const StepRow& row : record.steps) {
    for (const char* m : kCoreMetrics) {
      if (row.metrics.count(m)) core_present.insert(m);
    }
  }
  for (const StepRow& row : record.steps) {
    for (const std::string& m : core_present) {
      if (!row.metrics.count(m)) {
        return Status::BadInput(
            fmt::format("step {} has no `{}`, which other steps have", row.step, m));
      }
    }
    if (!row.metrics.count("loss"))
      return Status::BadInput(fmt::format("step {} has no `loss`", row.step));
    for (const auto& [name, value] : row.metrics) {
      if (value.kind == MetricValue::Kind::kFloat && !std::isfinite(value.f)) {
        return Status::BadInput(fmt::format("step {}: {} is {}: a golden holds finite values only",
                                            row.step, name, HexFloat(value.f)));
      }
    }
  }
  return Status::Ok();
}

Status CheckGoldenSteps(const RunRecord& golden, std::int64_t steps, const std::string& origin) {
  const std::int64_t n = static_cast<std::int64_t>(golden.steps.size());
  for (std::int64_t i = 0; i < n; ++i) {
    if (golden.steps[static_cast<std::size_t>(i)].step != i + 1) {
      return Status::BadInput(
          Badly(origin, fmt::format("step {} where step {} belongs: steps must be 1, 2, ... "
                                    "without gaps",
                                    golden.steps[static_cast<std::size_t>(i)].step, i + 1)));
    }
  }
  if (n != steps) {
    return Status::BadInput(
        Badly(origin, fmt::format("it holds {} steps but the case runs {}", n, steps)));
  }
  return Status::Ok();
}

Result<RunRecord> LoadGolden(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return Status::BadInput(text.status().message() +
                            " (record it with `lockstep smoke CASE --update`)");
  }
  return ParseGolden(*text, path);
}

Status SaveGolden(const RunRecord& record, const std::string& path) {
  // Nothing is written that could not be read back as the same record.
  Status shape = CheckRecordShape(record);
  if (!shape.ok()) {
    return Status::BadInput(
        fmt::format("{}: not written: {}; the golden was left as it was", path, shape.message()));
  }
  const std::string text = GoldenToToml(record);
  Result<RunRecord> back = ParseGolden(text, path);
  bool same = back.ok() && back->steps.size() == record.steps.size();
  for (std::size_t i = 0; same && i < record.steps.size(); ++i) {
    same = back->steps[i].step == record.steps[i].step &&
           back->steps[i].metrics == record.steps[i].metrics;
  }
  if (!same) {
    return Status::BadInput(
        fmt::format("{}: not written: the golden text would not read back as the run{}{}; "
                    "the golden was left as it was",
                    path, back.ok() ? "" : ": ", back.ok() ? "" : back.status().message()));
  }
  return WriteFileAtomically(path, text);
}

}  // namespace lockstep::golden
