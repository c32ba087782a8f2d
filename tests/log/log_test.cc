#include "log/log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include "log/log_fixture.h"
#include "log/paths.h"
#include "support/file_size_limit.h"
#include "support/temp_dir.h"

namespace sluice::log {
namespace {

using LogTest = LogFixture;

TEST_F(LogTest, AppendedBatchesReadBackInOrderWithDenseOffsets) {
  auto log = OpenLog(Options());
  auto a = log->Append(Batch("a", 3));
  auto b = log->Append(Batch("b", 2));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->base_offset, 0u);
  EXPECT_EQ(b->base_offset, 3u);
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(log->End().record_offset, 5u);
}

TEST_F(LogTest, ASecondOpenOfALogInUseIsRefusedUntilTheFirstCloses) {
  auto first = OpenLog(Options());
  telemetry::Registry registry;
  auto second = Log::Open(Options(), io::FileSystem::Posix(), Clock::Real(), registry);
  ASSERT_FALSE(second.ok()) << "two writers would cut each other's tails at recovery";
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("open in another process"), std::string::npos)
      << second.status().ToString();
  ASSERT_TRUE(first->Close().ok());
  auto third = Log::Open(Options(), io::FileSystem::Posix(), Clock::Real(), registry);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST_F(LogTest, BatchesSurviveReopen) {
  {
    auto log = OpenLog(Options());
    ASSERT_TRUE(log->Append(Batch("one")).ok());
    ASSERT_TRUE(log->Append(Batch("two")).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = OpenLog(Options());
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"one", "two"}));
  auto c = log->Append(Batch("three"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->base_offset, 2u);
}

TEST_F(LogTest, TruncatedTrailingBatchIsDropped) {
  std::string segment;
  {
    auto log = OpenLog(Options());
    ASSERT_TRUE(log->Append(Batch("first")).ok());
    ASSERT_TRUE(log->Append(Batch(std::string(1000, 'x'))).ok());
    segment = SegmentFilePath(log->directory(), 0);
    ASSERT_TRUE(log->Close().ok());
  }
  // A crash mid-write leaves half a frame.
  std::filesystem::resize_file(segment, std::filesystem::file_size(segment) - 500);
  auto log = OpenLog(Options());
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"first"}));
  EXPECT_GT(CounterValue("sluice_log_truncated_bytes_total"), 0u);
  auto next = log->Append(Batch("after"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->base_offset, 1u);
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"first", "after"}));
}

TEST_F(LogTest, GarbageAfterTheLastBatchIsTruncated) {
  std::string segment;
  {
    auto log = OpenLog(Options());
    ASSERT_TRUE(log->Append(Batch("kept")).ok());
    segment = SegmentFilePath(log->directory(), 0);
  }
  {
    std::FILE* f = std::fopen(segment.c_str(), "ab");
    std::fputs("this is not a frame at all, just noise from a torn write", f);
    std::fclose(f);
  }
  auto log = OpenLog(Options());
  EXPECT_EQ(ReadAll(*log, log->Begin()), (std::vector<std::string>{"kept"}));
}

TEST_F(LogTest, SegmentsRollBySizeAndReadersCrossThem) {
  LogOptions o = Options();
  o.segment_bytes = 1 << 20;
  auto log = OpenLog(o);
  std::vector<std::string> written;
  for (int i = 0; i < 40; ++i) {
    written.push_back(std::to_string(i) + std::string(100 * 1024, 'p'));
    ASSERT_TRUE(log->Append(Batch(written.back())).ok());
  }
  EXPECT_GE(log->Segments().size(), 4u);
  EXPECT_EQ(ReadAll(*log, log->Begin()), written);
  for (uint64_t base : log->Segments()) {
    EXPECT_LE(std::filesystem::file_size(SegmentFilePath(log->directory(), base)),
              (1u << 20) + 110 * 1024);
  }
}

// The append observer is how the query index follows the head without
// reading the segments back: it must see every batch once, in log order,
// with the bytes the reader returns and positions that chain across
// segment rolls to exactly where a reader stands after each batch.
TEST_F(LogTest, AppendObserverSeesEveryBatchOnceInOrderWithPositionsReadersAgreeOn) {
  LogOptions o = Options();
  o.segment_bytes = 64 << 10;
  auto log = OpenLog(o);
  struct Seen {
    std::string payload;
    Position previous, next;
    uint64_t base_offset;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  log->SetAppendObserver([&](std::span<WrittenBatch> batches) {
    std::lock_guard<std::mutex> lock(mu);
    for (WrittenBatch& b : batches) {
      seen.push_back({std::move(b.payload), b.previous, b.next, b.header.base_offset});
    }
  });
  std::vector<std::string> written;
  std::vector<std::thread> appenders;
  for (int t = 0; t < 4; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string p = std::to_string(t) + "/" + std::to_string(i) + std::string(3000, 'x');
        ASSERT_TRUE(log->Append(Batch(p, 2)).ok());
      }
    });
  }
  for (std::thread& a : appenders) a.join();
  // An append is answered before its group is shown: the last may follow.
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (seen.size() >= 200) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  log->SetAppendObserver(nullptr);
  ASSERT_TRUE(log->Append(Batch("after")).ok());
  EXPECT_GE(log->Segments().size(), 3u);

  // What a reader returns, batch by batch, with where it stands after each.
  LogReader reader(*log, log->Begin());
  std::vector<Seen> read;
  while (true) {
    auto b = reader.Next();
    if (!b.ok()) break;
    read.push_back({std::string(b->payload), {}, b->next, b->header.base_offset});
  }
  ASSERT_EQ(read.size(), 201u);
  ASSERT_EQ(seen.size(), 200u);  // not the batch appended after it was removed
  EXPECT_EQ(seen[0].previous, log->Begin());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].payload, read[i].payload) << i;
    EXPECT_EQ(seen[i].next, read[i].next) << i;
    EXPECT_EQ(seen[i].base_offset, read[i].base_offset) << i;
    if (i > 0) {
      EXPECT_EQ(seen[i].previous, seen[i - 1].next) << i;
    }
  }
}

