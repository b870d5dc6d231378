// LoadLatestCheckpoint with a fuzzed checkpoint.json. The scratch directory is
// a checkpoint directory as CheckpointWriter leaves it (trainer/checkpoint.h):
//   DIR/latest                     "step-000003"
//   DIR/step-000003/checkpoint.json   <- the input
//   DIR/step-000003/params.bin, optim-r0-of-1.bin, optim-r{0,1}-of-2.bin
// (fixed files, checkpoint_layout.h; the seeds carry their real digests, so
// the fuzzer starts from checkpoints that load).
#include <cstddef>
#include <cstdint>

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
  lockstep::fuzz::WriteBytes(dir / lockstep::fuzz::kCheckpointStep / "checkpoint.json",
                             lockstep::fuzz::AsText(data, size));
#ifdef LOCKSTEP_FUZZ_KEEP_KNOWN_FINDINGS
  lockstep::Result<lockstep::trainer::LoadedCheckpoint> loaded =
      lockstep::trainer::LoadLatestCheckpoint(dir.string(), identity, lockstep::fuzz::kCheckpointParams);
#else
  // FINDING: LoadLatestCheckpoint reads checkpoint.json with json::value()
  // and operator[] unchecked: a "files" entry that is missing (type_error
  // 306, value() on null), "files" that is not an object, or num_params /
  // world_size / step / bytes / xxh3_128 of the wrong type (type_error 302)
  // throw out of a Result-returning function: std::terminate on resume.
  // regressions/checkpoint/. Caught here (type errors only) until fixed.
  lockstep::Result<lockstep::trainer::LoadedCheckpoint> loaded = lockstep::Status::BadInput("type_error");
  try {
    loaded = lockstep::trainer::LoadLatestCheckpoint(dir.string(), identity, lockstep::fuzz::kCheckpointParams);
  } catch (const nlohmann::json::type_error&) {
    return 0;
  }
#endif
  if (!loaded.ok()) {
    if (loaded.status().message().empty()) lockstep::fuzz::Fail("LoadLatestCheckpoint failed without a message");
    return 0;
  }
  if (loaded->m.size() != lockstep::fuzz::kCheckpointParams || loaded->v.size() != lockstep::fuzz::kCheckpointParams) {
    lockstep::fuzz::Fail("LoadLatestCheckpoint returned optimizer state of the wrong size");
  }
  return 0;
}
