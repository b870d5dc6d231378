#include "core/toml_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace lockstep {
namespace {

std::size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The value as it was written, shortened for a message.
std::string Shown(const toml::value& v) {
  std::ostringstream out;
  out << v;
  std::string s = out.str();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

Status CheckUtf8(std::string_view text, const std::string& origin) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b == '\n') ++line;
    if (b < 0x80) {
      ++i;
      continue;
    }
    // Sequence length and the smallest code point it may encode.
    const std::size_t len = (b & 0xE0) == 0xC0   ? 2
                            : (b & 0xF0) == 0xE0 ? 3
                            : (b & 0xF8) == 0xF0 ? 4
                                                 : 0;
    std::uint32_t cp = len == 2 ? b & 0x1Fu : len == 3 ? b & 0x0Fu : b & 0x07u;
    bool ok = len != 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (!ok || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return Status::BadInput(
          fmt::format("{}:{}: byte {} (0x{:02x}) is not UTF-8; TOML files are UTF-8 text: "
                      "re-save it as UTF-8",
                      origin, line, i, b));
    }
    i += len;
  }
  return Status::Ok();
}

Status CheckTomlNesting(std::string_view text, const std::string& origin) {
  int depth = 0;
  std::size_t line = 1;
  const auto starts = [&](std::size_t i, std::string_view s) {
    return text.substr(i, s.size()) == s;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '#') {  // a comment, to the end of the line
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      const bool basic = c == '"';  // backslash escapes only in basic strings
      const std::string_view close = starts(i, basic ? "\"\"\"" : "'''")
                                         ? std::string_view(basic ? "\"\"\"" : "'''")
                                         : std::string_view(basic ? "\"" : "'");
      const bool multiline = close.size() == 3;
      i += close.size();
      while (i < text.size() && !starts(i, close) && (multiline || text[i] != '\n')) {
        if (text[i] == '\n') ++line;
        if (basic && text[i] == '\\') ++i;  // the escaped character is content
        ++i;
      }
      if (i < text.size() && text[i] == '\n') ++line;
      i += close.size() - 1;  // at the string's last character
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxTomlNesting) {
        return Status::BadInput(fmt::format(
            "{}:{}: arrays or inline tables nested more than {} deep; no lockstep file needs "
            "that: flatten them",
            origin, line, kMaxTomlNesting));
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return Status::Ok();
}

Result<toml::value> ParseTomlText(std::string_view text, const std::string& origin) {
  LOCKSTEP_RETURN_IF_ERROR(CheckUtf8(text, origin));
  LOCKSTEP_RETURN_IF_ERROR(CheckTomlNesting(text, origin));
  std::istringstream in{std::string(text)};
  try {
    return toml::parse(in, origin);
  } catch (const std::exception& e) {
    return Status::BadInput(
        fmt::format("{}: TOML syntax error; fix the file there:\n{}", origin, e.what()));
  }
}

std::string NearestName(const std::string& key, const std::vector<std::string>& valid) {
  if (valid.empty()) return "";
  return *std::min_element(valid.begin(), valid.end(), [&](const auto& x, const auto& y) {
    return EditDistance(key, x) < EditDistance(key, y);
  });
}

std::string TomlWhere(const toml::value& v, const std::string& origin) {
  const toml::source_location loc = v.location();
  if (loc.file_name() != origin || loc.line() == 0) return origin;
  return fmt::format("{}:{}", origin, loc.line());
}

std::string TomlTypeName(const toml::value& v) {
  return toml::stringize(v.type());
}

TomlFields::TomlFields(const toml::value& table, std::string origin, std::string prefix)
    : table_(table), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

bool TomlFields::Has(const std::string& key) const {
  return table_.is_table() && table_.contains(key);
}

Status TomlFields::OnlyKeys(const std::vector<std::string>& valid) const {
  for (const auto& [key, value] : table_.as_table()) {
    if (std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
    return Status::BadInput(fmt::format("{}: unknown key \"{}{}\"; did you mean \"{}{}\"?",
                                        TomlWhere(value, origin_), prefix_, key, prefix_,
                                        NearestName(key, valid)));
  }
  return Status::Ok();
}

Status TomlFields::Wrong(const std::string& key, const std::string& expected) const {
  const toml::value& v = table_.at(key);
  return Status::BadInput(fmt::format("{}: {}{} = {} ({}): must be {}", TomlWhere(v, origin_),
                                      prefix_, key, Shown(v), TomlTypeName(v), expected));
}

Status TomlFields::Missing(const std::string& key, const std::string& expected) const {
  return Status::BadInput(fmt::format("{}: no `{}{}`: give {}", origin_, prefix_, key, expected));
}

Result<std::int64_t> TomlFields::Int(const std::string& key, std::int64_t min, std::int64_t max,
                                     std::optional<std::int64_t> fallback) const {
  const std::string expected = fmt::format("an integer from {} to {}", min, max);
  if (!Has(key)) {
    if (fallback) return *fallback;
    return Missing(key, expected);
  }
  const toml::value& v = table_.at(key);
  if (!v.is_integer() || v.as_integer() < min || v.as_integer() > max) return Wrong(key, expected);
  return v.as_integer();
}

Result<double> TomlFields::Number(const std::string& key, double min, double max,
                                  std::optional<double> fallback) const {
  const std::string expected = fmt::format("a finite number from {} to {}", min, max);
  if (!Has(key)) {
    if (fallback) return *fallback;
    return Missing(key, expected);
  }
  const toml::value& v = table_.at(key);
  double d = 0;
  if (v.is_floating()) {
    d = v.as_floating();
  } else if (v.is_integer()) {
    d = static_cast<double>(v.as_integer());
  } else {
    return Wrong(key, expected);
  }
  if (!std::isfinite(d) || d < min || d > max) return Wrong(key, expected);
  return d;
}

Result<std::string> TomlFields::String(const std::string& key,
                                       std::optional<std::string> fallback) const {
  if (!Has(key)) {
    if (fallback) return *fallback;
    return Missing(key, "a string");
  }
  const toml::value& v = table_.at(key);
  if (!v.is_string()) return Wrong(key, "a string (in quotes)");
  return v.as_string().str;
}

Result<bool> TomlFields::Bool(const std::string& key, std::optional<bool> fallback) const {
  if (!Has(key)) {
    if (fallback) return *fallback;
    return Missing(key, "true or false");
  }
  const toml::value& v = table_.at(key);
  if (!v.is_boolean()) return Wrong(key, "true or false");
  return v.as_boolean();
}

Result<std::vector<std::string>> TomlFields::Strings(
    const std::string& key, std::optional<std::vector<std::string>> fallback) const {
  if (!Has(key)) {
    if (fallback) return *fallback;
    return Missing(key, "an array of strings");
  }
  const toml::value& v = table_.at(key);
  if (!v.is_array()) return Wrong(key, "an array of strings, e.g. [\"a\", \"b\"]");
  std::vector<std::string> out;
  for (const toml::value& x : v.as_array()) {
    if (!x.is_string()) return Wrong(key, "an array of strings, e.g. [\"a\", \"b\"]");
    out.push_back(x.as_string().str);
  }
  return out;
}

}  // namespace lockstep
