#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "io/fault_injection_file_system.h"
#include "log/log_fixture.h"
#include "log/paths.h"
#include "support/wait.h"

namespace sluice::log {
namespace {

using Fault = io::FaultInjectionFileSystem::WriteFault;

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5A));
}

using CorruptionTest = LogFixture;

TEST_F(CorruptionTest, CorruptMiddleBatchIsSkippedAndCounted) {
  std::string segment;
  uint64_t second_at;
  {
    auto log = OpenLog(Options());
    ASSERT_TRUE(log->Append(Batch("first-batch")).ok());
    second_at = log->End().byte_offset;
    ASSERT_TRUE(log->Append(Batch(std::string(500, 's'))).ok());
    ASSERT_TRUE(log->Append(Batch("third-batch")).ok());
    segment = SegmentFilePath(log->directory(), 0);
  }
  FlipByte(segment, second_at + kFrameHeaderSize + 100);  // inside the payload
  auto log = OpenLog(Options());
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"first-batch", "third-batch"}));
  EXPECT_GT(CounterValue("sluice_log_corrupt_bytes_total"), 0u);
  // Nothing after the damage was truncated away, and the log still takes writes.
  EXPECT_EQ(CounterValue("sluice_log_truncated_bytes_total"), 0u);
  ASSERT_TRUE(log->Append(Batch("fourth")).ok());
  auto readiness = health_.Check();
  EXPECT_TRUE(readiness.ready);
  EXPECT_NE(readiness.json.find("corrupt bytes"), std::string::npos) << readiness.json;
}

TEST_F(CorruptionTest, CorruptBatchInAClosedSegmentIsSkippedByReadersAndCountedOnce) {
  LogOptions o = Options();
  o.segment_bytes = 1 << 20;
  std::string first_segment;
  {
    auto log = OpenLog(o);
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(log->Append(Batch(std::to_string(i) + std::string(100 * 1024, '.'))).ok());
    }
    ASSERT_GE(log->Segments().size(), 3u);
    first_segment = SegmentFilePath(log->directory(), log->Segments().front());
  }
  // Damage the second frame's length field in the first (closed) segment.
  uint64_t second_frame = kSegmentHeaderSize + kFrameHeaderSize + 1 + 100 * 1024 + 1;
  FlipByte(first_segment, second_frame + kFrameCrcSize);
  auto log = OpenLog(o);
  auto all = ReadAll(*log, log->Begin());
  EXPECT_EQ(all.size(), 29u);
  for (const auto& p : all) EXPECT_NE(p.rfind("1.", 0), 0u);
  uint64_t counted = CounterValue("sluice_log_corrupt_bytes_total");
  EXPECT_GT(counted, 100u * 1024);
  ReadAll(*log, log->Begin());  // a second reader over the same damage
  EXPECT_EQ(CounterValue("sluice_log_corrupt_bytes_total"), counted);
}

TEST_F(CorruptionTest, MissingSegmentFileIsTolerated) {
  LogOptions o = Options();
  o.segment_bytes = 1 << 20;
  std::vector<uint64_t> segments;
  {
    auto log = OpenLog(o);
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(log->Append(Batch(std::string(100 * 1024, 'm'))).ok());
    }
    segments = log->Segments();
    ASSERT_GE(segments.size(), 3u);
    std::filesystem::remove(SegmentFilePath(log->directory(), segments[1]));
  }
  auto log = OpenLog(o);
  auto all = ReadAll(*log, log->Begin());
  EXPECT_GT(all.size(), 10u);
  EXPECT_LT(all.size(), 30u);
  // A cursor left inside the missing segment moves on to the next one.
  LogReader reader(*log, Position{segments[1], 5000, segments[1] + 3});
  auto b = reader.Next();
  ASSERT_TRUE(b.ok());
  EXPECT_GE(b->header.base_offset, segments[2]);
}

class FaultTest : public LogFixture {
 protected:
  io::FaultInjectionFileSystem fs_{io::FileSystem::Posix()};
};

