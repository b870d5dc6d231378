#include "golden/run_record.h"

#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "core/atomic_file.h"
#include "core/hexfloat.h"
#include "golden/metric_text.h"

namespace lockstep::golden {
namespace {

// The order metrics are written in; others follow alphabetically.
const std::vector<std::string> kMetricOrder = {
    "loss",         "grad_norm",      "lr",             "tokens", "batch_digest",
    "param_digest", "mem_peak_bytes", "rss_peak_bytes", "step_ms"};

std::vector<std::string> OrderedKeys(const StepRow& row) {
  std::vector<std::string> keys;
  for (const auto& k : kMetricOrder) {
    if (row.metrics.count(k)) keys.push_back(k);
  }
  for (const auto& [k, v] : row.metrics) {
    if (std::find(kMetricOrder.begin(), kMetricOrder.end(), k) == kMetricOrder.end()) keys.push_back(k);
  }
  return keys;
}

bool LooksLikeHexFloat(const std::string& s) {
  return (s.rfind("0x", 0) == 0 || s.rfind("-0x", 0) == 0) && s.find('p') != std::string::npos;
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
  bool bare = !k.empty() && k.find_first_not_of(
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
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

nlohmann::json TomlToJson(const toml::value& v) {
  if (v.is_table()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, x] : v.as_table()) out[k] = TomlToJson(x);
    return out;
  }
  if (v.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& x : v.as_array()) out.push_back(TomlToJson(x));
    return out;
  }
  if (v.is_integer()) return v.as_integer();
  if (v.is_floating()) return v.as_floating();
  if (v.is_boolean()) return v.as_boolean();
  if (v.is_string()) return v.as_string().str;
  return nullptr;
}

void Flatten(const nlohmann::json& v, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) Flatten(x, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    out[prefix] = v.is_string() ? v.get<std::string>() : v.dump();
  }
}

std::string Badly(const std::string& origin, const std::string& what) {
  return fmt::format(
      "{}: {}; the golden file is damaged or was edited by hand: restore it from version control "
      "or re-record it with `lockstep smoke CASE --update`",
      origin, what);
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

RunHeader HeaderFromJson(const nlohmann::json& h) {
  RunHeader header;
  header.config_digest = h.value("config_digest", "");
  header.manifest_digest = h.value("manifest_digest", "");
  header.profile = h.value("profile", "");
  header.tool_version = h.value("version", "");
  if (h.contains("corpora")) header.corpora = h["corpora"];
  if (h.contains("env")) header.env = h["env"];
  if (h.contains("config")) header.config = h["config"];
  return header;
}

Result<RunRecord> LoadRecordStream(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::BadInput(path + ": cannot open the record stream");
  RunRecord record;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      // A run killed mid-write leaves a partial last line: ignore only that.
      if (in.peek() == EOF) break;
      return Status::BadInput(fmt::format("{}:{}: not a JSON object; is this a lockstep record stream?", path, number));
    }
    if (number == 1) {
      if (j.value("type", "") != "header") {
        return Status::BadInput(fmt::format(
            "{}:1: the first line is not a record header; pass the file `lockstep train --record` wrote", path));
      }
      record.header = HeaderFromJson(j);
      continue;
    }
    if (std::optional<StepRow> row = StepRowFromJson(j)) record.steps.push_back(std::move(*row));
  }
  if (number == 0) return Status::BadInput(path + ": empty record stream");
  return record;
}

std::string GoldenToToml(const RunRecord& r) {
  std::string out = fmt::format(
      "# lockstep golden file: written by `lockstep smoke --update`, compared by `lockstep smoke`.\n"
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
      if (m != nullptr && m->kind == MetricValue::Kind::kFloat) comment += fmt::format(" {} {:.6g}", k, m->f);
    }
    if (!comment.empty()) out += "  #" + comment;
    out += "\n";
  }
  out += "]\n";
  return out;
}

Result<RunRecord> ParseGolden(const std::string& text, const std::string& origin) {
  toml::value root;
  std::istringstream in(text);
  try {
    root = toml::parse(in, origin);
  } catch (const std::exception& e) {
    return Status::BadInput(Badly(origin, std::string("not valid TOML (truncated?)\n") + e.what()));
  }
  if (!root.contains("header") || !root.at("header").is_table()) {
    return Status::BadInput(Badly(origin, "no [header] table"));
  }
  const toml::value& h = root.at("header");
  RunRecord r;
  try {
    const auto version = toml::find<std::int64_t>(h, "format_version");
    if (version != kGoldenFormatVersion) {
      return Status::BadInput(fmt::format(
          "{}: golden format version {}, but this lockstep reads version {}: re-record it with "
          "`lockstep smoke CASE --update` (or use the lockstep that wrote it)",
          origin, version, kGoldenFormatVersion));
    }
    r.header.case_name = toml::find<std::string>(h, "case");
    r.header.config_digest = toml::find<std::string>(h, "config_digest");
    r.header.manifest_digest = toml::find_or<std::string>(h, "manifest_digest", "");
    r.header.profile = toml::find_or<std::string>(h, "profile", "");
    r.header.tool_version = toml::find_or<std::string>(h, "tool_version", "");
  } catch (const std::exception& e) {
    return Status::BadInput(Badly(origin, std::string("bad [header]: ") + e.what()));
  }
  if (h.contains("corpora")) r.header.corpora = TomlToJson(h.at("corpora"));
  if (h.contains("env")) r.header.env = TomlToJson(h.at("env"));
  if (h.contains("config")) r.header.config = TomlToJson(h.at("config"));
  if (!root.contains("record") || !root.at("record").contains("steps") ||
      !root.at("record").at("steps").is_array()) {
    return Status::BadInput(Badly(origin, "no `[record]` table with a `steps = [...]` array"));
  }
  for (const toml::value& s : root.at("record").at("steps").as_array()) {
    if (!s.is_table() || !s.contains("step") || !s.at("step").is_integer()) {
      return Status::BadInput(Badly(origin, "a step entry without an integer `step`"));
    }
    StepRow row;
    row.step = s.at("step").as_integer();
    for (const auto& [k, v] : s.as_table()) {
      if (k == "step") continue;
      if (v.is_string()) {
        const std::string str = v.as_string().str;
        std::optional<double> f = LooksLikeHexFloat(str) ? ParseHexFloat(str) : std::nullopt;
        row.metrics[k] = f ? MetricValue::Float(*f, true) : MetricValue::Text(str);
      } else if (v.is_integer()) {
        row.metrics[k] = MetricValue::Int(static_cast<std::uint64_t>(v.as_integer()));
      } else if (v.is_floating()) {
        row.metrics[k] = MetricValue::Float(v.as_floating(), false);
      }
    }
    r.steps.push_back(std::move(row));
  }
  return r;
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
  return WriteFileAtomically(path, GoldenToToml(record));
}

std::vector<std::string> JsonDiff(const nlohmann::json& a, const nlohmann::json& b) {
  std::map<std::string, std::string> fa, fb;
  Flatten(a, "", fa);
  Flatten(b, "", fb);
  std::set<std::string> keys;
  for (const auto& [k, v] : fa) keys.insert(k);
  for (const auto& [k, v] : fb) keys.insert(k);
  std::vector<std::string> out;
  for (const std::string& k : keys) {
    auto ia = fa.find(k), ib = fb.find(k);
    std::string va = ia == fa.end() ? "(missing)" : ia->second;
    std::string vb = ib == fb.end() ? "(missing)" : ib->second;
    if (va != vb) out.push_back(fmt::format("{}: {} -> {}", k, va, vb));
  }
  return out;
}

}  // namespace lockstep::golden
