// ParseTrainConfig on fuzzed TOML, with fuzzed `--set` overrides: the input
// is the config text, then optionally a line "%%" and one override per line
// ("model.n_layer=4"). A successful parse must also give a Digest().
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "trainer/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = lockstep::fuzz::AsText(data, size);
  const auto [toml, set] = lockstep::fuzz::SplitOnce(input, "\n%%\n");
  std::vector<std::string> overrides;
  std::string_view rest = set;
  while (!rest.empty()) {
    const auto [line, after] = lockstep::fuzz::SplitOnce(rest, "\n");
    overrides.emplace_back(line);
    rest = after;
  }
  lockstep::Result<lockstep::trainer::TrainConfig> config = lockstep::trainer::ParseTrainConfig(
      std::string(toml), "fuzz.toml", "/nonexistent-lockstep-fuzz", overrides);
  if (config.ok()) {
    (void)config->Digest();  // resolved.dump(): throws on text that is not UTF-8
  } else if (config.status().message().empty()) {
    lockstep::fuzz::Fail("ParseTrainConfig failed without a message");
  }
  return 0;
}