TEST_F(FaultTest, EnospcRejectsWithoutCorruption) {
  auto log = OpenLog(Options(FsyncPolicy::kAlways), fs_);
  ASSERT_TRUE(log->Append(Batch("before")).ok());
  fs_.FailWrites(Fault::kEnospc, 1, ".seg");
  auto full = log->Append(Batch("rejected"));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  auto after = log->Append(Batch("after"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->base_offset, 1u);
  ASSERT_TRUE(log->Close().ok());
  auto reopened = OpenLog(Options(), fs_);
  EXPECT_EQ(ReadAll(*reopened, reopened->Begin()), (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(CounterValue("sluice_log_truncated_bytes_total"), 0u);
  EXPECT_EQ(CounterValue("sluice_log_corrupt_bytes_total"), 0u);
}

TEST_F(FaultTest, ShortWriteIsCutBackToTheLastWholeBatch) {
  auto log = OpenLog(Options(FsyncPolicy::kAlways), fs_);
  ASSERT_TRUE(log->Append(Batch("one")).ok());
  fs_.FailWrites(Fault::kShortWriteThenEio, 1, ".seg");
  auto torn = log->Append(Batch(std::string(4096, 't')));
  ASSERT_FALSE(torn.ok());
  EXPECT_EQ(torn.status().code(), StatusCode::kIoError);
  ASSERT_TRUE(log->Append(Batch("two")).ok());
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"one", "two"}));
  ASSERT_TRUE(log->Close().ok());
  auto reopened = OpenLog(Options(), fs_);
  EXPECT_EQ(ReadAll(*reopened, reopened->Begin()), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(CounterValue("sluice_log_corrupt_bytes_total"), 0u);
}

TEST_F(FaultTest, EioFailsOnlyTheGroupItHit) {
  auto log = OpenLog(Options(), fs_);
  fs_.FailWrites(Fault::kEio, 1, ".seg");
  EXPECT_FALSE(log->Append(Batch("lost")).ok());
  EXPECT_TRUE(log->Append(Batch("kept")).ok());
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"kept"}));
  EXPECT_EQ(CounterValue("sluice_log_append_errors_total"), 1u);
}

TEST_F(FaultTest, FsyncFailureFailsTheGroupAndWritingMovesToANewSegment) {
  auto log = OpenLog(Options(FsyncPolicy::kAlways), fs_);
  ASSERT_TRUE(log->Append(Batch("a")).ok());
  fs_.FailSyncs(1, ".seg");
  auto failed = log->Append(Batch("unsynced"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(CounterValue("sluice_log_fsync_errors_total"), 1u);
  ASSERT_TRUE(log->Append(Batch("b")).ok());
  EXPECT_EQ(log->Segments().size(), 2u);
  ASSERT_TRUE(log->Close().ok());
  auto reopened = OpenLog(Options(), fs_);
  EXPECT_EQ(ReadAll(*reopened, reopened->Begin()), (std::vector<std::string>{"a", "b"}));
}

// Under `interval` a receiver waits only for its batch to reach the OS: an
// fdatasync the disk is slow to finish must not hold its answer back.
TEST_F(FaultTest, SlowIntervalSyncDoesNotHoldUpAppends) {
  LogOptions o = Options(FsyncPolicy::kInterval);
  o.fsync_interval = std::chrono::milliseconds(1);
  auto log = OpenLog(o, fs_);
  fs_.HoldSyncs();
  ASSERT_TRUE(log->Append(Batch("before")).ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return fs_.held_syncs() == 1; }));
  std::vector<std::future<Result<AppendResult>>> answers;
  for (int i = 0; i < 50; ++i) {
    auto done = std::make_shared<std::promise<Result<AppendResult>>>();
    answers.push_back(done->get_future());
    log->AppendAsync(Batch("during " + std::to_string(i)),
                     [done](Result<AppendResult> r) { done->set_value(std::move(r)); });
  }
  for (auto& a : answers) {
    // Generous: the answers come at once, or never while the sync is held.
    ASSERT_EQ(a.wait_for(std::chrono::seconds(20)), std::future_status::ready)
        << "an append waited for the interval fdatasync";
    EXPECT_TRUE(a.get().ok());
  }
  EXPECT_EQ(fs_.held_syncs(), 1);
  EXPECT_EQ(CounterValue("sluice_log_fsyncs_total"), 0u);
  fs_.ReleaseSyncs();
  ASSERT_TRUE(testing::WaitUntil([&] { return CounterValue("sluice_log_fsyncs_total") >= 1; }));
  ASSERT_TRUE(log->Close().ok());
  auto reopened = OpenLog(Options(), fs_);
  EXPECT_EQ(ReadAll(*reopened, reopened->Begin()).size(), 51u);
}

