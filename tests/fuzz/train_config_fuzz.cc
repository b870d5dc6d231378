// ParseTrainConfig on fuzzed TOML, with fuzzed `--set` overrides: the input
// is the config text, then optionally a line "%%" and one override per line
// ("model.n_layer=4"). A successful parse must also give a Digest().
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_util.h"
#include "trainer/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = lockstep::fuzz::AsText(data, size);
  if (lockstep::fuzz::HitsToml11LiteralStringBug(input)) return 0;  // FINDING: see fuzz_util.h
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
#ifdef LOCKSTEP_FUZZ_KEEP_KNOWN_FINDINGS
    (void)config->Digest();
#else
    // FINDING: ParseTrainConfig accepts a `--set` bare-word value that is not
    // UTF-8 (data.manifest=\xc9), keeps it in `resolved`, and Digest() (like
    // every resolved.dump()) then throws nlohmann type_error 316 out of a
    // function that returns a plain value: std::terminate in `lockstep train`.
    // regressions/train_config/crash-set-invalid-utf8. Skipped until fixed.
    try {
      (void)config->Digest();
    } catch (const nlohmann::json::type_error& e) {
      if (e.id != 316) throw;
    }
#endif
  } else if (config.status().message().empty()) {
    lockstep::fuzz::Fail("ParseTrainConfig failed without a message");
  }
  return 0;
}
