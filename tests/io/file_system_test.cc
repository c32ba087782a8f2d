#include "io/file_system.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace sluice::io {
namespace {

TEST(FileSystemTest, AtomicWriteReplacesContentAndLeavesNoTemporary) {
  testing::TempDir dir;
  FileSystem& fs = FileSystem::Posix();
  std::string path = dir.Sub("state");
  ASSERT_TRUE(WriteFileAtomically(fs, path, "one").ok());
  ASSERT_TRUE(WriteFileAtomically(fs, path, "two").ok());
  EXPECT_EQ(*ReadSmallFile(fs, path), "two");
  EXPECT_FALSE(fs.Exists(path + ".tmp"));
}

TEST(FileSystemTest, AppendModeKeepsExistingBytesAndReportsSize) {
  testing::TempDir dir;
  FileSystem& fs = FileSystem::Posix();
  std::string path = dir.Sub("f");
  {
    auto f = fs.OpenWritable(path, OpenMode::kTruncate);
    ASSERT_TRUE(f.ok());
    std::string d = "abc";
    ASSERT_TRUE((*f)->Append({reinterpret_cast<const uint8_t*>(d.data()), d.size()}).ok());
  }
  auto f = fs.OpenWritable(path, OpenMode::kAppend);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Size(), 3u);
  std::string d = "de";
  ASSERT_TRUE((*f)->Append({reinterpret_cast<const uint8_t*>(d.data()), d.size()}).ok());
  EXPECT_EQ((*f)->Size(), 5u);
  EXPECT_EQ(*ReadSmallFile(fs, path), "abcde");
}

TEST(FileSystemTest, MissingFileIsNotFoundNotIoError) {
  testing::TempDir dir;
  auto r = FileSystem::Posix().OpenReadable(dir.Sub("absent"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(FileSystemTest, CreateDirsMakesNestedDirectories) {
  testing::TempDir dir;
  FileSystem& fs = FileSystem::Posix();
  ASSERT_TRUE(fs.CreateDirs(dir.Sub("a/b/c")).ok());
  EXPECT_TRUE(fs.Exists(dir.Sub("a/b/c")));
  EXPECT_TRUE(fs.CreateDirs(dir.Sub("a/b/c")).ok());
}

}  // namespace
}  // namespace sluice::io