// The read window grown for a frame of several MiB is let go once frames
// are small again; the batch just returned must not point into the memory
// let go (ASan reports the use after free).
TEST_F(LogTest, SmallBatchesAfterAHugeOneReadBackIntact) {
  auto log = OpenLog(Options());
  std::vector<std::string> written = {std::string(6 << 20, 'h')};
  for (int i = 0; i < 20; ++i) written.push_back("small " + std::to_string(i));
  written.push_back(std::string(6 << 20, 'H'));
  written.push_back("last");
  for (const std::string& p : written) ASSERT_TRUE(log->Append(Batch(p)).ok());
  EXPECT_EQ(ReadAll(*log, log->Begin()), written);
}

// A filtered reader goes from one of its batches to the next through the
// segment's index; batches of every size, mine and others' in runs and
// alternating, must come back exactly.
TEST_F(LogTest, FilteredReaderReturnsExactlyItsPipelinesBatches) {
  auto log = OpenLog(Options());
  std::vector<std::string> mine;
  const size_t sizes[] = {1, 100, 4000, 4096, 5000, 70000, 1 << 20, 3 << 20};
  int n = 0;
  for (int round = 0; round < 3; ++round) {
    for (size_t size : sizes) {
      for (uint32_t pipeline : {1u, 2u, 2u, 1u, 2u}) {
        AppendRequest r = Batch(std::to_string(n++) + ":" + std::string(size, 'x'));
        r.pipelines = {pipeline};
        if (pipeline == 1) mine.push_back(r.payload);
        ASSERT_TRUE(log->Append(std::move(r)).ok());
      }
    }
  }
  Position end;
  std::vector<std::string> got = ReadAll(*log, log->Begin(), PipelineSet{1}, &end);
  EXPECT_TRUE(got == mine) << got.size() << " batches read, " << mine.size() << " expected";
  EXPECT_EQ(end, log->End());
}

TEST_F(LogTest, ConcurrentAppendersGetDistinctDenseOffsets) {
  auto log = OpenLog(Options(FsyncPolicy::kAlways));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> offsets;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = log->Append(Batch("t" + std::to_string(t) + "-" + std::to_string(i), 2));
        ASSERT_TRUE(r.ok());
        std::lock_guard<std::mutex> lock(mu);
        offsets.insert(r->base_offset);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(offsets.size(), static_cast<size_t>(kThreads * kPerThread));
  uint64_t expect = 0;
  for (uint64_t o : offsets) {
    EXPECT_EQ(o, expect);
    expect += 2;
  }
  // Group commit: fewer fsyncs than appends is allowed, zero is not.
  uint64_t fsyncs = CounterValue("sluice_log_fsyncs_total");
  EXPECT_GT(fsyncs, 0u);
  EXPECT_LE(fsyncs, static_cast<uint64_t>(kThreads * kPerThread) + 1);
}

// Segments are written behind the appender (write-behind), and a batch is
// acknowledged only once its bytes reached the OS. When a background write
// fails, what it did not write is refused, what went before stays
// acknowledged and readable, and the log writes on afterwards.
TEST_F(LogTest, FailedBackgroundWriteRefusesOnlyTheBatchesItDidNotWrite) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  constexpr int kBatches = 96;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::map<uint64_t, std::string> acknowledged;  // base offset -> payload
  int refused = 0;
  {
    testing::FileSizeLimit limit(2 << 20);
    for (int i = 0; i < kBatches; ++i) {
      std::string payload(64 << 10, static_cast<char>('a' + i % 26));
      payload += std::to_string(i);
      log->AppendAsync(Batch(payload), [&, payload](Result<AppendResult> r) {
        std::lock_guard<std::mutex> lock(mu);
        if (r.ok()) {
          acknowledged[r->base_offset] = payload;
        } else {
          ++refused;
        }
        ++answered;
        cv.notify_all();
      });
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return answered == kBatches; });
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(acknowledged.size(), 0u);
  EXPECT_GT(CounterValue("sluice_log_append_errors_total"), 0u);
  // Offsets stay dense over what was acknowledged, and the log goes on.
  auto after = log->Append(Batch("after the failure"));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  acknowledged[after->base_offset] = "after the failure";
  std::vector<std::string> expected;
  uint64_t next = 0;
  for (const auto& [offset, payload] : acknowledged) {
    EXPECT_EQ(offset, next);
    next = offset + 1;
    expected.push_back(payload);
  }
  EXPECT_EQ(ReadAll(*log, log->Begin()), expected);
  // And the same after a restart.
  log.reset();
  log = OpenLog(Options());
  EXPECT_EQ(ReadAll(*log, log->Begin()), expected);
}

