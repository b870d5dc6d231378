// Locale-free character classes and trimming for the parsers (configs, logs,
// golden text): the C library's versions depend on the process locale, and a
// parser's answer must not.
#ifndef LOCKSTEP_CORE_TEXT_H_
#define LOCKSTEP_CORE_TEXT_H_

#include <string>
#include <string_view>

namespace lockstep {

constexpr bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
constexpr bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// `s` without leading and trailing whitespace.
constexpr std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// ASCII letters lowered; every other byte as it is.
inline std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_TEXT_H_
