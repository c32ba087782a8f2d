#include "io/direct_file.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "support/file_size_limit.h"
#include "support/rss.h"
#include "support/temp_dir.h"

namespace sluice::io {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(DirectFileTest, OddSizedAppendsAcrossBuffersAndReopensReadBackExactly) {
  testing::TempDir dir;
  std::string path = dir.Sub("seg");
  std::mt19937 rng(11);
  std::string expected;
  for (int round = 0; round < 3; ++round) {
    // Reopening in append mode starts from a partial last block.
    auto f = OpenDirect(path, round == 0 ? OpenMode::kTruncate : OpenMode::kAppend);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_EQ((*f)->Size(), expected.size());
    for (int i = 0; i < 400; ++i) {
      std::string piece(rng() % 20000 + 1, '\0');
      for (auto& c : piece) c = static_cast<char>(rng());
      std::string second(rng() % 3000, 'x');
      std::span<const uint8_t> pieces[2] = {Bytes(piece), Bytes(second)};
      ASSERT_TRUE((*f)->AppendV(pieces).ok());
      expected += piece + second;
      EXPECT_LE((*f)->Written(), (*f)->Size());
      if (i % 97 == 0) {
        ASSERT_TRUE((*f)->Flush().ok());
        EXPECT_EQ((*f)->Written(), expected.size());
      }
    }
    ASSERT_TRUE((*f)->Close().ok());
    EXPECT_EQ(*ReadSmallFile(FileSystem::Posix(), path), expected) << "round " << round;
  }
}

// Readers close behind the writer are served from its buffers: what they get
// must be exactly the file's bytes, and anything not held (not yet written,
// or in a buffer since reused) must be refused, never served stale.
TEST(DirectFileTest, RecentBytesAreServedExactlyOrNotAtAll) {
  testing::TempDir dir;
  std::string path = dir.Sub("seg");
  auto f = OpenDirect(path, OpenMode::kTruncate);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  std::mt19937 rng(5);
  std::string expected;
  uint64_t served = 0;
  uint64_t refused_old = 0;
  for (int i = 0; i < 300; ++i) {
    // Large appends fill whole buffers, as a busy writer does.
    std::string piece(rng() % (1500 << 10) + 1, '\0');
    for (auto& c : piece) c = static_cast<char>(rng());
    ASSERT_TRUE((*f)->Append(Bytes(piece)).ok());
    expected += piece;
    if (i % 9 == 0) {
      ASSERT_TRUE((*f)->Flush().ok());
    }
    for (int probe = 0; probe < 10; ++probe) {
      uint64_t written = (*f)->Written();
      // A range ending at or before Written(), starting up to 5 MiB back.
      uint64_t len = std::min<uint64_t>(written, rng() % 300000 + 1);
      uint64_t back = std::min<uint64_t>(written - len, rng() % (5 << 20));
      uint64_t offset = written - len - back;
      std::string out(len, '\0');
      if ((*f)->ReadRecent(offset, {reinterpret_cast<uint8_t*>(out.data()), out.size()})) {
        ASSERT_TRUE(out == expected.substr(offset, len)) << "at " << offset << " len " << len;
        ++served;
      } else if (written - offset > (4u << 20)) {
        ++refused_old;  // older than the four buffers can hold
      }
    }
    // Past the end: never.
    std::string beyond(16, '\0');
    EXPECT_FALSE((*f)->ReadRecent((*f)->Size() - 8,
                                  {reinterpret_cast<uint8_t*>(beyond.data()), beyond.size()}));
  }
  EXPECT_GT(served, 300u);
  EXPECT_GT(refused_old, 0u);
  ASSERT_TRUE((*f)->Close().ok());
}

// An idle log gives its write buffers back; the next append must find the
// file exactly as it was, partial last block included.
TEST(DirectFileTest, ReleasedMemoryIsGivenBackAndWritingResumesExactly) {
  testing::TempDir dir;
  std::string path = dir.Sub("seg");
  auto f = OpenDirect(path, OpenMode::kTruncate);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->ReleaseMemory().ok());  // before any append
  std::mt19937 rng(3);
  std::string expected;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 50; ++i) {
      std::string piece(rng() % 200000 + 1, '\0');
      for (auto& c : piece) c = static_cast<char>(rng());
      ASSERT_TRUE((*f)->Append(Bytes(piece)).ok());
      expected += piece;
    }
    ASSERT_TRUE((*f)->Flush().ok());
    uint64_t before = testing::RssAnonKib();
    ASSERT_TRUE((*f)->ReleaseMemory().ok());
    // Four 1 MiB buffers, all filled by now.
    EXPECT_GE(before - std::min(before, testing::RssAnonKib()), 3u << 10) << "round " << round;
    EXPECT_EQ((*f)->Written(), expected.size());
    std::string out(16, '\0');
    EXPECT_FALSE((*f)->ReadRecent(expected.size() - 16,
                                  {reinterpret_cast<uint8_t*>(out.data()), out.size()}));
    if (round % 2 == 1) {
      ASSERT_TRUE((*f)->ReleaseMemory().ok());  // twice in a row
    }
  }
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_TRUE(*ReadSmallFile(FileSystem::Posix(), path) == expected);
}

TEST(DirectFileTest, FailedBackgroundWriteIsReportedAndNothingAfterItIsWritten) {
  testing::TempDir dir;
  std::string path = dir.Sub("seg");
  auto f = OpenDirect(path, OpenMode::kTruncate);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  std::string block(256 << 10, 'b');
  Status st;
  {
    testing::FileSizeLimit limit(3 << 20);
    for (int i = 0; i < 40 && st.ok(); ++i) st = (*f)->Append(Bytes(block));
    if (st.ok()) st = (*f)->Flush();
  }
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("File too large"), std::string::npos) << st.ToString();
  uint64_t written = (*f)->Written();
  EXPECT_LE(written, 3u << 20);
  EXPECT_GT(written, 0u);
  // Every later call reports the failure; nothing more is written.
  EXPECT_FALSE((*f)->Append(Bytes(block)).ok());
  EXPECT_FALSE((*f)->Flush().ok());
  EXPECT_FALSE((*f)->Sync().ok());
  EXPECT_EQ((*f)->Written(), written);
  (*f)->Close().IgnoreError();
  auto size = FileSystem::Posix().FileSize(path);
  ASSERT_TRUE(size.ok());
  EXPECT_LE(*size, 3u << 20);
}

}  // namespace
}  // namespace sluice::io
