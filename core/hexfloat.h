// Exact float text: C99 hex floats ("0x1.63d2a4p+2"), which round-trip every
// bit, for the record stream and golden files.
#ifndef LOCKSTEP_CORE_HEXFLOAT_H_
#define LOCKSTEP_CORE_HEXFLOAT_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace lockstep {

inline std::string HexFloat(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", value);
  return buf;
}

// Parses what HexFloat wrote (and any strtod syntax); nullopt if `text` is not
// entirely a number.
inline std::optional<double> ParseHexFloat(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_HEXFLOAT_H_
