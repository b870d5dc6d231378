#include "data/synth_generators.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::data {
namespace {

using Generator = std::vector<std::uint32_t> (*)(std::uint64_t, std::uint64_t);

constexpr std::uint64_t kTokens = 50000;

// Splits a corpus into its documents' text, failing the test on any token that
// is out of the vocabulary or a corpus that does not end with kEndOfDocument.
std::vector<std::string> Documents(const std::vector<std::uint32_t>& tokens) {
  std::vector<std::string> documents;
  std::string current;
  for (std::uint32_t token : tokens) {
    EXPECT_LT(token, kByteVocab);
    if (token == kEndOfDocument) {
      documents.push_back(current);
      current.clear();
    } else {
      current += static_cast<char>(token);
    }
  }
  EXPECT_TRUE(current.empty()) << "corpus does not end with kEndOfDocument";
  return documents;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(0, end));
    text.remove_prefix(end == text.size() ? end : end + 1);
  }
  return lines;
}

// Shannon entropy of the token distribution, in bits per token.
double UnigramEntropyBits(const std::vector<std::uint32_t>& tokens) {
  std::vector<std::uint64_t> counts(kByteVocab, 0);
  for (std::uint32_t token : tokens) ++counts[token];
  double bits = 0.0;
  for (std::uint64_t count : counts) {
    if (count == 0) continue;
    double p = static_cast<double>(count) / static_cast<double>(tokens.size());
    bits -= p * std::log2(p);
  }
  return bits;
}

struct GeneratorCase {
  const char* name;
  Generator generate;
};
// Names the case in test listings (ctest shows the parameter).
void PrintTo(const GeneratorCase& c, std::ostream* os) {
  *os << c.name;
}

class AnyCorpusTest : public ::testing::TestWithParam<GeneratorCase> {};

TEST_P(AnyCorpusTest, SameSeedGivesSameTokens) {
  EXPECT_EQ(GetParam().generate(kTokens, 1), GetParam().generate(kTokens, 1));
}

TEST_P(AnyCorpusTest, DifferentSeedsGiveDifferentTokens) {
  EXPECT_NE(GetParam().generate(kTokens, 1), GetParam().generate(kTokens, 2));
}

TEST_P(AnyCorpusTest, StopsAfterTheDocumentThatReachesMinTokens) {
  for (std::uint64_t min_tokens : {1u, 777u, 5000u}) {
    std::vector<std::uint32_t> tokens = GetParam().generate(min_tokens, 3);
    ASSERT_GE(tokens.size(), min_tokens);
    ASSERT_EQ(tokens.back(), kEndOfDocument);
    // Without its last document, the corpus would be too short.
    std::size_t before_last = tokens.size() - 1;
    while (before_last > 0 && tokens[before_last - 1] != kEndOfDocument) --before_last;
    EXPECT_LT(before_last, min_tokens);
  }
  EXPECT_TRUE(GetParam().generate(0, 3).empty());
}

TEST_P(AnyCorpusTest, DocumentsAreNonEmptyPrintableAscii) {
  for (const std::string& doc : Documents(GetParam().generate(kTokens, 4))) {
    ASSERT_FALSE(doc.empty());
    for (char c : doc) {
      ASSERT_TRUE(c == '\n' || (c >= ' ' && c <= '~')) << "byte " << static_cast<int>(c);
    }
  }
}

TEST_P(AnyCorpusTest, ShorterCorpusIsAPrefixOfALongerOne) {
  std::vector<std::uint32_t> shorter = GetParam().generate(kTokens / 10, 5);
  std::vector<std::uint32_t> longer = GetParam().generate(kTokens, 5);
  ASSERT_LT(shorter.size(), longer.size());
  EXPECT_TRUE(std::equal(shorter.begin(), shorter.end(), longer.begin()));
}

// Uniform random bytes would give 8 bits; text with learnable structure sits
// far below that.
TEST_P(AnyCorpusTest, UnigramEntropyIsWellBelowEightBits) {
  EXPECT_LT(UnigramEntropyBits(GetParam().generate(kTokens, 6)), 5.5);
}

INSTANTIATE_TEST_SUITE_P(Synth, AnyCorpusTest,
                         ::testing::Values(GeneratorCase{"prose", GenerateProse},
                                           GeneratorCase{"arithmetic", GenerateArithmetic},
                                           GeneratorCase{"code", GenerateCode}),
                         [](const auto& info) { return std::string(info.param.name); });

// Reads a decimal number at the front of `text`, removing it; false if none.
bool TakeNumber(std::string_view& text, std::uint64_t& value) {
  std::size_t digits = 0;
  value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    value = value * 10 + static_cast<std::uint64_t>(text[digits] - '0');
    ++digits;
  }
  text.remove_prefix(digits);
  return digits > 0 && digits <= 4;
}

