// The body of the log_* targets: ParseLog on a fuzzed log in one format.
#ifndef LOCKSTEP_TESTS_FUZZ_LOG_PARSER_FUZZ_H_
#define LOCKSTEP_TESTS_FUZZ_LOG_PARSER_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smoke/log_parser.h"
#include "tests/fuzz/fuzz_util.h"

namespace lockstep::fuzz {

inline void FuzzLog(std::string_view text, smoke::LogFormat format, const std::string& regex) {
  Result<smoke::ParsedLog> log = smoke::ParseLog(text, format, regex, "fuzz.log");
  if (!log.ok()) {
    if (log.status().message().empty()) Fail("ParseLog failed without a message");
    return;
  }
  if (log->steps.empty()) Fail("ParseLog succeeded with no step rows");
  for (const golden::StepRow& row : log->steps) {
    for (const auto& [name, value] : row.metrics) (void)value.ToString();
  }
}

}  // namespace lockstep::fuzz

#endif  // LOCKSTEP_TESTS_FUZZ_LOG_PARSER_FUZZ_H_
