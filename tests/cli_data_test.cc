// `lockstep data ...` end to end: the main job on the embedded default, and
// every bad input the data layer promises to name (exit 2, file and fix).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/atomic_file.h"
#include "core/test_util.h"
#include "data/manifest.h"
#include "data/shard.h"
#include "tests/run_lockstep.h"

namespace lockstep {
namespace {

using ::lockstep::testing::Contains;
using ::lockstep::testing::FreshTempDir;
namespace fs = std::filesystem;

using ::lockstep::testing::CommandRun;
using ::lockstep::testing::Lockstep;

void WriteText(const fs::path& path, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomically(path.string(), text).ok());
}

std::string ReadText(const fs::path& path) {
  return *ReadFile(path.string());
}

// Replaces the first `from` in the file with `to`.
void Edit(const fs::path& path, const std::string& from, const std::string& to) {
  std::string text = ReadText(path);
  auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in " << path;
  WriteText(path, text.replace(at, from.size(), to));
}

class CliDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTempDir();
    CommandRun synth = Lockstep("data synth --out " + (dir_ / "data").string());
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
    ASSERT_TRUE(synth.output.empty()) << "synth is quiet on success: " << synth.output;
  }
  fs::path manifest() const { return dir_ / "data" / "manifest.toml"; }
  CommandRun Verify() { return Lockstep("data verify --manifest " + manifest().string()); }
  CommandRun Preview(const std::string& extra = "") {
    return Lockstep("data preview --manifest " + manifest().string() + " " + extra);
  }
  // Expects exit 2 with every fragment in the output.
  static void ExpectBadInput(const CommandRun& run, std::initializer_list<std::string> fragments) {
    EXPECT_EQ(run.exit_code, 2) << run.output;
    for (const std::string& f : fragments) EXPECT_TRUE(Contains(run.output, f));
  }
  fs::path dir_;
};

TEST_F(CliDataTest, MainJobRunsOnTheEmbeddedDefault) {
  CommandRun verify = Verify();
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_TRUE(Contains(verify.output, "9 of 9 shards ok"));
  EXPECT_TRUE(Contains(verify.output, "GB/s"));
  CommandRun preview = Preview("--steps 0:3 --batch 8");
  EXPECT_EQ(preview.exit_code, 0) << preview.output;
  EXPECT_TRUE(Contains(preview.output, "step 2  batch_digest "));
  EXPECT_TRUE(Contains(preview.output, "(prose 4, arith 2, code 2)"));
  // Same command, same bytes: the preview is a pure function of the manifest.
  EXPECT_EQ(Preview("--steps 0:3 --batch 8").output, preview.output);
}

TEST_F(CliDataTest, MissingShard) {
  fs::remove(dir_ / "data" / "code" / "001.bin");
  ExpectBadInput(Verify(), {"code/001.bin", "cannot open shard", "8 of 9 shards ok"});
  ExpectBadInput(Preview(), {"code/001.bin", "cannot open shard"});
}

TEST_F(CliDataTest, ShardWhoseDigestDiffersFromTheManifest) {
  data::Manifest m = *data::LoadManifest(manifest().string());
  const data::ShardEntry& pin = m.corpora[0].shards[2];
  std::vector<std::uint32_t> other(pin.tokens, 'x');
  ASSERT_TRUE(data::WriteShard(m.ResolvePath(pin), other, 257).ok());
  const std::string actual = data::ShardPayloadDigest(other, 257).Hex();
  ExpectBadInput(Verify(), {"prose/002.bin", pin.digest.Hex(), actual, "churn"});
  ExpectBadInput(Preview(), {"prose/002.bin", pin.digest.Hex(), actual});
}

TEST_F(CliDataTest, TruncatedShard) {
  fs::path shard = dir_ / "data" / "arith" / "000.bin";
  fs::resize_file(shard, fs::file_size(shard) - 100);
  ExpectBadInput(Verify(), {"arith/000.bin", "truncated"});
}

TEST_F(CliDataTest, WrongMagicAndWrongVersion) {
  fs::path shard = dir_ / "data" / "arith" / "001.bin";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.put(9);
  }
  ExpectBadInput(Verify(), {"arith/001.bin", "version 9 is not supported"});
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.write("GARBAGE!", 8);
  }
  ExpectBadInput(Verify(), {"arith/001.bin", "not a lockstep shard"});
  ExpectBadInput(Lockstep("data inspect " + shard.string()),
                 {"arith/001.bin", "not a lockstep shard"});
}

TEST_F(CliDataTest, BadWeights) {
  const std::string weights = "weights = { prose = 0.5, arith = 0.25, code = 0.25 }";
  Edit(manifest(), weights, "weights = { prose = 0.5, arith = -0.25, code = 0.25 }");
  ExpectBadInput(Preview(), {"manifest.toml", "weight of corpus \"arith\" is -0.25"});
  Edit(manifest(), "weights = { prose = 0.5, arith = -0.25, code = 0.25 }",
       "weights = { prose = 0, arith = 0, code = 0.0 }");
  ExpectBadInput(Verify(), {"manifest.toml", "all weights are zero"});
  Edit(manifest(), "weights = { prose = 0, arith = 0, code = 0.0 }",
       "weights = { prose = 1, poetry = 1 }");
  ExpectBadInput(Preview(), {"manifest.toml", "unknown corpus \"poetry\"", "prose, arith, code"});
}

