#include "io/memory_file_system.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace sluice::io {
namespace {

Status Write(FileSystem& fs, const std::string& path, std::string_view text, OpenMode mode) {
  SLUICE_ASSIGN_OR_RETURN(auto f, fs.OpenWritable(path, mode));
  return f->Append({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

TEST(MemoryFileSystemTest, AtomicWriteAppendAndTruncateBehaveAsOnDisk) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/state/dir").ok());
  ASSERT_TRUE(WriteFileAtomically(fs, "/state/dir/f", "one").ok());
  ASSERT_TRUE(Write(fs, "/state/dir/f", "two", OpenMode::kAppend).ok());
  EXPECT_EQ(*ReadSmallFile(fs, "/state/dir/f"), "onetwo");
  EXPECT_FALSE(fs.Exists("/state/dir/f.tmp"));
  ASSERT_TRUE(fs.Truncate("/state/dir/f", 2).ok());
  EXPECT_EQ(*fs.FileSize("/state/dir/f"), 2u);
  ASSERT_TRUE(Write(fs, "/state/dir/f", "x", OpenMode::kTruncate).ok());
  EXPECT_EQ(*fs.Contents("/state/dir/f"), "x");
}

// The log and the dead-letter queue rely on these Posix answers.
TEST(MemoryFileSystemTest, MissingFilesAndDirectoriesFailAsOnDisk) {
  MemoryFileSystem fs;
  EXPECT_EQ(fs.OpenReadable("/absent").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.FileSize("/absent").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.OpenWritable("/no/dir/f", OpenMode::kTruncate).status().os_error(), ENOENT);
  EXPECT_FALSE(fs.Rename("/absent", "/b").ok());
  EXPECT_TRUE(fs.Remove("/absent").ok());
  EXPECT_FALSE(fs.ListDir("/no").ok());
}

TEST(MemoryFileSystemTest, FileRenamedOverOrRemovedStaysReadableThroughItsHandle) {
  MemoryFileSystem fs;
  ASSERT_TRUE(Write(fs, "/a", "old", OpenMode::kTruncate).ok());
  ASSERT_TRUE(Write(fs, "/b", "new", OpenMode::kTruncate).ok());
  auto held = fs.OpenReadable("/a");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(fs.Rename("/b", "/a").ok());
  EXPECT_FALSE(fs.Exists("/b"));
  EXPECT_EQ(*fs.Contents("/a"), "new");
  ASSERT_TRUE(fs.Remove("/a").ok());
  std::string out(3, '\0');
  EXPECT_EQ(*(*held)->Read(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()}), 3u);
  EXPECT_EQ(out, "old");
}

TEST(MemoryFileSystemTest, ListDirNamesOnlyDirectChildren) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/d/sub/deeper").ok());
  ASSERT_TRUE(Write(fs, "/d/f", "", OpenMode::kTruncate).ok());
  ASSERT_TRUE(Write(fs, "/d/sub/g", "", OpenMode::kTruncate).ok());
  auto names = fs.ListDir("/d");
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"f", "sub"}));
}

}  // namespace
}  // namespace sluice::io
