// ParseManifest on fuzzed TOML. A manifest that parses must give its Digest()
// and canonical ToToml(), and (unless LOCKSTEP_FUZZ_NO_ROUNDTRIP) that text
// must parse again to a manifest with the same digest.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/manifest.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lockstep::Result<lockstep::data::Manifest> m = lockstep::data::ParseManifest(
      lockstep::fuzz::AsText(data, size), "fuzz.toml", "/nonexistent-lockstep-fuzz");
  if (!m.ok()) {
    if (m.status().message().empty())
      lockstep::fuzz::Fail("ParseManifest failed without a message");
    return 0;
  }
  const std::uint64_t digest = m->Digest();
  const std::string canonical = m->ToToml();
  for (const lockstep::data::Corpus& c : m->corpora) {
    for (const lockstep::data::ShardEntry& s : c.shards) (void)m->ResolvePath(s);
  }
#ifndef LOCKSTEP_FUZZ_NO_ROUNDTRIP
  lockstep::Result<lockstep::data::Manifest> again =
      lockstep::data::ParseManifest(canonical, "canonical.toml", "/nonexistent-lockstep-fuzz");
  if (!again.ok()) {
    lockstep::fuzz::Fail("ToToml() of a parsed manifest does not parse: " +
                         again.status().message() + "\n--- text:\n" + canonical);
  }
  if (again->Digest() != digest) {
    lockstep::fuzz::Fail("ToToml() of a parsed manifest parses to another digest\n--- text:\n" +
                         canonical);
  }
#endif
  return 0;
}
