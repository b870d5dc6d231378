// Shard: one file of tokens, pinned by the XXH3-128 digest of its payload.
//
// Layout (little-endian, 64-byte header, then the payload):
//   offset  size  field
//   0       8     magic "LKSTSHRD"
//   8       4     format version (1)
//   12      4     bytes per token: 2 (uint16) or 4 (uint32)
//   16      4     vocab size (every token is < vocab size)
//   20      4     reserved, 0
//   24      8     token count
//   32      16    XXH3-128 of the payload, high 64 bits then low 64 bits
//   48      16    reserved, 0
//   64      ...   token count tokens, little-endian
// See data/README.md.
#ifndef LOCKSTEP_DATA_SHARD_H_
#define LOCKSTEP_DATA_SHARD_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/status.h"

namespace lockstep::data {

inline constexpr char kShardMagic[8] = {'L', 'K', 'S', 'T', 'S', 'H', 'R', 'D'};
inline constexpr std::uint32_t kShardVersion = 1;
inline constexpr std::size_t kShardHeaderBytes = 64;

struct ShardHeader {
  std::uint32_t version = kShardVersion;
  std::uint32_t token_bytes = 2;  // 2 = uint16, 4 = uint32
  std::uint32_t vocab_size = 0;
  std::uint64_t token_count = 0;
  Digest128 payload_digest;
};

// Writes `tokens` as a shard at `path`, atomically. Tokens are stored as
// uint16 when vocab_size <= 65536, else uint32. Every token must be below
// vocab_size (BadInput otherwise, naming the first offending index).
Result<ShardHeader> WriteShard(const std::string& path, std::span<const std::uint32_t> tokens,
                               std::uint32_t vocab_size);

// The payload digest WriteShard would record for these tokens, without
// writing anything.
Digest128 ShardPayloadDigest(std::span<const std::uint32_t> tokens, std::uint32_t vocab_size);

// A read-only, memory-mapped shard. Open() checks the magic, the version and
// that the file holds exactly the tokens its header announces; it does not
// hash the payload (that is Verify(), which reads every byte).
class Shard {
 public:
  static Result<Shard> Open(const std::string& path);

  Shard(Shard&& other) noexcept;
  Shard& operator=(Shard&& other) noexcept;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  const ShardHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  std::uint64_t size() const { return header_.token_count; }

  std::uint32_t token(std::uint64_t i) const;
  // Copies tokens [begin, begin + out.size()) into `out`.
  void CopyTokens(std::uint64_t begin, std::span<std::uint32_t> out) const;

  // XXH3-128 of the payload as stored on disk.
  Digest128 ComputeDigest() const;
  // Reads every payload byte once: the digest must equal
  // header().payload_digest and every token must be below
  // header().vocab_size. BadInput names the file and both digests, or the
  // first token out of range with its index and byte offset.
  Status Verify() const;
  // The index of the first token in [begin, end) at or above the vocab size.
  std::optional<std::uint64_t> FirstTokenOutOfVocab(std::uint64_t begin, std::uint64_t end) const;

  std::size_t file_bytes() const { return map_size_; }

 private:
  Shard() = default;
  std::string path_;
  ShardHeader header_;
  const unsigned char* map_ = nullptr;
  std::size_t map_size_ = 0;
};

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_SHARD_H_
