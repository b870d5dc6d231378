#include "core/digest.h"

#include <xxhash.h>

#include <cstdio>
#include <cstdlib>

namespace lockstep {

std::string Digest128::Hex() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(high),
                static_cast<unsigned long long>(low));
  return buf;
}

std::optional<Digest128> Digest128::FromHex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  for (char c : hex) {
    bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!digit) return std::nullopt;
  }
  Digest128 d;
  d.high = std::strtoull(std::string(hex.substr(0, 16)).c_str(), nullptr, 16);
  d.low = std::strtoull(std::string(hex.substr(16)).c_str(), nullptr, 16);
  return d;
}

Digest128 Xxh3_128(const void* data, std::size_t size) {
  XXH128_hash_t h = XXH3_128bits(data, size);
  return {h.high64, h.low64};
}

std::uint64_t Xxh3_64(const void* data, std::size_t size, std::uint64_t seed) {
  return XXH3_64bits_withSeed(data, size, seed);
}

std::string Hex64(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

Xxh3_128Stream::Xxh3_128Stream() : state_(XXH3_createState()) {
  if (state_ == nullptr) std::abort();
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}
Xxh3_128Stream::~Xxh3_128Stream() {
  XXH3_freeState(static_cast<XXH3_state_t*>(state_));
}
void Xxh3_128Stream::Update(const void* data, std::size_t size) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data, size);
}
Digest128 Xxh3_128Stream::Finish() const {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  return {h.high64, h.low64};
}

Xxh3_64Stream::Xxh3_64Stream() : state_(XXH3_createState()) {
  if (state_ == nullptr) std::abort();
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}
Xxh3_64Stream::~Xxh3_64Stream() {
  XXH3_freeState(static_cast<XXH3_state_t*>(state_));
}
void Xxh3_64Stream::Update(const void* data, std::size_t size) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), data, size);
}
std::uint64_t Xxh3_64Stream::Finish() const {
  return XXH3_64bits_digest(static_cast<XXH3_state_t*>(state_));
}

}  // namespace lockstep
