#include "data/verify_cache.h"

#include <fcntl.h>
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

// An unchanged shard is hashed once; any write to it is hashed again and
// caught, even if its size and modification time are put back.
TEST(VerifyCacheTest, HashesOnceAndAgainAfterAnyWrite) {
  auto dir = FreshTempDir();
  const std::string shard_path = (dir / "s.bin").string(),
                    cache_path = (dir / "cache" / "v.json").string();
  std::vector<std::uint32_t> tokens(1000, 7);
  Result<ShardHeader> header = WriteShard(shard_path, tokens, 257);
  ASSERT_TRUE(header.ok());
  {
    VerifyCache cache = VerifyCache::AtPath(cache_path);
    Result<Shard> shard = Shard::Open(shard_path);
    ASSERT_TRUE(cache.Verify(*shard, header->payload_digest).ok());
    EXPECT_EQ(cache.hashed(), 1);
    cache.Save();
  }
  {
    VerifyCache cache = VerifyCache::AtPath(cache_path);
    Result<Shard> shard = Shard::Open(shard_path);
    ASSERT_TRUE(cache.Verify(*shard, header->payload_digest).ok());
    EXPECT_EQ(cache.hashed(), 0);  // known and unchanged
    // Another pin for the same file is not a hit.
    Status other = cache.Verify(*shard, Digest128{1, 2});
    EXPECT_EQ(cache.hashed(), 1);
    EXPECT_TRUE(Contains(other.message(), "is not the pinned"));
  }
  struct stat before {};
  ASSERT_EQ(::stat(shard_path.c_str(), &before), 0);
  {
    std::fstream f(shard_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(kShardHeaderBytes + 10));
    f.put('\x01');
  }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, shard_path.c_str(), times, 0),
            0);  // mtime put back; ctime moves on
  VerifyCache cache = VerifyCache::AtPath(cache_path);
  Result<Shard> shard = Shard::Open(shard_path);
  Status st = cache.Verify(*shard, header->payload_digest);
  EXPECT_EQ(cache.hashed(), 1);
  EXPECT_TRUE(Contains(st.message(), "corrupt"));
}

TEST(VerifyCacheTest, ADamagedCacheIsAnEmptyOne) {
  auto dir = FreshTempDir();
  const std::string shard_path = (dir / "s.bin").string(), cache_path = (dir / "v.json").string();
  std::vector<std::uint32_t> tokens(10, 3);
  Result<ShardHeader> header = WriteShard(shard_path, tokens, 257);
  ASSERT_TRUE(
      WriteFileAtomically(cache_path, "{\"version\": 1, \"files\": {\"x\": {\"dev\": \"a\"}}")
          .ok());
  VerifyCache cache = VerifyCache::AtPath(cache_path);
  Result<Shard> shard = Shard::Open(shard_path);
  EXPECT_TRUE(cache.Verify(*shard, header->payload_digest).ok());
  EXPECT_EQ(cache.hashed(), 1);
}

}  // namespace
}  // namespace lockstep::data
