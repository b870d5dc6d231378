// Content digests. Shards and manifests are pinned by XXH3-128; per-step
// fingerprints (batch, parameters) use XXH3-64. Digests print as lowercase hex
// in XXH3's canonical (big-endian) byte order, so they match `xxhsum -H2`.
#ifndef LOCKSTEP_CORE_DIGEST_H_
#define LOCKSTEP_CORE_DIGEST_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lockstep {

struct Digest128 {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  bool operator==(const Digest128&) const = default;

  std::string Hex() const;  // 32 hex digits
  static std::optional<Digest128> FromHex(std::string_view hex);
};

Digest128 Xxh3_128(const void* data, std::size_t size);
std::uint64_t Xxh3_64(const void* data, std::size_t size, std::uint64_t seed = 0);
std::string Hex64(std::uint64_t value);  // 16 hex digits

// Incremental XXH3-128 for data that arrives in pieces.
class Xxh3_128Stream {
 public:
  Xxh3_128Stream();
  ~Xxh3_128Stream();
  Xxh3_128Stream(const Xxh3_128Stream&) = delete;
  Xxh3_128Stream& operator=(const Xxh3_128Stream&) = delete;
  void Update(const void* data, std::size_t size);
  Digest128 Finish() const;

 private:
  void* state_;  // XXH3_state_t*, kept out of this header
};

// Incremental XXH3-64, used for batch and parameter fingerprints.
class Xxh3_64Stream {
 public:
  Xxh3_64Stream();
  ~Xxh3_64Stream();
  Xxh3_64Stream(const Xxh3_64Stream&) = delete;
  Xxh3_64Stream& operator=(const Xxh3_64Stream&) = delete;
  void Update(const void* data, std::size_t size);
  std::uint64_t Finish() const;

 private:
  void* state_;
};

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_DIGEST_H_
