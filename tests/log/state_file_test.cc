#include "log/state_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/temp_dir.h"

namespace sluice::log {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<StateFile> Open(uint64_t threshold = 64 << 20,
                                  std::chrono::nanoseconds cooldown = std::chrono::minutes(1)) {
    StateFile::Options o;
    o.path = dir_.Sub("state");
    o.compaction_threshold_bytes = threshold;
    o.compaction_cooldown = cooldown;
    auto f = StateFile::Open(o, io::FileSystem::Posix(), clock_, registry_);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return std::move(f).value();
  }

  testing::TempDir dir_;
  ManualClock clock_;
  telemetry::Registry registry_;
};

TEST_F(StateFileTest, ReplayRestoresTheLatestValueOfEveryKey) {
  {
    auto f = Open();
    ASSERT_TRUE(f->Put("cursor/a", "1").ok());
    ASSERT_TRUE(f->Put("cursor/b", "2").ok());
    ASSERT_TRUE(f->Put("cursor/a", "3").ok());
    ASSERT_TRUE(f->Delete("cursor/b").ok());
  }
  auto f = Open();
  EXPECT_EQ(f->Get("cursor/a"), "3");
  EXPECT_EQ(f->Get("cursor/b"), std::nullopt);
  EXPECT_EQ(f->live_entries(), 1u);
}

TEST_F(StateFileTest, FileStaysBoundedUnderAMillionUpdates) {
  auto f = Open(/*threshold=*/256 << 10, /*cooldown=*/std::chrono::milliseconds(100));
  uint64_t largest = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    std::string key = "cursor/exporter-" + std::to_string(i % 50);
    ASSERT_TRUE(f->Put(key, std::to_string(i), StateFile::Sync::kNo).ok());
    if (i % 1000 == 0) clock_.Advance(std::chrono::milliseconds(100));
    largest = std::max(largest, f->file_bytes());
  }
  EXPECT_GT(f->compactions(), 10u);
  // Between compactions the file grows at most to the threshold plus what one
  // cooldown's worth of updates (1000 records of under 64 bytes) adds.
  EXPECT_LT(largest, (256u << 10) + 64u * 1000);
  EXPECT_EQ(f->live_entries(), 50u);
  auto reopened = Open();
  EXPECT_EQ(reopened->Get("cursor/exporter-49"), "999999");
}

TEST_F(StateFileTest, CompactionWaitsForTheCooldown) {
  auto f = Open(/*threshold=*/4096, /*cooldown=*/std::chrono::minutes(1));
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(f->Put("k", std::to_string(i), StateFile::Sync::kNo).ok());
  }
  EXPECT_EQ(f->compactions(), 0u);
  clock_.Advance(std::chrono::minutes(2));
  ASSERT_TRUE(f->Put("k", "last", StateFile::Sync::kNo).ok());
  EXPECT_EQ(f->compactions(), 1u);
  EXPECT_LT(f->file_bytes(), 100u);
}

TEST_F(StateFileTest, ExpiringAnEntryWritesNothing) {
  auto f = Open();
  int64_t expires = clock_.NowUnixNanos() + 5'000'000'000;
  ASSERT_TRUE(f->Put("cooldown/x", "1", StateFile::Sync::kYes, expires).ok());
  uint64_t size = f->file_bytes();
  EXPECT_EQ(f->Get("cooldown/x"), "1");
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_EQ(f->Get("cooldown/x"), std::nullopt);
  EXPECT_EQ(f->file_bytes(), size);  // no deletion was logged
  auto reopened = Open();
  EXPECT_EQ(reopened->Get("cooldown/x"), std::nullopt);  // replay recomputes the expiry
  EXPECT_EQ(reopened->live_entries(), 0u);
}

TEST_F(StateFileTest, ScanReadsOnlyItsPrefix) {
  auto f = Open();
  for (int h = 0; h < 100; ++h) {
    for (int e = 0; e < 3; ++e) {
      ASSERT_TRUE(f->Put("hook/" + std::to_string(1000 + h) + "/" + std::to_string(e), "v",
                         StateFile::Sync::kNo)
                      .ok());
    }
  }
  auto mine = f->Scan("hook/1042/");
  ASSERT_EQ(mine.size(), 3u);
  EXPECT_EQ(mine[0].first, "hook/1042/0");
  EXPECT_TRUE(f->Scan("hook/9999/").empty());
}

TEST_F(StateFileTest, TornTailIsDroppedAndCounted) {
  {
    auto f = Open();
    ASSERT_TRUE(f->Put("a", "1").ok());
    ASSERT_TRUE(f->Put("b", "2").ok());
  }
  std::string path = dir_.Sub("state");
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  auto f = Open();
  EXPECT_EQ(f->Get("a"), "1");
  EXPECT_EQ(f->Get("b"), std::nullopt);
  EXPECT_GT(registry_.AddCounter("sluice_state_truncated_bytes_total", "").Get().Value(), 0u);
  ASSERT_TRUE(f->Put("b", "again").ok());
  EXPECT_EQ(Open()->Get("b"), "again");
}

}  // namespace
}  // namespace sluice::log
