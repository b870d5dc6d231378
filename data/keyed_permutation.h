// KeyedPermutation: a pseudo-random permutation of [0, n) that maps any
// position in O(1) expected time with no stored index.
//
// An alternating Feistel network on the smallest number of bits covering n
// (the high half and low half take turns being xored with a keyed function of
// the other) is a bijection on [0, 2^bits); cycle-walking (apply it again
// while the result is >= n) restricts it to a bijection on [0, n). Since
// 2^bits < 2n, fewer than two applications are needed on average. The round
// function is CounterRng keyed by `key`, so the permutation is a pure function
// of (key, n).
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
  static constexpr int kRounds = 4;
  std::uint64_t Encrypt(std::uint64_t x) const;
  CounterRng round_function_;
  std::uint64_t n_;
  int low_bits_ = 0;  // the high part has bits - low_bits_ bits
  std::uint64_t low_mask_ = 0;
  std::uint64_t high_mask_ = 0;
};

}  // namespace lockstep::data

#endif  // LOCKSTEP_DATA_KEYED_PERMUTATION_H_
