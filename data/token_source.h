// TokenSource: the manifest's shards, opened and checked against their pins,
// and the tokens of any SampleRef.
//
// Open() maps every shard, compares its header (token count, digest, vocab)
// with the manifest, then hashes its payload against the pin and checks every
// token against the vocab (Shard::Verify), unless the verification cache
// (data/verify_cache.h) knows the unchanged file. No sample is read from a
// shard that was not verified.
#ifndef LOCKSTEP_DATA_TOKEN_SOURCE_H_
#define LOCKSTEP_DATA_TOKEN_SOURCE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "data/manifest.h"
#include "data/sampler.h"
#include "data/shard.h"
#include "data/verify_cache.h"

namespace lockstep::data {

class TokenSource {
 public:
  static Result<TokenSource> Open(const Manifest& manifest);  // with VerifyCache::Open()
  static Result<TokenSource> Open(const Manifest& manifest, VerifyCache& cache);

  // Copies the seq_len + 1 tokens of `ref` into `out`.
  void Fetch(const SampleRef& ref, std::uint32_t seq_len, std::span<std::uint32_t> out) const;
  const Shard& shard(std::size_t corpus, std::size_t index) const { return shards_[corpus][index]; }

 private:
  TokenSource() = default;
  std::vector<std::vector<Shard>> shards_;  // [corpus][shard]
};

// Checks an opened shard against its manifest entry: token count, the digest
// in its header and the vocab. The message names both digests on a mismatch.
Status CheckShardAgainstPin(const Shard& shard, const ShardEntry& pin, const Manifest& manifest,
                            const std::string& corpus_name);

// Tokens of steps' samples, in slot order: out.size() == slots * (seq_len + 1).
void FillBatch(const Sampler& sampler, const TokenSource& source, std::uint64_t step,
               std::uint64_t first_slot, std::uint64_t slots, std::span<std::uint32_t> out);

// XXH3-64 of the global batch of `step`: every slot's seq_len + 1 token ids as
// little-endian uint32, slots in order. The `batch_digest` of the record stream.
std::uint64_t BatchDigest(const Sampler& sampler, const TokenSource& source, std::uint64_t step);

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_TOKEN_SOURCE_H_
