#include "data/keyed_permutation.h"

#include <cassert>

namespace lockstep::data {

KeyedPermutation::KeyedPermutation(std::uint64_t key, std::uint64_t n)
    : round_function_(key), n_(n) {
  assert(n > 0 && n <= (std::uint64_t{1} << 62));
  while ((std::uint64_t{1} << (2 * half_bits_)) < n) ++half_bits_;
  half_mask_ = (std::uint64_t{1} << half_bits_) - 1;
}

std::uint64_t KeyedPermutation::Encrypt(std::uint64_t x) const {
  std::uint64_t left = x >> half_bits_;
  std::uint64_t right = x & half_mask_;
  for (int round = 0; round < kRounds; ++round) {
    std::uint64_t mixed = round_function_.Bits((static_cast<std::uint64_t>(round) << 32) ^ right);
    std::uint64_t next_right = left ^ (mixed & half_mask_);
    left = right;
    right = next_right;
  }
  return (left << half_bits_) | right;
}

std::uint64_t KeyedPermutation::operator()(std::uint64_t index) const {
  assert(index < n_);
  std::uint64_t x = Encrypt(index);
  while (x >= n_) x = Encrypt(x);  // cycle-walk back into [0, n)
  return x;
}

}  // namespace lockstep::data
