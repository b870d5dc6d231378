// CounterRng: the one source of randomness in lockstep. A draw is a pure
// function of (key, index): no hidden state, so the value for a given purpose
// and index is the same whatever the thread, rank or order of the calls.
//
// The key is derived from the run's seed and a purpose string ("init/wte",
// "sampler/epoch"), so two purposes never share a stream. The mixing function
// is SplitMix64's finalizer applied to key + index * golden ratio: integer
// arithmetic only, identical on every platform.
#ifndef LOCKSTEP_CORE_COUNTER_RNG_H_
#define LOCKSTEP_CORE_COUNTER_RNG_H_

#include <cstdint>
#include <string_view>

#include "core/digest.h"

namespace lockstep {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang extension, silences -Wpedantic

class CounterRng {
 public:
  CounterRng(std::uint64_t seed, std::string_view purpose)
      : key_(Xxh3_64(purpose.data(), purpose.size(), seed)) {}
  explicit CounterRng(std::uint64_t key) : key_(key) {}

  // A uniformly distributed 64-bit value for `index`.
  std::uint64_t Bits(std::uint64_t index) const {
    std::uint64_t z = key_ + (index + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // A value in [0, bound) for `index` (bound > 0), by the high half of a
  // 64x64-bit product: deterministic, with bias below bound / 2^64.
  std::uint64_t Below(std::uint64_t index, std::uint64_t bound) const {
    Uint128 product = static_cast<Uint128>(Bits(index)) * bound;
    return static_cast<std::uint64_t>(product >> 64);
  }

  std::uint64_t key() const { return key_; }

 private:
  std::uint64_t key_;
};

}  // namespace lockstep

#endif  // LOCKSTEP_CORE_COUNTER_RNG_H_