TEST_F(CliDataTest, SegmentsOutOfOrder) {
  std::string text = ReadText(manifest());
  text +=
      "\n[[schedule]]\nfrom_step = 50\nweights = { code = 1.0 }\n"
      "\n[[schedule]]\nfrom_step = 20\nweights = { arith = 1.0 }\n";
  WriteText(manifest(), text);
  ExpectBadInput(Preview(), {"manifest.toml", "out of order", "from_step = 20"});
}

TEST_F(CliDataTest, SequenceLengthLongerThanACorpus) {
  Edit(manifest(), "seq_len = 64", "seq_len = 200000");
  ExpectBadInput(Preview(), {"manifest.toml", "seq_len = 200000 is longer than corpus \"prose\"",
                             "at most 131071"});
}

TEST_F(CliDataTest, TomlSyntaxErrorNamesLineAndColumn) {
  Edit(manifest(), "seq_len = 64", "seq_len = = 64");
  ExpectBadInput(Verify(), {"manifest.toml:4:11:", "syntax error", "^--- here"});
}

TEST_F(CliDataTest, BadUsageIsExitTwo) {
  EXPECT_EQ(Lockstep("data verify").exit_code, 2);  // --manifest is required
  EXPECT_EQ(Lockstep("data frobnicate").exit_code, 2);
  EXPECT_EQ(Lockstep("data preview --manifest " + manifest().string() + " --steps 5:2").exit_code,
            2);
  ExpectBadInput(Lockstep("data verify --manifest " + (dir_ / "nope.toml").string()),
                 {"nope.toml", "cannot open"});
  CommandRun help = Lockstep("data preview --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(Contains(help.output, "Example:"));
}

TEST_F(CliDataTest, BuildTokenizesTextAndAppendsToAManifest) {
  WriteText(dir_ / "a.txt", std::string(3000, 'a'));
  WriteText(dir_ / "b.txt", "hello lockstep\n");
  fs::path out = dir_ / "mine";
  CommandRun build = Lockstep("data build --corpus notes --out " + out.string() +
                              " --shard-tokens 1000 --seq-len 16 " + (dir_ / "a.txt").string() +
                              " " + (dir_ / "b.txt").string());
  ASSERT_EQ(build.exit_code, 0) << build.output;
  data::Manifest m = *data::LoadManifest((out / "manifest.toml").string());
  ASSERT_EQ(m.corpora.size(), 1u);
  EXPECT_EQ(m.corpora[0].tokens(), 3000u + 1 + 15 + 1);  // bytes plus one end-of-document each
  EXPECT_EQ(m.corpora[0].shards.size(), 4u);
  EXPECT_EQ(m.seq_len, 16u);
  // A second build appends a new corpus with weight 0 and says so.
  CommandRun again =
      Lockstep("data build --corpus more --out " + out.string() + " " + (dir_ / "b.txt").string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(Contains(again.output, "weight 0"));
  m = *data::LoadManifest((out / "manifest.toml").string());
  ASSERT_EQ(m.corpora.size(), 2u);
  EXPECT_EQ(m.schedule.segments[0].weights, (std::vector<double>{1.0, 0.0}));
  CommandRun verify = Lockstep("data verify --manifest " + (out / "manifest.toml").string());
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  CommandRun preview = Lockstep("data preview --manifest " + (out / "manifest.toml").string() +
                                " --steps 0:1 --batch 2");
  EXPECT_EQ(preview.exit_code, 0) << preview.output;
  EXPECT_TRUE(Contains(preview.output, "aaaa"));
}

TEST_F(CliDataTest, ImportReadsLlmcTokenFiles) {
  // A llm.c token file: 256 int32 header (magic, version 1, count), uint16 tokens.
  std::vector<std::int32_t> header(256, 0);
  header[0] = 20240520;
  header[1] = 1;
  header[2] = 5000;
  std::vector<std::uint16_t> tokens(5000);
  for (std::size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<std::uint16_t>(i * 13 % 50257);
  fs::path file = dir_ / "train_000.bin";
  {
    std::ofstream f(file, std::ios::binary);
    f.write(reinterpret_cast<const char*>(header.data()), 1024);
    f.write(reinterpret_cast<const char*>(tokens.data()), 10000);
  }
  fs::path out = dir_ / "imported";
  CommandRun run = Lockstep("data import --corpus web --vocab 50257 --out " + out.string() + " " +
                            file.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  data::Manifest m = *data::LoadManifest((out / "manifest.toml").string());
  EXPECT_EQ(m.vocab_size, 50257u);
  EXPECT_EQ(m.corpora[0].tokens(), 5000u);
  Result<data::Shard> shard = data::Shard::Open(m.ResolvePath(m.corpora[0].shards[0]));
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ(shard->token(4999), tokens[4999]);
  EXPECT_EQ(Lockstep("data verify --manifest " + (out / "manifest.toml").string()).exit_code, 0);
  // A vocab too small for the data is refused before anything is written.
  fs::path small = dir_ / "small";
  ExpectBadInput(Lockstep("data import --corpus web --vocab 1000 --out " + small.string() + " " +
                          file.string()),
                 {"--vocab 1000 is too small"});
  EXPECT_FALSE(fs::exists(small));
}

}  // namespace
}  // namespace lockstep
