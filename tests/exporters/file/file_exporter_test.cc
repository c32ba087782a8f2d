#include "exporters/file/file_exporter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

namespace sluice::exporters::file {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(RotatingFileTest, RotatesBeforeExceedingTheSizeAndKeepsMaxBackups) {
  testing::TempDir dir;
  ManualClock clock;
  std::string path = dir.Sub("out/spans.jsonl");
  RotatingFile f(io::FileSystem::Posix(), clock, path, /*max_bytes=*/100, /*max_backups=*/2);
  ASSERT_TRUE(f.Open().ok());
  std::string line(40, 'x');
  line += '\n';
  for (int i = 0; i < 12; ++i) {
    clock.Advance(std::chrono::seconds(1));
    ASSERT_TRUE(f.Write(line).ok());
  }
  ASSERT_TRUE(f.Close().ok());
  auto backups = f.Backups();
  ASSERT_TRUE(backups.ok());
  EXPECT_EQ(backups->size(), 2u);
  for (const auto& b : *backups) {
    EXPECT_EQ(b.rfind("spans-", 0), 0u) << b;
    EXPECT_EQ(b.substr(b.size() - 6), ".jsonl");
    EXPECT_LE(std::filesystem::file_size(dir.Sub("out/" + b)), 100u);
  }
  EXPECT_LE(std::filesystem::file_size(path), 100u);
}

TEST(RotatingFileTest, RotationsWithinOneMillisecondDoNotOverwriteEachOther) {
  testing::TempDir dir;
  ManualClock clock;
  std::string path = dir.Sub("spans.jsonl");
  RotatingFile f(io::FileSystem::Posix(), clock, path, 10, 0);
  ASSERT_TRUE(f.Open().ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(f.Write("0123456789\n").ok());
  ASSERT_TRUE(f.Close().ok());
  auto backups = f.Backups();
  ASSERT_TRUE(backups.ok());
  EXPECT_EQ(backups->size(), 4u);
  std::string all = Slurp(path);
  for (const auto& b : *backups) all += Slurp(dir.Sub(b));
  EXPECT_EQ(all.size(), 55u);
}

}  // namespace
}  // namespace sluice::exporters::file
