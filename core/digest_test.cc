#include "core/digest.h"

#include <gtest/gtest.h>

#include <string>

namespace lockstep {
namespace {

TEST(DigestTest, StreamingEqualsOneShot) {
  std::string data(100000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + 7);
  Xxh3_128Stream s128;
  Xxh3_64Stream s64;
  for (std::size_t at = 0; at < data.size(); at += 777) {
    std::size_t n = std::min<std::size_t>(777, data.size() - at);
    s128.Update(data.data() + at, n);
    s64.Update(data.data() + at, n);
  }
  EXPECT_EQ(s128.Finish(), Xxh3_128(data.data(), data.size()));
  EXPECT_EQ(s64.Finish(), Xxh3_64(data.data(), data.size()));
}

TEST(DigestTest, HexRoundTripsAndRejectsMalformedText) {
  Digest128 d = Xxh3_128("lockstep", 8);
  std::string hex = d.Hex();
  ASSERT_EQ(hex.size(), 32u);
  EXPECT_EQ(Digest128::FromHex(hex), d);
  EXPECT_FALSE(Digest128::FromHex(hex.substr(1)).has_value());
  EXPECT_FALSE(Digest128::FromHex("zz" + hex.substr(2)).has_value());
}

TEST(DigestTest, KnownAnswerForEmptyInput) {
  // XXH3-64 of the empty input with seed 0, from the xxHash specification's
  // test vectors: catches a wrong algorithm or byte order.
  EXPECT_EQ(Xxh3_64("", 0), 0x2D06800538D394C2ULL);
}

}  // namespace
}  // namespace lockstep
