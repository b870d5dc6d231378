#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/test_util.h"

namespace lockstep {
namespace {

using ::lockstep::testing::Contains;
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

// What would block (a FIFO), never end (/dev/zero) or is not a file at all
// is refused before a byte is read, naming what it is.
TEST(AtomicFileTest, OnlyRegularFilesOfBoundedSizeAreRead) {
  auto dir = FreshTempDir();
  const std::string fifo = (dir / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_TRUE(Contains(ReadFile(fifo).status().message(), "is a FIFO"));
  EXPECT_TRUE(Contains(ReadFile(dir.string()).status().message(), "is a directory"));
  EXPECT_TRUE(Contains(ReadFile("/dev/zero").status().message(), "is a character device"));
  const std::string big = (dir / "big").string();
  ASSERT_TRUE(WriteFileAtomically(big, std::string(100, 'x')).ok());
  Result<std::string> r = ReadFile(big, 99);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_TRUE(Contains(r.status().message(), "100 bytes, over the limit of 99"));
  EXPECT_EQ(ReadFile(big, 100)->size(), 100u);
}

}  // namespace
}  // namespace lockstep
