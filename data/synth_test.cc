#include "data/synth.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/atomic_file.h"
#include "core/test_util.h"
#include "data/data_reports.h"
#include "data/token_source.h"

namespace lockstep::data {
namespace {

using ::lockstep::testing::FreshTempDir;

// The pins in the committed data/default_manifest.toml are the contract: the
// generators must reproduce them on every machine and compiler.
TEST(SynthTest, GeneratorsReproduceTheCommittedPins) {
  Result<Manifest> committed = LoadManifest(LOCKSTEP_SOURCE_DIR "/data/default_manifest.toml");
  ASSERT_TRUE(committed.ok()) << committed.status().message();
  Manifest generated = GenerateSyntheticManifest();
  EXPECT_EQ(generated.Digest(), committed->Digest())
      << "generator output changed; if on purpose:\n"
         "  lockstep data synth --print-manifest > data/default_manifest.toml\n"
      << generated.ToToml();
  // And the binary embeds exactly the committed file.
  Result<std::string> text = ReadFile(LOCKSTEP_SOURCE_DIR "/data/default_manifest.toml");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(EmbeddedDefaultManifest(), *text);
}

TEST(SynthTest, WrittenCorporaOpenVerifyAndSample) {
  auto dir = FreshTempDir();
  std::ostringstream log;
  ASSERT_TRUE(WriteSyntheticCorpora(dir.string(), log).ok());
  Result<Manifest> m = LoadManifest((dir / "manifest.toml").string());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->corpora.size(), 3u);
  for (const Corpus& c : m->corpora) EXPECT_GE(c.tokens(), 300000u) << c.name;
  std::ostringstream report;
  EXPECT_TRUE(VerifyManifest(*m, report).ok()) << report.str();
  Result<TokenSource> source = TokenSource::Open(*m);
  ASSERT_TRUE(source.ok()) << source.status().message();
  Result<Sampler> sampler = Sampler::Create(*m, 8);
  ASSERT_TRUE(sampler.ok());
  // The batch digest is reproducible and differs from step to step.
  EXPECT_EQ(BatchDigest(*sampler, *source, 3), BatchDigest(*sampler, *source, 3));
  EXPECT_NE(BatchDigest(*sampler, *source, 3), BatchDigest(*sampler, *source, 4));
}

TEST(SynthTest, BatchSplitIntoMicroBatchesOrRanksIsTheSameBatch) {
  auto dir = FreshTempDir();
  std::ostringstream log;
  ASSERT_TRUE(WriteSyntheticCorpora(dir.string(), log).ok());
  Result<Manifest> m = LoadManifest((dir / "manifest.toml").string());
  ASSERT_TRUE(m.ok());
  Result<TokenSource> source = TokenSource::Open(*m);
  ASSERT_TRUE(source.ok());
  const std::uint64_t batch = 8;
  Result<Sampler> sampler = Sampler::Create(*m, batch);
  ASSERT_TRUE(sampler.ok());
  const std::size_t width = m->seq_len + 1;
  std::vector<std::uint32_t> whole(batch * width);
  FillBatch(*sampler, *source, 5, 0, batch, whole);
  for (std::uint64_t parts : {2u, 4u, 8u}) {
    std::vector<std::uint32_t> joined;
    for (std::uint64_t p = 0; p < parts; ++p) {
      std::vector<std::uint32_t> piece(batch / parts * width);
      FillBatch(*sampler, *source, 5, p * batch / parts, batch / parts, piece);
      joined.insert(joined.end(), piece.begin(), piece.end());
    }
    EXPECT_EQ(joined, whole) << parts << " parts";
  }
}

TEST(SynthTest, ShardChangedUpstreamIsDetectedWithBothDigests) {
  auto dir = FreshTempDir();
  std::ostringstream log;
  ASSERT_TRUE(WriteSyntheticCorpora(dir.string(), log).ok());
  Result<Manifest> m = LoadManifest((dir / "manifest.toml").string());
  ASSERT_TRUE(m.ok());
  // Replace a shard with a well-formed one holding other tokens.
  const ShardEntry& pin = m->corpora[1].shards[0];
  std::vector<std::uint32_t> other(pin.tokens, 65);
  ASSERT_TRUE(WriteShard(m->ResolvePath(pin), other, 257).ok());
  Result<TokenSource> source = TokenSource::Open(*m);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().exit_code(), 2);
  EXPECT_TRUE(::lockstep::testing::Contains(source.status().message(), pin.digest.Hex()));
  EXPECT_TRUE(::lockstep::testing::Contains(source.status().message(),
                                            ShardPayloadDigest(other, 257).Hex()));
  std::ostringstream report;
  Status st = VerifyManifest(*m, report);
  EXPECT_EQ(st.exit_code(), 2);
  EXPECT_TRUE(::lockstep::testing::Contains(report.str(), "FAILED"));
  EXPECT_TRUE(::lockstep::testing::Contains(report.str(), "8 of 9 shards ok"));
}

}  // namespace
}  // namespace lockstep::data
