// KeyedPermutation: a pseudo-random permutation of [0, n) that maps any
// position in O(1) expected time with no stored index.
//
// A balanced Feistel network on the smallest even number of bits covering n
// is a bijection on [0, 2^bits); cycle-walking (apply it again while the
// result is >= n) restricts it to a bijection on [0, n). Since 2^bits < 4n,
// fewer than four rounds of walking are needed on average. The round function
// is CounterRng keyed by `key`, so the permutation is a pure function of
// (key, n).
#ifndef LOCKSTEP_DATA_KEYED_PERMUTATION_H_
#define LOCKSTEP_DATA_KEYED_PERMUTATION_H_

#include <cstdint>

#include "core/counter_rng.h"

namespace lockstep::data {

class KeyedPermutation {
 public:
  KeyedPermutation(std::uint64_t key, std::uint64_t n);
  // The element at position `index` (< n) of the permuted order.
  std::uint64_t operator()(std::uint64_t index) const;
  std::uint64_t size() const { return n_; }

 private:
  static constexpr int kRounds = 6;
  std::uint64_t Encrypt(std::uint64_t x) const;
  CounterRng round_function_;
  std::uint64_t n_;
  int half_bits_ = 1;
  std::uint64_t half_mask_ = 1;
};

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_KEYED_PERMUTATION_H_
