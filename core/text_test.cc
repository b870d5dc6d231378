#include "core/text.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

TEST(TextTest, TrimRemovesEveryAsciiSpaceAtBothEnds) {
  EXPECT_EQ(Trim(" \t\r\n\f\vloss 1.5\v \n"), "loss 1.5");
  EXPECT_EQ(Trim("   "), "");
  EXPECT_EQ(Trim("\xa0x\xa0"), "\xa0x\xa0");  // no-break space in Latin-1: not ours to remove
}

TEST(TextTest, ToLowerTouchesAsciiLettersOnly) {
  EXPECT_EQ(ToLower("Loss: 2.5E-3 \xc3\x89TAPE"), "loss: 2.5e-3 \xc3\x89tape");
}

TEST(TextTest, CharacterClassesAreAscii) {
  EXPECT_TRUE(IsDigit('7'));
  EXPECT_FALSE(IsDigit('a'));
  EXPECT_TRUE(IsAlpha('Z'));
  EXPECT_FALSE(IsAlpha('\xe9'));
  EXPECT_TRUE(IsSpace('\v'));
  EXPECT_FALSE(IsSpace('\0'));
}

}  // namespace
}  // namespace lockstep