TEST_F(LogTest, AppendAfterCloseIsUnavailable) {
  auto log = OpenLog(Options());
  ASSERT_TRUE(log->Close().ok());
  auto r = log->Append(Batch("late"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST_F(LogTest, UnwritableDirectoryFailsToOpen) {
  // A regular file where a directory must go cannot be written even by root.
  {
    std::FILE* f = std::fopen(dir_.Sub("blocker").c_str(), "w");
    std::fclose(f);
  }
  LogOptions o = Options();
  o.directory = dir_.Sub("blocker/data");
  auto log = Log::Open(o, io::FileSystem::Posix(), Clock::Real(), registry_);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("blocker"), std::string::npos);
}

TEST_F(LogTest, ReaderWaitsForAppendsBeyondTheEnd) {
  auto log = OpenLog(Options());
  LogReader reader(*log, log->Begin());
  EXPECT_EQ(reader.Next().status().code(), StatusCode::kEndOfStream);
  Position end = log->End();
  std::thread writer([&] { ASSERT_TRUE(log->Append(Batch("late")).ok()); });
  log->WaitForAppend(end, std::chrono::seconds(10));
  writer.join();
  auto b = reader.Next();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->payload, "late");
}

TEST_F(LogTest, CursorSurvivesRestart) {
  Position committed;
  {
    auto log = OpenLog(Options());
    ASSERT_TRUE(log->Append(Batch("a")).ok());
    ASSERT_TRUE(log->Append(Batch("b")).ok());
    auto start = log->OpenCursor("file");
    ASSERT_TRUE(start.ok());
    EXPECT_EQ(*start, log->Begin());
    LogReader reader(*log, *start);
    auto first = reader.Next();
    ASSERT_TRUE(first.ok());
    committed = first->next;
    ASSERT_TRUE(log->CommitCursor("file", committed).ok());
  }
  auto log = OpenLog(Options());
  auto resumed = log->OpenCursor("file");
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(*resumed, committed);
  EXPECT_EQ(ReadAll(*log, *resumed), (std::vector<std::string>{"b"}));
}

TEST_F(LogTest, CursorNeverMovesBackwards) {
  auto log = OpenLog(Options());
  ASSERT_TRUE(log->Append(Batch("a")).ok());
  ASSERT_TRUE(log->OpenCursor("x").ok());
  Position end = log->End();
  ASSERT_TRUE(log->CommitCursor("x", end).ok());
  ASSERT_TRUE(log->CommitCursor("x", log->Begin()).ok());
  EXPECT_EQ(log->CursorOf("x"), end);
}

}  // namespace
}  // namespace sluice::log

namespace sluice::log {
namespace {

TEST_F(LogTest, IntervalSyncsHappenUnderAContinuousStreamOfAppends) {
  LogOptions o = Options(FsyncPolicy::kInterval);
  o.fsync_interval = std::chrono::milliseconds(20);
  auto log = OpenLog(o);
  std::atomic<bool> stop{false};
  std::atomic<int> in_flight{0};
  std::thread producer([&] {
    while (!stop) {
      if (in_flight.load() > 256) continue;
      ++in_flight;
      log->AppendAsync(Batch(std::string(512, 'c')), [&](Result<AppendResult>) { --in_flight; });
    }
  });
  // ~50 interval syncs are due in this second; 5 leaves room for a slow machine.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  uint64_t fsyncs = CounterValue("sluice_log_fsyncs_total");
  stop = true;
  producer.join();
  while (in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_GE(fsyncs, 5u) << "the interval sync was starved by a steady stream of appends";
}

TEST_F(LogTest, CursorPastATruncatedEndResumesAtTheEnd) {
  std::string segment;
  {
    auto log = OpenLog(Options());
    ASSERT_TRUE(log->Append(Batch("kept")).ok());
    ASSERT_TRUE(log->Append(Batch(std::string(2000, 'l'))).ok());
    ASSERT_TRUE(log->OpenCursor("e").ok());
    ASSERT_TRUE(log->CommitCursor("e", log->End()).ok());
    segment = SegmentFilePath(log->directory(), 0);
  }
  // Power loss took the unsynced tail that the committed cursor had passed.
  std::filesystem::resize_file(segment, std::filesystem::file_size(segment) - 1500);
  auto log = OpenLog(Options());
  auto pos = log->OpenCursor("e");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, log->End());
  ASSERT_TRUE(log->Append(Batch("new")).ok());
  EXPECT_EQ(ReadAll(*log, *pos), (std::vector<std::string>{"new"}));
  EXPECT_EQ(CounterValue("sluice_log_corrupt_bytes_total"), 0u);
}

}  // namespace
}  // namespace sluice::log
