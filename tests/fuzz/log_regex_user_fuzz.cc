// ParseLog(text, LogFormat::kRegex) with the regex itself fuzzed: the first
// line of the input is the regex (a smoke case's `regex` key), the rest the
// log. A regex is a user's, so a pathological one may be slow; what must not
// happen is a crash, an uncaught exception or a report from the sanitizers.
#include "tests/fuzz/log_parser_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [regex, log] = lockstep::fuzz::SplitOnce(lockstep::fuzz::AsText(data, size), "\n");
#ifndef LOCKSTEP_FUZZ_KEEP_KNOWN_FINDINGS
  // FINDING: libstdc++ 12's regex compiler reads a back-reference or a {n,m}
  // count into a long without an overflow check (regex_compiler.tcc:589,
  // _M_cur_int_value): "\22222222222222222222" is signed overflow (UBSan),
  // reached through LineParser::Create with a smoke case's `regex`.
  // regressions/log_regex_user/crash-regex-backref-number-overflow. Regexes
  // with a run of 10 or more digits are skipped until lockstep rejects them.
  for (std::size_t i = 0, run = 0; i < regex.size(); ++i) {
    run = (regex[i] >= '0' && regex[i] <= '9') ? run + 1 : 0;
    if (run >= 10) return 0;
  }
#endif
  lockstep::fuzz::FuzzLog(log, lockstep::smoke::LogFormat::kRegex, std::string(regex));
  return 0;
}
