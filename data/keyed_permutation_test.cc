#include "data/keyed_permutation.h"

#include <gtest/gtest.h>

#include <vector>

namespace lockstep::data {
namespace {

TEST(KeyedPermutationTest, IsABijectionForManySizes) {
  for (std::uint64_t n :
       {1ull, 2ull, 3ull, 5ull, 16ull, 17ull, 255ull, 1000ull, 4097ull, 65537ull}) {
    KeyedPermutation perm(0x1234 + n, n);
    std::vector<bool> hit(n, false);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t v = perm(i);
      ASSERT_LT(v, n);
      ASSERT_FALSE(hit[v]) << "n=" << n << " value " << v << " appears twice";
      hit[v] = true;
    }
  }
}

TEST(KeyedPermutationTest, DifferentKeysGiveDifferentOrders) {
  const std::uint64_t n = 1000;
  KeyedPermutation a(1, n), b(2, n);
  int same = 0;
  for (std::uint64_t i = 0; i < n; ++i) same += a(i) == b(i);
  EXPECT_LT(same, 20);  // about 1 expected for independent permutations
}

TEST(KeyedPermutationTest, LooksShuffled) {
  // Not the identity and not a rotation: consecutive positions land far apart.
  const std::uint64_t n = 10000;
  KeyedPermutation perm(99, n);
  int adjacent = 0;
  for (std::uint64_t i = 0; i + 1 < n; ++i) {
    std::uint64_t d = perm(i + 1) > perm(i) ? perm(i + 1) - perm(i) : perm(i) - perm(i + 1);
    adjacent += d <= 1;
  }
  EXPECT_LT(adjacent, 50);
}

}  // namespace
}  // namespace lockstep::data
