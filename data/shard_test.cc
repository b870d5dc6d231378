#include "data/shard.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <vector>

#include "core/atomic_file.h"
#include "core/test_util.h"

namespace lockstep::data {
namespace {

using ::lockstep::testing::Contains;
using ::lockstep::testing::FreshTempDir;

std::vector<std::uint32_t> Ramp(std::size_t n, std::uint32_t modulus) {
  std::vector<std::uint32_t> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<std::uint32_t>((i * 7919) % modulus);
  return t;
}

// Rewrites bytes [at, at + bytes.size()) of a file in place.
void Patch(const std::string& path, std::size_t at, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(ShardTest, RoundTripsUint16AndUint32Tokens) {
  auto dir = FreshTempDir();
  for (std::uint32_t vocab : {257u, 65536u, 100000u}) {
    std::string path = (dir / ("s" + std::to_string(vocab) + ".bin")).string();
    auto tokens = Ramp(1000, vocab);
    Result<ShardHeader> written = WriteShard(path, tokens, vocab);
    ASSERT_TRUE(written.ok()) << written.status().message();
    EXPECT_EQ(written->token_bytes, vocab <= 65536 ? 2u : 4u);
    Result<Shard> shard = Shard::Open(path);
    ASSERT_TRUE(shard.ok()) << shard.status().message();
    EXPECT_EQ(shard->header().vocab_size, vocab);
    EXPECT_EQ(shard->size(), tokens.size());
    std::vector<std::uint32_t> back(tokens.size());
    shard->CopyTokens(0, back);
    EXPECT_EQ(back, tokens);
    EXPECT_EQ(shard->token(999), tokens[999]);
    EXPECT_TRUE(shard->Verify().ok());
    EXPECT_EQ(shard->ComputeDigest(), ShardPayloadDigest(tokens, vocab));
    EXPECT_EQ(shard->file_bytes(), kShardHeaderBytes + tokens.size() * written->token_bytes);
  }
}

TEST(ShardTest, TokenAtOrAboveVocabIsRejectedAndNothingIsWritten) {
  auto dir = FreshTempDir();
  std::string path = (dir / "bad.bin").string();
  std::vector<std::uint32_t> tokens = {1, 2, 257, 3};
  Result<ShardHeader> r = WriteShard(path, tokens, 257);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_TRUE(Contains(r.status().message(), "index 2"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ShardTest, TruncatedShardIsBadInput) {
  auto dir = FreshTempDir();
  std::string path = (dir / "t.bin").string();
  ASSERT_TRUE(WriteShard(path, Ramp(100, 257), 257).ok());
  std::filesystem::resize_file(path, kShardHeaderBytes + 150);
  Result<Shard> r = Shard::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_TRUE(Contains(r.status().message(), "truncated"));
  EXPECT_TRUE(Contains(r.status().message(), path));

  std::filesystem::resize_file(path, 10);
  r = Shard::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "smaller than the 64-byte header"));
}

TEST(ShardTest, WrongMagicAndWrongVersionAreBadInput) {
  auto dir = FreshTempDir();
  std::string path = (dir / "m.bin").string();
  ASSERT_TRUE(WriteShard(path, Ramp(100, 257), 257).ok());
  Patch(path, 8, std::string("\x07\0\0\0", 4));
  Result<Shard> r = Shard::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "version 7 is not supported"));

  Patch(path, 0, "NOTASHRD");
  r = Shard::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_TRUE(Contains(r.status().message(), "not a lockstep shard"));
}

TEST(ShardTest, FlippedPayloadByteFailsVerify) {
  auto dir = FreshTempDir();
  std::string path = (dir / "c.bin").string();
  ASSERT_TRUE(WriteShard(path, Ramp(100, 257), 257).ok());
  Patch(path, kShardHeaderBytes + 11, "\x5a");
  Result<Shard> shard = Shard::Open(path);
  ASSERT_TRUE(shard.ok());  // Open reads only the header
  Status st = shard->Verify();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "corrupt"));
}

// A header whose vocab is smaller than its tokens (a shard not written by
// lockstep): Verify names the first token out of range and where it is.
TEST(ShardTest, VerifyChecksEveryTokenAgainstTheVocab) {
  auto dir = FreshTempDir();
  std::string path = (dir / "c.bin").string();
  std::vector<std::uint32_t> tokens = {1, 2, 3, 250, 4};
  ASSERT_TRUE(WriteShard(path, tokens, 300).ok());
  Patch(path, 16, std::string("\xc8\x00\x00\x00", 4));  // vocab_size = 200
  Result<Shard> shard = Shard::Open(path);
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ(shard->FirstTokenOutOfVocab(0, 5), 3u);
  Status st = shard->Verify();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(
      Contains(st.message(),
               "token 250 at index 3 (byte offset 70) is not below the shard's vocab size 200"));
}

TEST(ShardTest, AFifoIsRefusedInsteadOfWaitedOn) {
  auto dir = FreshTempDir();
  std::string path = (dir / "fifo.bin").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  Result<Shard> r = Shard::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "is a FIFO"));
}

TEST(ShardTest, MissingFileNamesThePath) {
  Result<Shard> r = Shard::Open("/nonexistent/shard.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_TRUE(Contains(r.status().message(), "/nonexistent/shard.bin"));
}

}  // namespace
}  // namespace lockstep::data
