// Shard::Open on a fuzzed shard file (written to a scratch directory), then
// every token read one by one and copied in bulk, and Verify().
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/shard.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path = lockstep::fuzz::ScratchDir("shard") / "shard.bin";
  lockstep::fuzz::WriteBytes(path, lockstep::fuzz::AsText(data, size));
  lockstep::Result<lockstep::data::Shard> opened = lockstep::data::Shard::Open(path.string());
  if (!opened.ok()) return 0;
  lockstep::data::Shard shard = std::move(opened).value();  // the move keeps the mapping
  const std::uint64_t n = shard.size();
  if (shard.file_bytes() != lockstep::data::kShardHeaderBytes + n * shard.header().token_bytes) {
    lockstep::fuzz::Fail("Shard::Open accepted a file whose size does not match its header");
  }
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += shard.token(i);
  std::vector<std::uint32_t> tokens(n);
  shard.CopyTokens(0, tokens);  // also with n == 0: an empty span
  std::uint64_t sum2 = 0;
  for (std::uint32_t t : tokens) sum2 += t;
  if (sum != sum2) lockstep::fuzz::Fail("token() and CopyTokens() disagree");
  (void)shard.Verify();
  return 0;
}
