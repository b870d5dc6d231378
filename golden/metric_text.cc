#include "golden/metric_text.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "core/hexfloat.h"
#include "core/text.h"

namespace lockstep::golden {
namespace {

// "nan", "-inf", "infinity" (any case): what HexFloat writes for non-finite
// values; exact as well.
bool IsNonFiniteText(std::string_view s) {
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  std::string lower = ToLower(s);
  return lower == "nan" || lower == "inf" || lower == "infinity";
}

// How a record stream key's value is read.
enum class JsonKind {
  kExactFloat,  // hex float strings: loss, grad_norm, lr
  kInt,         // counts: tokens, *_bytes
  kText,        // digests, status, cause
  kFloat,       // decimal numbers: step_ms
  kAny,         // keys this parser does not know
};

JsonKind KindOfKey(const std::string& key) {
  static const std::map<std::string, JsonKind, std::less<>> kKinds = {
      {"loss", JsonKind::kExactFloat},    {"grad_norm", JsonKind::kExactFloat},
      {"lr", JsonKind::kExactFloat},      {"tokens", JsonKind::kInt},
      {"mem_peak_bytes", JsonKind::kInt}, {"rss_peak_bytes", JsonKind::kInt},
      {"batch_digest", JsonKind::kText},  {"param_digest", JsonKind::kText},
      {"status", JsonKind::kText},        {"cause", JsonKind::kText},
      {"step_ms", JsonKind::kFloat},
  };
  auto it = kKinds.find(key);
  return it == kKinds.end() ? JsonKind::kAny : it->second;
}

std::optional<MetricValue> JsonMetric(const nlohmann::json& v, JsonKind kind) {
  using Type = nlohmann::json::value_t;
  switch (v.type()) {
    case Type::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (kind == JsonKind::kText) return MetricValue::Text(s);
      if (kind == JsonKind::kInt) {
        if (std::optional<std::uint64_t> n = ParseUint(s)) return MetricValue::Int(*n);
        return MetricValue::Text(s);
      }
      bool exact_text = IsHexFloatText(s) || (kind != JsonKind::kAny && IsNonFiniteText(s));
      if (exact_text) {
        if (std::optional<double> d = ParseHexFloat(s)) return MetricValue::Float(*d);
      }
      if (kind != JsonKind::kAny) {
        if (std::optional<double> d = ParseNumber(s)) return MetricValue::Float(*d, false);
      }
      return MetricValue::Text(s);
    }
    case Type::number_unsigned:
      if (kind == JsonKind::kText) return MetricValue::Text(v.dump());
      if (kind == JsonKind::kInt || kind == JsonKind::kAny) {
        return MetricValue::Int(v.get<std::uint64_t>());
      }
      return MetricValue::Float(v.get<double>(), false);
    case Type::number_integer:  // negative (non-negative integers parse as unsigned)
      if (kind == JsonKind::kText) return MetricValue::Text(v.dump());
      return MetricValue::Float(v.get<double>(), false);
    case Type::number_float: {
      if (kind == JsonKind::kText) return MetricValue::Text(v.dump());
      double d = v.get<double>();
      if (kind == JsonKind::kInt && d >= 0 && d < 1.8e19 && d == std::floor(d)) {
        return MetricValue::Int(static_cast<std::uint64_t>(d));
      }
      return MetricValue::Float(d, false);
    }
    case Type::boolean:
      return MetricValue::Text(v.get<bool>() ? "true" : "false");
    default:  // null, object, array, binary, discarded
      return std::nullopt;
  }
}

std::optional<std::int64_t> JsonStep(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    std::uint64_t u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) return ParseStep(v.dump());
  if (v.is_string()) return ParseStep(v.get_ref<const std::string&>());
  return std::nullopt;
}

}  // namespace

// "0x1.8p+1", "-0X1P-3": a C99 hex float, which is exact.
bool IsHexFloatText(std::string_view s) {
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
  return s.find_first_of("pP") != std::string_view::npos;
}

// A decimal (or hex) number, with an optional sign, exponent, and thousands
// separators in the integer part ("1,234,567.5"); nullopt otherwise.
std::optional<double> ParseNumber(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  if (text.find(',') == std::string_view::npos) return ParseHexFloat(std::string(text));
  // Commas: accept only well-formed thousands groups in the integer part.
  std::size_t start = (text.front() == '+' || text.front() == '-') ? 1 : 0;
  std::size_t end = start;
  while (end < text.size() && (IsDigit(text[end]) || text[end] == ',')) ++end;
  std::string_view integer = text.substr(start, end - start);
  // Groups: 1-3 digits, then groups of exactly 3.
  std::size_t group_start = 0;
  for (std::size_t g = 0; group_start <= integer.size(); ++g) {
    std::size_t comma = integer.find(',', group_start);
    std::size_t len = (comma == std::string_view::npos ? integer.size() : comma) - group_start;
    if (g == 0 ? (len < 1 || len > 3) : len != 3) return std::nullopt;
    if (comma == std::string_view::npos) break;
    group_start = comma + 1;
  }
  std::string plain;
  for (char c : text) {
    if (c != ',') plain += c;
  }
  return ParseHexFloat(plain);
}

std::optional<std::uint64_t> ParseUint(std::string_view text) {
  text = Trim(text);
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// A step number: an integer ("12", "1,234"), or a number with an integral
// value ("12.0").
std::optional<std::int64_t> ParseStep(std::string_view text) {
  text = Trim(text);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (!text.empty() && ec == std::errc() && ptr == text.data() + text.size()) return v;
  std::optional<double> d = ParseNumber(text);
  if (!d || !std::isfinite(*d) || *d != std::floor(*d) || std::fabs(*d) > 9.0e15) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*d);
}

std::optional<StepRow> StepRowFromJson(const nlohmann::json& line) {
  if (!line.is_object()) return std::nullopt;
  auto step_it = line.find("step");
  if (step_it == line.end()) return std::nullopt;
  std::optional<std::int64_t> step = JsonStep(*step_it);
  if (!step) return std::nullopt;
  StepRow row;
  row.step = *step;
  for (const auto& [key, value] : line.items()) {
    if (key == "step" || key == "type" || key.ends_with("_dec")) continue;
    if (value.is_object()) {
      row.detail[key] = value;
      continue;
    }
    if (std::optional<MetricValue> m = JsonMetric(value, KindOfKey(key))) {
      row.metrics[key] = std::move(*m);
    }
  }
  return row;
}

}  // namespace lockstep::golden
