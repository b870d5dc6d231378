// LoadLatestCheckpoint with a fuzzed checkpoint.json. The scratch directory is
// a checkpoint directory as CheckpointWriter leaves it (trainer/checkpoint.h):
//   DIR/latest                     "step-000003"
//   DIR/step-000003/checkpoint.json   <- the input
//   DIR/step-000003/params.bin, optim-r0-of-1.bin, optim-r{0,1}-of-2.bin
// (fixed files, checkpoint_layout.h; the seeds carry their real digests, so
// the fuzzer starts from checkpoints that load).
//
// checkpoint.json is sealed: "self_digest" is the XXH3-128 of its own compact
// text without that key (MetaDigest in trainer/checkpoint.cc), so almost every
// mutation would stop at that one check. An input that is a JSON object
// without "self_digest" is therefore sealed here the same way (written as
// meta.dump() with the digest added) and reaches the checks behind the seal;
// any other input (not JSON, not an object, or carrying its own self_digest)
// is written byte for byte, which fuzzes the parse and the seal itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/digest.h"
#include "tests/fuzz/checkpoint_layout.h"
#include "tests/fuzz/fuzz_util.h"
#include "trainer/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path d = lockstep::fuzz::ScratchDir("checkpoint");
    std::filesystem::create_directories(d / lockstep::fuzz::kCheckpointStep);
    lockstep::fuzz::WriteBytes(d / "latest", std::string(lockstep::fuzz::kCheckpointStep) + "\n");
    for (const auto& [name, bytes] : lockstep::fuzz::CheckpointFiles()) {
      lockstep::fuzz::WriteBytes(d / lockstep::fuzz::kCheckpointStep / name, bytes);
    }
    return d;
  }();
  static const nlohmann::json identity = lockstep::fuzz::CheckpointIdentity();
  const std::string_view input = lockstep::fuzz::AsText(data, size);
  nlohmann::json meta = nlohmann::json::parse(input, nullptr, false);
  if (!meta.is_discarded() && meta.is_object() && !meta.contains("self_digest")) {
    const std::string unsealed = meta.dump();  // what MetaDigest hashes
    meta["self_digest"] = lockstep::Xxh3_128(unsealed.data(), unsealed.size()).Hex();
    lockstep::fuzz::WriteBytes(dir / lockstep::fuzz::kCheckpointStep / "checkpoint.json",
                               meta.dump());
  } else {
    lockstep::fuzz::WriteBytes(dir / lockstep::fuzz::kCheckpointStep / "checkpoint.json", input);
  }
  // No try/catch: LoadLatestCheckpoint returns a Result, and an exception out
  // of it (e.g. a json::type_error) is a finding.
  lockstep::Result<lockstep::trainer::LoadedCheckpoint> loaded =
      lockstep::trainer::LoadLatestCheckpoint(dir.string(), identity,
                                              lockstep::fuzz::kCheckpointParams);
  if (!loaded.ok()) {
    if (loaded.status().message().empty())
      lockstep::fuzz::Fail("LoadLatestCheckpoint failed without a message");
    return 0;
  }
  if (loaded->m.size() != lockstep::fuzz::kCheckpointParams ||
      loaded->v.size() != lockstep::fuzz::kCheckpointParams) {
    lockstep::fuzz::Fail("LoadLatestCheckpoint returned optimizer state of the wrong size");
  }
  return 0;
}
