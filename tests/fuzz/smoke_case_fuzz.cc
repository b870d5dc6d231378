// LoadSmokeCase on a fuzzed case file. The input is written to case.toml in a
// per-process scratch directory that also holds an (empty) config.toml and
// golden.toml, so relative paths like config = "config.toml" resolve.
#include <cstddef>
#include <cstdint>

#include "smoke/smoke_case.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path d = lockstep::fuzz::ScratchDir("smoke_case");
    lockstep::fuzz::WriteBytes(d / "config.toml", "");
    lockstep::fuzz::WriteBytes(d / "golden.toml", "");
    return d;
  }();
  const std::filesystem::path path = dir / "case.toml";
  lockstep::fuzz::WriteBytes(path, lockstep::fuzz::AsText(data, size));
  lockstep::Result<lockstep::smoke::SmokeCase> c = lockstep::smoke::LoadSmokeCase(path.string());
  if (!c.ok() && c.status().message().empty())
    lockstep::fuzz::Fail("LoadSmokeCase failed without a message");
  return 0;
}
