// Strict reading of TOML values: every key has one type and one range. A
// value of another type, an integer out of range (never narrowed), a float
// that is not finite where a finite one is needed, or an unknown key (with
// the nearest valid name) is BadInput naming the file, the line, the key, what
// was found and what is expected.
//
//   TomlFields f(root, "smoke/cases/tiny.toml");
//   LOCKSTEP_RETURN_IF_ERROR(f.OnlyKeys({"steps", "threads"}));
//   Result<std::int64_t> steps = f.Int("steps", 1, 1'000'000, 50);
#ifndef LOCKSTEP_CORE_TOML_FIELDS_H_
#define LOCKSTEP_CORE_TOML_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <toml.hpp>
#include <vector>

#include "core/status.h"

namespace lockstep {

// BadInput "origin:line: byte N is not UTF-8" unless `text` is well-formed
// UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). TOML
// files must be UTF-8, and toml11 3.7 reads out of bounds on some invalid
// bytes inside literal strings: every TOML reader calls this (and
// CheckTomlNesting) first.
Status CheckUtf8(std::string_view text, const std::string& origin);

// toml11 parses arrays and inline tables by recursion, one C++ frame per
// level, so "[[[[..." a few thousand deep overflows the stack (found by the
// manifest and schedule fuzzers). No lockstep file nests more than a few
// levels: deeper than kMaxTomlNesting is BadInput naming the line. Strings and
// comments are skipped as TOML defines them.
inline constexpr int kMaxTomlNesting = 32;
Status CheckTomlNesting(std::string_view text, const std::string& origin);

// CheckUtf8 and CheckTomlNesting, then toml::parse; a syntax error is
// BadInput with toml11's message (which shows the line).
Result<toml::value> ParseTomlText(std::string_view text, const std::string& origin);

// The valid name closest to `key` by edit distance ("" if `valid` is empty).
std::string NearestName(const std::string& key, const std::vector<std::string>& valid);

// "file:line" of a value parsed from a file; `origin` alone when the value
// was made in code (an override).
std::string TomlWhere(const toml::value& v, const std::string& origin);

// toml11's type name for messages: "string", "integer", "floating", ...
std::string TomlTypeName(const toml::value& v);

class TomlFields {
 public:
  // `table` must be a TOML table; `prefix` ("checks.spike.") is put before
  // key names in messages.
  TomlFields(const toml::value& table, std::string origin, std::string prefix = "");

  // Unknown keys are BadInput naming the nearest valid one.
  Status OnlyKeys(const std::vector<std::string>& valid) const;
  bool Has(const std::string& key) const;

  // Each returns `fallback` when the key is absent and fallback is given,
  // BadInput when it is absent and required (no fallback).
  Result<std::int64_t> Int(const std::string& key, std::int64_t min, std::int64_t max,
                           std::optional<std::int64_t> fallback = std::nullopt) const;
  // An integer or a float, finite and in [min, max].
  Result<double> Number(const std::string& key, double min, double max,
                        std::optional<double> fallback = std::nullopt) const;
  Result<std::string> String(const std::string& key,
                             std::optional<std::string> fallback = std::nullopt) const;
  Result<bool> Bool(const std::string& key, std::optional<bool> fallback = std::nullopt) const;
  Result<std::vector<std::string>> Strings(
      const std::string& key,
      std::optional<std::vector<std::string>> fallback = std::nullopt) const;

  const std::string& origin() const { return origin_; }

 private:
  Status Wrong(const std::string& key, const std::string& expected) const;
  Status Missing(const std::string& key, const std::string& expected) const;
  const toml::value& table_;
  std::string origin_;
  std::string prefix_;
};

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_TOML_FIELDS_H_
