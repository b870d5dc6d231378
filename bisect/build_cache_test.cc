#include "bisect/build_cache.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/test_util.h"

namespace lockstep::bisect {
namespace {

namespace fs = std::filesystem;
using lockstep::testing::FreshTempDir;

TEST(BuildCacheTest, StoresAndRestoresArtifactsWithTheirTimes) {
  const fs::path root = FreshTempDir();
  const fs::path wt = root / "wt", prefix = root / "prefix";
  fs::create_directories(wt / "build");
  fs::create_directories(prefix / "lib");
  ASSERT_TRUE(WriteFileAtomically((wt / "build" / "tool").string(), "binary v1").ok());
  ASSERT_TRUE(WriteFileAtomically((prefix / "lib" / "libx.so").string(), "library v1").ok());
  const auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(24);
  fs::last_write_time(wt / "build" / "tool", old_time);
  const std::vector<std::string> artifacts = {"build/tool", prefix.string()};

  BuildCache cache((root / "cache").string());
  EXPECT_FALSE(cache.Find("tree1").has_value());
  ASSERT_TRUE(cache.Store("tree1", {true, 12.5, ""}, wt.string(), artifacts).ok());
  std::optional<CachedBuild> found = cache.Find("tree1");
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->ok);
  EXPECT_EQ(found->seconds, 12.5);

  // Another commit's build overwrote both; restoring brings tree1's back.
  ASSERT_TRUE(WriteFileAtomically((wt / "build" / "tool").string(), "binary v2").ok());
  fs::remove_all(prefix);
  ASSERT_TRUE(cache.Restore("tree1", wt.string(), artifacts).ok());
  EXPECT_EQ(*ReadFile((wt / "build" / "tool").string()), "binary v1");
  EXPECT_EQ(*ReadFile((prefix / "lib" / "libx.so").string()), "library v1");
  EXPECT_EQ(fs::last_write_time(wt / "build" / "tool"), old_time);  // make sees its true age
}

TEST(BuildCacheTest, RemembersFailedBuildsWithoutArtifacts) {
  const fs::path root = FreshTempDir();
  BuildCache cache((root / "cache").string());
  ASSERT_TRUE(
      cache
          .Store("tree2", {false, 3, "error: expected ';'"}, (root / "wt").string(), {"build/tool"})
          .ok());
  std::optional<CachedBuild> found = cache.Find("tree2");
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->ok);
  EXPECT_EQ(found->log_tail, "error: expected ';'");
}

TEST(BuildCacheTest, SuccessWithoutTheArtifactIsAnErrorAndLeavesNoEntry) {
  const fs::path root = FreshTempDir();
  fs::create_directories(root / "wt");
  BuildCache cache((root / "cache").string());
  Status st = cache.Store("tree3", {true, 1, ""}, (root / "wt").string(), {"build/tool"});
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(lockstep::testing::Contains(st.message(), "--artifact"));
  EXPECT_FALSE(cache.Find("tree3").has_value());
}

}  // namespace
}  // namespace lockstep::bisect
