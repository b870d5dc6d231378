#include "data/keyed_permutation.h"

#include <bit>
#include <cassert>

namespace lockstep::data {

KeyedPermutation::KeyedPermutation(std::uint64_t key, std::uint64_t n)
    : round_function_(key), n_(n) {
  assert(n > 0 && n <= (std::uint64_t{1} << 62));
  const int bits = std::max(1, static_cast<int>(std::bit_width(n - 1)));
  low_bits_ = bits / 2;
  low_mask_ = (std::uint64_t{1} << low_bits_) - 1;
  high_mask_ = (std::uint64_t{1} << (bits - low_bits_)) - 1;
}

std::uint64_t KeyedPermutation::Encrypt(std::uint64_t x) const {
  std::uint64_t high = x >> low_bits_;
  std::uint64_t low = x & low_mask_;
  // Each round is invertible on its own (xor with a function of the part it
  // does not change), so the whole is a bijection of [0, 2^bits).
  for (std::uint64_t round = 0; round < kRounds; ++round) {
    if (round % 2 == 0) {
      high ^= round_function_.Bits((round << 40) ^ low) & high_mask_;
    } else {
      low ^= round_function_.Bits((round << 40) ^ high) & low_mask_;
    }
  }
  return (high << low_bits_) | low;
}

std::uint64_t KeyedPermutation::operator()(std::uint64_t index) const {
  assert(index < n_);
  std::uint64_t x = Encrypt(index);
  while (x >= n_) x = Encrypt(x);  // cycle-walk back into [0, n)
  return x;
}

}  // namespace lockstep::data