TEST(ArithmeticTest, EveryLineIsATrueFactAboutOperandsBelowOneHundred) {
  for (const std::string& doc : Documents(GenerateArithmetic(kTokens, 7))) {
    ASSERT_EQ(doc.back(), '\n');
    std::vector<std::string_view> lines = Lines(doc);
    EXPECT_GE(lines.size(), 10u);
    EXPECT_LE(lines.size(), 30u);
    for (std::string_view line : lines) {
      SCOPED_TRACE(std::string(line));
      std::string_view rest = line;
      std::uint64_t a, b, result;
      ASSERT_TRUE(TakeNumber(rest, a));
      ASSERT_FALSE(rest.empty());
      char op = rest.front();
      rest.remove_prefix(1);
      ASSERT_TRUE(TakeNumber(rest, b));
      ASSERT_TRUE(!rest.empty() && rest.front() == '=');
      rest.remove_prefix(1);
      ASSERT_TRUE(TakeNumber(rest, result));
      ASSERT_TRUE(rest.empty());
      EXPECT_LE(a, 99u);
      EXPECT_LE(b, 99u);
      switch (op) {
        case '+':
          EXPECT_EQ(a + b, result);
          break;
        case '-':
          EXPECT_EQ(a, b + result);  // also rules out a negative result
          break;
        case '*':
          EXPECT_EQ(a * b, result);
          break;
        default:
          FAIL() << "unknown operator";
      }
    }
  }
}

TEST(CodeTest, BracketsMatchAndIndentationFollowsBraceDepth) {
  int deepest = 0;
  for (const std::string& doc : Documents(GenerateCode(kTokens, 8))) {
    std::string open;  // the stack of unclosed brackets
    int functions = 0;
    for (std::string_view line : Lines(doc)) {
      SCOPED_TRACE(std::string(line));
      if (line.empty()) continue;  // between functions
      if (line.substr(0, 3) == "fn ") ++functions;
      std::size_t indent = line.find_first_not_of(' ');
      ASSERT_NE(indent, std::string_view::npos);
      // A line is indented by the brace depth it starts at, or one less when
      // it begins by closing a brace.
      int braces = 0;
      for (char c : open) braces += c == '{';
      if (line[indent] == '}') --braces;
      ASSERT_EQ(indent, static_cast<std::size_t>(2 * braces));
      for (char c : line.substr(indent)) {
        if (c == '(' || c == '[' || c == '{') open += c;
        if (c == ')' || c == ']' || c == '}') {
          ASSERT_FALSE(open.empty()) << "closer with nothing open";
          char expected = c == ')' ? '(' : c == ']' ? '[' : '{';
          ASSERT_EQ(open.back(), expected);
          open.pop_back();
        }
        int depth = 0;
        for (char o : open) depth += o == '{';
        deepest = std::max(deepest, depth);
        ASSERT_LE(depth, 4);
      }
      // Only braces may stay open across a line break.
      ASSERT_EQ(open.find_first_not_of('{'), std::string::npos);
    }
    EXPECT_TRUE(open.empty()) << "unclosed brackets at end of document";
    EXPECT_GE(functions, 1);
    EXPECT_LE(functions, 4);
  }
  EXPECT_EQ(deepest, 4);  // the corpus does reach the deepest nesting
}

TEST(ProseTest, SentencesStartWithACapitalAndEndWithAPeriod) {
  for (const std::string& doc : Documents(GenerateProse(kTokens, 9))) {
    std::string_view rest = doc;
    int sentences = 0;
    while (!rest.empty()) {
      std::size_t end = rest.find('.');
      ASSERT_NE(end, std::string_view::npos) << "text after the last period: " << rest;
      std::string_view sentence = rest.substr(0, end);
      SCOPED_TRACE(std::string(sentence));
      ASSERT_FALSE(sentence.empty());
      EXPECT_TRUE(sentence[0] >= 'A' && sentence[0] <= 'Z');
      for (char c : sentence.substr(1)) EXPECT_TRUE(c == ' ' || (c >= 'a' && c <= 'z'));
      ++sentences;
      rest.remove_prefix(end + 1);
      if (!rest.empty()) {
        ASSERT_EQ(rest[0], ' ');  // sentences are separated by one space
        rest.remove_prefix(1);
      }
    }
    EXPECT_GE(sentences, 3);
    EXPECT_LE(sentences, 8);
  }
}

// The verb is the word just before the object's determiner. Singular verb
// forms in the grammar end in 's' ("sees", "has") and plural ones do not.
TEST(ProseTest, VerbAgreesWithTheSubjectsDeterminer) {
  const std::vector<std::string> singular = {"this", "that", "every", "one", "my", "her", "his"};
  const std::vector<std::string> plural = {"these", "those", "some", "many", "two", "our", "their"};
  auto is_in = [](const std::vector<std::string>& words, const std::string& word) {
    return std::find(words.begin(), words.end(), word) != words.end();
  };
  int checked = 0;
  for (const std::string& doc : Documents(GenerateProse(kTokens, 10))) {
    std::vector<std::string> words = {""};
    for (char c : doc) {
      if (c == ' ') {
        words.emplace_back();
      } else if (c == '.') {
        words.emplace_back(".");
      } else {
        words.back() += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      }
    }
    for (std::size_t start = 0; start < words.size(); ++start) {
      if (start > 0 && words[start - 1] != ".") continue;  // not a sentence's first word
      bool plural_subject = is_in(plural, words[start]);
      if (!plural_subject && !is_in(singular, words[start])) continue;  // "the": either
      std::size_t object = start + 2;
      while (object < words.size() && words[object] != "the" && !is_in(singular, words[object]) &&
             !is_in(plural, words[object])) {
        ++object;
      }
      ASSERT_LT(object, words.size());
      const std::string& verb = words[object - 1];
      SCOPED_TRACE(words[start] + " ... " + verb);
      EXPECT_EQ(verb.back() != 's', plural_subject);
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace lockstep::data
