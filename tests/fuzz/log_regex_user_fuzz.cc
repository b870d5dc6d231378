// ParseLog(text, LogFormat::kRegex) with the regex itself fuzzed: the first
// line of the input is the regex (a smoke case's `regex` key), the rest the
// log. A regex is a user's, so a pathological one may be slow; what must not
// happen is a crash, an uncaught exception or a report from the sanitizers.
#include "tests/fuzz/log_parser_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [regex, log] = lockstep::fuzz::SplitOnce(lockstep::fuzz::AsText(data, size), "\n");
  lockstep::fuzz::FuzzLog(log, lockstep::smoke::LogFormat::kRegex, std::string(regex));
  return 0;
}
