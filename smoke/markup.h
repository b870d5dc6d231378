// Escaping text for the HTML and JUnit XML reports.
#ifndef LOCKSTEP_SMOKE_MARKUP_H_
#define LOCKSTEP_SMOKE_MARKUP_H_

#include <string>

namespace lockstep::smoke {

// &, <, >, " escaped; control characters other than \n and \t dropped (XML
// 1.0 does not allow them).
inline std::string EscapeMarkup(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') break;
        out += c;
    }
  }
  return out;
}

}  // namespace lockstep::smoke

#endif  // LOCKSTEP_SMOKE_MARKUP_H_
