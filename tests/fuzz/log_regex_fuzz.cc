// ParseLog(text, LogFormat::kRegex) on a fuzzed log with a fixed regex of the
// kind a smoke case carries: named groups in both spellings, an optional
// group, a lookahead.
#include "tests/fuzz/log_parser_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string regex =
      R"(^(?:\[rank\d+\]:)?\s*it (?<step>[\d,.]+)(?: \| loss (?<loss>\S+))?(?: \| gnorm (?P<grad_norm>\S+))?)"
      R"((?:.* lr=(?<lr>[^ ]+))?(?: \| tok/s (?<tps>[\d,]+))?)";
  lockstep::fuzz::FuzzLog(lockstep::fuzz::AsText(data, size), lockstep::smoke::LogFormat::kRegex,
                          regex);
  return 0;
}
