#include "io/file_system.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "io/fault_injection_file_system.h"
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

Status AppendText(WritableFile& f, std::string_view text) {
  return f.Append({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

// Disk full is told by the errno the failing call recorded: a message that
// merely reads like one is not it, and a used-up quota (whose message says
// nothing of space) is.
TEST(DiskFullTest, DiskFullIsRecognisedByErrnoNotByMessageText) {
  EXPECT_TRUE(IsDiskFull(Status::FromErrno("write a", ENOSPC)));
  EXPECT_TRUE(IsDiskFull(Status::FromErrno("write a", EDQUOT)));
  EXPECT_FALSE(IsDiskFull(Status::FromErrno("write a", EIO)));
  EXPECT_FALSE(IsDiskFull(Status::IoError("write a: No space left on device")));
  EXPECT_FALSE(IsDiskFull(Status::ResourceExhausted("No space")));
  EXPECT_FALSE(IsDiskFull(Status::Ok()));
}

// /dev/full answers every write with ENOSPC, so this is the kernel's own
// disk-full error coming up through the Posix file system.
TEST(DiskFullTest, KernelEnospcFromAPosixWriteIsDiskFull) {
  FileSystem& fs = FileSystem::Posix();
  if (!fs.Exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto f = fs.OpenWritable("/dev/full", OpenMode::kAppend);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  Status st = AppendText(**f, "x");
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(IsDiskFull(st)) << st.ToString();
  std::span<const uint8_t> pieces[2] = {{reinterpret_cast<const uint8_t*>("ab"), 2},
                                        {reinterpret_cast<const uint8_t*>("cd"), 2}};
  Status v = (*f)->AppendV(pieces);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(IsDiskFull(v)) << v.ToString();
}

TEST(DiskFullTest, InjectedEnospcAndEdquotAreDiskFullAndEioIsNot) {
  testing::TempDir dir;
  FaultInjectionFileSystem fs(FileSystem::Posix());
  auto f = fs.OpenWritable(dir.Sub("f"), OpenMode::kTruncate);
  ASSERT_TRUE(f.ok());
  fs.FillDisk();
  EXPECT_TRUE(IsDiskFull(AppendText(**f, "x")));
  fs.Heal();
  fs.FailWrites(FaultInjectionFileSystem::WriteFault::kEnospc);
  EXPECT_TRUE(IsDiskFull(AppendText(**f, "x")));
  fs.FailWrites(FaultInjectionFileSystem::WriteFault::kEdquot);
  EXPECT_TRUE(IsDiskFull(AppendText(**f, "x")));
  fs.FailWrites(FaultInjectionFileSystem::WriteFault::kEio);
  Status eio = AppendText(**f, "x");
  ASSERT_FALSE(eio.ok());
  EXPECT_FALSE(IsDiskFull(eio));
  EXPECT_TRUE(AppendText(**f, "x").ok());
}

}  // namespace
}  // namespace sluice::io
