#include <gtest/gtest.h>

#include <filesystem>

#include "log/log_fixture.h"
#include "log/paths.h"
#include "log/state_file.h"

namespace sluice::log {
namespace {

class RetentionTest : public LogFixture {
 protected:
  // 1 MiB segments, 4 MiB of log at most.
  LogOptions Small(WhenFull when_full) {
    LogOptions o = Options();
    o.segment_bytes = 1 << 20;
    o.retention.max_bytes = 4 << 20;
    o.when_full = when_full;
    return o;
  }
  // Appends `n` batches of 100 KiB; returns how many were accepted.
  int Fill(Log& log, int n, char tag = 'x') {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      if (log.Append(Batch(std::string(100 * 1024, tag), 10)).ok()) ++ok;
    }
    return ok;
  }
};

TEST_F(RetentionTest, SegmentKeptWhileACursorNeedsIt) {
  auto log = OpenLog(Small(WhenFull::kReject));
  ASSERT_TRUE(log->OpenCursor("slow").ok());
  Fill(*log, 30);
  uint64_t first = log->Segments().front();
  log->RunRetention();
  EXPECT_EQ(log->Segments().front(), first) << "deleted a segment the cursor still needs";
  EXPECT_EQ(ReadAll(*log, log->CursorOf("slow")).size(), 30u);
}

TEST_F(RetentionTest, FullLogRejectsUnderRejectAndAcceptsOnceTheExporterCatchesUp) {
  auto log = OpenLog(Small(WhenFull::kReject));
  ASSERT_TRUE(log->OpenCursor("slow").ok());
  int accepted = Fill(*log, 60);
  EXPECT_LT(accepted, 60);
  auto refused = log->Append(Batch(std::string(100 * 1024, 'y')));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("slow"), std::string::npos);
  EXPECT_GT(CounterValue("sluice_log_refused_appends_total"), 0u);
  EXPECT_LE(log->size_bytes(), 4u << 20);
  // Nothing accepted was lost.
  EXPECT_EQ(ReadAll(*log, log->CursorOf("slow")).size(), static_cast<size_t>(accepted));
  // The exporter catches up; retention frees space; appends succeed again.
  ASSERT_TRUE(log->CommitCursor("slow", log->End()).ok());
  log->RunRetention();
  EXPECT_TRUE(log->Append(Batch(std::string(100 * 1024, 'z'))).ok());
  EXPECT_EQ(CounterValue("sluice_log_evicted_records_total", {"slow"}, {"exporter"}), 0u);
}

TEST_F(RetentionTest, DropOldestDeletesUnreadSegmentsAndCountsPerExporter) {
  auto log = OpenLog(Small(WhenFull::kDropOldest));
  ASSERT_TRUE(log->OpenCursor("slow").ok());
  ASSERT_TRUE(log->OpenCursor("fast").ok());
  for (int i = 0; i < 80; ++i) {
    ASSERT_EQ(Fill(*log, 1), 1);                              // never refused
    ASSERT_TRUE(log->CommitCursor("fast", log->End()).ok());  // keeps up
  }
  log->RunRetention();
  EXPECT_LE(log->size_bytes(), 4u << 20);
  uint64_t evicted = CounterValue("sluice_log_evicted_records_total", {"slow"}, {"exporter"});
  EXPECT_GT(evicted, 0u);
  EXPECT_EQ(CounterValue("sluice_log_evicted_records_total", {"fast"}, {"exporter"}), 0u);
  // What remains for the slow exporter plus what was evicted is everything.
  Position slow = log->CursorOf("slow");
  EXPECT_EQ(slow.segment, log->Segments().front());
  EXPECT_EQ(ReadAll(*log, slow).size() * 10 + evicted, 800u);
}

TEST_F(RetentionTest, EvictedCursorIsCommittedBeforeItsSegmentIsDeleted) {
  Position moved;
  {
    auto log = OpenLog(Small(WhenFull::kDropOldest));
    ASSERT_TRUE(log->OpenCursor("slow").ok());
    Fill(*log, 80);
    log->RunRetention();
    moved = log->CursorOf("slow");
    ASSERT_GT(moved.segment, 0u);
  }
  auto log = OpenLog(Small(WhenFull::kDropOldest));
  auto reopened = log->OpenCursor("slow");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*reopened, moved);
  EXPECT_TRUE(std::filesystem::exists(SegmentFilePath(log->directory(), reopened->segment)));
}

