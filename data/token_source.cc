#include "data/token_source.h"

#include <fmt/format.h>

#include "core/digest.h"

namespace lockstep::data {

Status CheckShardAgainstPin(const Shard& shard, const ShardEntry& pin, const Manifest& manifest,
                            const std::string& corpus_name) {
  const ShardHeader& h = shard.header();
  if (h.payload_digest != pin.digest) {
    return Status::BadInput(fmt::format(
        "{}: shard of corpus \"{}\" changed: the manifest {} pins xxh3_128 = {} but the shard "
        "has {} (upstream shard churn?). Restore the pinned file, or re-pin on purpose with "
        "`lockstep data build` and commit the new manifest",
        shard.path(), corpus_name, manifest.origin, pin.digest.Hex(), h.payload_digest.Hex()));
  }
  if (h.token_count != pin.tokens) {
    return Status::BadInput(fmt::format(
        "{}: the manifest {} pins {} tokens but the shard holds {}; restore the pinned file",
        shard.path(), manifest.origin, pin.tokens, h.token_count));
  }
  if (h.vocab_size > manifest.vocab_size) {
    return Status::BadInput(fmt::format(
        "{}: shard vocab size {} exceeds the manifest's vocab_size = {}; raise vocab_size in {}",
        shard.path(), h.vocab_size, manifest.vocab_size, manifest.origin));
  }
  return Status::Ok();
}

Result<TokenSource> TokenSource::Open(const Manifest& manifest) {
  VerifyCache cache = VerifyCache::Open();
  return Open(manifest, cache);
}

Result<TokenSource> TokenSource::Open(const Manifest& manifest, VerifyCache& cache) {
  TokenSource source;
  for (const Corpus& corpus : manifest.corpora) {
    std::vector<Shard> shards;
    for (const ShardEntry& pin : corpus.shards) {
      Result<Shard> shard = Shard::Open(manifest.ResolvePath(pin));
      if (!shard.ok()) return shard.status();
      LOCKSTEP_RETURN_IF_ERROR(CheckShardAgainstPin(*shard, pin, manifest, corpus.name));
      // Every payload byte against the pin, and every token against the
      // vocab, before the first sample is read from it.
      Status verified = cache.Verify(*shard, pin.digest);
      if (!verified.ok()) {
        cache.Save();
        return verified.WithContext(
            fmt::format("corpus \"{}\" of {}", corpus.name, manifest.origin));
      }
      shards.push_back(std::move(shard).value());
    }
    source.shards_.push_back(std::move(shards));
  }
  cache.Save();
  return source;
}

void TokenSource::Fetch(const SampleRef& ref, std::uint32_t seq_len,
                        std::span<std::uint32_t> out) const {
  shards_[ref.corpus][ref.shard].CopyTokens(ref.offset, out.first(std::size_t{seq_len} + 1));
}

void FillBatch(const Sampler& sampler, const TokenSource& source, std::uint64_t step,
               std::uint64_t first_slot, std::uint64_t slots, std::span<std::uint32_t> out) {
  const std::size_t width = std::size_t{sampler.seq_len()} + 1;
  for (std::uint64_t s = 0; s < slots; ++s) {
    source.Fetch(sampler.Locate(step, first_slot + s), sampler.seq_len(),
                 out.subspan(s * width, width));
  }
}

std::uint64_t BatchDigest(const Sampler& sampler, const TokenSource& source, std::uint64_t step) {
  std::vector<std::uint32_t> sample(std::size_t{sampler.seq_len()} + 1);
  Xxh3_64Stream digest;
  for (std::uint64_t slot = 0; slot < sampler.global_batch(); ++slot) {
    source.Fetch(sampler.Locate(step, slot), sampler.seq_len(), sample);
    digest.Update(sample.data(), sample.size() * sizeof(std::uint32_t));
  }
  return digest.Finish();
}

}  // namespace lockstep::data
