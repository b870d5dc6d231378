// ParseLog(text, LogFormat::kJsonl) on a fuzzed log.
#include "tests/fuzz/log_parser_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lockstep::fuzz::FuzzLog(lockstep::fuzz::AsText(data, size), lockstep::smoke::LogFormat::kJsonl,
                          "");
  return 0;
}
