#include "core/toml_fields.h"

#include <gtest/gtest.h>

#include "core/test_util.h"

namespace lockstep {
namespace {

using ::lockstep::testing::Contains;

TEST(TomlFieldsTest, Utf8IsCheckedBeforeToml11SeesTheBytes) {
  EXPECT_TRUE(CheckUtf8("a = \"h\xc3\xa9\"\nb = '\xe2\x82\xac \xf0\x9f\x98\x80'\n", "f.toml").ok());
  // toml11 3.7 read out of bounds on this one (found by the fuzzer).
  Result<toml::value> r = ParseTomlText("a = '\xff'\n", "f.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "f.toml:1: byte 5 (0xff) is not UTF-8"));
  for (const char* bad :
       {"\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3", "\x80"}) {
    EXPECT_FALSE(CheckUtf8(std::string("x\n") + bad, "f").ok()) << bad;
  }
  EXPECT_TRUE(Contains(CheckUtf8("x\n\n\xc3", "f").message(), "f:3:"));
}

TEST(TomlFieldsTest, OneTypeAndRangePerKeyNothingDefaultedOrNarrowed) {
  Result<toml::value> root =
      ParseTomlText("n = 4294967299\ns = \"2\"\nf = nan\nok = 3\n", "c.toml");
  ASSERT_TRUE(root.ok());
  TomlFields f(*root, "c.toml");
  EXPECT_TRUE(Contains(f.Int("n", 0, 1000).status().message(),
                       "c.toml:1: n = 4294967299 (integer): must be an integer from 0 to 1000"));
  EXPECT_TRUE(Contains(f.Int("s", 0, 10, 1).status().message(), "c.toml:2: s = \"2\" (string)"));
  EXPECT_TRUE(Contains(f.Number("f", 0, 1).status().message(), "must be a finite number"));
  EXPECT_EQ(*f.Int("ok", 0, 10), 3);
  EXPECT_EQ(*f.Int("absent", 0, 10, 7), 7);
  EXPECT_TRUE(Contains(f.Int("absent", 0, 10).status().message(), "no `absent`"));
  EXPECT_TRUE(Contains(f.OnlyKeys({"n", "s", "f", "oks"}).message(),
                       "c.toml:4: unknown key \"ok\"; did you mean \"oks\"?"));
}

}  // namespace
}  // namespace lockstep
