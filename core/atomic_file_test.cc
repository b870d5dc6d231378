#include "core/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/test_util.h"

namespace lockstep {
namespace {

using ::lockstep::testing::FreshTempDir;

TEST(AtomicFileTest, CommitReplacesTheTargetWholesale) {
  auto dir = FreshTempDir();
  std::string path = (dir / "sub" / "file.txt").string();
  ASSERT_TRUE(WriteFileAtomically(path, "old contents").ok());
  {
    Result<AtomicFile> file = AtomicFile::Create(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->Append("new ").ok());
    // Before Commit the reader still sees the old file in full.
    EXPECT_EQ(*ReadFile(path), "old contents");
    ASSERT_TRUE(file->Append("contents").ok());
    ASSERT_TRUE(file->Commit().ok());
  }
  EXPECT_EQ(*ReadFile(path), "new contents");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "sub"), {}), 1)
      << "the temporary file must be gone after the rename";
}

TEST(AtomicFileTest, AbandonedWriteLeavesNoTraceAndKeepsTheOldFile) {
  auto dir = FreshTempDir();
  std::string path = (dir / "file.txt").string();
  ASSERT_TRUE(WriteFileAtomically(path, "kept").ok());
  {
    Result<AtomicFile> file = AtomicFile::Create(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->Append("half-written").ok());
  }  // destroyed without Commit, as after an error
  EXPECT_EQ(*ReadFile(path), "kept");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
}

TEST(AtomicFileTest, MissingFileIsBadInputNamingThePath) {
  Result<std::string> r = ReadFile("/nonexistent/lockstep/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_NE(r.status().message().find("/nonexistent/lockstep/file"), std::string::npos);
}

}  // namespace
}  // namespace lockstep
