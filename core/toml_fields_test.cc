#include "core/toml_fields.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// toml11 recurses once per level: deep nesting is refused before it parses.
TEST(TomlFieldsTest, DeepNestingIsRefusedBeforeToml11Recurses) {
  const auto nested = [](int depth, char open) {
    std::string inner = open == '{' ? "x = 1" : "1";
    for (int d = 1; d < depth; ++d) {
      inner = open == '{' ? "x = {" + inner + "}" : "[" + inner + "]";
    }
    return open == '{' ? "{" + inner + "}" : "[" + inner + "]";
  };
  for (char open : {'[', '{'}) {
    EXPECT_TRUE(ParseTomlText("a = " + nested(kMaxTomlNesting, open) + "\n", "f.toml").ok());
    Result<toml::value> r =
        ParseTomlText("b = 1\n\na = " + nested(kMaxTomlNesting + 1, open) + "\n", "f.toml");
    ASSERT_FALSE(r.ok()) << open;
    EXPECT_EQ(r.status().code(), Status::Code::kBadInput);
    EXPECT_TRUE(Contains(r.status().message(), "f.toml:3: arrays or inline tables nested"))
        << r.status().message();
  }
  // The fuzzers' input: thousands of levels, unclosed.
  EXPECT_FALSE(ParseTomlText("a = " + std::string(5000, '['), "f.toml").ok());
  // Brackets in strings and comments are text, not nesting.
  const std::string many(100, '[');
  const std::vector<std::string> texts = {
      "a = \"" + many + "\"\n",     "a = '" + many + "'\n",
      "# " + many + "\na = 1\n",    "a = \"\"\"\n" + many + "\n\"\"\"\n",
      "a = '''" + many + "\n'''\n", "a = \"\\\"" + many + "\"\n"};
  for (const std::string& text : texts) {
    EXPECT_TRUE(CheckTomlNesting(text, "f.toml").ok()) << text;
    EXPECT_TRUE(ParseTomlText(text, "f.toml").ok()) << text;
  }
  // A string ends where TOML ends it: what follows counts again.
  EXPECT_FALSE(CheckTomlNesting("a = \"x\" # \nb = " + many, "f.toml").ok());
  EXPECT_FALSE(CheckTomlNesting("a = 'x'\nb = " + many, "f.toml").ok());
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
