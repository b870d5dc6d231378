// Writes the seeds whose bytes depend on lockstep's own code: small shards
// (WriteShard) and checkpoint.json files whose digests match the files
// checkpoint_fuzz lays out. Run once after a format change:
//   build/fuzz/tests/fuzz/lockstep_fuzz_seed_writer tests/fuzz/corpus
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/digest.h"
#include "data/shard.h"
#include "tests/fuzz/checkpoint_layout.h"
#include "tests/fuzz/fuzz_util.h"

namespace fs = std::filesystem;

namespace {

int WriteShards(const fs::path& out) {
  fs::create_directories(out);
  struct Seed {
    const char* name;
    std::vector<std::uint32_t> tokens;
    std::uint32_t vocab;
  };
  const std::vector<Seed> seeds = {
      {"empty-u16.bin", {}, 257},
      {"three-u16.bin", {1, 256, 0}, 257},
      {"eight-u16.bin", {72, 101, 108, 108, 111, 10, 256, 32}, 257},
      {"four-u32.bin", {0, 65535, 65536, 69999}, 70000},
  };
  for (const Seed& s : seeds) {
    lockstep::Result<lockstep::data::ShardHeader> h =
        lockstep::data::WriteShard((out / s.name).string(), s.tokens, s.vocab);
    if (!h.ok()) {
      std::fprintf(stderr, "%s\n", h.status().message().c_str());
      return 1;
    }
  }
  return 0;
}

void WriteCheckpoints(const fs::path& out) {
  fs::create_directories(out);
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, bytes] : lockstep::fuzz::CheckpointFiles()) {
    files[name] = {{"xxh3_128", lockstep::Xxh3_128(bytes.data(), bytes.size()).Hex()},
                   {"bytes", bytes.size()}};
  }
  auto meta = [&](int world_size) {
    nlohmann::json m = {
        {"format", 1},
        {"step", 3},
        {"config_digest", "82f4b26ace0be67a"},
        {"manifest_digest", "bbe3ebbdefeb1acb"},
        {"identity", lockstep::fuzz::CheckpointIdentity()},
        {"world_size", world_size},
        {"num_params", lockstep::fuzz::kCheckpointParams},
        {"cursor", {{"step", 4}, {"segment_from_step", 0}, {"consumed", {0, 0, 0}}}}};
    m["files"]["params.bin"] = files["params.bin"];
    for (int r = 0; r < world_size; ++r) {
      const std::string f =
          "optim-r" + std::to_string(r) + "-of-" + std::to_string(world_size) + ".bin";
      m["files"][f] = files[f];
    }
    return m;
  };
  lockstep::fuzz::WriteBytes(out / "one-rank.json", meta(1).dump(2) + "\n");
  lockstep::fuzz::WriteBytes(out / "two-ranks.json", meta(2).dump(2) + "\n");
  nlohmann::json other = meta(1);
  other["identity"]["model"]["n_layer"] = 3;
  lockstep::fuzz::WriteBytes(out / "other-identity.json", other.dump() + "\n");
  nlohmann::json wrong = meta(2);
  wrong["files"]["optim-r1-of-2.bin"]["bytes"] = 12;
  lockstep::fuzz::WriteBytes(out / "wrong-size.json", wrong.dump() + "\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s tests/fuzz/corpus\n", argv[0]);
    return 2;
  }
  const fs::path corpus = argv[1];
  if (WriteShards(corpus / "shard") != 0) return 1;
  WriteCheckpoints(corpus / "checkpoint");
  return 0;
}