TEST_F(FaultTest, FailedIntervalSyncMovesWritingToANewSegment) {
  LogOptions o = Options(FsyncPolicy::kInterval);
  o.fsync_interval = std::chrono::milliseconds(1);
  auto log = OpenLog(o, fs_);
  fs_.FailSyncs(1, ".seg");
  ASSERT_TRUE(log->Append(Batch("a")).ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return log->Segments().size() == 2; }));
  EXPECT_EQ(CounterValue("sluice_log_fsync_errors_total"), 1u);
  ASSERT_TRUE(log->Append(Batch("b")).ok());
  EXPECT_EQ(log->Segments().size(), 2u);
  ASSERT_TRUE(log->Close().ok());
  auto reopened = OpenLog(Options(), fs_);
  EXPECT_EQ(ReadAll(*reopened, reopened->Begin()), (std::vector<std::string>{"a", "b"}));
}

TEST_F(FaultTest, DiskFullAnswersResourceExhaustedUntilSpaceReturns) {
  auto log = OpenLog(Options(FsyncPolicy::kAlways), fs_);
  fs_.FillDisk();
  for (int i = 0; i < 5; ++i) {
    auto r = log->Append(Batch("x"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  }
  fs_.Heal();
  auto ok = log->Append(Batch("y"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->base_offset, 0u);
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"y"}));
}

// A load balancer must send traffic elsewhere while the disk is full, and
// back once appends succeed: /readyz follows the log's appends.
TEST_F(FaultTest, FullDiskMakesTheLogNotReadyUntilAnAppendSucceeds) {
  auto log = OpenLog(Options(FsyncPolicy::kAlways), fs_);
  ASSERT_TRUE(health_.Check().ready);
  fs_.FillDisk();
  ASSERT_FALSE(log->Append(Batch("x")).ok());
  telemetry::Health::Readiness r = health_.Check();
  EXPECT_FALSE(r.ready);
  EXPECT_NE(r.json.find("disk full"), std::string::npos) << r.json;
  fs_.Heal();
  ASSERT_TRUE(log->Append(Batch("y")).ok());
  EXPECT_TRUE(health_.Check().ready) << health_.Check().json;
}

TEST_F(FaultTest, CursorCommitSurvivesAFailedStateWrite) {
  auto log = OpenLog(Options(), fs_);
  ASSERT_TRUE(log->Append(Batch("a")).ok());
  ASSERT_TRUE(log->OpenCursor("e").ok());
  Position end = log->End();
  fs_.FailWrites(Fault::kShortWriteThenEio, 1, "state");
  EXPECT_FALSE(log->CommitCursor("e", end).ok());
  EXPECT_EQ(log->CursorOf("e"), log->Begin());
  ASSERT_TRUE(log->CommitCursor("e", end).ok());
  ASSERT_TRUE(log->Close().ok());
  auto reopened = OpenLog(Options(), fs_);
  EXPECT_EQ(*reopened->OpenCursor("e"), end);
  EXPECT_EQ(CounterValue("sluice_state_truncated_bytes_total"), 0u);
}

