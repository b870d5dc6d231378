// The checkpoint directory checkpoint_fuzz lays out around the fuzzed
// checkpoint.json, shared with seed_writer (which writes seeds whose digests
// match these files).
#ifndef LOCKSTEP_TESTS_FUZZ_CHECKPOINT_LAYOUT_H_
#define LOCKSTEP_TESTS_FUZZ_CHECKPOINT_LAYOUT_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace lockstep::fuzz {

inline constexpr std::size_t kCheckpointParams = 4;
inline constexpr const char* kCheckpointStep = "step-000003";

// What LoadLatestCheckpoint is asked to match.
inline nlohmann::json CheckpointIdentity() {
  return {{"model", {{"n_layer", 2}, {"n_embd", 8}}}, {"train", {{"seed", 1}}}};
}

inline std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// (file name, contents) in DIR/step-000003: params for 4 parameters and the
// AdamW state as 1 or 2 ranks wrote it (m then v of each rank's slice).
inline std::vector<std::pair<std::string, std::string>> CheckpointFiles() {
  return {
      {"params.bin", FloatBytes({1.0f, -2.0f, 0.5f, 0.25f})},
      {"optim-r0-of-1.bin", FloatBytes({0.1f, 0.2f, 0.3f, 0.4f, 1.1f, 1.2f, 1.3f, 1.4f})},
      {"optim-r0-of-2.bin", FloatBytes({0.1f, 0.2f, 1.1f, 1.2f})},
      {"optim-r1-of-2.bin", FloatBytes({0.3f, 0.4f, 1.3f, 1.4f})},
  };
}

}  // namespace lockstep::fuzz

#endif  // LOCKSTEP_TESTS_FUZZ_CHECKPOINT_LAYOUT_H_
