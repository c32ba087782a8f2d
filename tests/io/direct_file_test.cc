#include "io/direct_file.h"

#include <gtest/gtest.h>

#include <random>

#include "support/file_size_limit.h"
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
