#include "data/manifest.h"

#include <gtest/gtest.h>

#include "core/test_util.h"

namespace lockstep::data {
namespace {

using ::lockstep::testing::Contains;

constexpr const char* kDigestA = "0123456789abcdef0123456789abcdef";
constexpr const char* kDigestB = "fedcba9876543210fedcba9876543210";

std::string ValidText() {
  return std::string(R"(seed = 7
seq_len = 16
vocab_size = 257

[[corpus]]
name = "prose"
shards = [
  { path = "prose/000.bin", tokens = 1000, xxh3_128 = ")") +
         kDigestA + R"(" },
  { path = "prose/001.bin", tokens = 500, xxh3_128 = ")" +
         kDigestB + R"(" },
]

[[corpus]]
name = "code"
shards = [ { path = "/abs/code.bin", tokens = 800, xxh3_128 = ")" +
         kDigestB + R"(" } ]

[[schedule]]
from_step = 0
weights = { prose = 3, code = 1.0 }

[[schedule]]
from_step = 100
weights = { code = 0.5 }
)";
}

Status ParseError(const std::string& text) {
  Result<Manifest> m = ParseManifest(text, "bad.toml", "/data");
  EXPECT_FALSE(m.ok());
  if (!m.ok()) {
    EXPECT_EQ(m.status().exit_code(), 2);
    EXPECT_TRUE(Contains(m.status().message(), "bad.toml"));
  }
  return m.status();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ManifestTest, ParsesEveryField) {
  Result<Manifest> m = ParseManifest(ValidText(), "m.toml", "/data");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->seed, 7u);
  EXPECT_EQ(m->seq_len, 16u);
  EXPECT_EQ(m->vocab_size, 257u);
  ASSERT_EQ(m->corpora.size(), 2u);
  EXPECT_EQ(m->corpora[0].name, "prose");
  EXPECT_EQ(m->corpora[0].tokens(), 1500u);
  EXPECT_EQ(m->corpora[0].shards[1].digest.Hex(), kDigestB);
  EXPECT_EQ(m->ResolvePath(m->corpora[0].shards[0]), "/data/prose/000.bin");
  EXPECT_EQ(m->ResolvePath(m->corpora[1].shards[0]), "/abs/code.bin");
  ASSERT_EQ(m->schedule.segments.size(), 2u);
  EXPECT_EQ(m->schedule.segments[0].weights, (std::vector<double>{3.0, 1.0}));
  // A corpus left out of a segment's weights has weight 0.
  EXPECT_EQ(m->schedule.segments[1].weights, (std::vector<double>{0.0, 0.5}));
}

TEST(ManifestTest, CanonicalTextRoundTrips) {
  Result<Manifest> m = ParseManifest(ValidText(), "m.toml", "/data");
  ASSERT_TRUE(m.ok());
  Result<Manifest> again = ParseManifest(m->ToToml(), "m2.toml", "/data");
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << m->ToToml();
  EXPECT_EQ(again->ToToml(), m->ToToml());
  EXPECT_EQ(again->Digest(), m->Digest());
  EXPECT_EQ(again->schedule, m->schedule);
}

TEST(ManifestTest, DigestFollowsTheDataNotThePaths) {
  Result<Manifest> m = ParseManifest(ValidText(), "m.toml", "/data");
  ASSERT_TRUE(m.ok());
  const std::uint64_t base = m->Digest();
  Manifest moved = *m;
  moved.corpora[0].shards[0].path = "elsewhere/000.bin";
  EXPECT_EQ(moved.Digest(), base);
  Manifest reweighted = *m;
  reweighted.schedule.segments[1].weights[0] = 0.1;
  EXPECT_NE(reweighted.Digest(), base);
  Manifest churned = *m;
  churned.corpora[1].shards[0].digest.low ^= 1;
  EXPECT_NE(churned.Digest(), base);
  Manifest reseeded = *m;
  reseeded.seed = 8;
  EXPECT_NE(reseeded.Digest(), base);
}

TEST(ManifestTest, SyntaxErrorNamesLineAndColumn) {
  Status st = ParseError("seed = 7\nseq_len = = 16\n");
  EXPECT_TRUE(Contains(st.message(), "bad.toml:2:11:"));
  // An error found only lines later points at where the parser gave up.
  st = ParseError("seed = 7\nvocab_size = [257\n\nseq_len = 3\n");
  EXPECT_TRUE(Contains(st.message(), "bad.toml:4:1:"));
  EXPECT_TRUE(Contains(st.message(), "syntax error"));
}

TEST(ManifestTest, UnknownKeysAreErrorsNotIgnored) {
  Status st = ParseError(Replace(ValidText(), "seed = 7", "seed = 7\nsede = 8"));
  EXPECT_TRUE(Contains(st.message(), "unknown key \"sede\""));
  EXPECT_TRUE(Contains(st.message(), "bad.toml:2"));
  st = ParseError(Replace(ValidText(), "tokens = 1000,", "tokns = 1000,"));
  EXPECT_TRUE(Contains(st.message(), "unknown key \"tokns\""));
}

TEST(ManifestTest, ScheduleErrorsNameTheProblem) {
  EXPECT_TRUE(Contains(ParseError(Replace(ValidText(), "code = 0.5", "cod = 0.5")).message(),
                       "unknown corpus \"cod\""));
  EXPECT_TRUE(Contains(ParseError(Replace(ValidText(), "code = 0.5", "code = -0.5")).message(),
                       "weight of corpus \"code\" is -0.5"));
  EXPECT_TRUE(Contains(ParseError(Replace(ValidText(), "code = 0.5", "code = 0.0")).message(),
                       "all weights are zero"));
  EXPECT_TRUE(
      Contains(ParseError(Replace(ValidText(), "from_step = 100", "from_step = 0")).message(),
               "out of order"));
  EXPECT_TRUE(Contains(ParseError(Replace(ValidText(), "from_step = 0", "from_step = 3")).message(),
                       "from_step = 0"));
  std::string text = ValidText();
  EXPECT_TRUE(
      Contains(ParseError(text.substr(0, text.find("[[schedule]]"))).message(), "no [[schedule]]"));
}

TEST(ManifestTest, CorpusAndShardErrorsNameTheProblem) {
  EXPECT_TRUE(
      Contains(ParseError(Replace(ValidText(), "name = \"code\"", "name = \"prose\"")).message(),
               "listed twice"));
  EXPECT_TRUE(Contains(ParseError(Replace(ValidText(), kDigestA, "xyz")).message(),
                       "is not 32 hex digits"));
  EXPECT_TRUE(Contains(ParseError(Replace(ValidText(), "seed = 7", "seed = -7")).message(),
                       "must be >= 0"));
  EXPECT_TRUE(
      Contains(ParseError(Replace(ValidText(), "seq_len = 16", "seq_len = \"16\"")).message(),
               "wrong type"));
  EXPECT_TRUE(Contains(ParseError(Replace(ValidText(), "seq_len = 16\n", "")).message(),
                       "missing the required key \"seq_len\""));
}

TEST(ManifestTest, ScheduleTextCanOverrideTheManifests) {
  Result<BlendSchedule> s = ParseScheduleToml(
      "[[schedule]]\nfrom_step = 0\nweights = { a = 1 }\n[[schedule]]\nfrom_step = 30\n"
      "weights = { b = 2 }\n",
      "config.toml", {"a", "b"});
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->segments.size(), 2u);
  EXPECT_EQ(s->segments[1].from_step, 30u);
  EXPECT_EQ(s->segments[1].weights, (std::vector<double>{0.0, 2.0}));
}

}  // namespace
}  // namespace lockstep::data
