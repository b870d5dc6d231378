// ParseScheduleToml on a fuzzed [[schedule]] array, checked against the
// embedded manifest's corpus names (a trainer config's override schedule).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/manifest.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::string> corpora = {"prose", "arith", "code"};
  lockstep::Result<lockstep::data::BlendSchedule> s =
      lockstep::data::ParseScheduleToml(lockstep::fuzz::AsText(data, size), "fuzz.toml", corpora);
  if (!s.ok() && s.status().message().empty())
    lockstep::fuzz::Fail("ParseScheduleToml failed without a message");
  return 0;
}