TEST_F(CorruptionTest, FilteredReaderReturnsOnlyItsPipelinesThroughDamageInOthers) {
  std::string segment;
  uint64_t other_at;
  {
    auto log = OpenLog(Options());
    AppendRequest mine = Batch("mine-1");
    mine.pipelines = {1};
    ASSERT_TRUE(log->Append(std::move(mine)).ok());
    other_at = log->End().byte_offset;
    AppendRequest other = Batch(std::string(300, 'o'));
    other.pipelines = {2};
    ASSERT_TRUE(log->Append(std::move(other)).ok());
    AppendRequest again = Batch("mine-2");
    again.pipelines = {1};
    ASSERT_TRUE(log->Append(std::move(again)).ok());
    segment = SegmentFilePath(log->directory(), 0);
  }
  // Damage the payload of the other pipeline's batch: a reader of pipeline 1
  // never reads it and loses nothing of its own.
  FlipByte(segment, other_at + kFrameHeaderSize + 100);
  std::vector<std::string> got;
  {
    auto log = OpenLog(Options());
    LogReader reader(*log, log->Begin());
    reader.SetPipelines({1});
    for (auto b = reader.Next(); b.ok(); b = reader.Next()) got.emplace_back(b->payload);
    EXPECT_EQ(got, (std::vector<std::string>{"mine-1", "mine-2"}));
    EXPECT_EQ(reader.position(), log->End());
  }  // closed: a log is open once at a time
  // A damaged head is found when the segment is scanned (on recovery, or to
  // rebuild an index), and the scan resynchronises on the next whole batch.
  FlipByte(segment, other_at + 10);
  auto reopened = OpenLog(Options());
  LogReader second(*reopened, reopened->Begin());
  second.SetPipelines({1});
  got.clear();
  for (auto b = second.Next(); b.ok(); b = second.Next()) got.emplace_back(b->payload);
  EXPECT_EQ(got, (std::vector<std::string>{"mine-1", "mine-2"}));
}

// A disk that keeps failing must not grow the log's memory of damage: past
// the ranges it remembers, the oldest are forgotten (and counted again if
// found again), one still remembered is not counted twice, and the health
// text names the range found last, not the one at the highest offset.
TEST_F(CorruptionTest, DamagedRangesAreRememberedBoundedAndHealthNamesTheNewest) {
  constexpr uint64_t kDamaged = 300;  // more ranges than the log remembers
  std::string segment;
  std::vector<uint64_t> good_at;  // frames: good 0, damaged 0, good 1, ..., good kDamaged
  std::vector<uint64_t> bad_at;
  {
    auto log = OpenLog(Options());
    for (uint64_t i = 0; i <= kDamaged; ++i) {
      good_at.push_back(log->End().byte_offset);
      ASSERT_TRUE(log->Append(Batch("good-" + std::to_string(i))).ok());
      if (i == kDamaged) break;
      bad_at.push_back(log->End().byte_offset);
      ASSERT_TRUE(log->Append(Batch(std::string(64, 'd'))).ok());
    }
    segment = SegmentFilePath(log->directory(), 0);
  }
  for (uint64_t at : bad_at) FlipByte(segment, at + kFrameHeaderSize + 10);  // in the payload
  const uint64_t range = good_at[1] - bad_at[0];  // each damaged frame, up to the next good one

  // Recovery finds every range, in order, and remembers only the newest.
  auto log = OpenLog(Options());
  EXPECT_EQ(CounterValue("sluice_log_corrupt_bytes_total"), kDamaged * range);
  EXPECT_EQ(log->corrupt_ranges_kept(), 256u);

  // A reader then finds the first range again: forgotten, so counted again,
  // and named as the newest though one at a higher offset was found before.
  LogReader reader(*log, log->Begin());
  auto first = reader.Next();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->payload, "good-0");
  auto second = reader.Next();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->payload, "good-1");
  EXPECT_EQ(CounterValue("sluice_log_corrupt_bytes_total"), (kDamaged + 1) * range);
  std::string json = health_.Check().json;
  EXPECT_NE(json.find(std::to_string(kDamaged + 1) +
                      " place(s), latest in segment 00000000000000000000.seg at byte " +
                      std::to_string(bad_at[0])),
            std::string::npos)
      << json;

  // The last range is still remembered: a reader stepping over it again
  // counts nothing.
  LogReader last(*log, Position{0, bad_at.back(), 2 * kDamaged - 1});
  auto after = last.Next();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->payload, "good-" + std::to_string(kDamaged));
  EXPECT_EQ(CounterValue("sluice_log_corrupt_bytes_total"), (kDamaged + 1) * range);
  EXPECT_LE(log->corrupt_ranges_kept(), 256u);
}

}  // namespace
}  // namespace sluice::log