TEST_F(RetentionTest, ConsumedDataIsDeletedPastMaxBytesWithoutAnyRefusal) {
  auto log = OpenLog(Small(WhenFull::kReject));
  ASSERT_TRUE(log->OpenCursor("fast").ok());
  for (int round = 0; round < 20; ++round) {
    ASSERT_EQ(Fill(*log, 5), 5) << "round " << round;
    ASSERT_TRUE(log->CommitCursor("fast", log->End()).ok());
    log->RunRetention();
  }
  EXPECT_LE(log->size_bytes(), 4u << 20);
  EXPECT_GT(CounterValue("sluice_log_deleted_segments_total"), 0u);
  EXPECT_EQ(GaugeValue("sluice_log_retention_backlog_bytes"), 0.0);
}

TEST_F(RetentionTest, SegmentsOlderThanMaxAgeAreDeletedOnceRead) {
  ManualClock clock(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
  LogOptions o = Small(WhenFull::kReject);
  o.retention.max_age = std::chrono::hours(1);
  auto log = OpenLog(o, io::FileSystem::Posix(), clock);
  ASSERT_TRUE(log->OpenCursor("reader").ok());
  Fill(*log, 25);  // 3 segments
  size_t before = log->Segments().size();
  ASSERT_GE(before, 3u);
  clock.Advance(std::chrono::hours(2));
  log->RunRetention();
  EXPECT_EQ(log->Segments().size(), before) << "age retention deleted unread data under reject";
  ASSERT_TRUE(log->CommitCursor("reader", log->End()).ok());
  log->RunRetention();
  EXPECT_EQ(log->Segments().size(), 1u);  // only the active segment stays
}

TEST_F(RetentionTest, WithoutConsumersTheLogIsAStoreBoundedByMaxBytes) {
  auto log = OpenLog(Small(WhenFull::kReject));
  for (int round = 0; round < 10; ++round) {
    ASSERT_EQ(Fill(*log, 10), 10);
    log->RunRetention();
  }
  EXPECT_LE(log->size_bytes(), 4u << 20);
  EXPECT_GT(ReadAll(*log, log->Begin()).size(), 20u);
}

}  // namespace
}  // namespace sluice::log

namespace sluice::log {
namespace {

TEST_F(RetentionTest, CursorsHoldRetentionAfterARestartBeforeTheirExportersStart) {
  {
    auto log = OpenLog(Small(WhenFull::kReject));
    ASSERT_TRUE(log->OpenCursor("down-backend").ok());  // never commits after this
    Fill(*log, 35);
  }
  // Restart: retention runs before any exporter calls OpenCursor.
  auto log = OpenLog(Small(WhenFull::kReject));
  uint64_t first = log->Segments().front();
  log->RunRetention();
  EXPECT_EQ(log->Segments().front(), first);
  EXPECT_EQ(ReadAll(*log, *log->OpenCursor("down-backend")).size(), 35u);
}

}  // namespace
}  // namespace sluice::log

namespace sluice::log {
namespace {

TEST_F(RetentionTest, CursorOfARemovedExporterStopsHoldingRetention) {
  auto log = OpenLog(Small(WhenFull::kReject));
  ASSERT_TRUE(log->OpenCursor("removed").ok());
  Fill(*log, 35);
  ASSERT_TRUE(log->DropCursorsExcept({"other"}).ok());
  log->RunRetention();
  EXPECT_LE(log->size_bytes(), 4u << 20);
  // Forgotten on disk too: a restart does not bring it back.
  ASSERT_TRUE(log->Close().ok());
  log.reset();
  StateFile::Options so;
  so.path = StateFilePath(dir_.path());
  telemetry::Registry registry;
  auto state = StateFile::Open(so, io::FileSystem::Posix(), Clock::Real(), registry);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ((*state)->Get("cursor/removed"), std::nullopt);
}

}  // namespace
}  // namespace sluice::log
